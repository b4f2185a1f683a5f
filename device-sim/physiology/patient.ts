/**
 * One simulated patient behind one device: every vital a mean-reverting random walk around
 * the patient's baseline (exact Ornstein–Uhlenbeck discretisation, so any step length gives
 * the same statistics), with deterioration episodes that arrive as a Poisson process of
 * `episodesPerHour` (simulated time) and blend each affected vital towards its target.
 */
import type { Observation } from '../../firmware-ts/protocol/decode/reading.js';
import type { Rng } from '../rng.js';
import type { EpisodeKind, Profile } from './profiles.js';
import type { VitalModel } from './vitals.js';

export interface PatientOptions {
  /** Mean episodes per simulated hour (0: none). */
  readonly episodesPerHour: number;
}

interface Episode {
  readonly kind: EpisodeKind;
  readonly start: number;
  readonly minutes: number;
  /** Plateau target per code, drawn once per episode. */
  readonly targets: ReadonlyMap<string, number>;
}

export interface Sample {
  readonly obs: Observation[];
  /** The episode the patient is in, if any (for the simulator's own event stream). */
  readonly episode?: string;
}

const clamp = (x: number, [lo, hi]: readonly [number, number]) => Math.min(hi, Math.max(lo, x));

/** 0 → 1 → 0 over an episode: smooth onset (20 %), plateau (60 %), smooth recovery (20 %). */
function weight(progress: number): number {
  const smooth = (u: number) => u * u * (3 - 2 * u);
  if (progress <= 0 || progress >= 1) return 0;
  if (progress < 0.2) return smooth(progress / 0.2);
  if (progress > 0.8) return smooth((1 - progress) / 0.2);
  return 1;
}

export class Patient {
  readonly #profile: Profile;
  readonly #rng: Rng;
  readonly #options: PatientOptions;
  readonly #baseline = new Map<string, number>();
  readonly #walk = new Map<string, number>();
  #minutes = 0;
  #episode: Episode | undefined;

  constructor(profile: Profile, rng: Rng, options: PatientOptions) {
    this.#profile = profile;
    this.#rng = rng;
    this.#options = options;
    for (const v of profile.vitals) {
      this.#baseline.set(v.code, rng.uniform(v.baseline[0], v.baseline[1]));
      this.#walk.set(v.code, rng.normal() * v.sd);
    }
  }

  /** Simulated minutes since the patient was created. */
  get minutes(): number {
    return this.#minutes;
  }

  /** Advances `dtMinutes` of simulated time and measures every vital of the profile. */
  step(dtMinutes: number): Sample {
    this.#minutes += dtMinutes;
    this.#advanceEpisode(dtMinutes);
    const episode = this.#episode;
    const w = episode === undefined ? 0 : weight((this.#minutes - episode.start) / episode.minutes);
    const obs: Observation[] = [];
    for (const v of this.#profile.vitals)
      obs.push({ code: v.code, v: this.#measure(v, dtMinutes, episode, w), u: v.unit });
    return episode === undefined ? { obs } : { obs, episode: episode.kind.name };
  }

  #measure(v: VitalModel, dt: number, episode: Episode | undefined, w: number): number {
    // Exact OU step: x' = x·e^(−θdt) + sd·√(1 − e^(−2θdt))·N(0,1).
    const decay = Math.exp(-v.theta * dt);
    const x =
      (this.#walk.get(v.code) ?? 0) * decay + v.sd * Math.sqrt(1 - decay * decay) * this.#rng.normal();
    this.#walk.set(v.code, x);
    const base = this.#baseline.get(v.code) ?? v.baseline[0];
    const target = episode?.targets.get(v.code);
    let value: number;
    if (target === undefined || w === 0) {
      value = clamp(base + x + v.noise * this.#rng.normal(), v.normal);
    } else {
      // Blend towards the target; the walk shrinks so the plateau sits near the target.
      const level = base + (target - base) * w + x * (1 - 0.7 * w);
      value = clamp(level + v.noise * this.#rng.normal(), v.extreme);
    }
    const f = 10 ** v.decimals;
    return Math.round(value * f) / f;
  }

  #advanceEpisode(dt: number): void {
    const e = this.#episode;
    if (e !== undefined && this.#minutes >= e.start + e.minutes) this.#episode = undefined;
    if (this.#episode !== undefined || this.#options.episodesPerHour <= 0) return;
    const kinds = this.#profile.episodes;
    if (kinds.length === 0) return;
    // Poisson arrivals: P(at least one in dt) = 1 − e^(−λ·dt).
    if (!this.#rng.chance(1 - Math.exp(-(this.#options.episodesPerHour / 60) * dt))) return;
    const kind = kinds[this.#rng.int(0, kinds.length - 1)] as EpisodeKind;
    const targets = new Map<string, number>();
    for (const [code, [lo, hi]] of Object.entries(kind.targets)) targets.set(code, this.#rng.uniform(lo, hi));
    this.#episode = {
      kind,
      start: this.#minutes,
      minutes: this.#rng.uniform(kind.minutes[0], kind.minutes[1]),
      targets,
    };
  }
}
