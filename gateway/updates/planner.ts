/**
 * The wave planner (DESIGN §5): where a rollout stands at a block time, device by device.
 * A pure function of the ledger state, so every replica (and `GET /v1/rollouts/{id}`, and the
 * offer publisher) sees the same plan.
 *
 * - Order: the target's devices in the order the rollout lists them; for `cohort: all`, the
 *   model's active devices (and any device that already reported) sorted by id.
 * - Waves: consecutive slices of that order, of the rollout's wave sizes; past the listed
 *   waves the last size repeats (only a cohort can be larger than their sum).
 * - Wave k+1 opens only once every device of waves 0..k has ended (confirmed, failed, rolled
 *   back; a revoked device counts as ended: it can never report) and the rollout is active.
 * - Active: not halted (by an admin or by the failure threshold, both on the ledger),
 *   notBefore <= time < expires, with `time` the time of the newest block (devices check the
 *   same bounds against signed block times), and not every device ended.
 */
import { isTerminal } from '../ledger/state/rules-firmware.js';
import type { DeviceReport, Rollout, State } from '../ledger/state/state.js';

export type PlanStatus = 'scheduled' | 'active' | 'halted' | 'expired' | 'completed';

/** A device's place in the rollout: no report yet, its latest report's state, or skipped. */
export type DevicePhase = 'pending' | 'skipped' | DeviceReport['state'];

export interface PlannedDevice {
  readonly dev: string;
  readonly wave: number;
  readonly phase: DevicePhase;
  readonly report?: DeviceReport;
  /** The gateway offers the update to this device now. */
  readonly offered: boolean;
}

export type PhaseCounts = Readonly<Record<DevicePhase, number>>;

export interface PlannedWave {
  readonly index: number;
  readonly size: number;
  readonly devices: readonly string[];
  readonly open: boolean;
  readonly counts: PhaseCounts;
}

export interface RolloutPlan {
  readonly rollout: Rollout;
  readonly status: PlanStatus;
  /** Block time the plan is for. */
  readonly time: number;
  readonly waves: readonly PlannedWave[];
  readonly devices: readonly PlannedDevice[];
}

const PHASES: readonly DevicePhase[] = Object.freeze([
  'pending',
  'downloading',
  'verified',
  'installed',
  'confirmed',
  'rolledBack',
  'failed',
  'skipped',
]);

function ended(phase: DevicePhase): boolean {
  return phase === 'skipped' || (phase !== 'pending' && isTerminal(phase));
}

/** The rollout's devices in wave order (see the top of this file). */
export function rolloutDevices(state: State, rollout: Rollout): string[] {
  if ('devs' in rollout.target) return [...rollout.target.devs];
  const ids = new Set<string>(rollout.reports.keys());
  for (const device of state.devices.values()) {
    if (device.model === rollout.model && device.status === 'active') ids.add(device.id);
  }
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Size of wave `index`: the listed size, or the last one repeated. */
function waveSize(rollout: Rollout, index: number): number {
  return rollout.waves[Math.min(index, rollout.waves.length - 1)]!;
}

function phaseOf(state: State, rollout: Rollout, dev: string): { phase: DevicePhase; report?: DeviceReport } {
  const report = rollout.reports.get(dev);
  if (report !== undefined && isTerminal(report.state)) return { phase: report.state, report };
  // A revoked device can never report again: it must not hold back the next wave.
  if (state.devices.get(dev)?.status === 'revoked') {
    return report === undefined ? { phase: 'skipped' } : { phase: 'skipped', report };
  }
  return report === undefined ? { phase: 'pending' } : { phase: report.state, report };
}

function statusOf(rollout: Rollout, time: number, allEnded: boolean): PlanStatus {
  if (rollout.halted !== undefined) return 'halted';
  if (allEnded) return 'completed';
  if (time >= rollout.expires) return 'expired';
  if (time < rollout.notBefore) return 'scheduled';
  return 'active';
}

/** The plan of `rollout` in `state` at block time `time`. */
export function planRollout(state: State, rollout: Rollout, time: number): RolloutPlan {
  const order = rolloutDevices(state, rollout);
  const phases = order.map((dev) => phaseOf(state, rollout, dev));
  const allEnded = phases.every((p) => ended(p.phase));
  const status = statusOf(rollout, time, allEnded);

  const waves: PlannedWave[] = [];
  const devices: PlannedDevice[] = [];
  let start = 0;
  // Every earlier wave ended: this one may open.
  let previousEnded = true;
  for (let index = 0; start < order.length || index < rollout.waves.length; index++) {
    const size = waveSize(rollout, index);
    const slice = order.slice(start, start + size);
    const open = status === 'active' && previousEnded && slice.length > 0;
    const counts = Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<DevicePhase, number>;
    slice.forEach((dev, i) => {
      const { phase, report } = phases[start + i]!;
      counts[phase] += 1;
      const offered = open && !ended(phase);
      devices.push(
        Object.freeze(
          report === undefined
            ? { dev, wave: index, phase, offered }
            : { dev, wave: index, phase, report, offered },
        ),
      );
      if (!ended(phase)) previousEnded = false;
    });
    waves.push(
      Object.freeze({ index, size, devices: Object.freeze(slice), open, counts: Object.freeze(counts) }),
    );
    start += slice.length;
  }
  return Object.freeze({
    rollout,
    status,
    time,
    waves: Object.freeze(waves),
    devices: Object.freeze(devices),
  });
}

/** The rollouts that may offer anything at `time` (not halted, not expired, started), in id order. */
export function liveRollouts(state: State, time: number): Rollout[] {
  const live: Rollout[] = [];
  for (const rollout of state.rollouts.values()) {
    if (rollout.halted === undefined && rollout.notBefore <= time && time < rollout.expires)
      live.push(rollout);
  }
  return live.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
