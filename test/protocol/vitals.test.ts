/**
 * The vital-sign catalogue: codes and units, plausibility refusals, and the single-parameter
 * red bands (NEWS2 score 3, ADA level 2 hypoglycaemia) at and around each edge.
 */
import { describe, expect, it } from 'vitest';
import { LOINC_PATTERN, UCUM_PATTERN } from '../../firmware-ts/protocol/decode/limits.js';
import type { Observation } from '../../firmware-ts/protocol/decode/reading.js';
import { MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import {
  BP_PANEL_CODE,
  checkObservation,
  checkObservations,
  news2Alerts,
  VITAL_SIGNS,
  vitalSign,
} from '../../firmware-ts/protocol/vitals.js';

const C = ProtocolErrorCode;

function refusal(run: () => unknown): { code: string; field: string | undefined } {
  try {
    run();
  } catch (err) {
    if (err instanceof MedgateError) return { code: err.code, field: err.field };
    throw err;
  }
  throw new Error('expected a MedgateError, but nothing was thrown');
}

/** LOINC's mod-10 check digit (the Luhn algorithm over the digits before the hyphen). */
function loincCheckDigitOk(code: string): boolean {
  const [digits, check] = code.split('-') as [string, string];
  let sum = 0;
  [...digits].reverse().forEach((d, i) => {
    const x = Number(d) * (i % 2 === 0 ? 2 : 1);
    sum += x > 9 ? x - 9 : x;
  });
  return (10 - (sum % 10)) % 10 === Number(check);
}

const obs = (code: string, v: number, u: string): Observation => ({ code, v, u });

describe('catalogue', () => {
  it('holds the REFERENCE vitals with their units', () => {
    const units = Object.fromEntries(Object.values(VITAL_SIGNS).map((v) => [v.code, Object.keys(v.units)]));
    expect(units).toEqual({
      '8867-4': ['/min'],
      '76282-3': ['/min'],
      '2708-6': ['%'],
      '59408-5': ['%'],
      '9279-1': ['/min'],
      '8310-5': ['Cel', '[degF]'],
      '8480-6': ['mm[Hg]'],
      '8462-4': ['mm[Hg]'],
      '2339-0': ['mg/dL'],
      '15074-8': ['mmol/L'],
      '41653-7': ['mg/dL'],
    });
  });

  it('has well-formed LOINC codes with valid check digits, and UCUM units the decoder accepts', () => {
    for (const code of [...Object.keys(VITAL_SIGNS), BP_PANEL_CODE]) {
      expect(LOINC_PATTERN.test(code), code).toBe(true);
      expect(loincCheckDigitOk(code), code).toBe(true);
    }
    for (const vital of Object.values(VITAL_SIGNS)) {
      for (const unit of Object.keys(vital.units)) expect(UCUM_PATTERN.test(unit)).toBe(true);
    }
  });

  it('is frozen all the way down and has no prototype to find keys in', () => {
    expect(Object.isFrozen(VITAL_SIGNS)).toBe(true);
    for (const vital of Object.values(VITAL_SIGNS)) {
      expect(Object.isFrozen(vital)).toBe(true);
      expect(Object.isFrozen(vital.units)).toBe(true);
      for (const spec of Object.values(vital.units)) {
        expect(Object.isFrozen(spec)).toBe(true);
        expect(Object.isFrozen(spec.plausible)).toBe(true);
        if (spec.red) expect(Object.isFrozen(spec.red)).toBe(true);
      }
    }
    expect(vitalSign('constructor')).toBeUndefined();
    expect(vitalSign('__proto__')).toBeUndefined();
    expect(vitalSign('toString')).toBeUndefined();
  });

  it('marks glucose as outside the FHIR vital-signs profile', () => {
    expect(vitalSign('2339-0')?.vitalSignsProfile).toBe(false);
    expect(vitalSign('8867-4')?.vitalSignsProfile).toBe(true);
  });
});

describe('checkObservation', () => {
  it('returns the catalogue entry of a valid observation', () => {
    expect(checkObservation(obs('8867-4', 72, '/min')).display).toBe('Heart rate');
    expect(checkObservation(obs('8310-5', 98.6, '[degF]')).code).toBe('8310-5');
    expect(checkObservation(obs('15074-8', 5.4, 'mmol/L')).code).toBe('15074-8');
  });

  it.each([
    ['unknown code', obs('1234-5', 1, '/min'), C.UNKNOWN_CODE, 'obs[2].code'],
    [
      'BP panel is not an observation value',
      obs(BP_PANEL_CODE, 120, 'mm[Hg]'),
      C.UNKNOWN_CODE,
      'obs[2].code',
    ],
    ['prototype key as code', obs('constructor', 1, '/min'), C.UNKNOWN_CODE, 'obs[2].code'],
    ['Celsius for heart rate', obs('8867-4', 72, 'Cel'), C.BAD_UNIT, 'obs[2].u'],
    ['beats annotation', obs('8867-4', 72, '{beats}/min'), C.BAD_UNIT, 'obs[2].u'],
    ['mmol/L under a mass code', obs('2339-0', 5.5, 'mmol/L'), C.BAD_UNIT, 'obs[2].u'],
    ['prototype key as unit', obs('8867-4', 72, 'constructor'), C.BAD_UNIT, 'obs[2].u'],
    ['__proto__ as unit', obs('8867-4', 72, '__proto__'), C.BAD_UNIT, 'obs[2].u'],
    ['negative heart rate', obs('8867-4', -1, '/min'), C.IMPLAUSIBLE_VALUE, 'obs[2].v'],
    ['heart rate 1000', obs('76282-3', 1000, '/min'), C.IMPLAUSIBLE_VALUE, 'obs[2].v'],
    ['SpO2 above 100', obs('2708-6', 100.1, '%'), C.IMPLAUSIBLE_VALUE, 'obs[2].v'],
    ['negative SpO2', obs('59408-5', -0.5, '%'), C.IMPLAUSIBLE_VALUE, 'obs[2].v'],
    ['temperature in °F sent as Cel', obs('8310-5', 98.6, 'Cel'), C.IMPLAUSIBLE_VALUE, 'obs[2].v'],
    ['temperature in °C sent as °F', obs('8310-5', 37, '[degF]'), C.IMPLAUSIBLE_VALUE, 'obs[2].v'],
    ['glucose above 3000 mg/dL', obs('2339-0', 3001, 'mg/dL'), C.IMPLAUSIBLE_VALUE, 'obs[2].v'],
    ['NaN value', obs('8867-4', Number.NaN, '/min'), C.IMPLAUSIBLE_VALUE, 'obs[2].v'],
    [
      'non-number value',
      { code: '8867-4', v: '72', u: '/min' } as unknown as Observation,
      C.IMPLAUSIBLE_VALUE,
      'obs[2].v',
    ],
  ] as const)('%s', (_what, o, code, field) => {
    expect(refusal(() => checkObservation(o, 'obs[2]'))).toEqual({ code, field });
  });

  it('accepts the plausible range edges', () => {
    expect(() => checkObservation(obs('2708-6', 100, '%'))).not.toThrow();
    expect(() => checkObservation(obs('8867-4', 0, '/min'))).not.toThrow();
    expect(() => checkObservation(obs('8310-5', 47, 'Cel'))).not.toThrow();
  });

  it('refuses a non-object with MG_ERR_BAD_ARGUMENT', () => {
    expect(refusal(() => checkObservation(null as unknown as Observation))).toEqual({
      code: C.BAD_ARGUMENT,
      field: 'obs',
    });
  });

  it('checkObservations names each observation by index', () => {
    expect(refusal(() => checkObservations([obs('8867-4', 72, '/min'), obs('8867-4', 72, '%')]))).toEqual({
      code: C.BAD_UNIT,
      field: 'obs[1].u',
    });
  });
});

describe('news2Alerts', () => {
  const alertOf = (o: Observation) => news2Alerts([o]).map((a) => `${a.direction} ${a.source}`);

  it.each([
    // [code, unit, value, alerts] around every edge: NEWS2 bands include their edge, ADA's does not.
    ['8867-4', '/min', 40, ['low NEWS2']],
    ['8867-4', '/min', 41, []],
    ['8867-4', '/min', 130, []],
    ['8867-4', '/min', 131, ['high NEWS2']],
    ['76282-3', '/min', 35, ['low NEWS2']],
    ['9279-1', '/min', 8, ['low NEWS2']],
    ['9279-1', '/min', 9, []],
    ['9279-1', '/min', 24, []],
    ['9279-1', '/min', 25, ['high NEWS2']],
    ['2708-6', '%', 91, ['low NEWS2']],
    ['2708-6', '%', 91.5, []],
    ['59408-5', '%', 85, ['low NEWS2']],
    ['2708-6', '%', 100, []],
    ['8480-6', 'mm[Hg]', 90, ['low NEWS2']],
    ['8480-6', 'mm[Hg]', 91, []],
    ['8480-6', 'mm[Hg]', 219, []],
    ['8480-6', 'mm[Hg]', 220, ['high NEWS2']],
    ['8462-4', 'mm[Hg]', 150, []],
    ['8310-5', 'Cel', 35, ['low NEWS2']],
    ['8310-5', 'Cel', 35.1, []],
    ['8310-5', 'Cel', 40, []],
    ['8310-5', '[degF]', 95, ['low NEWS2']],
    ['8310-5', '[degF]', 95.1, []],
    ['2339-0', 'mg/dL', 53.9, ['low ADA']],
    ['2339-0', 'mg/dL', 54, []],
    ['41653-7', 'mg/dL', 40, ['low ADA']],
    ['15074-8', 'mmol/L', 2.9, ['low ADA']],
    ['15074-8', 'mmol/L', 3, []],
    ['2339-0', 'mg/dL', 400, []],
  ] as const)('%s %s %s → %j', (code, unit, v, expected) => {
    expect(alertOf(obs(code, v, unit))).toEqual(expected);
  });

  it('reports the index, threshold and display of each alert, and skips unknown codes and units', () => {
    const alerts = news2Alerts([
      obs('8867-4', 72, '/min'),
      obs('1234-5', 1, '/min'),
      obs('8867-4', 30, 'Cel'),
      obs('8480-6', 230, 'mm[Hg]'),
    ]);
    expect(alerts).toEqual([
      {
        index: 3,
        code: '8480-6',
        display: 'Systolic blood pressure',
        value: 230,
        unit: 'mm[Hg]',
        direction: 'high',
        threshold: { value: 220, inclusive: true },
        source: 'NEWS2',
      },
    ]);
    expect(Object.isFrozen(alerts[0])).toBe(true);
  });
});
