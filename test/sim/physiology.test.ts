/**
 * device-sim physiology: seeded, so these are exact properties of fixed runs, not statistics.
 * Outside episodes every vital stays in its clinically normal range and raises no NEWS2/ADA
 * red alert; with episodes the values cross the red bands, and stay physiologically plausible
 * (vitals.ts checkObservation) whatever happens.
 */
import { describe, expect, it } from 'vitest';
import { Patient } from '../../device-sim/physiology/patient.js';
import { PROFILE_NAMES, PROFILES } from '../../device-sim/physiology/profiles.js';
import { createRng } from '../../device-sim/rng.js';
import { checkObservations, news2Alerts } from '../../firmware-ts/protocol/vitals.js';

/** Simulated hours of readings at the profile's own interval. */
function run(name: (typeof PROFILE_NAMES)[number], seed: string, hours: number, episodesPerHour: number) {
  const profile = PROFILES[name];
  const patient = new Patient(profile, createRng(seed), { episodesPerHour });
  const dt = profile.intervalMs / 60_000;
  const steps = Math.round((hours * 60) / dt);
  return Array.from({ length: steps }, () => patient.step(dt));
}

describe('device-sim physiology', () => {
  it.each(PROFILE_NAMES)('%s: without episodes, every value is normal and raises no red alert', (name) => {
    const hours = name === 'wearable' ? 2 : 48;
    const samples = run(name, 'calm', hours, 0);
    expect(samples.length).toBeGreaterThan(500);
    for (const s of samples) {
      expect(s.episode).toBeUndefined();
      checkObservations(s.obs);
      expect(news2Alerts(s.obs)).toEqual([]);
      for (const o of s.obs) {
        const model = PROFILES[name].vitals.find((v) => v.code === o.code);
        expect(o.v).toBeGreaterThanOrEqual(model?.normal[0] ?? Number.NaN);
        expect(o.v).toBeLessThanOrEqual(model?.normal[1] ?? Number.NaN);
      }
    }
  });

  it.each(PROFILE_NAMES)('%s: with episodes, values cross the red bands and stay plausible', (name) => {
    const hours = name === 'wearable' ? 3 : 72;
    const samples = run(name, 'stormy', hours, 2);
    const alerts = samples.flatMap((s) => news2Alerts(s.obs));
    for (const s of samples) checkObservations(s.obs); // never implausible, even in an episode
    expect(samples.some((s) => s.episode !== undefined)).toBe(true);
    expect(alerts.length).toBeGreaterThan(0);
    // Every red alert comes from a reading taken during an episode.
    for (const s of samples) if (news2Alerts(s.obs).length > 0) expect(s.episode).toBeDefined();
    // Each code an episode targets (beyond a band) is crossed at least once over the run.
    const crossed = new Set(alerts.map((a) => a.code));
    const episodes = new Set(samples.map((s) => s.episode).filter((e) => e !== undefined));
    expect(episodes.size).toBeGreaterThan(0);
    expect(crossed.size).toBeGreaterThan(0);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const a = run('wearable', 'same', 0.5, 4).map((s) => s.obs.map((o) => o.v));
    const b = run('wearable', 'same', 0.5, 4).map((s) => s.obs.map((o) => o.v));
    const c = run('wearable', 'other', 0.5, 4).map((s) => s.obs.map((o) => o.v));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('reports the LOINC codes and UCUM units of vitals.ts for each profile', () => {
    const units = (name: (typeof PROFILE_NAMES)[number]) =>
      (run(name, 'units', name === 'wearable' ? 0.01 : 1, 0)[0]?.obs ?? []).map((o) => `${o.code} ${o.u}`);
    expect(units('wearable')).toEqual(['8867-4 /min', '2708-6 %', '9279-1 /min', '8310-5 Cel']);
    expect(units('bp-cuff')).toEqual(['8480-6 mm[Hg]', '8462-4 mm[Hg]', '8867-4 /min']);
    expect(units('glucose')).toEqual(['2339-0 mg/dL']);
  });
});
