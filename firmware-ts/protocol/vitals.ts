/**
 * The vital signs medgate accepts, by LOINC code, with their UCUM units, a plausible range
 * and the single-parameter red bands that call for urgent review.
 *
 * Sources: LOINC codes and UCUM units as used by the FHIR R4 vital-signs profile; IEEE
 * 11073-10101 MDC codes; NEWS2 (Royal College of Physicians, 2017: a score of 3 in any single
 * parameter calls for urgent review); level 2 hypoglycaemia, below 54 mg/dL (3.0 mmol/L),
 * from the ADA Standards of Care in Diabetes, section 6.
 *
 * Plausible ranges are ours, chosen wide on purpose: a value outside one is a sensor or
 * encoding fault, not a clinical state, so extremes that patients have survived stay inside.
 * Clinical judgement lives in the red bands, never in the plausibility check.
 */

import type { Observation } from './decode/reading.js';
import { MedgateError, ProtocolErrorCode } from './errors.js';

export type AlertSource = 'NEWS2' | 'ADA';

export interface Threshold {
  readonly value: number;
  /** NEWS2 bands include their edge (≤ 8, ≥ 25); the ADA level 2 bound does not (< 54). */
  readonly inclusive: boolean;
}

export interface RedBand {
  readonly low?: Threshold;
  readonly high?: Threshold;
  readonly source: AlertSource;
}

export interface UnitSpec {
  /** [min, max], both included. */
  readonly plausible: readonly [number, number];
  readonly red?: RedBand;
}

export interface VitalSign {
  readonly code: string;
  readonly display: string;
  /** IEEE 11073-10101 MDC code. */
  readonly mdc?: number;
  /** In the FHIR R4 vital-signs profile (glucose is not; the PHD guide tags it `phd`). */
  readonly vitalSignsProfile: boolean;
  /** Allowed UCUM units and what holds in each. */
  readonly units: Readonly<Record<string, UnitSpec>>;
}

/** LOINC code of the blood pressure panel; systolic and diastolic are its components (FHIR). */
export const BP_PANEL_CODE = '85354-9';

const at = (value: number): Threshold => Object.freeze({ value, inclusive: true });
const below = (value: number): Threshold => Object.freeze({ value, inclusive: false });

function units(spec: Record<string, UnitSpec>): Readonly<Record<string, UnitSpec>> {
  // Null prototype: a unit from the wire such as "constructor" must not find anything.
  const out: Record<string, UnitSpec> = Object.create(null);
  for (const [unit, u] of Object.entries(spec)) {
    out[unit] = Object.freeze({
      plausible: Object.freeze([u.plausible[0], u.plausible[1]] as const),
      ...(u.red === undefined ? {} : { red: Object.freeze({ ...u.red }) }),
    });
  }
  return Object.freeze(out);
}

// NEWS2 "pulse" applies to any heart rate; SpO2 uses scale 1 (scale 2 is a per-patient
// clinical decision for hypercapnic respiratory failure, which a device cannot know).
const PULSE = units({
  '/min': { plausible: [0, 350], red: { low: at(40), high: at(131), source: 'NEWS2' } },
});
const SPO2 = units({ '%': { plausible: [0, 100], red: { low: at(91), source: 'NEWS2' } } });
const GLUCOSE_MASS = units({ 'mg/dL': { plausible: [0, 3000], red: { low: below(54), source: 'ADA' } } });

const CATALOGUE: readonly VitalSign[] = [
  { code: '8867-4', display: 'Heart rate', mdc: 149530, vitalSignsProfile: true, units: PULSE },
  { code: '76282-3', display: 'Heart rate by ECG', mdc: 147842, vitalSignsProfile: true, units: PULSE },
  { code: '2708-6', display: 'Oxygen saturation', mdc: 150456, vitalSignsProfile: true, units: SPO2 },
  {
    code: '59408-5',
    display: 'Oxygen saturation by pulse oximetry',
    mdc: 150456,
    vitalSignsProfile: true,
    units: SPO2,
  },
  {
    code: '9279-1',
    display: 'Respiratory rate',
    mdc: 151562,
    vitalSignsProfile: true,
    units: units({ '/min': { plausible: [0, 150], red: { low: at(8), high: at(25), source: 'NEWS2' } } }),
  },
  {
    code: '8310-5',
    display: 'Body temperature',
    mdc: 150364,
    vitalSignsProfile: true,
    // NEWS2 has no red high band for temperature (≥ 39.1 °C scores 2). 35.0 °C = 95.0 °F.
    units: units({
      Cel: { plausible: [10, 47], red: { low: at(35), source: 'NEWS2' } },
      '[degF]': { plausible: [50, 116.6], red: { low: at(95), source: 'NEWS2' } },
    }),
  },
  {
    code: '8480-6',
    display: 'Systolic blood pressure',
    mdc: 150021,
    vitalSignsProfile: true,
    units: units({ 'mm[Hg]': { plausible: [0, 400], red: { low: at(90), high: at(220), source: 'NEWS2' } } }),
  },
  {
    code: '8462-4',
    display: 'Diastolic blood pressure',
    mdc: 150022,
    vitalSignsProfile: true,
    units: units({ 'mm[Hg]': { plausible: [0, 300] } }),
  },
  { code: '2339-0', display: 'Glucose in blood', mdc: 160184, vitalSignsProfile: false, units: GLUCOSE_MASS },
  {
    code: '15074-8',
    display: 'Glucose in blood (molar)',
    mdc: 160184,
    vitalSignsProfile: false,
    units: units({ 'mmol/L': { plausible: [0, 167], red: { low: below(3), source: 'ADA' } } }),
  },
  {
    code: '41653-7',
    display: 'Glucose in capillary blood by glucometer',
    mdc: 160184,
    vitalSignsProfile: false,
    units: GLUCOSE_MASS,
  },
];

/** Every accepted vital sign by LOINC code (frozen, null prototype). */
export const VITAL_SIGNS: Readonly<Record<string, VitalSign>> = (() => {
  const out: Record<string, VitalSign> = Object.create(null);
  for (const vital of CATALOGUE) out[vital.code] = Object.freeze({ ...vital });
  return Object.freeze(out);
})();

/** The catalogue entry for `code`, or undefined. */
export function vitalSign(code: string): VitalSign | undefined {
  return typeof code === 'string' && Object.hasOwn(VITAL_SIGNS, code) ? VITAL_SIGNS[code] : undefined;
}

function unitSpec(vital: VitalSign, unit: string): UnitSpec | undefined {
  return typeof unit === 'string' && Object.hasOwn(vital.units, unit) ? vital.units[unit] : undefined;
}

/**
 * Checks one observation against the catalogue and returns its entry. Throws, naming the
 * field under `path` (for example `obs[2].u`): MG_ERR_UNKNOWN_CODE, MG_ERR_BAD_UNIT,
 * MG_ERR_IMPLAUSIBLE_VALUE.
 */
export function checkObservation(obs: Observation, path = 'obs'): VitalSign {
  if (typeof obs !== 'object' || obs === null) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `${path}: must be an observation`, {
      field: path,
    });
  }
  const vital = vitalSign(obs.code);
  if (vital === undefined) {
    throw new MedgateError(ProtocolErrorCode.UNKNOWN_CODE, `${path}.code: not a vital sign medgate accepts`, {
      field: `${path}.code`,
      got: typeof obs.code === 'string' ? obs.code.slice(0, 16) : typeof obs.code,
    });
  }
  const spec = unitSpec(vital, obs.u);
  if (spec === undefined) {
    throw new MedgateError(ProtocolErrorCode.BAD_UNIT, `${path}.u: not a unit of ${vital.display}`, {
      field: `${path}.u`,
      got: typeof obs.u === 'string' ? obs.u.slice(0, 16) : typeof obs.u,
      want: Object.keys(vital.units),
    });
  }
  const [min, max] = spec.plausible;
  if (typeof obs.v !== 'number' || !(obs.v >= min && obs.v <= max)) {
    throw new MedgateError(
      ProtocolErrorCode.IMPLAUSIBLE_VALUE,
      `${path}.v: ${vital.display} must be ${min} to ${max} ${obs.u}`,
      { field: `${path}.v`, got: obs.v, want: [min, max] },
    );
  }
  return vital;
}

/** `checkObservation` for every observation of a reading, with paths `obs[i]`. */
export function checkObservations(obs: readonly Observation[]): void {
  for (let i = 0; i < obs.length; i++) checkObservation(obs[i] as Observation, `obs[${i}]`);
}

export interface Alert {
  /** Index of the observation in the reading. */
  readonly index: number;
  readonly code: string;
  readonly display: string;
  readonly value: number;
  readonly unit: string;
  readonly direction: 'low' | 'high';
  readonly threshold: Threshold;
  readonly source: AlertSource;
}

function crosses(value: number, threshold: Threshold, direction: 'low' | 'high'): boolean {
  if (direction === 'low') return threshold.inclusive ? value <= threshold.value : value < threshold.value;
  return threshold.inclusive ? value >= threshold.value : value > threshold.value;
}

/**
 * Single-parameter red alerts (NEWS2 score 3; ADA level 2 hypoglycaemia) raised by `obs`.
 * Observations that are not in the catalogue, or in a unit it does not list, raise nothing:
 * run `checkObservation` first to refuse them. NEWS2 totals need more than one device's
 * readings (consciousness, oxygen) and are not computed here.
 */
export function news2Alerts(obs: readonly Observation[]): Alert[] {
  const alerts: Alert[] = [];
  obs.forEach((o, index) => {
    const vital = vitalSign(o.code);
    const red = vital === undefined ? undefined : unitSpec(vital, o.u)?.red;
    if (vital === undefined || red === undefined) return;
    for (const direction of ['low', 'high'] as const) {
      const threshold = red[direction];
      if (threshold !== undefined && crosses(o.v, threshold, direction)) {
        alerts.push(
          Object.freeze({
            index,
            code: o.code,
            display: vital.display,
            value: o.v,
            unit: o.u,
            direction,
            threshold,
            source: red.source,
          }),
        );
      }
    }
  });
  return alerts;
}
