/**
 * Device profiles of the simulated fleet: what each kind of device measures, how often
 * (REFERENCE.md "Typical reporting"), which demo model it enrols as, and the deterioration
 * episodes its patient can go through. Each episode pushes some vitals towards a target
 * range beyond a NEWS2 (or ADA) red band: pulse ≥ 131 or ≤ 40, SpO2 ≤ 91, respiratory rate
 * ≥ 25, systolic ≤ 90 or ≥ 220, glucose < 54 mg/dL.
 */
import {
  BODY_TEMPERATURE,
  DIASTOLIC,
  GLUCOSE,
  HEART_RATE,
  RESPIRATORY_RATE,
  SPO2,
  SYSTOLIC,
  type VitalModel,
} from './vitals.js';

export interface EpisodeKind {
  readonly name: string;
  /** Target range per LOINC code at the episode's plateau. */
  readonly targets: Readonly<Record<string, readonly [number, number]>>;
  /** Length in simulated minutes: onset 20 %, plateau 60 %, recovery 20 %. */
  readonly minutes: readonly [number, number];
}

export type ProfileName = 'wearable' | 'bp-cuff' | 'glucose';

export interface Profile {
  readonly name: ProfileName;
  /** The demo model (`medgate init --demo`) devices of this profile enrol as. */
  readonly model: string;
  /** Short prefix of generated device ids. */
  readonly idPrefix: string;
  /** Simulated time between readings (before --time-scale). */
  readonly intervalMs: number;
  readonly vitals: readonly VitalModel[];
  readonly episodes: readonly EpisodeKind[];
}

const MINUTE = 60_000;

const profile = (p: Profile): Profile => Object.freeze(p);

export const PROFILES: Readonly<Record<ProfileName, Profile>> = Object.freeze({
  wearable: profile({
    name: 'wearable',
    model: 'wearable-v1',
    idPrefix: 'sim-wear',
    intervalMs: 1000,
    vitals: [HEART_RATE, SPO2, RESPIRATORY_RATE, BODY_TEMPERATURE],
    episodes: [
      {
        name: 'sepsis',
        targets: { '8867-4': [133, 150], '9279-1': [26, 32], '2708-6': [88, 91], '8310-5': [38.6, 39.6] },
        minutes: [12, 40],
      },
      {
        name: 'respiratory-failure',
        targets: { '2708-6': [84, 89], '9279-1': [26, 34], '8867-4': [100, 120] },
        minutes: [10, 30],
      },
      { name: 'bradycardia', targets: { '8867-4': [33, 38] }, minutes: [8, 20] },
    ],
  }),
  'bp-cuff': profile({
    name: 'bp-cuff',
    model: 'bp-cuff-v1',
    idPrefix: 'sim-bp',
    intervalMs: 5 * MINUTE,
    vitals: [SYSTOLIC, DIASTOLIC, HEART_RATE],
    episodes: [
      {
        name: 'hypotension',
        targets: { '8480-6': [74, 86], '8462-4': [40, 52], '8867-4': [110, 128] },
        minutes: [30, 90],
      },
      {
        name: 'hypertensive-crisis',
        targets: { '8480-6': [224, 240], '8462-4': [122, 135] },
        minutes: [30, 90],
      },
    ],
  }),
  glucose: profile({
    name: 'glucose',
    model: 'glucose-v1',
    idPrefix: 'sim-glu',
    intervalMs: 5 * MINUTE,
    vitals: [GLUCOSE],
    episodes: [{ name: 'hypoglycaemia', targets: { '2339-0': [38, 50] }, minutes: [30, 90] }],
  }),
});

export const PROFILE_NAMES = Object.freeze(Object.keys(PROFILES) as ProfileName[]);

export function isProfileName(name: string): name is ProfileName {
  return Object.hasOwn(PROFILES, name);
}
