/**
 * How each simulated vital sign moves: a mean-reverting random walk (Ornstein–Uhlenbeck)
 * around a per-patient baseline, clamped to a clinically normal range outside deterioration
 * episodes and to a survivable range inside them. Codes and units are those of
 * firmware-ts/protocol/vitals.ts (LOINC, UCUM); the NEWS2 red bands that episodes cross are
 * in /work/shared/REFERENCE.md and vitals.ts.
 */

export interface VitalModel {
  readonly code: string;
  readonly unit: string;
  /** Decimals the device reports (0: integers). */
  readonly decimals: number;
  /** A patient's baseline is drawn uniformly from this range. */
  readonly baseline: readonly [number, number];
  /** Stationary standard deviation of the walk around the baseline. */
  readonly sd: number;
  /** Mean reversion per minute (θ): after 1/θ minutes a deviation has decayed to 1/e. */
  readonly theta: number;
  /** Independent measurement noise per reading (standard deviation). */
  readonly noise: number;
  /** Outside episodes values stay here: clinically normal, never in a NEWS2 red band. */
  readonly normal: readonly [number, number];
  /** Inside episodes values stay here: abnormal but survivable, inside vitals.ts plausibility. */
  readonly extreme: readonly [number, number];
}

const vital = (v: VitalModel): VitalModel => Object.freeze(v);

export const HEART_RATE = vital({
  code: '8867-4',
  unit: '/min',
  decimals: 0,
  baseline: [60, 84],
  sd: 2.5,
  theta: 0.2,
  noise: 1,
  normal: [52, 105],
  extreme: [30, 190],
});

export const SPO2 = vital({
  code: '2708-6',
  unit: '%',
  decimals: 0,
  baseline: [96, 99],
  sd: 0.6,
  theta: 0.3,
  noise: 0.4,
  normal: [94, 100],
  extreme: [75, 100],
});

export const RESPIRATORY_RATE = vital({
  code: '9279-1',
  unit: '/min',
  decimals: 0,
  baseline: [12, 18],
  sd: 1,
  theta: 0.3,
  noise: 0.5,
  normal: [11, 22],
  extreme: [5, 45],
});

export const BODY_TEMPERATURE = vital({
  code: '8310-5',
  unit: 'Cel',
  decimals: 1,
  baseline: [36.4, 37.1],
  sd: 0.15,
  theta: 0.05,
  noise: 0.05,
  normal: [35.8, 38],
  extreme: [33, 41.5],
});

export const SYSTOLIC = vital({
  code: '8480-6',
  unit: 'mm[Hg]',
  decimals: 0,
  baseline: [112, 135],
  sd: 6,
  theta: 0.05,
  noise: 2,
  normal: [100, 165],
  extreme: [60, 250],
});

export const DIASTOLIC = vital({
  code: '8462-4',
  unit: 'mm[Hg]',
  decimals: 0,
  baseline: [68, 84],
  sd: 4,
  theta: 0.05,
  noise: 1.5,
  normal: [55, 100],
  extreme: [30, 150],
});

export const GLUCOSE = vital({
  code: '2339-0',
  unit: 'mg/dL',
  decimals: 0,
  baseline: [90, 130],
  sd: 15,
  theta: 0.02,
  noise: 3,
  normal: [72, 250],
  extreme: [30, 450],
});
