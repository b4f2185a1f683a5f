/**
 * The FHIR R4 (4.0.1) shapes medgate writes, and the fixed systems and profiles it uses.
 * Only the elements medgate fills are typed; everything is plain JSON.
 */

/** Code systems (FHIR R4 terminology, LOINC, UCUM, IEEE 11073-10101, HL7 PHD IG). */
export const FHIR_SYSTEMS = Object.freeze({
  loinc: 'http://loinc.org',
  ucum: 'http://unitsofmeasure.org',
  mdc: 'urn:iso:std:iso:11073:10101',
  observationCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  /** HL7 Personal Health Device IG: tags observations from personal health devices (`phd`). */
  phdCategory: 'http://hl7.org/fhir/uv/phd/CodeSystem/PhdObservationCategories',
  provenanceParticipant: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
  /** ASTM E1762-95 signature types (FHIR R4 `signature-type` value set). */
  signatureType: 'urn:iso-astm:E1762-95:2013',
  /** medgate's own identifier namespaces: device ids and reading leaf hashes (hex). */
  medgateDevice: 'urn:medgate:device',
  medgateLeaf: 'urn:medgate:leaf',
});

/** FHIR R4 vital-signs profiles (hl7.org/fhir/R4/observation-vitalsigns.html). */
export const VITAL_PROFILES = Object.freeze({
  vitalsigns: 'http://hl7.org/fhir/StructureDefinition/vitalsigns',
  heartrate: 'http://hl7.org/fhir/StructureDefinition/heartrate',
  oxygensat: 'http://hl7.org/fhir/StructureDefinition/oxygensat',
  resprate: 'http://hl7.org/fhir/StructureDefinition/resprate',
  bodytemp: 'http://hl7.org/fhir/StructureDefinition/bodytemp',
  bp: 'http://hl7.org/fhir/StructureDefinition/bp',
});

/** FHIR `id`: 1 to 64 of A-Za-z0-9-. (R4 §2.24.0.1). medgate device ids may also hold `_`. */
export const FHIR_ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export interface Coding {
  readonly system: string;
  readonly code: string;
  readonly display?: string;
}

export interface CodeableConcept {
  readonly coding: readonly Coding[];
  readonly text?: string;
}

export interface Quantity {
  readonly value: number;
  readonly unit: string;
  readonly system: string;
  readonly code: string;
}

export interface Identifier {
  readonly system: string;
  readonly value: string;
}

export interface Reference {
  readonly reference?: string;
  readonly identifier?: Identifier;
  readonly display?: string;
}

export interface ObservationComponent {
  readonly code: CodeableConcept;
  readonly valueQuantity: Quantity;
}

export interface Observation {
  readonly resourceType: 'Observation';
  readonly id: string;
  readonly meta?: { readonly profile: readonly string[] };
  readonly identifier: readonly Identifier[];
  readonly status: 'final';
  readonly category: readonly CodeableConcept[];
  readonly code: CodeableConcept;
  readonly subject?: Reference;
  readonly effectiveDateTime: string;
  readonly valueQuantity?: Quantity;
  readonly device: Reference;
  readonly component?: readonly ObservationComponent[];
}

export interface Signature {
  readonly type: readonly Coding[];
  readonly when: string;
  readonly who: Reference;
  readonly sigFormat: string;
  readonly data: string;
}

export interface Provenance {
  readonly resourceType: 'Provenance';
  readonly id: string;
  readonly target: readonly Reference[];
  readonly recorded: string;
  readonly agent: readonly { readonly type: CodeableConcept; readonly who: Reference }[];
  readonly signature: readonly Signature[];
}

export type Resource = Observation | Provenance;

export interface BundleEntry {
  readonly fullUrl: string;
  readonly resource: Resource;
  readonly search?: { readonly mode: 'match' | 'include' };
}

export interface Bundle {
  readonly resourceType: 'Bundle';
  readonly type: 'collection' | 'searchset';
  readonly timestamp?: string;
  readonly total?: number;
  readonly link?: readonly { readonly relation: string; readonly url: string }[];
  readonly entry: readonly BundleEntry[];
}
