/**
 * The Ledger's lifecycle: init, open, reopen from snapshots, read-only and closed ledgers,
 * the authority key, the data directory lock, and transactions refused at the cut.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBlock } from '../../firmware-ts/protocol/block.js';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { encodePublicKeyPem } from '../../firmware-ts/protocol/pem.js';
import { decodeBundle, FACTORY_BUNDLE_FILE } from '../../firmware-ts/protocol/update/index.js';
import { decodeGenesisBytes } from '../../gateway/ledger/genesis.js';
import { initLedger, writeGenesis } from '../../gateway/ledger/init.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { encodeState } from '../../gateway/ledger/state/encode.js';
import { verifyLedgerDir } from '../../gateway/ledger/verify.js';
import {
  AUTHORITY,
  genesisDir,
  keyFor,
  openTestLedger,
  removeTempDirs,
  signedReading,
  TestClock,
  TxFactory,
  tempDir,
} from './ledger-harness.js';
import { testGenesis } from './state-harness.js';

afterAll(removeTempDirs);

describe('Ledger.open', () => {
  it('restores the same head and state after close, from a snapshot plus replay', async () => {
    const dir = await genesisDir();
    const clock = new TestClock();
    const ledger = await openTestLedger(dir, clock, { snapshotEvery: 2 });
    const f = new TxFactory();
    for (let i = 0; i < 5; i++) {
      clock.advance();
      const tx = ledger.submitTx(f.enrol(`dev-${i}`, clock.t));
      await ledger.appendReading(signedReading('dev-x', i));
      await ledger.cutBlock();
      await tx;
    }
    const head = ledger.head;
    await ledger.close();
    // Height 5 is not a multiple of 2: the state comes from the snapshot at 4 and one replayed block.
    const again = await openTestLedger(dir, clock, { snapshotEvery: 2 });
    expect(toHex(again.tip.hash)).toBe(toHex(head.block.hash));
    expect(encodeState(again.state)).toEqual(encodeState(head.state));
    expect(again.state.devices.size).toBe(5);
    // The writer continues the chain where it stopped.
    await again.appendReading(signedReading('dev-x', 99));
    expect((await again.cutBlock())?.header.prev).toEqual(head.block.hash);
    await again.close();
    expect((await verifyLedgerDir(dir)).ok).toBe(true);
  });

  it('refuses a directory without a ledger, a second open, and a key that is no authority', async () => {
    await expect(Ledger.open(await tempDir(), { readOnly: true })).rejects.toMatchObject({
      code: 'MG_ERR_LEDGER_NOT_INITIALIZED',
    });
    const dir = await genesisDir();
    const clock = new TestClock();
    const ledger = await openTestLedger(dir, clock);
    await expect(Ledger.open(dir, { readOnly: true })).rejects.toMatchObject({
      code: 'MG_ERR_DATA_DIR_LOCKED',
    });
    await ledger.close();
    await expect(
      openTestLedger(dir, clock, { authoritySecretKey: keyFor('admin:a').secret }),
    ).rejects.toMatchObject({
      code: 'MG_ERR_AUTHORITY_KEY',
    });
    // No key given and no DIR/authority.key (writeGenesis writes no key files).
    await expect(Ledger.open(dir)).rejects.toMatchObject({ code: 'MG_ERR_AUTHORITY_KEY' });
  });

  it('refuses writes on a read-only ledger and after close', async () => {
    const dir = await genesisDir();
    const reader = await Ledger.open(dir, { readOnly: true });
    const f = new TxFactory();
    await expect(reader.submitTx(f.enrol('dev-1'))).rejects.toMatchObject({
      code: 'MG_ERR_LEDGER_READ_ONLY',
    });
    await expect(reader.appendReading(signedReading('dev-1', 1))).rejects.toMatchObject({
      code: 'MG_ERR_LEDGER_READ_ONLY',
    });
    await expect(reader.cutBlock()).rejects.toMatchObject({ code: 'MG_ERR_LEDGER_READ_ONLY' });
    expect(reader.tip.header.height).toBe(0);
    await reader.close();
    const writer = await openTestLedger(dir, new TestClock());
    await writer.close();
    await expect(writer.submitTx(f.enrol('dev-1'))).rejects.toMatchObject({ code: 'MG_ERR_LEDGER_CLOSED' });
  });

  it('cuts a last block on close: acknowledged leaves and waiting transactions are in it', async () => {
    const dir = await genesisDir();
    const clock = new TestClock();
    const ledger = await openTestLedger(dir, clock, { maxTxPerBlock: 2 });
    const f = new TxFactory();
    const leaves = await Promise.all([1, 2, 3].map((s) => ledger.appendReading(signedReading('dev-1', s))));
    const tx = ledger.submitTx(f.enrol('dev-9'));
    await ledger.close();
    expect(await tx).toMatchObject({ height: 1, index: 0 });
    const reader = await Ledger.open(dir, { readOnly: true });
    expect(reader.tip.header.log.size).toBe(3);
    for (const leaf of leaves) expect((await reader.receipt(leaf.leafHash)).leafIndex).toBe(leaf.index);
    await reader.close();
  });

  it('cuts an empty heartbeat block only once the last block is heartbeatMs old', async () => {
    const dir = await genesisDir();
    const clock = new TestClock();
    const ledger = await openTestLedger(dir, clock, { heartbeatMs: 60_000 });
    const genesisTime = ledger.tip.header.t;
    clock.advance(59_999);
    expect(await ledger.cutBlock()).toBeUndefined(); // idle and not yet due: nothing to sign
    clock.advance(1);
    const beat = await ledger.cutBlock();
    expect(beat?.header).toMatchObject({ height: 1, txCount: 0, t: genesisTime + 60_000 });
    expect(await ledger.cutBlock()).toBeUndefined();
    await ledger.close();
    expect((await verifyLedgerDir(dir)).ok).toBe(true);
  });

  it('applies every transaction again at the cut, with the block time: expired proposals are refused then', async () => {
    const dir = await genesisDir();
    const clock = new TestClock();
    const ledger = await openTestLedger(dir, clock);
    const f = new TxFactory();
    const proposal = f.sign(
      'admin:a',
      'proposal.create',
      { action: { type: 'governance.set', body: { threshold: 3 } }, expires: clock.t + 500 },
      clock.t,
    );
    const pending = ledger.submitTx(proposal);
    clock.advance(1000);
    await ledger.cutBlock();
    await expect(pending).rejects.toMatchObject({ code: 'MG_ERR_BAD_EXPIRY' });
    expect(ledger.tip.header.height).toBe(0);
    await ledger.close();
  });
});

describe('initLedger', () => {
  it('creates keys and a genesis from a JSON config (hex and PEM keys), and refuses to run twice', async () => {
    const dir = await tempDir();
    const configDir = await tempDir();
    await writeFile(join(configDir, 'bob.pub'), encodePublicKeyPem(keyFor('admin:b').pub));
    const config = {
      chain: 'hospital-a',
      admins: [
        { id: 'a', pub: toHex(keyFor('admin:a').pub) },
        { id: 'b', pub: 'bob.pub' },
      ],
      threshold: 2,
      vendors: [{ id: 'acme', pub: toHex(keyFor('vendor:acme').pub), models: ['m1'] }],
      policies: [
        {
          model: '*',
          approvals: 2,
          approvers: 'all',
          enrolment: 'approval',
          maxWaveSize: 10,
          maxFailures: 2,
        },
      ],
    };
    const file = join(configDir, 'genesis.json');
    await writeFile(file, JSON.stringify(config));
    const result = await initLedger({ dir, configFile: file });
    expect(result.chain).toBe('hospital-a');
    const ledger = await Ledger.open(dir);
    const [configBytes] = await ledger.blockTxs(0);
    const stored = decodeGenesisBytes(configBytes!);
    expect(stored.authorities[0]).toEqual(result.authority.pub);
    expect(stored.admins.map((a) => a.id)).toEqual(['a', 'b']);
    expect(stored.admins[1]!.pub).toEqual(keyFor('admin:b').pub);
    // The devices' factory trust bundle is the genesis's trust fields, policies included.
    const bundle = decodeBundle(new Uint8Array(await readFile(join(dir, FACTORY_BUNDLE_FILE))));
    expect(bundle).toMatchObject({ chain: 'hospital-a', seq: 0, threshold: 2 });
    expect(bundle.authorities).toEqual([result.authority.pub]);
    expect(bundle.admins.map((x) => x.id)).toEqual(['a', 'b']);
    expect(bundle.vendors.map((v) => [v.id, v.models])).toEqual([['acme', ['m1']]]);
    expect(bundle.policies).toEqual([{ model: '*', approvals: 2 }]);
    expect(decodeBlock(ledger.tip.bytes).header.height).toBe(0);
    await ledger.close();
    await expect(initLedger({ dir, configFile: file })).rejects.toMatchObject({
      code: 'MG_ERR_LEDGER_EXISTS',
    });
    await expect(writeGenesis(dir, testGenesis(), AUTHORITY.signer, 0)).rejects.toMatchObject({
      code: 'MG_ERR_LEDGER_EXISTS',
    });
  });

  it('refuses an inconsistent genesis config with the genesis code', async () => {
    const configDir = await tempDir();
    const file = join(configDir, 'genesis.json');
    await writeFile(
      file,
      JSON.stringify({
        chain: 'x',
        admins: [{ id: 'a', pub: toHex(keyFor('admin:a').pub) }],
        threshold: 2,
        vendors: [],
        policies: [
          { model: '*', approvals: 1, approvers: 'all', enrolment: 'auto', maxWaveSize: 1, maxFailures: 1 },
        ],
      }),
    );
    await expect(initLedger({ dir: await tempDir(), configFile: file })).rejects.toMatchObject({
      code: 'MG_ERR_GOVERNANCE_UNSATISFIABLE',
    });
  });
});
