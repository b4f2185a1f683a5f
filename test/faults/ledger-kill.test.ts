/**
 * Crash safety of the whole ledger (DESIGN §4: "a crash at any instant leaves a ledger that
 * opens, verifies, and has every acknowledged leaf"). A child appends leaves, submits
 * transactions and cuts blocks on a 10 ms interval; it is killed with SIGKILL at a random
 * moment. Each time, the ledger must open, `verify` must pass, and every leaf and transaction
 * whose promise resolved in the child must be there. The runs share one data directory, so
 * each child also reopens a ledger that was killed mid-write.
 *
 * MEDGATE_FAULT_RUNS sets the number of kills (default 6).
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../firmware-ts/protocol/bytes.js';
import { txId } from '../../firmware-ts/protocol/tx/sign.js';
import { initLedger } from '../../gateway/ledger/init.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { verifyLedgerDir } from '../../gateway/ledger/verify.js';
import { removeTempDirs, tempDir } from '../ledger/ledger-harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./ledger-kill-child.ts', import.meta.url));
const RUNS = Number(process.env.MEDGATE_FAULT_RUNS ?? 6);

interface ChildRun {
  leaves: { index: number; hash: string }[];
  txs: { height: number; index: number; id: string }[];
  ready: boolean;
  stderr: string;
}

/** Runs the child on `dir` and kills it `killAfterMs` after it reports ready. */
function runAndKill(dir: string, killAfterMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: ChildRun = { leaves: [], txs: [], ready: false, stderr: '' };
    let buffered = '';
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stderr.on('data', (chunk: Buffer) => {
      run.stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, a, b, c] = line.split(' ');
        if (kind === 'ready') {
          run.ready = true;
          setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        } else if (kind === 'leaf') run.leaves.push({ index: Number(a), hash: b as string });
        else if (kind === 'tx') run.txs.push({ height: Number(a), index: Number(b), id: c as string });
      }
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(guard);
      resolve(run);
    });
  });
}

describe(`ledger: SIGKILL at random moments (${RUNS} runs)`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('medgate-ledger-kill-');
    await initLedger({ dir, demo: true });
  });
  afterAll(removeTempDirs);

  it('opens, verifies and keeps every acknowledged leaf and transaction after each kill', {
    timeout: 120_000,
  }, async () => {
    let totalLeaves = 0;
    let totalTxs = 0;
    for (let run = 0; run < RUNS; run++) {
      const killAfterMs = randomInt(40, 400);
      const child = await runAndKill(dir, killAfterMs);
      expect(child.ready, `run ${run}: the child did not start: ${child.stderr}`).toBe(true);

      const report = await verifyLedgerDir(dir);
      expect(report.failure, `run ${run} (killed after ${killAfterMs} ms)`).toBeUndefined();
      expect(report.ok).toBe(true);

      const ledger = await Ledger.open(dir, { readOnly: true });
      try {
        for (const leaf of child.leaves) {
          expect(await ledger.log.indexOfLeafHash(fromHex(leaf.hash)), `run ${run}: leaf ${leaf.index}`).toBe(
            leaf.index,
          );
        }
        for (const tx of child.txs) {
          const txs = await ledger.blockTxs(tx.height);
          expect(
            txs[tx.index] && toHex(txId(txs[tx.index]!)),
            `run ${run}: tx ${tx.height}/${tx.index}`,
          ).toBe(tx.id);
        }
        // A block never checkpoints more than the durable log.
        expect(ledger.tip.header.log.size).toBeLessThanOrEqual(ledger.log.size);
      } finally {
        await ledger.close();
      }
      totalLeaves += child.leaves.length;
      totalTxs += child.txs.length;
      if (process.env.MEDGATE_FAULT_VERBOSE)
        console.log(
          `run ${run}: killed after ${killAfterMs} ms, ${child.leaves.length} leaves, ${child.txs.length} txs acked; tip ${report.tip?.height}, log ${report.leaves}`,
        );
    }
    // The runs did real work: acknowledged leaves and transactions to check.
    expect(totalLeaves).toBeGreaterThan(0);
    expect(totalTxs).toBeGreaterThan(0);
  });
});
