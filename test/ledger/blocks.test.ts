/**
 * Block headers (protocol/block.ts) and block production (block-producer.ts through Ledger):
 * strict decoding, signatures, hash links, txRoot proofs; cut on interval, on count, skipped
 * when nothing changed; block time never goes back; refusals at the cut reach the submitter.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  type BlockHeader,
  blockHash,
  decodeBlock,
  decodeBlockHeader,
  encodeBlockHeader,
  GENESIS_PREV,
  type SignedBlock,
  signBlock,
  txRootOf,
  verifyBlock,
  verifyTxInclusion,
} from '../../firmware-ts/protocol/block.js';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { MedgateError } from '../../firmware-ts/protocol/errors.js';
import { EMPTY_ROOT, leafHash, MemoryTree } from '../../firmware-ts/protocol/merkle/index.js';
import type { ProducedBlock } from '../../gateway/ledger/ledger.js';
import {
  AUTHORITY,
  CHAIN,
  genesisDir,
  keyFor,
  openTestLedger,
  removeTempDirs,
  signedReading,
  T0,
  TestClock,
  TxFactory,
} from './ledger-harness.js';

afterAll(removeTempDirs);

function header(over: Partial<BlockHeader> = {}): BlockHeader {
  return {
    v: 1,
    chain: CHAIN,
    height: 7,
    prev: new Uint8Array(32).fill(1),
    t: T0,
    txRoot: EMPTY_ROOT,
    txCount: 0,
    log: { size: 3, root: new Uint8Array(32).fill(2) },
    ...over,
  };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof MedgateError ? err.code : `not coded: ${String(err)}`;
  }
  return undefined;
}

/** The header map with one entry changed (or removed with `undefined`), re-signed. */
function resigned(edit: (m: Map<string, unknown>) => void): Uint8Array {
  const h = header();
  const m = new Map<string, unknown>([
    ['v', 1],
    ['chain', h.chain],
    ['height', h.height],
    ['prev', h.prev],
    ['t', h.t],
    ['txRoot', h.txRoot],
    ['txCount', h.txCount],
    [
      'log',
      new Map<string, unknown>([
        ['size', h.log.size],
        ['root', h.log.root],
      ]),
    ],
  ]);
  edit(m);
  return signCoseSign1(encodeCbor(m), AUTHORITY.signer, chainAad(CHAIN));
}

describe('block header', () => {
  it('round-trips through encode/decode and sign/verify on both backends', () => {
    const h = header();
    expect(decodeBlockHeader(encodeBlockHeader(h))).toEqual(h);
    const signed = signBlock(h, AUTHORITY.signer);
    expect(signed.header).toEqual(h);
    expect(signed.hash).toEqual(blockHash(signed.bytes));
    expect(signed.kid).toEqual(AUTHORITY.kid);
    for (const backend of [nodeBackend, nobleBackend]) {
      expect(
        verifyBlock(signed.bytes, { authorities: [AUTHORITY.pub], chain: CHAIN }, backend).header,
      ).toEqual(h);
    }
  });

  it('refuses a block signed by a key that is not an authority', () => {
    const signed = signBlock(header(), keyFor('admin:a').signer);
    expect(codeOf(() => verifyBlock(signed.bytes, { authorities: [AUTHORITY.pub] }, nodeBackend))).toBe(
      'MG_ERR_UNKNOWN_AUTHORITY',
    );
  });

  it('refuses a block of another chain, and one whose bytes were changed', () => {
    const signed = signBlock(header(), AUTHORITY.signer);
    expect(
      codeOf(() => verifyBlock(signed.bytes, { authorities: [AUTHORITY.pub], chain: 'other' }, nodeBackend)),
    ).toBe('MG_ERR_CHAIN_MISMATCH');
    // The signature's last byte: still a well-formed COSE_Sign1, no longer a valid signature.
    const bad = signed.bytes.slice();
    bad[bad.length - 1]! ^= 1;
    expect(codeOf(() => verifyBlock(bad, { authorities: [AUTHORITY.pub] }, nodeBackend))).toBe(
      'MG_ERR_BAD_SIGNATURE',
    );
  });

  it('decodes strictly: closed map, every field typed and bounded', () => {
    const cases: [string, (m: Map<string, unknown>) => void, string][] = [
      ['unknown field', (m) => m.set('extra', 1), 'MG_ERR_UNKNOWN_FIELD'],
      ['missing field', (m) => m.delete('txRoot'), 'MG_ERR_MISSING_FIELD'],
      ['version 2', (m) => m.set('v', 2), 'MG_ERR_BAD_FIELD'],
      ['short prev', (m) => m.set('prev', new Uint8Array(31)), 'MG_ERR_BAD_FIELD'],
      ['negative height', (m) => m.set('height', -1), 'MG_ERR_BAD_FIELD'],
      ['bad chain id', (m) => m.set('chain', 'a b'), 'MG_ERR_BAD_FIELD'],
      ['txCount too large', (m) => m.set('txCount', 70_000), 'MG_ERR_BAD_FIELD'],
      ['log not a map', (m) => m.set('log', [1, 2]), 'MG_ERR_BAD_FIELD'],
      ['log extra field', (m) => (m.get('log') as Map<string, unknown>).set('x', 1), 'MG_ERR_UNKNOWN_FIELD'],
    ];
    for (const [name, edit, code] of cases) {
      expect(
        codeOf(() => decodeBlock(resigned(edit))),
        name,
      ).toBe(code);
    }
    expect(codeOf(() => decodeBlock(new Uint8Array([1, 2, 3])))).toBe('MG_ERR_COSE_MALFORMED');
  });

  it('proves a transaction is in a block with an inclusion proof over txRoot', () => {
    const txs = Array.from({ length: 7 }, (_, i) => new TextEncoder().encode(`tx ${i}`));
    const tree = new MemoryTree();
    for (const tx of txs) tree.append(leafHash(tx));
    const h = header({ txRoot: txRootOf(txs), txCount: txs.length });
    expect(h.txRoot).toEqual(tree.root());
    for (let i = 0; i < txs.length; i++) verifyTxInclusion(txs[i]!, i, tree.inclusionProof(i), h);
    expect(codeOf(() => verifyTxInclusion(txs[1]!, 2, tree.inclusionProof(2), h))).toBe(
      'MG_ERR_MERKLE_ROOT_MISMATCH',
    );
    expect(txRootOf([])).toEqual(EMPTY_ROOT);
  });
});

describe('block production', () => {
  it('links every block to the previous one by hash, heights rising by one', async () => {
    const clock = new TestClock();
    const ledger = await openTestLedger(await genesisDir(), clock);
    const f = new TxFactory();
    const blocks: SignedBlock[] = [await ledger.block(0)];
    expect(blocks[0]!.header.prev).toEqual(GENESIS_PREV);
    for (let i = 0; i < 5; i++) {
      clock.advance();
      const done = ledger.submitTx(f.enrol(`dev-${i}`, clock.t));
      await ledger.appendReading(signedReading('dev-x', i));
      const block = await ledger.cutBlock();
      expect(block).toBeDefined();
      expect((await done).height).toBe(i + 1);
      blocks.push(block!);
    }
    for (let i = 1; i < blocks.length; i++) {
      const { header: h } = blocks[i]!;
      expect(h.height).toBe(i);
      expect(toHex(h.prev)).toBe(toHex(blockHash(blocks[i - 1]!.bytes)));
      expect(h.log.size).toBe(i);
      expect(verifyBlock(blocks[i]!.bytes, { authorities: ledger.authorities }, nodeBackend).header).toEqual(
        h,
      );
    }
    await ledger.close();
  });

  it('gives a proof that a transaction is in a signed block, checked against the header alone', async () => {
    const clock = new TestClock();
    const ledger = await openTestLedger(await genesisDir(), clock);
    const f = new TxFactory();
    const txs = [0, 1, 2, 3, 4].map((i) => f.enrol(`dev-${i}`));
    const positions = txs.map((tx) => ledger.submitTx(tx));
    await ledger.cutBlock();
    await Promise.all(positions);
    for (let i = 0; i < txs.length; i++) {
      const byBytes = await ledger.txProof(1, txs[i]!);
      expect(byBytes.index).toBe(i);
      const header = verifyBlock(byBytes.block.bytes, { authorities: [AUTHORITY.pub] }, nodeBackend).header;
      verifyTxInclusion(txs[i]!, i, byBytes.proof, header);
      expect((await ledger.txProof(1, i)).proof).toEqual(byBytes.proof);
    }
    await expect(ledger.txProof(1, 5)).rejects.toMatchObject({ code: 'MG_ERR_TX_NOT_FOUND' });
    await expect(ledger.txProof(1, f.enrol('dev-9'))).rejects.toMatchObject({ code: 'MG_ERR_TX_NOT_FOUND' });
    await expect(ledger.txProof(2, 0)).rejects.toMatchObject({ code: 'MG_ERR_BLOCK_NOT_FOUND' });
    await ledger.close();
  });

  it('skips the cut when no transaction waits and the log did not grow', async () => {
    const clock = new TestClock();
    const ledger = await openTestLedger(await genesisDir(), clock);
    expect(await ledger.cutBlock()).toBeUndefined();
    await ledger.appendReading(signedReading('dev-1', 1));
    expect((await ledger.cutBlock())?.header.height).toBe(1);
    clock.advance(60_000);
    expect(await ledger.cutBlock()).toBeUndefined();
    expect(await ledger.cutBlock()).toBeUndefined();
    expect(ledger.tip.header.height).toBe(1);
    await ledger.close();
  });

  it('cuts on count: maxTxPerBlock waiting transactions make a block without a timer', async () => {
    const clock = new TestClock();
    const produced: ProducedBlock[] = [];
    const ledger = await openTestLedger(await genesisDir(), clock, {
      maxTxPerBlock: 3,
      onBlock: (p) => produced.push(p),
    });
    const f = new TxFactory();
    const positions = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => ledger.submitTx(f.enrol(`dev-${i}`))));
    expect(positions.map((p) => [p.height, p.index])).toEqual([
      [1, 0],
      [1, 1],
      [1, 2],
      [2, 0],
      [2, 1],
      [2, 2],
    ]);
    expect(produced.map((p) => p.block.header.txCount)).toEqual([3, 3]);
    expect(produced[0]!.effects.map((e) => e[0]?.type)).toEqual([
      'device.enrolled',
      'device.enrolled',
      'device.enrolled',
    ]);
    expect(ledger.state.devices.size).toBe(6);
    await ledger.close();
  });

  it('cuts on the interval timer', async () => {
    const clock = new TestClock();
    let resolveBlock: (p: ProducedBlock) => void = () => {};
    const first = new Promise<ProducedBlock>((resolve) => {
      resolveBlock = resolve;
    });
    const ledger = await openTestLedger(await genesisDir(), clock, {
      blockIntervalMs: 5,
      onBlock: (p) => resolveBlock(p),
    });
    const leaf = await ledger.appendReading(signedReading('dev-1', 1));
    // No cutBlock call: only the timer can produce this block.
    const produced = await first;
    expect(produced.block.header.log.size).toBe(1);
    expect(produced.block.header.height).toBe(1);
    expect((await ledger.receipt(leaf.leafHash)).treeSize).toBe(1);
    await ledger.close();
  });

  it('keeps block time non-decreasing when the clock goes back', async () => {
    const clock = new TestClock();
    const ledger = await openTestLedger(await genesisDir(), clock);
    clock.advance(10_000);
    await ledger.appendReading(signedReading('dev-1', 1));
    const b1 = await ledger.cutBlock();
    clock.t -= 5_000;
    await ledger.appendReading(signedReading('dev-1', 2));
    const b2 = await ledger.cutBlock();
    expect(b2!.header.t).toBe(b1!.header.t);
    await ledger.close();
  });

  it('refuses a transaction at submission with the state machine code', async () => {
    const clock = new TestClock();
    const ledger = await openTestLedger(await genesisDir(), clock);
    const f = new TxFactory();
    const enrol = f.enrol('dev-1');
    const ok = ledger.submitTx(enrol);
    // The same bytes again: its nonce is already used by the waiting transaction.
    await expect(ledger.submitTx(enrol)).rejects.toMatchObject({ code: 'MG_ERR_TX_NONCE_REPLAY' });
    // Signed further ahead of the block time than the allowed skew (5 min).
    await expect(ledger.submitTx(f.enrol('dev-2', clock.t + 10 * 60_000))).rejects.toMatchObject({
      code: 'MG_ERR_TX_FROM_FUTURE',
    });
    await ledger.cutBlock();
    expect((await ok).height).toBe(1);
    await ledger.close();
  });
});
