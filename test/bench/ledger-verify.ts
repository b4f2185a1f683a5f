/**
 * Full ledger verification (`medgate ledger verify`): builds a ledger through the real write
 * path (Ledger.submitTx, appendReading, cutBlock) with the state workload's realistic stream
 * of signed transactions (enrolments, approvals, grants, releases, 2-of-3 rollouts, reports,
 * rotations) and reading-sized leaves, then times `verifyLedgerDir` from genesis: every block
 * signature, every transaction through `apply`, every leaf, node and reading.
 *
 *   npx tsx test/bench/ledger-verify.ts
 *
 * Env: MEDGATE_BENCH_VERIFY_LEAVES (default 200000), MEDGATE_BENCH_VERIFY_TXS (20000).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { writeGenesis } from '../../gateway/ledger/init.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import type { LeafPosition } from '../../gateway/ledger/sequencer.js';
import type { TxPosition } from '../../gateway/ledger/tx-pool.js';
import { verifyLedgerDir } from '../../gateway/ledger/verify.js';
import { keyFor, T0 } from '../ledger/state-harness.js';
import { Workload, type WorkloadEntry } from '../ledger/state-workload.js';
import { type BenchOptions, isMain, knob, type Row, round, standalone } from './harness.js';

/** A reading-sized leaf (a reading's COSE_Sign1 is ~150-250 bytes); unique per seq. */
function leafData(seq: number): Uint8Array {
  const data = new Uint8Array(180).fill(0xa5);
  new DataView(data.buffer).setFloat64(0, seq);
  return data;
}

/** The workload's entries grouped by the block it meant them for (ctx.height). */
function byBlock(entries: readonly WorkloadEntry[]): WorkloadEntry[][] {
  const blocks: WorkloadEntry[][] = [];
  for (const e of entries) {
    const last = blocks[blocks.length - 1];
    if (last !== undefined && last[0]!.ctx.height === e.ctx.height) last.push(e);
    else blocks.push([e]);
  }
  return blocks;
}

export async function run(options: BenchOptions = {}): Promise<Row[]> {
  const leaves = knob(options, 'MEDGATE_BENCH_VERIFY_LEAVES', 200_000, 5000);
  const txCount = knob(options, 'MEDGATE_BENCH_VERIFY_TXS', 20_000, 500);
  const rows: Row[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'medgate-bench-verify-'));
  try {
    let start = performance.now();
    const workload = new Workload(nodeBackend, 7);
    const blocks = byBlock(workload.generate(txCount));
    rows.push({
      bench: 'generate + sign transactions',
      value: round((performance.now() - start) / 1000, 2),
      unit: 's',
      note: `${txCount} entries in ${blocks.length} blocks`,
    });

    // The ledger's clock follows the workload's block times, so every entry applies.
    let now = T0;
    const authority = keyFor('authority');
    await writeGenesis(dir, workload.genesis, authority.signer, T0);
    const ledger = await Ledger.open(dir, {
      authoritySecretKey: authority.secret,
      blockIntervalMs: 0,
      maxTxPerBlock: 10_000,
      now: () => now,
    });
    start = performance.now();
    const perBlock = Math.ceil(leaves / blocks.length);
    let seq = 0;
    for (const entries of blocks) {
      now = entries[0]!.ctx.time;
      const txs: Promise<TxPosition>[] = entries.map((e) => ledger.submitTx(e.bytes));
      const appends: Promise<LeafPosition>[] = [];
      for (let i = 0; i < perBlock && seq < leaves; i++, seq++) {
        appends.push(ledger.appendReading({ leafData: leafData(seq), deviceId: `dev-${seq % 1000}`, seq }));
      }
      await Promise.all(appends);
      await ledger.cutBlock();
      await Promise.all(txs);
    }
    const tip = ledger.tip.header;
    await ledger.close();
    rows.push({
      bench: 'build ledger (submit, append, cut)',
      value: round((performance.now() - start) / 1000, 2),
      unit: 's',
      note: `${tip.height + 1} blocks, ${tip.log.size} leaves`,
    });

    const report = await verifyLedgerDir(dir, { backend: nodeBackend });
    if (!report.ok) throw new Error(`verify failed: ${JSON.stringify(report.failure)}`);
    const { ms } = report;
    rows.push({
      bench: 'verify: total',
      value: round(ms.total / 1000, 2),
      unit: 's',
      note: `${report.blocks} blocks, ${report.txs} txs, ${report.leaves} leaves, ${report.readings} readings, ${report.nodes} nodes`,
    });
    rows.push({
      bench: 'verify: transactions (apply)',
      value: Math.round(report.txs / (ms.txs / 1000)),
      unit: 'txs/s',
      note: `${round(ms.txs / 1000, 2)} s, node:crypto`,
    });
    rows.push({
      bench: 'verify: leaves (hash, nodes, readings)',
      value: Math.round(report.leaves / (ms.leaves / 1000)),
      unit: 'leaves/s',
      note: `${round(ms.leaves / 1000, 2)} s`,
    });
    rows.push({
      bench: 'verify: overall',
      value: Math.round(report.leaves / (ms.total / 1000)),
      unit: 'leaves/s',
      note: `${Math.round(report.txs / (ms.total / 1000))} txs/s over the same run`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

if (isMain(import.meta.url)) await standalone(run);
