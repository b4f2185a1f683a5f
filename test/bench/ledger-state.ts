/**
 * Ledger state machine: time to rebuild the state from genesis by applying N signed ledger
 * entries (a realistic mix: admin and self enrolments, approvals, clinician grants, firmware
 * releases, 2-of-3 rollout proposals and approvals, device update reports, key rotations),
 * with the node:crypto backend and every signature and key check on. Then the cost of a
 * canonical snapshot (encodeState / stateRoot / decodeState) of the final state.
 *
 *   npx tsx test/bench/ledger-state.ts
 *
 * Env: MEDGATE_BENCH_STATE_TXS (default 100000).
 */
import { pathToFileURL } from 'node:url';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { genesisState } from '../../gateway/ledger/genesis.js';
import { createStateMachine } from '../../gateway/ledger/state/apply.js';
import { decodeState, encodeState, stateRoot } from '../../gateway/ledger/state/encode.js';
import { T0 } from '../ledger/state-harness.js';
import { Workload } from '../ledger/state-workload.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target?: number;
  note?: string;
}

const env = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined ? fallback : Number(v);
};

export async function run(): Promise<BenchRow[]> {
  const n = env('MEDGATE_BENCH_STATE_TXS', 100_000);
  const rows: BenchRow[] = [];

  let start = performance.now();
  const workload = new Workload(nodeBackend, 42);
  const entries = workload.generate(n);
  const genSeconds = (performance.now() - start) / 1000;
  rows.push({
    name: 'generate + sign entries',
    value: round(genSeconds, 2),
    unit: 's',
    note: `${n} entries`,
  });

  const sm = createStateMachine({ backend: nodeBackend });
  let state = genesisState(workload.genesis, T0);
  const perType = new Map<string, { count: number; ms: number }>();
  start = performance.now();
  for (const e of entries) {
    const t = performance.now();
    state = sm.apply(state, e.bytes, e.ctx).state;
    const slot = perType.get(e.type) ?? { count: 0, ms: 0 };
    slot.count++;
    slot.ms += performance.now() - t;
    perType.set(e.type, slot);
  }
  const seconds = (performance.now() - start) / 1000;
  rows.push({
    name: 'rebuild state from genesis',
    value: round(seconds, 2),
    unit: 's',
    note: `${n} entries, node:crypto`,
  });
  rows.push({ name: 'rebuild throughput', value: Math.round(n / seconds), unit: 'entries/s' });
  for (const [type, { count, ms }] of [...perType].sort((a, b) => b[1].ms - a[1].ms)) {
    rows.push({
      name: `  ${type}`,
      value: Math.round((ms / count) * 1000),
      unit: 'us/entry',
      note: `${count} entries, ${round(ms / 1000, 2)} s in all`,
    });
  }
  rows.push({
    name: 'final state',
    value: state.devices.size,
    unit: 'devices',
    note: `${state.rollouts.size} rollouts, ${state.proposals.size} proposals, ${state.grants.size} clinicians with grants`,
  });

  start = performance.now();
  const bytes = encodeState(state);
  rows.push({
    name: 'encodeState (snapshot)',
    value: round(performance.now() - start, 1),
    unit: 'ms',
    note: `${bytes.length} bytes`,
  });
  start = performance.now();
  stateRoot(state);
  rows.push({ name: 'stateRoot', value: round(performance.now() - start, 1), unit: 'ms' });
  start = performance.now();
  decodeState(bytes);
  rows.push({ name: 'decodeState (restore)', value: round(performance.now() - start, 1), unit: 'ms' });
  return rows;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function print(rows: readonly BenchRow[]): void {
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`${'measure'.padEnd(w)}  ${'value'.padStart(10)}  unit        note`);
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(w)}  ${String(r.value).padStart(10)}  ${r.unit.padEnd(10)}  ${r.note ?? ''}`,
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  print(await run());
}
