/**
 * Coordinates in an RFC 9162 tree: perfect-subtree node ids, compact-range decomposition, and
 * the 64-bit integer arithmetic of transparency-dev/merkle (compact/nodes.go, compact/range.go)
 * done exactly on JavaScript numbers. Sizes and indices are integers in [0, 2^53): JS bitwise
 * operators work on 32 bits only, so the helpers split values into two 32-bit halves.
 */
import { MedgateError, ProtocolErrorCode } from '../errors.js';

/**
 * A perfect subtree: it covers leaves [index·2^level, (index+1)·2^level); level 0 is a leaf hash.
 * These are the only nodes a store keeps; every other hash (the right border of a tree whose size
 * is not a power of two) is recomputed from them.
 */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** The largest tree size (and leaf count) this code handles exactly: 2^53 - 1. */
export const MAX_TREE_SIZE = Number.MAX_SAFE_INTEGER;

const TWO_32 = 0x1_0000_0000;

/** Go's bits.Len64: the number of bits needed to write x. Requires 0 <= x <= 2^53. */
export function bitLength(x: number): number {
  const hi = Math.floor(x / TWO_32);
  return hi !== 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(x >>> 0);
}

/** Go's bits.TrailingZeros64 for 0 < x <= 2^53 (returns 64 for 0, as Go does). */
export function trailingZeros(x: number): number {
  const lo = x >>> 0;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  const hi = Math.floor(x / TWO_32);
  return hi === 0 ? 64 : 63 - Math.clz32(hi & -hi);
}

function popCount32(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Go's bits.OnesCount64 for 0 <= x <= 2^53. */
export function popCount(x: number): number {
  return popCount32(x >>> 0) + popCount32(Math.floor(x / TWO_32));
}

/** a ^ b for 0 <= a, b < 2^53. */
export function xor(a: number, b: number): number {
  const hi = (Math.floor(a / TWO_32) ^ Math.floor(b / TWO_32)) >>> 0;
  return hi * TWO_32 + (((a >>> 0) ^ (b >>> 0)) >>> 0);
}

/** x >> n for 0 <= x < 2^53. */
export function shiftRight(x: number, n: number): number {
  return Math.floor(x / 2 ** n);
}

export function parentOf(id: NodeId): NodeId {
  return { level: id.level + 1, index: Math.floor(id.index / 2) };
}

export function siblingOf(id: NodeId): NodeId {
  return { level: id.level, index: id.index % 2 === 0 ? id.index + 1 : id.index - 1 };
}

/** The leaves [begin, end) under the node (compact/nodes.go Coverage). */
export function coverage(id: NodeId): { begin: number; end: number } {
  const width = 2 ** id.level;
  return { begin: id.index * width, end: (id.index + 1) * width };
}

/**
 * Appends to `out` the ids of the minimal perfect subtrees covering [begin, end), left to right
 * (compact/nodes.go RangeNodes, with Decompose from compact/range.go). For begin = 0 these are
 * the subtrees of the binary decomposition of end, largest first. Requires begin <= end.
 */
export function rangeNodes(begin: number, end: number, out: NodeId[] = []): NodeId[] {
  let left = 0;
  let right = end;
  if (begin !== 0) {
    // Bits below the point where the paths to leaves begin-1 and end diverge: zeros of begin-1
    // are subtrees on the left border of the range, ones of end on its right border.
    const before = begin - 1;
    const width = 2 ** (bitLength(xor(before, end)) - 1);
    left = width - 1 - (before % width);
    right = end % width;
  }
  let pos = begin;
  while (left !== 0) {
    const level = trailingZeros(left);
    const size = 2 ** level;
    out.push({ level, index: pos / size });
    pos += size;
    left -= size;
  }
  while (right !== 0) {
    const level = bitLength(right) - 1;
    const size = 2 ** level;
    out.push({ level, index: pos / size });
    pos += size;
    right -= size;
  }
  return out;
}

/** Asserts that `value` is a tree size in [min, 2^53) and returns it. */
export function checkSize(value: unknown, field: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new MedgateError(
      ProtocolErrorCode.MERKLE_BAD_SIZE,
      `${field} must be an integer from ${min} to 2^53-1`,
      { field, got: describe(value), want: `${min} <= ${field} <= ${MAX_TREE_SIZE}` },
    );
  }
  return value;
}

/** Asserts that `value` is a leaf index below `size` (already checked) and returns it. */
export function checkIndex(value: unknown, size: number, field = 'index'): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value >= size) {
    throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_INDEX, `${field} must be an integer below ${size}`, {
      field,
      got: describe(value),
      want: `0 <= ${field} < ${size}`,
    });
  }
  return value;
}

function describe(value: unknown): unknown {
  return typeof value === 'number' ? value : typeof value;
}
