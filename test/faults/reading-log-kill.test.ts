/**
 * Crash safety of the reading log (DESIGN §4: "a crash at any instant leaves a ledger that
 * opens, verifies, and has every acknowledged leaf"). A child appends as fast as group commit
 * allows and prints every acknowledged leaf; it is killed with SIGKILL at a random moment; the
 * log must then open, hold every acknowledged leaf unchanged, and have a root that matches the
 * leaves it stores.
 *
 * MEDGATE_FAULT_RUNS sets the number of kills (default 8); e.g. MEDGATE_FAULT_RUNS=200 for a
 * long run. Every 4 runs share a data directory, so later runs also reopen a crashed log and
 * append to it before being killed again.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { leafHash, MemoryTree, verifyInclusion } from '../../firmware-ts/protocol/merkle/index.js';
import { openDataDir } from '../../gateway/ledger/data-dir.js';
import { KeyPrefix, recordKey } from '../../gateway/ledger/keys.js';
import { ReadingLog } from '../../gateway/ledger/reading-log.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./reading-log-child.ts', import.meta.url));
const RUNS = Number(process.env.MEDGATE_FAULT_RUNS ?? 8);
const RUNS_PER_DIR = 4;

interface Ack {
  index: number;
  hash: string;
  deviceId: string;
  seq: number;
}

interface ChildRun {
  acks: Ack[];
  readySize: number;
  signal: NodeJS.Signals | null;
  killAfterMs: number;
  stderr: string;
}

/** Runs the child on `dir`, kills it `killAfterMs` after it reports ready, collects its acks. */
function runAndKill(dir: string, killAfterMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let readySize = -1;
    let buffered = '';
    let stderr = '';
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, a, b, c, d] = line.split(' ');
        if (kind === 'ready') {
          readySize = Number(a);
          setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        } else if (kind === 'ack') {
          acks.push({ index: Number(a), hash: b as string, deviceId: c as string, seq: Number(d) });
        }
      }
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(guard);
      resolve({ acks, readySize, signal, killAfterMs, stderr });
    });
  });
}

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'medgate-kill-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('reading log survives SIGKILL at any instant', () => {
  for (let run = 0; run < RUNS; run++) {
    it(`kill ${run + 1} of ${RUNS}`, async () => {
      const dir = join(base, `data-${Math.floor(run / RUNS_PER_DIR)}`);
      const killAfterMs = 10 + Math.floor(Math.random() * 291);
      const child = await runAndKill(dir, killAfterMs);
      const context = `killed ${killAfterMs} ms after ready; stderr: ${child.stderr.slice(0, 500)}`;
      expect(child.signal, context).toBe('SIGKILL');
      expect(child.readySize, context).toBeGreaterThanOrEqual(0);

      const dataDir = await openDataDir(dir, { create: true });
      try {
        const log = await ReadingLog.open(dataDir);
        const size = log.size;
        const maxAcked = child.acks.reduce((m, a) => Math.max(m, a.index), -1);
        expect(size, context).toBeGreaterThanOrEqual(Math.max(maxAcked + 1, child.readySize));

        // Every acknowledged leaf: same hash at the same index, indexes and bytes agree.
        const stored = await Promise.all(child.acks.map((a) => log.leaf(a.index)));
        for (let i = 0; i < child.acks.length; i++) {
          const ack = child.acks[i] as Ack;
          const leaf = stored[i] as { leafHash: Uint8Array; leafData?: Uint8Array };
          expect(toHex(leaf.leafHash), context).toBe(ack.hash);
          expect(toHex(leafHash(leaf.leafData as Uint8Array)), context).toBe(ack.hash);
        }
        for (const ack of child.acks.slice(-50)) {
          expect(await log.indexOf(ack.deviceId, ack.seq), context).toBe(ack.index);
        }

        // The root from stored nodes equals the root recomputed from every stored leaf hash,
        // and nothing was stored beyond the durable size.
        const tree = new MemoryTree();
        for await (const record of dataDir.db.values({ gte: recordKey(0), lt: recordKey(size) })) {
          tree.append(record.subarray(0, 32)); // a leaf record: leaf hash ‖ reading (keys.ts)
        }
        expect(tree.size, context).toBe(size);
        const end = Uint8Array.of(KeyPrefix.node + 1);
        const beyond = await dataDir.db.keys({ gte: recordKey(size), lt: end, limit: 1 }).all();
        expect(beyond, context).toEqual([]);
        expect(await log.root(), context).toEqual(tree.root());
        for (const s of [1, Math.ceil(size / 3), size - 1]) {
          if (s >= 1 && s <= size) expect(await log.root(s), context).toEqual(tree.root(s));
        }
        if (size > 0) {
          const index = size - 1;
          const proof = await log.inclusionProof(index, size);
          verifyInclusion((await log.leaf(index)).leafHash, index, size, proof, await log.root());
        }
        await log.close();
      } finally {
        await dataDir.close();
      }
    });
  }
});
