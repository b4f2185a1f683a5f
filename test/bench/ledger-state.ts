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
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { genesisState } from '../../gateway/ledger/genesis.js';
import { createStateMachine } from '../../gateway/ledger/state/apply.js';
import { decodeState, encodeState, stateRoot } from '../../gateway/ledger/state/encode.js';
import { T0 } from '../ledger/state-harness.js';
import { Workload } from '../ledger/state-workload.js';
import { type BenchOptions, isMain, knob, type Row, round, standalone } from './harness.js';

export async function run(options: BenchOptions = {}): Promise<Row[]> {
  const n = knob(options, 'MEDGATE_BENCH_STATE_TXS', 100_000, 1000);
  const rows: Row[] = [];

  let start = performance.now();
  const workload = new Workload(nodeBackend, 42);
  const entries = workload.generate(n);
  const genSeconds = (performance.now() - start) / 1000;
  rows.push({
    bench: 'generate + sign entries',
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
    bench: 'rebuild state from genesis',
    value: round(seconds, 2),
    unit: 's',
    note: `${n} entries, node:crypto`,
  });
  rows.push({ bench: 'rebuild throughput', value: Math.round(n / seconds), unit: 'entries/s' });
  for (const [type, { count, ms }] of [...perType].sort((a, b) => b[1].ms - a[1].ms)) {
    rows.push({
      bench: `  ${type}`,
      value: Math.round((ms / count) * 1000),
      unit: 'us/entry',
      note: `${count} entries, ${round(ms / 1000, 2)} s in all`,
    });
  }
  rows.push({
    bench: 'final state',
    value: state.devices.size,
    unit: 'devices',
    note: `${state.rollouts.size} rollouts, ${state.proposals.size} proposals, ${state.grants.size} clinicians with grants`,
  });

  start = performance.now();
  const bytes = encodeState(state);
  rows.push({
    bench: 'encodeState (snapshot)',
    value: round(performance.now() - start, 1),
    unit: 'ms',
    note: `${bytes.length} bytes`,
  });
  start = performance.now();
  stateRoot(state);
  rows.push({ bench: 'stateRoot', value: round(performance.now() - start, 1), unit: 'ms' });
  start = performance.now();
  decodeState(bytes);
  rows.push({ bench: 'decodeState (restore)', value: round(performance.now() - start, 1), unit: 'ms' });
  return rows;
}

if (isMain(import.meta.url)) await standalone(run);
