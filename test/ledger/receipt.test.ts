/**
 * Receipts and consistency bundles: made by the Ledger, checked offline with the authority's
 * public key alone (protocol/receipt.ts, protocol/checkpoint.ts). Every leaf of a small log,
 * random leaves of a larger one, every pair of checkpoints; any altered field is refused with
 * a code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../../firmware-ts/protocol/bytes.js';
import {
  type ConsistencyBundleJson,
  encodeConsistencyBundle,
  verifyConsistencyBundle,
} from '../../firmware-ts/protocol/checkpoint.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { MedgateError } from '../../firmware-ts/protocol/errors.js';
import { encodeReceipt, type ReceiptJson, verifyReceipt } from '../../firmware-ts/protocol/receipt.js';
import type { Ledger } from '../../gateway/ledger/ledger.js';
import type { LeafPosition } from '../../gateway/ledger/sequencer.js';
import {
  AUTHORITY,
  genesisDir,
  keyFor,
  openTestLedger,
  removeTempDirs,
  signedReading,
  TestClock,
} from './ledger-harness.js';

afterAll(removeTempDirs);

const KEYS = [AUTHORITY.pub];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof MedgateError ? err.code : `not coded: ${String(err)}`;
  }
  return undefined;
}

/** Through JSON text and back, as a receipt file travels. */
function viaJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** A ledger whose blocks checkpoint the log at the given sizes. */
async function ledgerWithCheckpoints(
  sizes: readonly number[],
): Promise<{ ledger: Ledger; leaves: LeafPosition[] }> {
  const clock = new TestClock();
  const ledger = await openTestLedger(await genesisDir(), clock);
  const leaves: LeafPosition[] = [];
  let seq = 0;
  for (const size of sizes) {
    const batch: Promise<LeafPosition>[] = [];
    while (leaves.length + batch.length < size) {
      seq++;
      batch.push(ledger.appendReading(signedReading(`dev-${seq % 7}`, seq)));
    }
    leaves.push(...(await Promise.all(batch)));
    clock.advance();
    await ledger.cutBlock();
  }
  return { ledger, leaves };
}

describe('receipts', () => {
  const sizes = [1, 2, 5, 8, 13];
  let ledger: Ledger;
  let leaves: LeafPosition[];

  beforeAll(async () => {
    ({ ledger, leaves } = await ledgerWithCheckpoints(sizes));
  });
  afterAll(() => ledger.close());

  it('verifies offline for every leaf, in the first block that covers it', async () => {
    for (const leaf of leaves) {
      const json = viaJson(encodeReceipt(await ledger.receipt(leaf.leafHash)));
      const firstCovering = sizes.findIndex((s) => s > leaf.index) + 1;
      for (const backend of [nodeBackend, nobleBackend]) {
        const checked = verifyReceipt(json, KEYS, backend);
        expect(checked.leafIndex).toBe(leaf.index);
        expect(checked.signedBlock.header.height).toBe(firstCovering);
        expect(checked.treeSize).toBe(sizes[firstCovering - 1]);
        expect(checked.reading).toBeDefined();
      }
      // By index, the same receipt.
      expect(encodeReceipt(await ledger.receipt(leaf.index))).toEqual(json);
    }
  });

  it('refuses a receipt with any field altered, each with a code', async () => {
    const leaf = leaves[9]!;
    const good: ReceiptJson = viaJson(encodeReceipt(await ledger.receipt(leaf.leafHash)));
    const other = viaJson(encodeReceipt(await ledger.receipt(leaves[3]!.leafHash)));
    const flipHex = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
    const flipB64 = (b64: string, at: number) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      bytes[at]! ^= 1;
      return toBase64(bytes);
    };
    const cases: [string, Record<string, unknown>, string][] = [
      ['leafIndex', { leafIndex: good.leafIndex + 1 }, 'MG_ERR_MERKLE_ROOT_MISMATCH'],
      ['leafIndex beyond tree', { leafIndex: good.treeSize }, 'MG_ERR_MERKLE_BAD_INDEX'],
      ['leafHash', { leafHash: flipHex(good.leafHash) }, 'MG_ERR_MERKLE_ROOT_MISMATCH'],
      [
        'proof hash',
        { proof: [flipHex(good.proof[0]!), ...good.proof.slice(1)] },
        'MG_ERR_MERKLE_ROOT_MISMATCH',
      ],
      ['proof shortened', { proof: good.proof.slice(1) }, 'MG_ERR_MERKLE_BAD_PROOF'],
      ['treeSize', { treeSize: good.treeSize + 1 }, 'MG_ERR_CHECKPOINT_MISMATCH'],
      ['chain', { chain: 'other-chain' }, 'MG_ERR_CHAIN_MISMATCH'],
      [
        'block signature',
        { block: flipB64(good.block, atob(good.block).length - 1) },
        'MG_ERR_BAD_SIGNATURE',
      ],
      ['block of another leaf', { block: other.block }, 'MG_ERR_CHECKPOINT_MISMATCH'],
      ['reading', { reading: other.reading }, 'MG_ERR_READING_MISMATCH'],
      ['version', { v: 2 }, 'MG_ERR_BAD_FIELD'],
      ['extra field', { note: 'x' }, 'MG_ERR_UNKNOWN_FIELD'],
      ['uppercase hex', { leafHash: good.leafHash.toUpperCase() }, 'MG_ERR_BAD_FIELD'],
      // "/w==" is 0xff; "/x==" decodes to the same byte with stray bits set.
      ['non-canonical base64', { reading: '/x==' }, 'MG_ERR_BAD_FIELD'],
      ['unpadded base64', { reading: '/w' }, 'MG_ERR_BAD_FIELD'],
      ['proof too long', { proof: Array(65).fill(good.proof[0]) }, 'MG_ERR_BAD_FIELD'],
    ];
    expect(codeOf(() => verifyReceipt(good, KEYS, nodeBackend))).toBeUndefined();
    for (const [name, change, code] of cases) {
      expect(
        codeOf(() => verifyReceipt({ ...good, ...change }, KEYS, nodeBackend)),
        name,
      ).toBe(code);
    }
    const { leafHash: _omit, ...missing } = good;
    expect(codeOf(() => verifyReceipt(missing, KEYS, nodeBackend))).toBe('MG_ERR_MISSING_FIELD');
    expect(codeOf(() => verifyReceipt([good], KEYS, nodeBackend))).toBe('MG_ERR_BAD_FIELD');
    expect(codeOf(() => verifyReceipt(null, KEYS, nodeBackend))).toBe('MG_ERR_BAD_FIELD');
    expect(codeOf(() => verifyReceipt(good, [keyFor('admin:a').pub], nodeBackend))).toBe(
      'MG_ERR_UNKNOWN_AUTHORITY',
    );
  });

  it('is refused for unknown leaves and for leaves not yet in a block', async () => {
    await expect(ledger.receipt(new Uint8Array(32))).rejects.toMatchObject({ code: 'MG_ERR_LEAF_NOT_FOUND' });
    await expect(ledger.receipt(leaves.length)).rejects.toMatchObject({ code: 'MG_ERR_LEAF_NOT_FOUND' });
    const late = await ledger.appendReading(signedReading('dev-late', 1));
    await expect(ledger.receipt(late.leafHash)).rejects.toMatchObject({
      code: 'MG_ERR_LEAF_NOT_CHECKPOINTED',
    });
    await ledger.cutBlock();
    expect(
      verifyReceipt(encodeReceipt(await ledger.receipt(late.leafHash)), KEYS, nodeBackend).leafIndex,
    ).toBe(late.index);
  });
});

describe('receipts of a larger log', () => {
  it('verify for random leaves', async () => {
    const sizes = Array.from({ length: 12 }, (_, i) => (i + 1) * 97 + (i % 3));
    const { ledger, leaves } = await ledgerWithCheckpoints(sizes);
    // A fixed pseudo-random sample (LCG), so a failure names the same leaves every run.
    let x = 12345;
    for (let k = 0; k < 40; k++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const leaf = leaves[x % leaves.length]!;
      const checked = verifyReceipt(
        viaJson(encodeReceipt(await ledger.receipt(leaf.leafHash))),
        KEYS,
        nodeBackend,
      );
      expect(checked.treeSize).toBe(sizes.find((s) => s > leaf.index));
    }
    await ledger.close();
  });
});

describe('consistency bundles', () => {
  const sizes = [1, 3, 4, 4, 9, 16, 21];
  let ledger: Ledger;

  beforeAll(async () => {
    ({ ledger } = await ledgerWithCheckpoints(sizes));
  });
  afterAll(() => ledger.close());

  it('verify offline between every pair of checkpoints', async () => {
    const distinct = [...new Set(sizes)];
    for (const size1 of distinct) {
      for (const size2 of distinct.filter((s) => s >= size1)) {
        const json = viaJson(encodeConsistencyBundle(await ledger.consistencyProof(size1, size2)));
        const checked = verifyConsistencyBundle(json, KEYS, nodeBackend);
        expect([checked.signedBlock1.header.log.size, checked.signedBlock2.header.log.size]).toEqual([
          size1,
          size2,
        ]);
      }
    }
  });

  it('refuses an altered bundle, each with a code', async () => {
    const good: ConsistencyBundleJson = viaJson(
      encodeConsistencyBundle(await ledger.consistencyProof(3, 21)),
    );
    const other = viaJson(encodeConsistencyBundle(await ledger.consistencyProof(9, 16)));
    const flipHex = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
    const cases: [string, Record<string, unknown>, string][] = [
      [
        'proof hash',
        { proof: [flipHex(good.proof[0]!), ...good.proof.slice(1)] },
        'MG_ERR_MERKLE_ROOT_MISMATCH',
      ],
      ['proof shortened', { proof: good.proof.slice(0, -1) }, 'MG_ERR_MERKLE_BAD_PROOF'],
      ['size1', { size1: 4 }, 'MG_ERR_CHECKPOINT_MISMATCH'],
      ['size2', { size2: 16 }, 'MG_ERR_CHECKPOINT_MISMATCH'],
      ['block1 swapped', { block1: other.block1, size1: 9 }, 'MG_ERR_MERKLE_ROOT_MISMATCH'],
      ['blocks reversed', { block1: good.block2, block2: good.block1 }, 'MG_ERR_CHECKPOINT_MISMATCH'],
      ['chain', { chain: 'other' }, 'MG_ERR_CHAIN_MISMATCH'],
      ['extra field', { extra: 1 }, 'MG_ERR_UNKNOWN_FIELD'],
      ['size1 zero', { size1: 0 }, 'MG_ERR_BAD_FIELD'],
    ];
    expect(codeOf(() => verifyConsistencyBundle(good, KEYS, nodeBackend))).toBeUndefined();
    for (const [name, change, code] of cases) {
      expect(
        codeOf(() => verifyConsistencyBundle({ ...good, ...change }, KEYS, nodeBackend)),
        name,
      ).toBe(code);
    }
    expect(codeOf(() => verifyConsistencyBundle(good, [keyFor('x').pub], nodeBackend))).toBe(
      'MG_ERR_UNKNOWN_AUTHORITY',
    );
  });

  it('is refused for sizes that are no checkpoint, naming the nearest ones', async () => {
    const err = await ledger.consistencyProof(3, 10).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MG_ERR_NOT_A_CHECKPOINT', want: [9, 16] });
    await expect(ledger.consistencyProof(2, 21)).rejects.toMatchObject({
      code: 'MG_ERR_NOT_A_CHECKPOINT',
      want: [1, 3],
    });
    await expect(ledger.consistencyProof(21, 22)).rejects.toMatchObject({
      code: 'MG_ERR_NOT_A_CHECKPOINT',
      want: [21],
    });
    await expect(ledger.consistencyProof(9, 4)).rejects.toMatchObject({ code: 'MG_ERR_MERKLE_BAD_SIZE' });
    await expect(ledger.consistencyProof(0, 4)).rejects.toMatchObject({ code: 'MG_ERR_MERKLE_BAD_SIZE' });
  });
});
