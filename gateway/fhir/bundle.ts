/**
 * FHIR R4 Bundles of verified readings, each reading's Observations with a Provenance that
 * carries the device's own COSE_Sign1 (REFERENCE: signatures in FHIR travel in Provenance,
 * `sigFormat` application/cose). A receiver can check that signature with the device's key
 * from the ledger without trusting the gateway. Resources are linked by `urn:uuid:` fullUrls,
 * so the Bundle is self-contained.
 */
import {
  deviceReference,
  type FhirMappingOptions,
  type FhirReadingInput,
  fhirDateTime,
  readingToObservations,
  stableUuid,
} from './observation.js';
import { type Bundle, type BundleEntry, FHIR_SYSTEMS, type Provenance, type Resource } from './resources.js';

/** A verified reading with its original COSE_Sign1 (base64), as the reading store holds it. */
export interface FhirSignedReading extends FhirReadingInput {
  readonly cose?: string;
}

/** ASTM E1762-95 "Author's Signature": the device authored and signed the reading. */
const AUTHOR_SIGNATURE = Object.freeze({
  system: FHIR_SYSTEMS.signatureType,
  code: '1.2.840.10065.1.12.1.1',
  display: "Author's Signature",
});

export const COSE_SIG_FORMAT = 'application/cose';

function entry(resource: Resource, mode?: 'match' | 'include'): BundleEntry {
  return {
    fullUrl: `urn:uuid:${resource.id}`,
    resource,
    ...(mode === undefined ? {} : { search: { mode } }),
  };
}

/** The Provenance of a reading's Observations: the device signed them, with this COSE_Sign1. */
export function provenanceOf(
  reading: FhirSignedReading,
  targets: readonly { id: string }[],
): Provenance | undefined {
  if (reading.cose === undefined || targets.length === 0) return undefined;
  const device = deviceReference(reading.dev);
  const when = fhirDateTime(reading.t);
  return {
    resourceType: 'Provenance',
    id: stableUuid(reading.leafHash, 'provenance'),
    target: targets.map((t) => ({ reference: `urn:uuid:${t.id}` })),
    recorded: when,
    agent: [
      {
        type: {
          coding: [{ system: FHIR_SYSTEMS.provenanceParticipant, code: 'author', display: 'Author' }],
        },
        who: device,
      },
    ],
    signature: [
      { type: [AUTHOR_SIGNATURE], when, who: device, sigFormat: COSE_SIG_FORMAT, data: reading.cose },
    ],
  };
}

function readingEntries(
  reading: FhirSignedReading,
  options: FhirMappingOptions,
  search: boolean,
): BundleEntry[] {
  const observations = readingToObservations(reading, options);
  const provenance = provenanceOf(reading, observations);
  const entries = observations.map((o) => entry(o, search ? 'match' : undefined));
  if (provenance !== undefined) entries.push(entry(provenance, search ? 'include' : undefined));
  return entries;
}

/** One reading as a `collection` Bundle: its Observations and their Provenance. */
export function readingBundle(
  reading: FhirSignedReading,
  options: FhirMappingOptions & { readonly now?: number } = {},
): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: fhirDateTime(options.now ?? Date.now()),
    entry: readingEntries(reading, options, false),
  };
}

export interface SearchBundleOptions extends FhirMappingOptions {
  readonly now?: number;
  /** Absolute or relative URLs of this page and of the next one. */
  readonly self?: string;
  readonly next?: string;
}

/**
 * Several readings as a `searchset` Bundle (R4 §3.1.1.4): Observations are matches, the
 * Provenances are includes. `total` (matches across ALL pages) is left out: the store pages by
 * seq and does not count, and R4 makes it optional.
 */
export function searchBundle(
  readings: readonly FhirSignedReading[],
  options: SearchBundleOptions = {},
): Bundle {
  const entries = readings.flatMap((r) => readingEntries(r, options, true));
  const link = [
    ...(options.self === undefined ? [] : [{ relation: 'self', url: options.self }]),
    ...(options.next === undefined ? [] : [{ relation: 'next', url: options.next }]),
  ];
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: fhirDateTime(options.now ?? Date.now()),
    ...(link.length === 0 ? {} : { link }),
    entry: entries,
  };
}
