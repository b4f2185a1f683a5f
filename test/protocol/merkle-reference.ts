/**
 * A naive RFC 9162 Merkle tree, written straight from the RFC text for the tests only: the
 * recursive definitions of §2.1.1 (MTH), §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF), and the
 * iterative verifiers of §2.1.3.2 and §2.1.4.2 step by step. It hashes with node:crypto, not
 * noble, so that it shares nothing with the implementation it checks. Quadratic; small trees only.
 */
import { createHash } from 'node:crypto';

function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const LEAF = new Uint8Array([0x00]);
const NODE = new Uint8Array([0x01]);

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** SHA-256(0x00 ‖ d), the hash of a one-entry tree (§2.1.1). */
export function refLeafHash(entry: Uint8Array): Uint8Array {
  return sha256(LEAF, entry);
}

export function refNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE, left, right);
}

/** k: the largest power of two smaller than n, for n > 1 (§2.1.1). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]) (§2.1.1), over the entries themselves. */
export function mth(d: readonly Uint8Array[]): Uint8Array {
  const n = d.length;
  if (n === 0) return sha256();
  if (n === 1) return refLeafHash(d[0] as Uint8Array);
  const k = split(n);
  return refNodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
}

/** PATH(m, D[n]): the inclusion proof of entry m (§2.1.3.1). Requires 0 <= m < n. */
export function path(m: number, d: readonly Uint8Array[]): Uint8Array[] {
  const n = d.length;
  if (n === 1) return [];
  const k = split(n);
  if (m < k) return [...path(m, d.slice(0, k)), mth(d.slice(k))];
  return [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}

/** PROOF(m, D[n]) = SUBPROOF(m, D[n], true): the consistency proof (§2.1.4.1). Requires 0 < m <= n. */
export function proof(m: number, d: readonly Uint8Array[]): Uint8Array[] {
  return subproof(m, d, true);
}

function subproof(m: number, d: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = d.length;
  if (m === n) return b ? [] : [mth(d)];
  const k = split(n);
  if (m <= k) return [...subproof(m, d.slice(0, k), b), mth(d.slice(k))];
  return [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

const lsb = (x: number): boolean => x % 2 === 1;
const isPowerOfTwo = (x: number): boolean => {
  let p = 1;
  while (p < x) p *= 2;
  return p === x;
};
const half = (x: number): number => Math.floor(x / 2);

/** §2.1.3.2, step by step. Returns whether the proof verifies. */
export function rfcVerifyInclusion(
  hash: Uint8Array,
  leafIndex: number,
  treeSize: number,
  inclusionPath: readonly Uint8Array[],
  rootHash: Uint8Array,
): boolean {
  // 1.
  if (leafIndex >= treeSize) return false;
  // 2., 3.
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = hash;
  // 4.
  for (const p of inclusionPath) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      r = refNodeHash(p, r);
      if (!lsb(fn)) {
        while (!(lsb(fn) || fn === 0)) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = refNodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // 5.
  return sn === 0 && same(r, rootHash);
}

/**
 * §2.1.4.2, step by step, for 0 < first < second; first = second needs an empty path and equal
 * hashes (the RFC leaves that case to the caller). Returns whether the proof verifies.
 */
export function rfcVerifyConsistency(
  first: number,
  second: number,
  consistencyPath: readonly Uint8Array[],
  firstHash: Uint8Array,
  secondHash: Uint8Array,
): boolean {
  if (first <= 0 || first > second) return false;
  if (first === second) return consistencyPath.length === 0 && same(firstHash, secondHash);
  // 1.
  if (consistencyPath.length === 0) return false;
  // 2.
  const pathHashes = [...consistencyPath];
  if (isPowerOfTwo(first)) pathHashes.unshift(firstHash);
  // 3.
  let fn = first - 1;
  let sn = second - 1;
  // 4.
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // 5.
  let fr = pathHashes[0] as Uint8Array;
  let sr = pathHashes[0] as Uint8Array;
  // 6.
  for (const c of pathHashes.slice(1)) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      fr = refNodeHash(c, fr);
      sr = refNodeHash(c, sr);
      if (!lsb(fn)) {
        while (!(lsb(fn) || fn === 0)) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = refNodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // 7.
  return same(fr, firstHash) && same(sr, secondHash) && sn === 0;
}
