/**
 * gateway/verify/pool.ts: verdicts equal to the noble reference backend's (DESIGN §6: noble is
 * the reference both backends must agree with), batching, backpressure, close(), crash
 * recovery, no leaked threads. Runs the worker from source (worker.ts through tsx); the
 * compiled path is exercised by the dist test at the end when `tsc -b` has built dist/.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, fromHex } from '../../firmware-ts/protocol/bytes.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { ED25519_L } from '../../firmware-ts/protocol/ed25519/policy.js';
import { isMedgateError } from '../../gateway/errors.js';
import { packBatch, type VerifyJob, verdict, verifyBatch } from '../../gateway/verify/batch.js';
import { VerifyPool, workerExecArgv } from '../../gateway/verify/pool.js';

const root = resolve(import.meta.dirname, '../..');

function numberToLE(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}
function leToNumber(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i] as number);
  return n;
}

function keyPair(): { sk: Uint8Array; pk: Uint8Array } {
  const sk = nodeBackend.generateSecretKey();
  return { sk, pk: nodeBackend.publicKey(sk) };
}

function validJob(message: Uint8Array, pair = keyPair()): VerifyJob {
  return { publicKey: pair.pk, message, signature: nodeBackend.sign(message, pair.sk) };
}

/** The reference verdict: the portable noble backend. */
function reference(job: VerifyJob): boolean {
  return nobleBackend.verify(job.signature, job.message, job.publicKey);
}

/** A job with one way of going wrong, or none. */
function variant(kind: string, message: Uint8Array, pair: { sk: Uint8Array; pk: Uint8Array }): VerifyJob {
  const good = validJob(message, pair);
  const flip = (bytes: Uint8Array, bit: number): Uint8Array => {
    const out = bytes.slice();
    out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
    return out;
  };
  switch (kind) {
    case 'valid':
      return good;
    case 'other-message':
      return { ...good, message: concatBytes(message, Uint8Array.of(1)) };
    case 'other-key':
      return { ...good, publicKey: keyPair().pk };
    case 'flipped-signature':
      return { ...good, signature: flip(good.signature, 7) };
    case 'flipped-key':
      return { ...good, publicKey: flip(good.publicKey, 200) };
    case 's-plus-l': // RFC 8032 §5.1.7 step 1 / §8.4: S must be below L.
      return {
        ...good,
        signature: concatBytes(
          good.signature.subarray(0, 32),
          numberToLE(leToNumber(good.signature.subarray(32)) + ED25519_L),
        ),
      };
    case 'small-order-key': // the identity point: any S with R = identity "verifies" cofactored.
      return {
        ...good,
        publicKey: fromHex('0100000000000000000000000000000000000000000000000000000000000000'),
      };
    case 'random-key':
      return { ...good, publicKey: fromHex('d'.repeat(64)) };
    case 'zero-signature':
      return { ...good, signature: new Uint8Array(64) };
    default:
      throw new Error(kind);
  }
}
const KINDS = [
  'valid',
  'other-message',
  'other-key',
  'flipped-signature',
  'flipped-key',
  's-plus-l',
  'small-order-key',
  'random-key',
  'zero-signature',
] as const;

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return isMedgateError(err) ? err.code : `not a MedgateError: ${String(err)}`;
  }
}

describe('batch format', () => {
  it('round-trips jobs through one buffer and a verdict bitmap', () => {
    const pair = keyPair();
    const jobs = KINDS.map((k, i) => variant(k, Uint8Array.of(i, 2, 3), pair));
    const bits = verifyBatch(packBatch(jobs), nobleBackend);
    expect(jobs.map((_, i) => verdict(bits, i))).toEqual(jobs.map(reference));
    expect(bits.length).toBe(Math.ceil(jobs.length / 8));
  });

  it('refuses a truncated buffer or trailing bytes', () => {
    const buffer = packBatch([validJob(Uint8Array.of(1, 2, 3))]);
    expect(() => verifyBatch(buffer.slice(0, buffer.byteLength - 1), nodeBackend)).toThrow(RangeError);
    const longer = new Uint8Array(buffer.byteLength + 1);
    longer.set(new Uint8Array(buffer));
    expect(() => verifyBatch(longer.buffer, nodeBackend)).toThrow(RangeError);
  });
});

describe('VerifyPool (2 workers)', () => {
  let pool: VerifyPool;
  beforeAll(async () => {
    pool = await VerifyPool.create({ threads: 2, maxBatch: 64, maxDelayMs: 1 });
  });
  afterAll(() => pool.close());

  it('runs the worker from source through tsx under vitest', () => {
    expect(pool.stats()).toMatchObject({ threads: 2, workersReady: 2, workerSource: 'tsx' });
  });

  it('gives the reference verdict for valid and invalid signatures mixed in one batch', async () => {
    const pair = keyPair();
    const jobs = KINDS.map((k, i) => variant(k, new TextEncoder().encode(`Sig_structure ${i}`), pair));
    const before = pool.stats().batches;
    const results = await Promise.all(jobs.map((job) => pool.verify(job)));
    expect(results).toEqual(jobs.map(reference));
    expect(results).toEqual(KINDS.map((k) => k === 'valid'));
    // Submitted in one turn of the event loop to idle workers: one batch.
    expect(pool.stats().batches - before).toBe(1);
  });

  it('agrees with the noble backend on random jobs (fast-check)', async () => {
    const pairs = Array.from({ length: 4 }, keyPair);
    const job = fc
      .record({
        kind: fc.constantFrom(...KINDS),
        message: fc.uint8Array({ maxLength: 300 }),
        pair: fc.constantFrom(...pairs),
      })
      .map(({ kind, message, pair }) => variant(kind, message, pair));
    const randomJob = fc.record({
      publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      message: fc.uint8Array({ maxLength: 64 }),
      signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(job, randomJob), { minLength: 1, maxLength: 24 }), async (jobs) => {
        const results = await Promise.all(jobs.map((j) => pool.verify(j)));
        expect(results).toEqual(jobs.map(reference));
      }),
      { numRuns: 40 },
    );
  });

  it('answers thousands of concurrent jobs, in batches, each with its own verdict', async () => {
    const pairs = Array.from({ length: 16 }, keyPair);
    const jobs: VerifyJob[] = [];
    const expected: boolean[] = [];
    for (let i = 0; i < 3000; i++) {
      const message = Uint8Array.of(i & 0xff, i >> 8, 7);
      const good = validJob(message, pairs[i % pairs.length]);
      // Every third job carries the signature of the next message: invalid.
      const bad = i % 3 === 0;
      jobs.push(bad ? { ...good, message: Uint8Array.of(i & 0xff, i >> 8, 8) } : good);
      expected.push(!bad);
    }
    const before = pool.stats();
    const results = await Promise.all(jobs.map((job) => pool.verify(job)));
    expect(results).toEqual(expected);
    const after = pool.stats();
    expect(after.valid - before.valid).toBe(2000);
    expect(after.invalid - before.invalid).toBe(1000);
    const batches = after.batches - before.batches;
    expect(batches).toBeGreaterThanOrEqual(3000 / 64);
    expect(batches).toBeLessThan(3000);
    expect(after.queued).toBe(0);
    expect(after.inFlight).toBe(0);
  });

  it('answers false without a worker for a key or signature of the wrong length', async () => {
    const good = validJob(Uint8Array.of(1));
    const before = pool.stats().batches;
    expect(await pool.verify({ ...good, publicKey: good.publicKey.subarray(0, 31) })).toBe(false);
    expect(await pool.verify({ ...good, signature: concatBytes(good.signature, Uint8Array.of(0)) })).toBe(
      false,
    );
    expect(pool.stats().batches).toBe(before);
  });

  it('rejects arguments that are not bytes with MG_ERR_BAD_ARGUMENT', async () => {
    const good = validJob(Uint8Array.of(1));
    expect(await codeOf(pool.verify({ ...good, message: 'hello' as unknown as Uint8Array }))).toBe(
      'MG_ERR_BAD_ARGUMENT',
    );
    expect(await codeOf(pool.verify({ ...good, publicKey: [1, 2] as unknown as Uint8Array }))).toBe(
      'MG_ERR_BAD_ARGUMENT',
    );
    expect(await codeOf(pool.verify(undefined as unknown as VerifyJob))).toBe('MG_ERR_BAD_ARGUMENT');
  });

  it('verifies messages that share one buffer with other data (subarray views)', async () => {
    const good = validJob(Uint8Array.of(9, 9, 9));
    const big = new Uint8Array(200);
    big.set(good.message, 50);
    big.set(good.signature, 100);
    const job = {
      publicKey: good.publicKey,
      message: big.subarray(50, 53),
      signature: big.subarray(100, 164),
    };
    expect(await pool.verify(job)).toBe(true);
  });
});

describe('options', () => {
  it.each([
    [{ threads: 0 }, 'threads'],
    [{ maxBatch: 0 }, 'maxBatch'],
    [{ maxDelayMs: -1 }, 'maxDelayMs'],
    [{ maxQueue: 1.5 }, 'maxQueue'],
  ])('refuses %o', async (options, field) => {
    const err = await VerifyPool.create(options).catch((e: unknown) => e);
    expect(isMedgateError(err, 'MG_ERR_BAD_ARGUMENT')).toBe(true);
    expect((err as { field: string }).field).toBe(field);
  });
});

describe('backpressure', () => {
  it('rejects jobs beyond maxQueue with MG_ERR_VERIFY_OVERLOADED and serves the rest', async () => {
    const pool = await VerifyPool.create({ threads: 1, maxQueue: 10, maxBatch: 256 });
    try {
      const jobs = Array.from({ length: 25 }, (_, i) => validJob(Uint8Array.of(i)));
      // All submitted in one turn: nothing is dispatched before the queue holds 10.
      const codes = await Promise.all(jobs.map((job) => codeOf(pool.verify(job))));
      expect(codes.slice(0, 10)).toEqual(Array(10).fill(undefined));
      expect(codes.slice(10)).toEqual(Array(15).fill('MG_ERR_VERIFY_OVERLOADED'));
      expect(pool.stats()).toMatchObject({ overloaded: 15, valid: 10 });
      // Once the queue drained, jobs are accepted again.
      expect(await pool.verify(jobs[0] as VerifyJob)).toBe(true);
    } finally {
      await pool.close();
    }
  });
});

describe('close()', () => {
  it('rejects queued and in-flight jobs with MG_ERR_VERIFY_POOL_CLOSED, and later ones too', async () => {
    const pool = await VerifyPool.create({ threads: 1, maxBatch: 4, maxInFlightPerWorker: 1 });
    const jobs = Array.from({ length: 40 }, (_, i) => validJob(Uint8Array.of(i)));
    const settled = jobs.map((job) => codeOf(pool.verify(job)));
    // One full batch went out at once; the other 36 wait for it.
    expect(pool.stats()).toMatchObject({ inFlight: 4, queued: 36 });
    const closing = pool.close();
    expect(pool.close()).toBe(closing); // idempotent
    await closing;
    expect(await Promise.all(settled)).toEqual(Array(40).fill('MG_ERR_VERIFY_POOL_CLOSED'));
    expect(await codeOf(pool.verify(jobs[0] as VerifyJob))).toBe('MG_ERR_VERIFY_POOL_CLOSED');
    expect(pool.stats()).toMatchObject({ workersReady: 0, queued: 0, inFlight: 0 });
  });

  it.skipIf(process.platform !== 'linux')('ends the worker threads (no leak)', async () => {
    const threads = (): number =>
      Number(/^Threads:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    const pool = await VerifyPool.create({ threads: 3 });
    const open = threads();
    expect(await pool.verify(validJob(Uint8Array.of(1)))).toBe(true);
    await pool.close();
    expect(threads()).toBeLessThanOrEqual(open - 3);
  });
});

describe('worker crash', () => {
  it('rejects the crashed worker’s jobs with MG_ERR_VERIFY_WORKER_CRASHED and replaces it', async () => {
    const pool = await VerifyPool.create({ threads: 1 });
    try {
      const jobs = Array.from({ length: 5 }, (_, i) => validJob(Uint8Array.of(i)));
      pool.crashWorkerForTesting(0);
      const codes = await Promise.all(jobs.map((job) => codeOf(pool.verify(job))));
      expect(codes).toEqual(Array(5).fill('MG_ERR_VERIFY_WORKER_CRASHED'));
      // Queued behind the replacement's start, then answered by it.
      expect(await Promise.all(jobs.map((job) => pool.verify(job)))).toEqual(Array(5).fill(true));
      expect(pool.stats()).toMatchObject({ crashes: 1, restarts: 1, workersReady: 1, inFlight: 0 });
    } finally {
      await pool.close();
    }
  });

  it('settles every job when one of two workers crashes mid-stream', async () => {
    const pool = await VerifyPool.create({ threads: 2, maxBatch: 8 });
    try {
      const jobs = Array.from({ length: 200 }, (_, i) => validJob(Uint8Array.of(i)));
      pool.crashWorkerForTesting(1);
      const codes = await Promise.all(jobs.map((job) => codeOf(pool.verify(job))));
      const crashed = codes.filter((c) => c === 'MG_ERR_VERIFY_WORKER_CRASHED').length;
      expect(crashed).toBeGreaterThan(0);
      expect(codes.filter((c) => c === undefined).length).toBe(200 - crashed);
      expect(await pool.verify(jobs[0] as VerifyJob)).toBe(true);
      expect(pool.stats().crashes).toBe(1);
    } finally {
      await pool.close();
    }
  });
});

describe('workers that cannot be restarted', () => {
  it('reject waiting and later jobs with MG_ERR_VERIFY_WORKER_START instead of hanging', async () => {
    const pool = await VerifyPool.create({ threads: 1 });
    try {
      const job = validJob(Uint8Array.of(1));
      pool.breakRestartsForTesting();
      pool.crashWorkerForTesting(0);
      expect(await codeOf(pool.verify(job))).toBe('MG_ERR_VERIFY_WORKER_CRASHED');
      // Queued while the replacements fail, with back-off, until the pool gives up on them.
      expect(await codeOf(pool.verify(job))).toBe('MG_ERR_VERIFY_WORKER_START');
      expect(await codeOf(pool.verify(job))).toBe('MG_ERR_VERIFY_WORKER_START');
      expect(pool.stats()).toMatchObject({
        workersReady: 0,
        queued: 0,
        inFlight: 0,
        crashes: 1,
        restarts: 3,
      });
    } finally {
      await pool.close();
    }
  });
});

describe('compiled worker (dist/)', () => {
  const distPool = resolve(root, 'dist/gateway/verify/pool.js');
  const distNode = resolve(root, 'dist/firmware-ts/protocol/ed25519/node.js');
  const built = existsSync(distPool) && existsSync(resolve(root, 'dist/gateway/verify/worker.js'));

  // `npm test` runs `tsc -b` first, so dist/ is there; a bare `vitest run` on a fresh clone skips this.
  it.skipIf(!built)('runs worker.js without tsx', async () => {
    const script = `
      const { VerifyPool } = await import(${JSON.stringify(pathToFileURL(distPool).href)});
      const { nodeBackend } = await import(${JSON.stringify(pathToFileURL(distNode).href)});
      const sk = nodeBackend.generateSecretKey();
      const publicKey = nodeBackend.publicKey(sk);
      const message = new TextEncoder().encode('compiled');
      const signature = nodeBackend.sign(message, sk);
      const pool = await VerifyPool.create({ threads: 2 });
      const verdicts = await Promise.all([
        pool.verify({ publicKey, message, signature }),
        pool.verify({ publicKey, message: message.subarray(1), signature }),
      ]);
      const source = pool.stats().workerSource;
      await pool.close();
      console.log(JSON.stringify({ verdicts, source }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
    });
    expect(JSON.parse(stdout)).toEqual({ verdicts: [true, false], source: 'compiled' });
  });

  // Worker refuses V8 and heap flags in its execArgv (ERR_WORKER_INVALID_EXEC_ARGV): a gateway
  // started with `node --max-old-space-size=...` must still start its pool.
  it.skipIf(!built)('starts when the process runs with V8 heap flags', async () => {
    const script = `
      const { VerifyPool } = await import(${JSON.stringify(pathToFileURL(distPool).href)});
      const pool = await VerifyPool.create({ threads: 1 });
      console.log(JSON.stringify({ ready: pool.stats().workersReady }));
      await pool.close();
    `;
    const flags = [
      '--max-old-space-size=512',
      '--max-semi-space-size=32',
      '--stack-size=2000',
      '--title',
      'medgate',
    ];
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [...flags, '--input-type=module', '-e', script],
      { cwd: root },
    );
    expect(JSON.parse(stdout)).toEqual({ ready: 1 });
  });
});

describe('workerExecArgv', () => {
  it('keeps module loading and profiling options, drops V8, heap and input-type options', () => {
    expect(
      workerExecArgv([
        '--import',
        'tsx',
        '--max-old-space-size=512',
        '--max-semi-space-size=64',
        '--title',
        'medgate',
        '--require=./hook.cjs',
        '--input-type',
        'module',
        '--expose-gc',
        '--cpu-prof',
        '--cpu-prof-dir',
        '/tmp/p',
        '--input-type=commonjs',
        '-r',
        'x',
      ]),
    ).toEqual([
      '--import',
      'tsx',
      '--require=./hook.cjs',
      '--cpu-prof',
      '--cpu-prof-dir',
      '/tmp/p',
      '-r',
      'x',
    ]);
  });
});
