/**
 * The ledger commands as a user runs them (DESIGN §7): init --demo, verify, show/tail,
 * receipt get/verify, consistency, keygen; exit 0 ok / 1 check failed / 2 bad usage, one line
 * and no stack trace on errors. In-process through `main(argv)`, and once as a real process.
 */
import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { signerFromSecretKey } from '../../firmware-ts/protocol/cose.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { decodePrivateKeyPem, decodePublicKeyPem } from '../../firmware-ts/protocol/pem.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import { blockKey } from '../../gateway/ledger/blocks.js';
import { openDataDir } from '../../gateway/ledger/data-dir.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import type { LeafPosition } from '../../gateway/ledger/sequencer.js';
import { removeTempDirs, tempDir } from '../ledger/ledger-harness.js';
import { medgate } from '../support/cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A usage or check error is one line with no stack trace. */
function oneLine(text: string): void {
  const lines = text.trimEnd().split('\n');
  expect(lines.length, text).toBe(1);
  expect(text).not.toMatch(/\n\s+at /);
}

afterEach(() => vi.restoreAllMocks());
afterAll(removeTempDirs);

describe('medgate init, ledger, receipt', () => {
  let dir: string;
  let leaves: LeafPosition[];

  beforeAll(async () => {
    dir = await tempDir('medgate-cli-');
    const init = await medgate('init', '--data', dir, '--demo');
    expect(init.code, init.err).toBe(0);
    // Some activity, as the gateway would produce it: readings, an enrolment, blocks.
    const ledger = await Ledger.open(dir, { blockIntervalMs: 0 });
    const alice = signerFromSecretKey(
      decodePrivateKeyPem(await readFile(join(dir, 'demo-keys', 'admin-alice.key'), 'utf8')),
      nodeBackend,
    );
    const devicePub = decodePublicKeyPem(
      await readFile(join(dir, 'demo-keys', 'device-wearable-001.pub'), 'utf8'),
    );
    leaves = [];
    for (let block = 0; block < 3; block++) {
      const batch = Array.from({ length: 4 + block }, (_, i) =>
        ledger.appendReading({
          leafData: new TextEncoder().encode(`reading ${block} ${i}`),
          deviceId: 'wearable-001',
          seq: leaves.length + i + 1,
        }),
      );
      leaves.push(...(await Promise.all(batch)));
      if (block === 1) {
        const tx = signTx(
          {
            type: 'device.enrol',
            chain: ledger.chain,
            actor: 'admin:alice',
            nonce: 1,
            t: Date.now(),
            body: { dev: 'wearable-001', pub: devicePub, model: 'wearable-v1' },
          },
          alice,
        );
        const done = ledger.submitTx(tx);
        await ledger.cutBlock();
        await done;
      } else await ledger.cutBlock();
    }
    await ledger.close();
  });

  it('init --demo wrote the authority key (0600), demo keys and their index', async () => {
    expect((await stat(join(dir, 'authority.key'))).mode & 0o777).toBe(0o600);
    const index = JSON.parse(await readFile(join(dir, 'demo-keys', 'index.json'), 'utf8')) as {
      keys: { role: string; id: string; key: string; pub: string; model?: string; models?: string[] }[];
    };
    const roles = index.keys.map((k) => k.role);
    expect(roles.filter((r) => r === 'admin')).toHaveLength(3);
    expect(roles).toEqual(expect.arrayContaining(['authority', 'vendor', 'clinician', 'device']));
    expect(index.keys.find((k) => k.role === 'vendor')?.models).toEqual([
      'wearable-v1',
      'bp-cuff-v1',
      'glucose-v1',
    ]);
    for (const k of index.keys) {
      decodePublicKeyPem(await readFile(join(dir, 'demo-keys', k.pub), 'utf8'));
      decodePrivateKeyPem(await readFile(join(dir, 'demo-keys', k.key), 'utf8'));
    }
  });

  it('init refuses a directory that has a ledger (exit 1, coded)', async () => {
    const again = await medgate('init', '--data', dir, '--demo');
    expect(again.code).toBe(1);
    expect(again.err).toContain('MG_ERR_LEDGER_EXISTS');
    oneLine(again.err);
  });

  it('ledger verify passes (exit 0), also as JSON', async () => {
    const run = await medgate('ledger', 'verify', '--data', dir);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/verified: 4 blocks .* 1 transactions, 15 leaves/);
    const json = await medgate(
      'ledger',
      'verify',
      '--data',
      dir,
      '--json',
      '--authority',
      join(dir, 'authority.pub'),
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ ok: true, blocks: 4, txs: 1, leaves: 15, readings: 15 });
  });

  it('ledger show and tail print blocks with decoded transactions', async () => {
    const show = await medgate('ledger', 'show', '2', '--data', dir);
    expect(show.code, show.err).toBe(0);
    expect(show.out).toContain('block 2');
    expect(show.out).toContain('device.enrol by admin:alice nonce 1');
    expect(show.out).toContain('dev="wearable-001"');
    const json = JSON.parse((await medgate('ledger', 'show', '--data', dir, '--json')).out) as {
      height: number;
      log: { size: number };
    };
    expect(json).toMatchObject({ height: 3, log: { size: 15 } });
    const tail = JSON.parse((await medgate('ledger', 'tail', '--data', dir, '-n', '2', '--json')).out) as {
      height: number;
      txs: { type: string; body: { dev?: string } }[];
    }[];
    expect(tail.map((b) => b.height)).toEqual([2, 3]);
    expect(tail[0]!.txs[0]).toMatchObject({ type: 'device.enrol', body: { dev: 'wearable-001' } });
    const genesis = await medgate('ledger', 'show', '0', '--data', dir);
    expect(genesis.out).toContain("genesis: chain 'medgate-demo', 3 admins (threshold 2)");
    const beyond = await medgate('ledger', 'show', '9', '--data', dir);
    expect(beyond.code).toBe(1);
    expect(beyond.err).toContain('MG_ERR_BLOCK_NOT_FOUND');
  });

  it('receipt get then receipt verify round-trips; a wrong authority key fails with exit 1', async () => {
    const file = join(dir, 'receipt.json');
    const leaf = leaves[6]!;
    const get = await medgate('receipt', 'get', toHex(leaf.leafHash), '--data', dir, '--out', file);
    expect(get.code, get.err).toBe(0);
    const ok = await medgate('receipt', 'verify', file, '--authority', join(dir, 'authority.pub'));
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/receipt valid: leaf 6 .* block 2/);
    const pubHex = toHex(decodePublicKeyPem(await readFile(join(dir, 'authority.pub'), 'utf8')));
    expect((await medgate('receipt', 'verify', file, '--authority', pubHex)).code).toBe(0);

    const wrong = await medgate(
      'receipt',
      'verify',
      file,
      '--authority',
      join(dir, 'demo-keys', 'admin-alice.pub'),
    );
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('MG_ERR_UNKNOWN_AUTHORITY');
    oneLine(wrong.err);

    const byIndex = await medgate('receipt', 'get', '--index', '6', '--data', dir);
    expect(JSON.parse(byIndex.out)).toEqual(JSON.parse(await readFile(file, 'utf8')));

    const receipt = JSON.parse(await readFile(file, 'utf8')) as { leafIndex: number };
    await writeFile(file, JSON.stringify({ ...receipt, leafIndex: receipt.leafIndex + 1 }));
    const altered = await medgate('receipt', 'verify', file, '--authority', join(dir, 'authority.pub'));
    expect(altered.code).toBe(1);
    expect(altered.err).toContain('MG_ERR_MERKLE_ROOT_MISMATCH');
    oneLine(altered.err);
  });

  it('ledger consistency makes a bundle that --verify accepts, and refuses an altered one', async () => {
    const file = join(dir, 'consistency.json');
    const make = await medgate('ledger', 'consistency', '4', '15', '--data', dir, '--out', file);
    expect(make.code, make.err).toBe(0);
    const check = await medgate(
      'ledger',
      'consistency',
      '--verify',
      file,
      '--authority',
      join(dir, 'authority.pub'),
    );
    expect(check.code, check.err).toBe(0);
    expect(check.out).toContain('consistent');
    const bundle = JSON.parse(await readFile(file, 'utf8')) as { size2: number };
    await writeFile(file, JSON.stringify({ ...bundle, size2: 9 }));
    const bad = await medgate(
      'ledger',
      'consistency',
      '--verify',
      file,
      '--authority',
      join(dir, 'authority.pub'),
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('MG_ERR_CHECKPOINT_MISMATCH');
    const notCheckpoint = await medgate('ledger', 'consistency', '5', '15', '--data', dir);
    expect(notCheckpoint.code).toBe(1);
    expect(notCheckpoint.err).toContain('MG_ERR_NOT_A_CHECKPOINT');
  });

  it('ledger verify names the tampered block (exit 1), and passes again once restored', async () => {
    const dataDir = await openDataDir(dir);
    const original = (await dataDir.db.get(blockKey(2)))!;
    const bad = new Uint8Array(original);
    bad[bad.length - 5]! ^= 0x40;
    await dataDir.db.put(blockKey(2), bad);
    await dataDir.close();
    const run = await medgate('ledger', 'verify', '--data', dir);
    expect(run.code).toBe(1);
    expect(run.err).toContain('FAILED at block 2');
    expect(run.err).toContain('MG_ERR_CHAIN_BAD_BLOCK');
    oneLine(run.err);
    const restore = await openDataDir(dir);
    await restore.db.put(blockKey(2), original);
    await restore.close();
    expect((await medgate('ledger', 'verify', '--data', dir)).code).toBe(0);
  });

  it('bad usage exits 2 with one line and no stack trace', async () => {
    const cases: string[][] = [
      ['ledger', 'show', 'tip', '--data', dir],
      ['ledger', 'show', '--data'],
      ['ledger', 'verify'],
      ['ledger', 'verify', '--data', dir, '--frobnicate'],
      ['ledger', 'tail', '--data', dir, '-n', 'many'],
      ['receipt', 'get', 'abcd', '--data', dir],
      ['receipt', 'get', '--data', dir],
      ['receipt', 'verify', join(dir, 'receipt.json')],
      ['receipt', 'verify', join(dir, 'no-such-file.json'), '--authority', join(dir, 'authority.pub')],
      ['ledger', 'consistency', '3', '--data', dir],
      ['init', '--data', await tempDir()],
      ['keygen'],
    ];
    for (const argv of cases) {
      const run = await medgate(...argv);
      expect(run.code, argv.join(' ')).toBe(2);
      oneLine(run.err);
    }
  });
});

describe('medgate keygen', () => {
  it('writes PKCS#8 and SPKI PEM files (0600 for the key) and never overwrites them', async () => {
    const prefix = join(await tempDir('medgate-keygen-'), 'alice');
    const run = await medgate('keygen', '--out', prefix, '--json');
    expect(run.code, run.err).toBe(0);
    const info = JSON.parse(run.out) as { publicKey: string; kid: string };
    expect((await stat(`${prefix}.key`)).mode & 0o777).toBe(0o600);
    const secret = decodePrivateKeyPem(await readFile(`${prefix}.key`, 'utf8'));
    const pub = decodePublicKeyPem(await readFile(`${prefix}.pub`, 'utf8'));
    expect(toHex(nodeBackend.publicKey(secret))).toBe(toHex(pub));
    expect(info.publicKey).toBe(toHex(pub));
    const again = await medgate('keygen', '--out', prefix);
    expect(again.code).toBe(2);
    const openssl = spawnSync('openssl', ['pkey', '-in', `${prefix}.key`, '-pubout'], { encoding: 'utf8' });
    if (openssl.error === undefined) {
      expect(openssl.status).toBe(0);
      expect(openssl.stdout).toBe(await readFile(`${prefix}.pub`, 'utf8'));
    }
  });
});

describe('the medgate binary', () => {
  it('runs init and verify as a child process, exit codes included', async () => {
    const dir = await tempDir('medgate-bin-');
    const bin = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'gateway/cli/bin.ts', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
      });
    const init = bin('init', '--data', dir, '--demo', '--chain', 'bin-test');
    expect(init.status, init.stderr).toBe(0);
    expect(init.stdout).toContain("initialised ledger 'bin-test'");
    const verify = bin('ledger', 'verify', '--data', dir);
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stdout).toContain("ledger 'bin-test' verified: 1 blocks");
    const usage = bin('ledger', 'show', 'nope', '--data', dir);
    expect(usage.status).toBe(2);
    oneLine(usage.stderr);
  });
});
