/**
 * The RFC 9162 Merkle code against the naive reference (merkle-reference.ts): roots, inclusion
 * and consistency proofs from MemoryTree, from proof plans over the stored perfect nodes, and
 * from CompactRange, for random trees; every generated proof verifies and every altered one is
 * refused with a code; plans stay O(log n) up to 2^53; hostile arguments get coded errors only.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { isMedgateError, MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import {
  CompactRange,
  consistencyPlan,
  consistencyProof,
  coverage,
  EMPTY_ROOT,
  emptyRoot,
  type GetNode,
  inclusionPlan,
  inclusionProof,
  leafHash,
  MAX_TREE_SIZE,
  MemoryTree,
  type NodeId,
  nodeHash,
  rootFromConsistencyProof,
  rootFromInclusionProof,
  rootFromNodes,
  rootIds,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from '../../firmware-ts/protocol/merkle/index.js';
import {
  bitLength,
  popCount,
  rangeNodes,
  shiftRight,
  trailingZeros,
  xor,
} from '../../firmware-ts/protocol/merkle/node-id.js';
import { propertyRuns } from '../support/runs.js';
import {
  mth,
  path,
  refLeafHash,
  refNodeHash,
  proof as refProof,
  rfcVerifyConsistency,
  rfcVerifyInclusion,
} from './merkle-reference.js';

const C = ProtocolErrorCode;
const RUNS = propertyRuns(25);

/** The code `fn` was refused with (it must be a MedgateError), or undefined when accepted. */
function outcome(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!isMedgateError(err)) throw new Error(`not a MedgateError: ${String(err)}`, { cause: err });
    return err.code;
  }
}

function refusedWith(fn: () => unknown): string {
  const code = outcome(fn);
  if (code === undefined) throw new Error('accepted, want a refusal');
  return code;
}

const key = (id: NodeId) => `${id.level}/${id.index}`;
const hex = (hashes: readonly Uint8Array[]) => hashes.map(toHex);

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const at = bit % (out.length * 8);
  out[at >> 3] = (out[at >> 3] as number) ^ (1 << (at & 7));
  return out;
}

interface Built {
  data: Uint8Array[];
  leaves: Uint8Array[];
  memory: MemoryTree;
  /** What a ledger stores: every node CompactRange reported, by id. */
  store: Map<string, Uint8Array>;
  getNode: GetNode;
  /** CompactRange root after each append: rangeRoots[s] is the root of the first s leaves. */
  rangeRoots: Uint8Array[];
}

/** n distinct random entries (the index keeps them distinct, the salt random). */
function build(n: number, salt: Uint8Array): Built {
  const data: Uint8Array[] = [];
  const leaves: Uint8Array[] = [];
  const memory = new MemoryTree();
  const range = new CompactRange();
  const store = new Map<string, Uint8Array>();
  const rangeRoots = [range.root()];
  for (let i = 0; i < n; i++) {
    const entry = new Uint8Array(4 + salt.length);
    new DataView(entry.buffer).setUint32(0, i);
    entry.set(salt, 4);
    data.push(entry);
    const leaf = leafHash(entry);
    leaves.push(leaf);
    expect(memory.append(leaf)).toBe(i);
    for (const { id, hash } of range.append(leaf)) {
      expect(store.has(key(id))).toBe(false);
      store.set(key(id), hash);
    }
    rangeRoots.push(range.root());
  }
  const getNode: GetNode = (id) => {
    const hash = store.get(key(id));
    if (hash === undefined) throw new Error(`node ${key(id)} is not stored`);
    return hash;
  };
  return { data, leaves, memory, store, getNode, rangeRoots };
}

const treeArb = fc.record({
  n: fc.integer({ min: 1, max: 300 }),
  salt: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  picks: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
});

/** A size s in [1, n], an index below s, a first size in [1, s], from the random picks. */
function choose(n: number, picks: readonly number[]) {
  const [a = 0, b = 0, c = 0, d = 0] = picks;
  const size = 1 + (a % n);
  return { size, index: b % size, size1: 1 + (c % size), bit: d };
}

/** Every id of a plan is a perfect subtree complete within the first `size` leaves. */
function expectStoredWithin(ids: readonly NodeId[], size: number, store: Map<string, Uint8Array>): void {
  for (const id of ids) {
    expect(coverage(id).end).toBeLessThanOrEqual(size);
    expect(store.has(key(id))).toBe(true);
  }
}

describe('hashing (RFC 9162 §2.1.1)', () => {
  it('prefixes leaves with 0x00 and nodes with 0x01', () => {
    const d = new Uint8Array([1, 2, 3]);
    expect(leafHash(d)).toEqual(refLeafHash(d));
    expect(leafHash(Buffer.from(d))).toEqual(refLeafHash(d));
    const sha = new Uint8Array(createHash('sha256').update(d).digest());
    expect(leafHash(d)).not.toEqual(sha);
    const l = leafHash(d);
    const r = leafHash(new Uint8Array(0));
    expect(nodeHash(l, r)).toEqual(refNodeHash(l, r));
    expect(nodeHash(l, r)).not.toEqual(nodeHash(r, l));
  });

  it('has the empty root SHA-256("") and hands out copies', () => {
    expect(toHex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(new MemoryTree().root()).toEqual(EMPTY_ROOT);
    const copy = emptyRoot();
    copy[0] = 0;
    expect(emptyRoot()).toEqual(EMPTY_ROOT);
    expect(rootFromNodes([])).toEqual(EMPTY_ROOT);
  });

  it('matches the roots of the transparency-dev verify_test.go tree', () => {
    const entries = [
      '',
      '00',
      '10',
      '2021',
      '3031',
      '40414243',
      '5051525354555657',
      '606162636465666768696a6b6c6d6e6f',
    ];
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    const tree = new MemoryTree();
    for (const e of entries) tree.append(leafHash(Buffer.from(e, 'hex')));
    expect(roots.map((_, s) => toHex(tree.root(s + 1)))).toEqual(roots);
  });
});

describe('64-bit arithmetic on numbers below 2^53', () => {
  const big = (x: number) => BigInt(x);
  it('agrees with BigInt', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.maxSafeNat(), fc.integer({ min: 0, max: 53 }), (a, b, n) => {
        expect(bitLength(a)).toBe(a === 0 ? 0 : big(a).toString(2).length);
        expect(popCount(a)).toBe([...big(a).toString(2)].filter((c) => c === '1').length);
        if (a > 0)
          expect(trailingZeros(a)).toBe(big(a).toString(2).length - 1 - big(a).toString(2).lastIndexOf('1'));
        expect(big(xor(a, b))).toBe(big(a) ^ big(b));
        expect(big(shiftRight(a, n))).toBe(big(a) >> big(n));
      }),
      { numRuns: 2000 },
    );
    for (const x of [1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 52, MAX_TREE_SIZE]) {
      expect(bitLength(x)).toBe(big(x).toString(2).length);
    }
  });

  it('decomposes any [begin, end) into adjacent perfect subtrees', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.maxSafeNat(), (x, y) => {
        const [begin, end] = x <= y ? [x, y] : [y, x];
        const ids = rangeNodes(begin, end);
        let at = begin;
        for (const id of ids) {
          expect(coverage(id).begin).toBe(at);
          at = coverage(id).end;
        }
        expect(at).toBe(end);
        if (begin === 0) expect(ids).toHaveLength(popCount(end));
        expect(ids.length).toBeLessThanOrEqual(2 * 53);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('against the RFC reference, random trees of 1..300 leaves', () => {
  it('stores exactly the perfect subtrees, each with the hash MTH gives its leaves', () => {
    fc.assert(
      fc.property(treeArb, ({ n, salt }) => {
        const t = build(n, salt);
        let count = 0;
        for (let level = 0; 2 ** level <= n; level++) count += Math.floor(n / 2 ** level);
        expect(t.store.size).toBe(count);
        for (const [k, hash] of t.store) {
          const [level = 0, index = 0] = k.split('/').map(Number);
          const { begin, end } = coverage({ level, index });
          expect(hash).toEqual(mth(t.data.slice(begin, end)));
        }
      }),
      { numRuns: 20 },
    );
  });

  it('computes the same roots: CompactRange, MemoryTree, rootOf(stored nodes), MTH', () => {
    fc.assert(
      fc.property(treeArb, ({ n, salt, picks }) => {
        const t = build(n, salt);
        for (let s = 0; s <= n; s++) {
          const root = t.rangeRoots[s] as Uint8Array;
          expect(t.memory.root(s)).toEqual(root);
          expect(rootOf(s, t.getNode)).toEqual(root);
        }
        const { size } = choose(n, picks);
        expect(t.rangeRoots[size]).toEqual(mth(t.data.slice(0, size)));
        expect(t.rangeRoots[n]).toEqual(mth(t.data));
        expect(t.memory.root()).toEqual(mth(t.data));
      }),
      { numRuns: RUNS },
    );
  });

  it('builds inclusion proofs equal to PATH, from MemoryTree and from plans over stored nodes', () => {
    fc.assert(
      fc.property(treeArb, ({ n, salt, picks }) => {
        const t = build(n, salt);
        const { size, index } = choose(n, picks);
        const want = path(index, t.data.slice(0, size));
        const plan = inclusionPlan(index, size);
        expectStoredWithin(plan.ids, size, t.store);
        expect(hex(plan.rehash(plan.ids.map(t.getNode)))).toEqual(hex(want));
        expect(hex(inclusionProof(index, size, t.getNode))).toEqual(hex(want));
        expect(hex(t.memory.inclusionProof(index, size))).toEqual(hex(want));
        const root = mth(t.data.slice(0, size));
        const leaf = t.leaves[index] as Uint8Array;
        expect(() => verifyInclusion(leaf, index, size, want, root)).not.toThrow();
        expect(rootFromInclusionProof(leaf, index, size, want)).toEqual(root);
        expect(rfcVerifyInclusion(leaf, index, size, want, root)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('builds consistency proofs equal to PROOF, from MemoryTree and from plans over stored nodes', () => {
    fc.assert(
      fc.property(treeArb, ({ n, salt, picks }) => {
        const t = build(n, salt);
        const { size, size1 } = choose(n, picks);
        const want = refProof(size1, t.data.slice(0, size));
        const plan = consistencyPlan(size1, size);
        expectStoredWithin(plan.ids, size, t.store);
        expect(hex(plan.rehash(plan.ids.map(t.getNode)))).toEqual(hex(want));
        expect(hex(consistencyProof(size1, size, t.getNode))).toEqual(hex(want));
        expect(hex(t.memory.consistencyProof(size1, size))).toEqual(hex(want));
        const root1 = mth(t.data.slice(0, size1));
        const root2 = mth(t.data.slice(0, size));
        expect(() => verifyConsistency(size1, size, want, root1, root2)).not.toThrow();
        expect(rootFromConsistencyProof(size1, size, want, root1)).toEqual(root2);
        expect(rfcVerifyConsistency(size1, size, want, root1, root2)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('verifies every proof of a small tree, for every index and every pair of sizes', () => {
    const t = build(33, new Uint8Array([7]));
    for (let size = 1; size <= 33; size++) {
      const root = t.rangeRoots[size] as Uint8Array;
      for (let i = 0; i < size; i++) {
        verifyInclusion(t.leaves[i] as Uint8Array, i, size, t.memory.inclusionProof(i, size), root);
      }
      for (let size1 = 1; size1 <= size; size1++) {
        const p = t.memory.consistencyProof(size1, size);
        expect(hex(p)).toEqual(hex(refProof(size1, t.data.slice(0, size))));
        verifyConsistency(size1, size, p, t.rangeRoots[size1] as Uint8Array, root);
      }
    }
  });

  it('restores a CompactRange from the border nodes and carries on identically', () => {
    fc.assert(
      fc.property(treeArb, ({ n, salt, picks }) => {
        const t = build(n, salt);
        const { size } = choose(n, picks);
        const restored = CompactRange.fromNodes(size, rootIds(size).map(t.getNode));
        expect(restored.size).toBe(size);
        expect(restored.root()).toEqual(t.rangeRoots[size]);
        expect(restored.border().map((b) => key(b.id))).toEqual(rootIds(size).map(key));
        const clone = restored.clone();
        for (let i = size; i < n; i++) {
          for (const { id, hash } of restored.append(t.leaves[i] as Uint8Array)) {
            expect(hash).toEqual(t.store.get(key(id)));
          }
          expect(restored.root()).toEqual(t.rangeRoots[i + 1]);
        }
        expect(clone.size).toBe(size);
        expect(clone.root()).toEqual(t.rangeRoots[size]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('altered inclusion proofs are refused with a code', () => {
  it('refuses a flipped bit in any hash, a dropped, added or swapped hash, another leaf or root', () => {
    fc.assert(
      fc.property(treeArb, ({ n, salt, picks }) => {
        const t = build(n, salt);
        const { size, index, bit } = choose(n, picks);
        const p = t.memory.inclusionProof(index, size);
        const root = t.rangeRoots[size] as Uint8Array;
        const leaf = t.leaves[index] as Uint8Array;
        const verify = (pr: Uint8Array[], l = leaf, r = root, i = index, s = size) =>
          outcome(() => verifyInclusion(l, i, s, pr, r));
        expect(verify(p)).toBeUndefined();
        for (let k = 0; k < p.length; k++) {
          const flipped = p.map((h, j) => (j === k ? flipBit(h, bit + k) : h));
          expect(verify(flipped)).toBe(C.MERKLE_ROOT_MISMATCH);
          expect(verify(p.filter((_, j) => j !== k))).toBe(C.MERKLE_BAD_PROOF);
          for (let j = k + 1; j < p.length; j++) {
            const swapped = [...p];
            [swapped[k], swapped[j]] = [p[j] as Uint8Array, p[k] as Uint8Array];
            expect(verify(swapped)).toBe(C.MERKLE_ROOT_MISMATCH);
          }
        }
        for (let k = 0; k <= p.length; k++) {
          expect(verify([...p.slice(0, k), root, ...p.slice(k)])).toBe(C.MERKLE_BAD_PROOF);
        }
        expect(verify(p, flipBit(leaf, bit))).toBe(C.MERKLE_ROOT_MISMATCH);
        expect(verify(p, t.leaves[(index + 1) % n] as Uint8Array)).toBe(
          n === 1 ? undefined : C.MERKLE_ROOT_MISMATCH,
        );
        expect(verify(p, leaf, flipBit(root, bit))).toBe(C.MERKLE_ROOT_MISMATCH);
        expect(verify(p, leaf, root.subarray(1))).toBe(C.MERKLE_ROOT_MISMATCH);
        expect(verify(p, leaf, EMPTY_ROOT)).toBe(C.MERKLE_ROOT_MISMATCH);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses the proof at every other index', () => {
    fc.assert(
      fc.property(treeArb, ({ n, salt, picks }) => {
        const t = build(n, salt);
        const { size, index } = choose(n, picks);
        const p = t.memory.inclusionProof(index, size);
        const root = t.rangeRoots[size] as Uint8Array;
        const leaf = t.leaves[index] as Uint8Array;
        for (let j = 0; j < size + 2; j++) {
          if (j === index) continue;
          const code = outcome(() => verifyInclusion(leaf, j, size, p, root));
          if (j >= size) expect(code).toBe(C.MERKLE_BAD_INDEX);
          else expect([C.MERKLE_BAD_PROOF, C.MERKLE_ROOT_MISMATCH]).toContain(code);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses the proof at another size exactly when the RFC 9162 §2.1.3.2 algorithm does', () => {
    // A proof does not bind the size: where the path to the leaf has the same shape at two sizes
    // (leaf 0 at sizes 3 and 4, say), both accept. The signed checkpoint binds size and root.
    let refused = 0;
    fc.assert(
      fc.property(treeArb, ({ n, salt, picks }) => {
        const t = build(n, salt);
        const { size, index } = choose(n, picks);
        const p = t.memory.inclusionProof(index, size);
        const root = t.rangeRoots[size] as Uint8Array;
        const leaf = t.leaves[index] as Uint8Array;
        for (let s = 0; s <= 2 * size + 1; s++) {
          if (s === size) continue;
          const code = outcome(() => verifyInclusion(leaf, index, s, p, root));
          expect(code === undefined).toBe(rfcVerifyInclusion(leaf, index, s, p, root));
          if (code !== undefined) refused++;
          if (code === undefined) {
            // Accepted only where the proof has the length the other size calls for.
            const inner = bitLength(xor(index, s - 1));
            expect(p.length).toBe(inner + popCount(shiftRight(index, inner)));
          }
        }
      }),
      { numRuns: RUNS },
    );
    expect(refused).toBeGreaterThan(0);
  });

  it('accepts leaf 0 of a 4-leaf tree at size 3, as RFC 9162 does (the size is bound by the checkpoint)', () => {
    const t = build(4, new Uint8Array([1]));
    const p = t.memory.inclusionProof(0, 4);
    const root = t.rangeRoots[4] as Uint8Array;
    expect(outcome(() => verifyInclusion(t.leaves[0] as Uint8Array, 0, 3, p, root))).toBeUndefined();
    expect(rfcVerifyInclusion(t.leaves[0] as Uint8Array, 0, 3, p, root)).toBe(true);
    expect(outcome(() => verifyInclusion(t.leaves[0] as Uint8Array, 0, 5, p, root))).toBe(C.MERKLE_BAD_PROOF);
  });
});

describe('altered consistency proofs are refused with a code', () => {
  it('refuses a flipped bit in any hash, a dropped, added or swapped hash, another root', () => {
    fc.assert(
      fc.property(treeArb, ({ n, salt, picks }) => {
        const t = build(n, salt);
        const { size, size1, bit } = choose(n, picks);
        const p = t.memory.consistencyProof(size1, size);
        const root1 = t.rangeRoots[size1] as Uint8Array;
        const root2 = t.rangeRoots[size] as Uint8Array;
        const verify = (pr: Uint8Array[], r1 = root1, r2 = root2) =>
          outcome(() => verifyConsistency(size1, size, pr, r1, r2));
        expect(verify(p)).toBeUndefined();
        for (let k = 0; k < p.length; k++) {
          const flipped = p.map((h, j) => (j === k ? flipBit(h, bit + k) : h));
          expect(verify(flipped)).toBe(C.MERKLE_ROOT_MISMATCH);
          expect(verify(p.filter((_, j) => j !== k))).toBe(C.MERKLE_BAD_PROOF);
          for (let j = k + 1; j < p.length; j++) {
            const swapped = [...p];
            [swapped[k], swapped[j]] = [p[j] as Uint8Array, p[k] as Uint8Array];
            expect(verify(swapped)).toBe(C.MERKLE_ROOT_MISMATCH);
          }
        }
        for (let k = 0; k <= p.length; k++) {
          expect(verify([...p.slice(0, k), root2, ...p.slice(k)])).toBe(C.MERKLE_BAD_PROOF);
        }
        expect(verify(p, flipBit(root1, bit))).toBe(C.MERKLE_ROOT_MISMATCH);
        expect(verify(p, root1, flipBit(root2, bit))).toBe(C.MERKLE_ROOT_MISMATCH);
        if (size1 !== size) {
          expect(verify(p, root2, root1)).toBe(C.MERKLE_ROOT_MISMATCH);
          expect(verify([])).toBe(C.MERKLE_BAD_PROOF);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses the proof at other sizes exactly when the RFC 9162 §2.1.4.2 algorithm does', () => {
    let refused = 0;
    fc.assert(
      fc.property(treeArb, ({ n, salt, picks }) => {
        const t = build(n, salt);
        const { size, size1 } = choose(n, picks);
        const p = t.memory.consistencyProof(size1, size);
        const root1 = t.rangeRoots[size1] as Uint8Array;
        const root2 = t.rangeRoots[size] as Uint8Array;
        const tries: [number, number][] = [];
        for (let s1 = 0; s1 <= size + 1; s1++) if (s1 !== size1) tries.push([s1, size]);
        for (let s2 = 0; s2 <= 2 * size + 1; s2++) if (s2 !== size) tries.push([size1, s2]);
        for (const [s1, s2] of tries) {
          const code = outcome(() => verifyConsistency(s1, s2, p, root1, root2));
          expect(code === undefined).toBe(rfcVerifyConsistency(s1, s2, p, root1, root2));
          if (code !== undefined) refused++;
          if (s1 === 0 || s2 < s1) expect(code).toBe(C.MERKLE_BAD_SIZE);
        }
      }),
      { numRuns: RUNS },
    );
    expect(refused).toBeGreaterThan(0);
  });

  it('handles equal sizes: empty proof and equal roots only', () => {
    const t = build(5, new Uint8Array([2]));
    const r = t.rangeRoots[5] as Uint8Array;
    expect(outcome(() => verifyConsistency(5, 5, [], r, r))).toBeUndefined();
    expect(outcome(() => verifyConsistency(5, 5, [r], r, r))).toBe(C.MERKLE_BAD_PROOF);
    expect(outcome(() => verifyConsistency(5, 5, [], r, t.rangeRoots[4] as Uint8Array))).toBe(
      C.MERKLE_ROOT_MISMATCH,
    );
    expect(outcome(() => verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT))).toBe(C.MERKLE_BAD_SIZE);
    expect(outcome(() => verifyConsistency(0, 5, [], EMPTY_ROOT, r))).toBe(C.MERKLE_BAD_SIZE);
    expect(consistencyPlan(5, 5).ids).toEqual([]);
  });
});

/**
 * A virtual tree of any size: leaf i is A or B by the parity of popcount(i) (Thue–Morse), so the
 * hash of a perfect node depends only on its level and that parity of its index, and the two
 * children of every node differ: a proof with a hash on the wrong side cannot verify.
 */
function thueMorseTree(): GetNode {
  const table: [Uint8Array, Uint8Array][] = [
    [leafHash(new Uint8Array([0xa])), leafHash(new Uint8Array([0xb]))],
  ];
  for (let level = 1; level <= 53; level++) {
    const [even, odd] = table[level - 1] as [Uint8Array, Uint8Array];
    table.push([nodeHash(even, odd), nodeHash(odd, even)]);
  }
  return (id) => (table[id.level] as [Uint8Array, Uint8Array])[popCount(id.index) % 2] as Uint8Array;
}

describe('plans for huge trees, without materialising them', () => {
  const getNode = thueMorseTree();
  const ceilLog2 = (size: number) => bitLength(size - 1);
  const sizes = fc.oneof(
    fc.integer({ min: 1, max: 2 ** 20 }),
    fc.maxSafeNat().map((x) => 1 + (x % 2 ** 40)),
    fc.maxSafeNat().map((x) => Math.max(1, x)),
    fc.constantFrom(2 ** 40, 2 ** 40 - 1, 2 ** 40 + 1, 2 ** 52, MAX_TREE_SIZE),
  );

  it('asks for at most 2·ceil(log2 size) perfect nodes per inclusion proof, and the proof verifies', () => {
    fc.assert(
      fc.property(sizes, fc.maxSafeNat(), (size, x) => {
        const index = x % size;
        const plan = inclusionPlan(index, size);
        expect(plan.ids.length).toBeLessThanOrEqual(2 * ceilLog2(size));
        for (const id of plan.ids) expect(coverage(id).end).toBeLessThanOrEqual(size);
        const p = plan.rehash(plan.ids.map(getNode));
        expect(p.length).toBeLessThanOrEqual(ceilLog2(size));
        const root = rootOf(size, getNode);
        const leaf = getNode({ level: 0, index });
        verifyInclusion(leaf, index, size, p, root);
        expect(rfcVerifyInclusion(leaf, index, size, p, root)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('asks for at most 2·ceil(log2 size2) perfect nodes per consistency proof, and the proof verifies', () => {
    fc.assert(
      fc.property(sizes, fc.maxSafeNat(), (size2, x) => {
        const size1 = 1 + (x % size2);
        const plan = consistencyPlan(size1, size2);
        expect(plan.ids.length).toBeLessThanOrEqual(2 * ceilLog2(size2));
        for (const id of plan.ids) expect(coverage(id).end).toBeLessThanOrEqual(size2);
        const p = plan.rehash(plan.ids.map(getNode));
        expect(p.length).toBeLessThanOrEqual(ceilLog2(size2) + 1);
        const root1 = rootOf(size1, getNode);
        const root2 = rootOf(size2, getNode);
        verifyConsistency(size1, size2, p, root1, root2);
        if (size1 < size2) expect(rfcVerifyConsistency(size1, size2, p, root1, root2)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('handles the edges of 2^40 and 2^53-1', () => {
    for (const size of [2 ** 40 - 1, 2 ** 40, 2 ** 40 + 1, MAX_TREE_SIZE]) {
      expect(rootIds(size)).toHaveLength(popCount(size));
      for (const index of [0, 1, Math.floor(size / 2), size - 2, size - 1]) {
        const p = inclusionProof(index, size, getNode);
        verifyInclusion(getNode({ level: 0, index }), index, size, p, rootOf(size, getNode));
      }
      for (const size1 of [1, 2, 3, size - 1]) {
        verifyConsistency(
          size1,
          size,
          consistencyProof(size1, size, getNode),
          rootOf(size1, getNode),
          rootOf(size, getNode),
        );
      }
    }
    const range = CompactRange.fromNodes(MAX_TREE_SIZE - 1, rootIds(MAX_TREE_SIZE - 1).map(getNode));
    range.append(getNode({ level: 0, index: MAX_TREE_SIZE - 1 }));
    expect(range.root()).toEqual(rootOf(MAX_TREE_SIZE, getNode));
    expect(refusedWith(() => range.append(EMPTY_ROOT))).toBe(C.MERKLE_BAD_SIZE);
  });
});

describe('hostile arguments get coded errors only', () => {
  const t = build(8, new Uint8Array([3]));
  const leaf = t.leaves[2] as Uint8Array;
  const p = t.memory.inclusionProof(2, 8);
  const cp = t.memory.consistencyProof(3, 8);
  const r3 = t.rangeRoots[3] as Uint8Array;
  const r8 = t.rangeRoots[8] as Uint8Array;
  const notIntegers: unknown[] = [
    -1,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 53,
    2 ** 64,
    '2',
    2n,
    null,
    undefined,
    {},
    [2],
    true,
  ];
  const notHashes: unknown[] = [
    new Uint8Array(31),
    new Uint8Array(33),
    new Uint8Array(0),
    new Uint16Array(16),
    new Array(32).fill(0),
    'a'.repeat(32),
    null,
    undefined,
    {},
    32,
  ];
  const notProofs: unknown[] = [
    null,
    undefined,
    {},
    { length: 3 },
    'abc',
    new Uint8Array(96),
    [...p.slice(0, 2), new Uint8Array(31)],
    [...p.slice(0, 2), new Uint8Array(33)],
    [...p.slice(0, 2), 'x'.repeat(32)],
    [...p.slice(0, 2), null],
    [...p.slice(0, 2), undefined],
    [...p, ...p],
  ];
  const call = (fn: (...args: unknown[]) => unknown, args: unknown[]) => () => fn(...args);
  const vi = verifyInclusion as (...args: unknown[]) => unknown;
  const vc = verifyConsistency as (...args: unknown[]) => unknown;

  it('refuses bad indices and sizes in inclusion verification', () => {
    for (const bad of notIntegers) {
      expect(refusedWith(call(vi, [leaf, bad, 8, p, r8]))).toBe(C.MERKLE_BAD_INDEX);
      expect(refusedWith(call(vi, [leaf, 2, bad, p, r8]))).toBe(C.MERKLE_BAD_SIZE);
    }
    expect(refusedWith(call(vi, [leaf, 8, 8, p, r8]))).toBe(C.MERKLE_BAD_INDEX);
    expect(refusedWith(call(vi, [leaf, 0, 0, [], r8]))).toBe(C.MERKLE_BAD_SIZE);
  });

  it('refuses bad hashes, proofs and roots in inclusion verification', () => {
    for (const bad of notHashes) expect(refusedWith(call(vi, [bad, 2, 8, p, r8]))).toBe(C.MERKLE_BAD_HASH);
    for (const bad of notProofs)
      expect(refusedWith(call(vi, [leaf, 2, 8, bad, r8]))).toBe(C.MERKLE_BAD_PROOF);
    for (const bad of notHashes) {
      const code = refusedWith(call(vi, [leaf, 2, 8, p, bad]));
      expect(code).toBe(bad instanceof Uint8Array ? C.MERKLE_ROOT_MISMATCH : C.MERKLE_BAD_HASH);
    }
  });

  it('refuses bad sizes, proofs and roots in consistency verification', () => {
    for (const bad of notIntegers) {
      expect(refusedWith(call(vc, [bad, 8, cp, r3, r8]))).toBe(C.MERKLE_BAD_SIZE);
      expect(refusedWith(call(vc, [3, bad, cp, r3, r8]))).toBe(C.MERKLE_BAD_SIZE);
    }
    for (const bad of notProofs) expect(refusedWith(call(vc, [3, 8, bad, r3, r8]))).toBe(C.MERKLE_BAD_PROOF);
    for (const bad of notHashes) {
      const want = bad instanceof Uint8Array ? C.MERKLE_ROOT_MISMATCH : C.MERKLE_BAD_HASH;
      expect(refusedWith(call(vc, [3, 8, cp, bad, r8]))).toBe(want);
      expect(refusedWith(call(vc, [3, 8, cp, r3, bad]))).toBe(want);
    }
  });

  it('survives junk of every type in every argument position', () => {
    const junk = fc.oneof(
      fc.anything(),
      fc.uint8Array({ maxLength: 40 }),
      fc.array(fc.uint8Array({ minLength: 30, maxLength: 34 }), { maxLength: 5 }),
      fc.double(),
    );
    fc.assert(
      fc.property(fc.array(junk, { minLength: 5, maxLength: 5 }), fc.nat(4), (args, keep) => {
        const inclusionArgs = [leaf, 2, 8, p, r8].map((good, i) => (i === keep ? good : args[i]));
        const consistencyArgs = [3, 8, cp, r3, r8].map((good, i) => (i === keep ? good : args[i]));
        // Any outcome but an uncoded exception: outcome() rethrows anything not a MedgateError.
        outcome(call(vi, inclusionArgs));
        outcome(call(vc, consistencyArgs));
        outcome(call(rootFromInclusionProof as (...a: unknown[]) => unknown, inclusionArgs.slice(0, 4)));
        outcome(call(rootFromConsistencyProof as (...a: unknown[]) => unknown, consistencyArgs.slice(0, 4)));
      }),
      { numRuns: 3000 },
    );
  });

  it('names the field and carries got/want', () => {
    try {
      verifyInclusion(leaf, 2, 8, p.slice(1), r8);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MedgateError);
      expect(err).toMatchObject({
        code: C.MERKLE_BAD_PROOF,
        field: 'proof',
        got: p.length - 1,
        want: p.length,
      });
    }
    try {
      verifyConsistency(3, 8, cp, r8, r8);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: C.MERKLE_ROOT_MISMATCH, field: 'root1', want: toHex(r8) });
    }
  });

  it('refuses bad plans, rehash input, ranges and tree sizes', () => {
    expect(refusedWith(() => inclusionPlan(-1, 5))).toBe(C.MERKLE_BAD_INDEX);
    expect(refusedWith(() => inclusionPlan(5, 5))).toBe(C.MERKLE_BAD_INDEX);
    expect(refusedWith(() => inclusionPlan(0, 0))).toBe(C.MERKLE_BAD_SIZE);
    expect(refusedWith(() => inclusionPlan(0, 2 ** 53))).toBe(C.MERKLE_BAD_SIZE);
    expect(refusedWith(() => consistencyPlan(0, 5))).toBe(C.MERKLE_BAD_SIZE);
    expect(refusedWith(() => consistencyPlan(6, 5))).toBe(C.MERKLE_BAD_SIZE);
    expect(refusedWith(() => consistencyPlan(1, Number.NaN))).toBe(C.MERKLE_BAD_SIZE);
    expect(refusedWith(() => rootIds(-1))).toBe(C.MERKLE_BAD_SIZE);
    const plan = inclusionPlan(2, 7);
    const hashes = plan.ids.map(t.getNode);
    expect(refusedWith(() => plan.rehash(hashes.slice(1)))).toBe(C.BAD_ARGUMENT);
    expect(refusedWith(() => plan.rehash(hashes.map((h, i) => (i === 0 ? h.subarray(1) : h))))).toBe(
      C.MERKLE_BAD_HASH,
    );
    expect(refusedWith(() => rootFromNodes([r3, new Uint8Array(5)]))).toBe(C.MERKLE_BAD_HASH);
    expect(refusedWith(() => CompactRange.fromNodes(3, [r3]))).toBe(C.BAD_ARGUMENT);
    expect(refusedWith(() => CompactRange.fromNodes(-1, []))).toBe(C.MERKLE_BAD_SIZE);
    expect(refusedWith(() => CompactRange.fromNodes(1, [new Uint8Array(3)]))).toBe(C.MERKLE_BAD_HASH);
    expect(refusedWith(() => new CompactRange().append(new Uint8Array(31)))).toBe(C.MERKLE_BAD_HASH);
    expect(refusedWith(() => nodeHash(r3, new Uint8Array(31)))).toBe(C.MERKLE_BAD_HASH);
    expect(refusedWith(() => leafHash('data' as unknown as Uint8Array))).toBe(C.BAD_ARGUMENT);
    expect(refusedWith(() => t.memory.root(9))).toBe(C.MERKLE_BAD_SIZE);
    expect(refusedWith(() => t.memory.inclusionProof(8, 8))).toBe(C.MERKLE_BAD_INDEX);
    expect(refusedWith(() => t.memory.consistencyProof(3, 9))).toBe(C.MERKLE_BAD_SIZE);
    expect(refusedWith(() => t.memory.getNode({ level: 3, index: 1 }))).toBe(C.MERKLE_BAD_INDEX);
    expect(refusedWith(() => t.memory.getNode({ level: 4, index: 0 }))).toBe(C.MERKLE_BAD_INDEX);
  });

  it('keeps its state out of callers’ reach', () => {
    const tree = new MemoryTree();
    const mine = leafHash(new Uint8Array([1]));
    tree.append(mine);
    tree.append(leafHash(new Uint8Array([2])));
    const root = tree.root();
    mine.fill(0);
    tree.inclusionProof(0)[0]?.fill(0);
    tree.getNode({ level: 0, index: 0 }).fill(0);
    tree.root().fill(0);
    expect(tree.root()).toEqual(root);
    const range = new CompactRange();
    for (const node of range.append(leafHash(new Uint8Array([1])))) node.hash.fill(0);
    range.border()[0]?.hash.fill(0);
    expect(range.root()).toEqual(leafHash(new Uint8Array([1])));
  });
});
