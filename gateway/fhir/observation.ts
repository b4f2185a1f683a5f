/**
 * A verified reading as FHIR R4 Observations (DESIGN §3), pure mapping, no I/O.
 *
 * - One Observation per observation of the reading, except that a systolic and a diastolic
 *   pressure in the same reading become ONE blood pressure panel (LOINC 85354-9) with two
 *   components (8480-6, 8462-4), as the R4 `bp` profile requires.
 * - `status` final, `code` LOINC (plus the IEEE 11073 MDC code), `effectiveDateTime` from the
 *   device's `t`, `valueQuantity` in UCUM, `device` = Device/{id}.
 * - Vital signs get category `vital-signs`; glucose is not a vital sign in FHIR R4, so it gets
 *   `laboratory` and the HL7 Personal Health Device IG's `phd` category instead.
 * - `subject`: medgate knows devices, not patients. The caller passes the patient id when it
 *   knows which patient wears the device; only then is `subject` written and are the
 *   vital-signs profiles claimed in `meta.profile` (R4 vitalsigns requires exactly one Patient
 *   subject, and a resource must not claim a profile it does not meet).
 * - Ids are deterministic (a UUID derived from the reading's leaf hash), so the same reading
 *   maps to the same resources every time.
 */
import { toHex, utf8 } from '../../firmware-ts/protocol/bytes.js';
import { MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { BP_PANEL_CODE, type VitalSign, vitalSign } from '../../firmware-ts/protocol/vitals.js';
import {
  type CodeableConcept,
  type Coding,
  FHIR_ID_PATTERN,
  FHIR_SYSTEMS,
  type Observation,
  type ObservationComponent,
  type Quantity,
  type Reference,
  VITAL_PROFILES,
} from './resources.js';

/** What the mapping reads of a verified reading (the verified reading JSON has these fields). */
export interface FhirReadingInput {
  readonly dev: string;
  readonly seq: number;
  /** Device clock, ms since the Unix epoch. */
  readonly t: number;
  readonly obs: readonly { readonly code: string; readonly v: number; readonly u: string }[];
  /** Hex of the reading's RFC 9162 leaf hash. */
  readonly leafHash: string;
}

export interface FhirMappingOptions {
  /** FHIR id of the Patient who wears the device, when the caller knows it. */
  readonly patient?: string;
}

const SYSTOLIC = '8480-6';
const DIASTOLIC = '8462-4';
const BP_PANEL_DISPLAY = 'Blood pressure panel with all children optional';
const BP_PANEL_MDC = 150020;

interface CodeSpec {
  /** The R4 profile that applies to this code. */
  readonly profile?: string;
  /** The LOINC code that profile fixes, when the reading uses a more specific one. */
  readonly base?: string;
  /** Human unit text by UCUM code, as in the R4 examples. */
  readonly units?: Readonly<Record<string, string>>;
}

const SPECS: Readonly<Record<string, CodeSpec>> = Object.freeze({
  '8867-4': { profile: VITAL_PROFILES.heartrate, units: { '/min': 'beats/minute' } },
  '76282-3': { profile: VITAL_PROFILES.heartrate, base: '8867-4', units: { '/min': 'beats/minute' } },
  '2708-6': { profile: VITAL_PROFILES.oxygensat },
  '59408-5': { profile: VITAL_PROFILES.oxygensat, base: '2708-6' },
  '9279-1': { profile: VITAL_PROFILES.resprate, units: { '/min': 'breaths/minute' } },
  '8310-5': { profile: VITAL_PROFILES.bodytemp },
});

const UNIT_TEXT: Readonly<Record<string, string>> = Object.freeze({
  'mm[Hg]': 'mmHg',
  Cel: 'C',
  '[degF]': 'F',
});

function specOf(code: string): CodeSpec {
  return Object.hasOwn(SPECS, code) ? (SPECS[code] as CodeSpec) : {};
}

function catalogue(code: string, index: number): VitalSign {
  const vital = vitalSign(code);
  if (vital === undefined) {
    throw new MedgateError(
      ProtocolErrorCode.UNKNOWN_CODE,
      `obs[${index}].code: not a vital sign medgate maps`,
      {
        field: `obs[${index}].code`,
        got: String(code).slice(0, 16),
      },
    );
  }
  return vital;
}

function loinc(code: string, display: string): Coding {
  return { system: FHIR_SYSTEMS.loinc, code, display };
}

function conceptOf(vital: VitalSign): CodeableConcept {
  const spec = specOf(vital.code);
  const coding: Coding[] = [];
  if (spec.base !== undefined) coding.push(loinc(spec.base, vitalSign(spec.base)?.display ?? spec.base));
  coding.push(loinc(vital.code, vital.display));
  if (vital.mdc !== undefined) coding.push({ system: FHIR_SYSTEMS.mdc, code: String(vital.mdc) });
  return { coding, text: vital.display };
}

function quantity(vital: VitalSign, v: number, u: string): Quantity {
  const unit = specOf(vital.code).units?.[u] ?? (Object.hasOwn(UNIT_TEXT, u) ? UNIT_TEXT[u] : undefined) ?? u;
  return { value: v, unit, system: FHIR_SYSTEMS.ucum, code: u };
}

const VITAL_SIGNS_CATEGORY: CodeableConcept = Object.freeze({
  coding: Object.freeze([
    Object.freeze({ system: FHIR_SYSTEMS.observationCategory, code: 'vital-signs', display: 'Vital Signs' }),
  ]),
  text: 'Vital Signs',
});

/** Glucose: a laboratory result in R4 terms, from a personal health device (PHD IG). */
const GLUCOSE_CATEGORIES: readonly CodeableConcept[] = Object.freeze([
  Object.freeze({
    coding: Object.freeze([
      Object.freeze({ system: FHIR_SYSTEMS.observationCategory, code: 'laboratory', display: 'Laboratory' }),
    ]),
  }),
  Object.freeze({
    coding: Object.freeze([
      Object.freeze({ system: FHIR_SYSTEMS.phdCategory, code: 'phd', display: 'PHD generated Observation' }),
    ]),
  }),
]);

/** Reference to the device: a literal Device/{id} when the id is a FHIR id, and its identifier. */
export function deviceReference(dev: string): Reference {
  const identifier = { system: FHIR_SYSTEMS.medgateDevice, value: dev };
  return FHIR_ID_PATTERN.test(dev)
    ? { reference: `Device/${dev}`, identifier, display: dev }
    : { identifier, display: dev };
}

/**
 * A UUID (RFC 9562 §5.8, version 8) derived from the leaf hash and a part name: stable ids
 * for the resources of one reading, unique across readings.
 */
export function stableUuid(leafHash: string, part: string): string {
  const h = sha256(utf8(`medgate/fhir/v1\u0000${leafHash}\u0000${part}`)).slice(0, 16);
  h[6] = ((h[6] as number) & 0x0f) | 0x80;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = toHex(h);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** FHIR dateTime of a ms timestamp (UTC, with milliseconds). */
export function fhirDateTime(ms: number): string {
  return new Date(ms).toISOString();
}

function checkPatient(patient: string | undefined): string | undefined {
  if (patient !== undefined && !FHIR_ID_PATTERN.test(patient)) {
    throw new MedgateError(
      ProtocolErrorCode.BAD_ARGUMENT,
      'patient must be a FHIR id (1 to 64 of A-Za-z0-9-.)',
      {
        field: 'patient',
      },
    );
  }
  return patient;
}

interface Draft {
  readonly vital: VitalSign;
  readonly profiles: readonly string[];
  readonly code: CodeableConcept;
  readonly value?: Quantity;
  readonly component?: readonly ObservationComponent[];
}

/** Pairs the first systolic with the first diastolic; everything else stands alone. */
function drafts(reading: FhirReadingInput): Draft[] {
  const sys = reading.obs.findIndex((o) => o.code === SYSTOLIC);
  const dia = reading.obs.findIndex((o) => o.code === DIASTOLIC);
  const paired = sys >= 0 && dia >= 0;
  const out: Draft[] = [];
  reading.obs.forEach((o, i) => {
    const vital = catalogue(o.code, i);
    if (paired && i === Math.max(sys, dia)) return; // folded into the panel
    if (paired && i === Math.min(sys, dia)) {
      const s = reading.obs[sys]!;
      const d = reading.obs[dia]!;
      const sv = catalogue(s.code, sys);
      const dv = catalogue(d.code, dia);
      out.push({
        vital,
        profiles: [VITAL_PROFILES.vitalsigns, VITAL_PROFILES.bp],
        code: {
          coding: [
            loinc(BP_PANEL_CODE, BP_PANEL_DISPLAY),
            { system: FHIR_SYSTEMS.mdc, code: String(BP_PANEL_MDC) },
          ],
          text: 'Blood pressure',
        },
        component: [
          { code: conceptOf(sv), valueQuantity: quantity(sv, s.v, s.u) },
          { code: conceptOf(dv), valueQuantity: quantity(dv, d.v, d.u) },
        ],
      });
      return;
    }
    const profile = specOf(o.code).profile;
    out.push({
      vital,
      profiles: vital.vitalSignsProfile
        ? profile === undefined
          ? [VITAL_PROFILES.vitalsigns]
          : [VITAL_PROFILES.vitalsigns, profile]
        : [],
      code: conceptOf(vital),
      value: quantity(vital, o.v, o.u),
    });
  });
  return out;
}

/** The Observations of one verified reading, in the order of its observations. */
export function readingToObservations(
  reading: FhirReadingInput,
  options: FhirMappingOptions = {},
): Observation[] {
  const patient = checkPatient(options.patient);
  const device = deviceReference(reading.dev);
  const effectiveDateTime = fhirDateTime(reading.t);
  const identifier = [{ system: FHIR_SYSTEMS.medgateLeaf, value: reading.leafHash }];
  return drafts(reading).map((d, k) => {
    const vitalSigns = d.vital.vitalSignsProfile;
    const claim = patient !== undefined && d.profiles.length > 0;
    return {
      resourceType: 'Observation',
      id: stableUuid(reading.leafHash, `obs/${k}`),
      ...(claim ? { meta: { profile: d.profiles } } : {}),
      identifier,
      status: 'final',
      category: vitalSigns ? [VITAL_SIGNS_CATEGORY] : GLUCOSE_CATEGORIES,
      code: d.code,
      ...(patient === undefined ? {} : { subject: { reference: `Patient/${patient}` } }),
      effectiveDateTime,
      ...(d.value === undefined ? {} : { valueQuantity: d.value }),
      device,
      ...(d.component === undefined ? {} : { component: d.component }),
    };
  });
}
