/**
 * Verified readings as FHIR R4 Observations. Every resource the mapper makes is checked by a
 * small validator written from the R4 rules medgate follows (base Observation, the vital-signs
 * profile and its heartrate / oxygensat / resprate / bodytemp / bp children, Bundle and
 * Provenance cardinalities), and a heart rate is compared with the shape of the published R4
 * example (hl7.org/fhir/R4/observation-example-heart-rate.json.html).
 */
import { describe, expect, it } from 'vitest';
import { readingBundle, searchBundle } from '../../gateway/fhir/bundle.js';
import { readingToObservations, stableUuid } from '../../gateway/fhir/observation.js';
import type { Bundle, Observation, Provenance } from '../../gateway/fhir/resources.js';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const VS = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
const SD = 'http://hl7.org/fhir/StructureDefinition/';

// R4 §2.24.0.1 and the dateTime regex of the R4 spec.
const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const DATE_TIME =
  /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$/;
const STATUSES = [
  'registered',
  'preliminary',
  'final',
  'amended',
  'corrected',
  'cancelled',
  'entered-in-error',
  'unknown',
];

/** What each R4 vital-signs child profile fixes: its LOINC code and allowed UCUM units. */
const PROFILE_RULES: Record<string, { code: string; units: string[] }> = {
  heartrate: { code: '8867-4', units: ['/min'] },
  oxygensat: { code: '2708-6', units: ['%'] },
  resprate: { code: '9279-1', units: ['/min'] },
  bodytemp: { code: '8310-5', units: ['Cel', '[degF]'] },
  bp: { code: '85354-9', units: [] },
};

function codes(
  o: { code: { coding: readonly { system: string; code: string }[] } },
  system = LOINC,
): string[] {
  return o.code.coding.filter((c) => c.system === system).map((c) => c.code);
}

/** Returns the rule violations of `o` (empty when it conforms to what it claims). */
function violations(o: Observation): string[] {
  const out: string[] = [];
  const check = (ok: boolean, rule: string) => {
    if (!ok) out.push(rule);
  };
  check(o.resourceType === 'Observation', 'resourceType');
  check(ID.test(o.id), 'id is a FHIR id');
  check(STATUSES.includes(o.status), 'status in ObservationStatus (required binding)');
  check(
    o.code.coding.length > 0 && o.code.coding.every((c) => c.system !== '' && c.code !== ''),
    'code.coding',
  );
  check(DATE_TIME.test(o.effectiveDateTime), 'effectiveDateTime is a FHIR dateTime');
  check(
    (o.valueQuantity === undefined) !== (o.component === undefined),
    'a value or components, not both (vs-2)',
  );
  for (const q of [o.valueQuantity, ...(o.component ?? []).map((c) => c.valueQuantity)]) {
    if (q === undefined) continue;
    check(typeof q.value === 'number' && Number.isFinite(q.value), 'Quantity.value');
    check(q.system === UCUM && q.code !== '' && q.unit !== '', 'Quantity in UCUM with code and unit');
  }
  check(
    o.device.reference === undefined || /^Device\/[A-Za-z0-9\-.]{1,64}$/.test(o.device.reference),
    'device ref',
  );
  const profiles = o.meta?.profile ?? [];
  if (profiles.length > 0) {
    check(profiles.includes(VS), 'child profiles come with vitalsigns');
    check(
      o.category.some((c) => c.coding.some((k) => k.system === CATEGORY && k.code === 'vital-signs')),
      'vitalsigns: category vital-signs',
    );
    check(codes(o).length > 0, 'vitalsigns: a LOINC code');
    check(
      /^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(o.subject?.reference ?? ''),
      'vitalsigns: one Patient subject',
    );
    for (const [name, rule] of Object.entries(PROFILE_RULES)) {
      if (!profiles.includes(SD + name)) continue;
      check(codes(o).includes(rule.code), `${name}: LOINC ${rule.code}`);
      if (name === 'bp') {
        const parts = (o.component ?? []).map((c) => codes(c));
        check(
          parts.some((p) => p.includes('8480-6')) && parts.some((p) => p.includes('8462-4')),
          'bp: both components',
        );
        check(
          (o.component ?? []).every((c) => c.valueQuantity.code === 'mm[Hg]'),
          'bp: mm[Hg]',
        );
      } else {
        check(rule.units.includes(o.valueQuantity?.code ?? ''), `${name}: unit`);
      }
    }
  }
  return out;
}

function provenanceViolations(p: Provenance): string[] {
  const out: string[] = [];
  if (p.target.length < 1) out.push('target 1..*');
  if (!DATE_TIME.test(p.recorded)) out.push('recorded');
  if (p.agent.length < 1 || p.agent.some((a) => a.who === undefined)) out.push('agent.who 1..1');
  for (const s of p.signature) {
    if (s.type.length < 1 || !DATE_TIME.test(s.when) || s.who === undefined)
      out.push('signature type/when/who');
  }
  return out;
}

const LEAF = 'ab'.repeat(32);
const T = Date.UTC(2024, 4, 1, 8, 30, 0, 250);

function reading(obs: { code: string; v: number; u: string }[], dev = 'wearable-001') {
  return { dev, seq: 7, t: T, obs, leafHash: LEAF, cose: 'AAEC' };
}

describe('FHIR R4 Observations of a verified reading', () => {
  it('maps a heart rate like the published R4 example, with the device and the patient', () => {
    const [o] = readingToObservations(reading([{ code: '8867-4', v: 44, u: '/min' }]), {
      patient: 'example',
    });
    expect(violations(o!)).toEqual([]);
    // Every element of the R4 example (minus its narrative) is present with the same meaning.
    const paths = (v: unknown, prefix = ''): string[] =>
      typeof v !== 'object' || v === null
        ? [prefix]
        : Object.entries(v).flatMap(([k, x]) =>
            paths(x, Array.isArray(v) ? `${prefix}[]` : prefix ? `${prefix}.${k}` : k),
          );
    const examplePaths = [
      'resourceType',
      'id',
      'meta.profile[]',
      'status',
      'category[].coding[].system',
      'category[].coding[].code',
      'category[].coding[].display',
      'category[].text',
      'code.coding[].system',
      'code.coding[].code',
      'code.coding[].display',
      'code.text',
      'subject.reference',
      'effectiveDateTime',
      'valueQuantity.value',
      'valueQuantity.unit',
      'valueQuantity.system',
      'valueQuantity.code',
    ];
    const ours = new Set(paths(o));
    for (const p of examplePaths) expect(ours.has(p), p).toBe(true);
    expect(o).toMatchObject({
      status: 'final',
      category: [
        { coding: [{ system: CATEGORY, code: 'vital-signs', display: 'Vital Signs' }], text: 'Vital Signs' },
      ],
      code: {
        coding: [
          { system: LOINC, code: '8867-4', display: 'Heart rate' },
          { system: 'urn:iso:std:iso:11073:10101', code: '149530' },
        ],
        text: 'Heart rate',
      },
      subject: { reference: 'Patient/example' },
      effectiveDateTime: '2024-05-01T08:30:00.250Z',
      valueQuantity: { value: 44, unit: 'beats/minute', system: UCUM, code: '/min' },
      device: {
        reference: 'Device/wearable-001',
        identifier: { system: 'urn:medgate:device', value: 'wearable-001' },
      },
      identifier: [{ system: 'urn:medgate:leaf', value: LEAF }],
    });
    expect(o!.meta?.profile).toEqual([VS, `${SD}heartrate`]);
  });

  it('makes ONE blood pressure panel of a systolic and a diastolic, with two components', () => {
    const obs = readingToObservations(
      reading([
        { code: '8462-4', v: 80, u: 'mm[Hg]' },
        { code: '9279-1', v: 16, u: '/min' },
        { code: '8480-6', v: 120, u: 'mm[Hg]' },
      ]),
      { patient: 'p1' },
    );
    expect(obs).toHaveLength(2);
    const [bp, rr] = obs as [Observation, Observation];
    for (const o of obs) expect(violations(o)).toEqual([]);
    expect(codes(bp)).toEqual(['85354-9']);
    expect(bp.meta?.profile).toEqual([VS, `${SD}bp`]);
    expect(bp.valueQuantity).toBeUndefined();
    expect(bp.component?.map((c) => [codes(c)[0], c.valueQuantity])).toEqual([
      ['8480-6', { value: 120, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' }],
      ['8462-4', { value: 80, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' }],
    ]);
    expect(rr.valueQuantity?.unit).toBe('breaths/minute');
    expect(rr.meta?.profile).toContain(`${SD}resprate`);
  });

  it('keeps a lone systolic as its own vital sign (the bp profile needs both)', () => {
    const [o] = readingToObservations(reading([{ code: '8480-6', v: 150, u: 'mm[Hg]' }]), { patient: 'p1' });
    expect(violations(o!)).toEqual([]);
    expect(codes(o!)).toEqual(['8480-6']);
    expect(o!.meta?.profile).toEqual([VS]);
  });

  it('adds the base LOINC code the profile fixes to a more specific one', () => {
    const [spo2, ecg] = readingToObservations(
      reading([
        { code: '59408-5', v: 95, u: '%' },
        { code: '76282-3', v: 61, u: '/min' },
      ]),
      { patient: 'p1' },
    );
    expect(codes(spo2!)).toEqual(['2708-6', '59408-5']);
    expect(spo2!.meta?.profile).toContain(`${SD}oxygensat`);
    expect(codes(ecg!)).toEqual(['8867-4', '76282-3']);
    for (const o of [spo2!, ecg!]) expect(violations(o)).toEqual([]);
  });

  it('maps temperature in Cel and [degF] to the bodytemp profile', () => {
    const obs = readingToObservations(
      reading([
        { code: '8310-5', v: 36.6, u: 'Cel' },
        { code: '8310-5', v: 98.1, u: '[degF]' },
      ]),
      { patient: 'p1' },
    );
    expect(obs.map((o) => o.valueQuantity?.unit)).toEqual(['C', 'F']);
    for (const o of obs) expect(violations(o)).toEqual([]);
  });

  it('maps glucose as laboratory + PHD, never as a vital sign', () => {
    const [o] = readingToObservations(reading([{ code: '15074-8', v: 5.4, u: 'mmol/L' }]), { patient: 'p1' });
    expect(violations(o!)).toEqual([]);
    expect(o!.meta).toBeUndefined();
    expect(o!.category).toEqual([
      { coding: [{ system: CATEGORY, code: 'laboratory', display: 'Laboratory' }] },
      {
        coding: [
          {
            system: 'http://hl7.org/fhir/uv/phd/CodeSystem/PhdObservationCategories',
            code: 'phd',
            display: 'PHD generated Observation',
          },
        ],
      },
    ]);
    expect(o!.subject).toEqual({ reference: 'Patient/p1' });
  });

  it('claims no profile and names no subject when the patient is unknown', () => {
    const [o] = readingToObservations(reading([{ code: '2708-6', v: 97, u: '%' }]));
    expect(o!.subject).toBeUndefined();
    expect(o!.meta).toBeUndefined();
    expect(violations(o!)).toEqual([]);
  });

  it('references a device whose id is not a FHIR id by identifier only', () => {
    const [o] = readingToObservations(reading([{ code: '8867-4', v: 60, u: '/min' }], 'ward_3'));
    expect(o!.device).toEqual({
      identifier: { system: 'urn:medgate:device', value: 'ward_3' },
      display: 'ward_3',
    });
    expect(violations(o!)).toEqual([]);
  });

  it('gives stable ids: the same for the same reading, different across readings and parts', () => {
    const r = reading([
      { code: '8867-4', v: 60, u: '/min' },
      { code: '2708-6', v: 97, u: '%' },
    ]);
    const a = readingToObservations(r).map((o) => o.id);
    expect(readingToObservations(r).map((o) => o.id)).toEqual(a);
    expect(new Set(a).size).toBe(2);
    expect(readingToObservations({ ...r, leafHash: 'cd'.repeat(32) })[0]!.id).not.toBe(a[0]);
    // RFC 9562 version 8, variant 10.
    expect(stableUuid(LEAF, 'x')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('refuses codes outside the catalogue and patient ids that are not FHIR ids', () => {
    expect(() => readingToObservations(reading([{ code: '1234-5', v: 1, u: '/min' }]))).toThrow(
      expect.objectContaining({ code: 'MG_ERR_UNKNOWN_CODE' }),
    );
    expect(() =>
      readingToObservations(reading([{ code: '8867-4', v: 1, u: '/min' }]), { patient: 'a b' }),
    ).toThrow(expect.objectContaining({ code: 'MG_ERR_BAD_ARGUMENT' }));
  });
});

describe('FHIR R4 Bundles', () => {
  it('bundles a reading with a Provenance that carries the COSE signature', () => {
    const bundle: Bundle = readingBundle(
      reading([
        { code: '8480-6', v: 120, u: 'mm[Hg]' },
        { code: '8462-4', v: 80, u: 'mm[Hg]' },
        { code: '8867-4', v: 60, u: '/min' },
      ]),
      { patient: 'p1', now: T },
    );
    expect(bundle).toMatchObject({
      resourceType: 'Bundle',
      type: 'collection',
      timestamp: '2024-05-01T08:30:00.250Z',
    });
    const resources = bundle.entry.map((e) => e.resource);
    expect(resources.map((r) => r.resourceType)).toEqual(['Observation', 'Observation', 'Provenance']);
    const provenance = resources[2] as Provenance;
    expect(provenanceViolations(provenance)).toEqual([]);
    expect(provenance.signature).toEqual([
      {
        type: [
          {
            system: 'urn:iso-astm:E1762-95:2013',
            code: '1.2.840.10065.1.12.1.1',
            display: "Author's Signature",
          },
        ],
        when: '2024-05-01T08:30:00.250Z',
        who: {
          reference: 'Device/wearable-001',
          identifier: { system: 'urn:medgate:device', value: 'wearable-001' },
          display: 'wearable-001',
        },
        sigFormat: 'application/cose',
        data: 'AAEC',
      },
    ]);
    // bdl-7: fullUrls are unique; references resolve inside the Bundle.
    const urls = bundle.entry.map((e) => e.fullUrl);
    expect(new Set(urls).size).toBe(urls.length);
    for (const t of provenance.target) expect(urls).toContain(t.reference);
  });

  it('leaves the Provenance out when the reading has no COSE bytes', () => {
    const { cose: _none, ...bare } = reading([{ code: '8867-4', v: 60, u: '/min' }]);
    const bundle = readingBundle(bare);
    expect(bundle.entry.map((e) => e.resource.resourceType)).toEqual(['Observation']);
  });

  it('makes a searchset of several readings: Observations match, Provenances are included', () => {
    const r1 = reading([{ code: '8867-4', v: 60, u: '/min' }]);
    const r2 = { ...reading([{ code: '8867-4', v: 61, u: '/min' }]), seq: 8, leafHash: 'cd'.repeat(32) };
    const bundle = searchBundle([r1, r2], { self: '/x', next: '/x?afterSeq=8' });
    expect(bundle.type).toBe('searchset');
    expect(bundle.total).toBeUndefined();
    expect(bundle.entry.map((e) => [e.resource.resourceType, e.search?.mode])).toEqual([
      ['Observation', 'match'],
      ['Provenance', 'include'],
      ['Observation', 'match'],
      ['Provenance', 'include'],
    ]);
    expect(bundle.link).toEqual([
      { relation: 'self', url: '/x' },
      { relation: 'next', url: '/x?afterSeq=8' },
    ]);
  });
});
