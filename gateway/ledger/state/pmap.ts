/**
 * A persistent (immutable) map from strings to values: a hash array mapped trie (Bagwell,
 * "Ideal Hash Trees", 2001) with 32-way bitmap-compressed nodes.
 *
 * Why: `apply` must return a new State without touching the old one, and a ledger holds
 * 10^5..10^6 devices, grants and reports. Copying a Map per transaction would be O(n); here
 * `set`/`delete` copy only the O(log32 n) nodes on the path to the key and share the rest.
 *
 * Iteration order depends on the hashes, not on insertion order; callers that need a
 * canonical order sort (encodeState does, through deterministic CBOR).
 */

const BITS = 5;
const MASK = 31;

interface Leaf<V> {
  readonly k: 0;
  readonly hash: number;
  readonly key: string;
  readonly value: V;
}

interface Inner<V> {
  readonly k: 1;
  readonly bitmap: number;
  readonly children: readonly Child<V>[];
}

/** Keys whose 32-bit hashes are equal. */
interface Collision<V> {
  readonly k: 2;
  readonly hash: number;
  readonly leaves: readonly Leaf<V>[];
}

type Child<V> = Leaf<V> | Inner<V> | Collision<V>;

/** FNV-1a over UTF-16 code units: fast, deterministic on every platform. */
export function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

function withChild<V>(children: readonly Child<V>[], at: number, child: Child<V>): Child<V>[] {
  const out = children.slice();
  out[at] = child;
  return out;
}

/** Joins two nodes with different hashes under a fresh Inner at `shift`. */
function join<V>(a: Leaf<V> | Collision<V>, b: Leaf<V>, shift: number): Inner<V> {
  const ia = (a.hash >>> shift) & MASK;
  const ib = (b.hash >>> shift) & MASK;
  if (ia === ib) return { k: 1, bitmap: 1 << ia, children: [join(a, b, shift + BITS)] };
  return { k: 1, bitmap: (1 << ia) | (1 << ib), children: ia < ib ? [a, b] : [b, a] };
}

function lookup<V>(root: Inner<V>, hash: number, key: string): Leaf<V> | undefined {
  let node: Child<V> = root;
  let shift = 0;
  for (;;) {
    if (node.k === 0) return node.key === key ? node : undefined;
    if (node.k === 2) return node.hash === hash ? node.leaves.find((l) => l.key === key) : undefined;
    const bit = 1 << ((hash >>> shift) & MASK);
    if ((node.bitmap & bit) === 0) return undefined;
    node = node.children[popcount(node.bitmap & (bit - 1))]!;
    shift += BITS;
  }
}

/** Returns the new node and whether a key was added (for the size). */
function insert<V>(node: Inner<V>, leaf: Leaf<V>, shift: number): [Inner<V>, boolean] {
  const bit = 1 << ((leaf.hash >>> shift) & MASK);
  const at = popcount(node.bitmap & (bit - 1));
  if ((node.bitmap & bit) === 0) {
    const children = node.children.slice();
    children.splice(at, 0, leaf);
    return [{ k: 1, bitmap: node.bitmap | bit, children }, true];
  }
  const child = node.children[at]!;
  if (child.k === 1) {
    const [next, added] = insert(child, leaf, shift + BITS);
    return [{ k: 1, bitmap: node.bitmap, children: withChild(node.children, at, next) }, added];
  }
  if (child.k === 0) {
    if (child.key === leaf.key) {
      return [{ k: 1, bitmap: node.bitmap, children: withChild(node.children, at, leaf) }, false];
    }
    const merged: Child<V> =
      child.hash === leaf.hash
        ? { k: 2, hash: leaf.hash, leaves: [child, leaf] }
        : join(child, leaf, shift + BITS);
    return [{ k: 1, bitmap: node.bitmap, children: withChild(node.children, at, merged) }, true];
  }
  // Collision node.
  if (child.hash !== leaf.hash) {
    const merged = join(child, leaf, shift + BITS);
    return [{ k: 1, bitmap: node.bitmap, children: withChild(node.children, at, merged) }, true];
  }
  const i = child.leaves.findIndex((l) => l.key === leaf.key);
  const leaves = child.leaves.slice();
  if (i >= 0) leaves[i] = leaf;
  else leaves.push(leaf);
  const next: Collision<V> = { k: 2, hash: leaf.hash, leaves };
  return [{ k: 1, bitmap: node.bitmap, children: withChild(node.children, at, next) }, i < 0];
}

/**
 * Removes `key` below `node`. Returns the node unchanged when the key is absent, `undefined`
 * when the node becomes empty, or a lone Leaf/Collision so the parent can pull it up (keeps
 * the trie canonical: the same key set always has the same shape).
 */
function remove<V>(node: Inner<V>, hash: number, key: string, shift: number): Child<V> | undefined {
  const bit = 1 << ((hash >>> shift) & MASK);
  if ((node.bitmap & bit) === 0) return node;
  const at = popcount(node.bitmap & (bit - 1));
  const child = node.children[at]!;
  let next: Child<V> | undefined;
  if (child.k === 0) {
    if (child.key !== key) return node;
    next = undefined;
  } else if (child.k === 2) {
    if (child.hash !== hash) return node;
    const leaves = child.leaves.filter((l) => l.key !== key);
    if (leaves.length === child.leaves.length) return node;
    next = leaves.length === 1 ? leaves[0]! : { k: 2, hash, leaves };
  } else {
    next = remove(child, hash, key, shift + BITS);
    if (next === child) return node;
  }
  if (next === undefined) {
    const bitmap = node.bitmap & ~bit;
    if (bitmap === 0) return undefined;
    const children = node.children.slice();
    children.splice(at, 1);
    const only = children[0]!;
    if (children.length === 1 && only.k !== 1) return only;
    return { k: 1, bitmap, children };
  }
  if (node.children.length === 1 && next.k !== 1) return next;
  return { k: 1, bitmap: node.bitmap, children: withChild(node.children, at, next) };
}

function* walk<V>(node: Child<V>): Generator<Leaf<V>> {
  if (node.k === 0) yield node;
  else if (node.k === 2) yield* node.leaves;
  else for (const c of node.children) yield* walk(c);
}

const EMPTY_ROOT: Inner<never> = Object.freeze({ k: 1, bitmap: 0, children: Object.freeze([]) });

export class PMap<V> implements Iterable<[string, V]> {
  private static readonly EMPTY = new PMap<never>(EMPTY_ROOT, 0);

  private constructor(
    private readonly root: Inner<V>,
    readonly size: number,
  ) {}

  static empty<V>(): PMap<V> {
    return PMap.EMPTY as PMap<V>;
  }

  static from<V>(entries: Iterable<readonly [string, V]>): PMap<V> {
    let map = PMap.empty<V>();
    for (const [k, v] of entries) map = map.set(k, v);
    return map;
  }

  get(key: string): V | undefined {
    return lookup(this.root, hashOf(key), key)?.value;
  }

  has(key: string): boolean {
    return lookup(this.root, hashOf(key), key) !== undefined;
  }

  /** A new map with `key` bound to `value`; this map is unchanged. */
  set(key: string, value: V): PMap<V> {
    const [root, added] = insert(this.root, { k: 0, hash: hashOf(key), key, value }, 0);
    return new PMap(root, added ? this.size + 1 : this.size);
  }

  /** A new map without `key` (this map when the key is absent). */
  delete(key: string): PMap<V> {
    const next = remove(this.root, hashOf(key), key, 0);
    if (next === this.root) return this;
    if (next === undefined) return PMap.empty<V>();
    const root: Inner<V> = next.k === 1 ? next : join0(next);
    return new PMap(root, this.size - 1);
  }

  *entries(): IterableIterator<[string, V]> {
    for (const leaf of walk(this.root)) yield [leaf.key, leaf.value];
  }

  *keys(): IterableIterator<string> {
    for (const leaf of walk(this.root)) yield leaf.key;
  }

  *values(): IterableIterator<V> {
    for (const leaf of walk(this.root)) yield leaf.value;
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  /** Keys in ascending code-unit order (a canonical order for queries and listings). */
  sortedKeys(): string[] {
    return [...this.keys()].sort();
  }
}

/** The root is always an Inner node: re-wrap a lone Leaf/Collision pulled up by `remove`. */
function join0<V>(node: Leaf<V> | Collision<V>): Inner<V> {
  return { k: 1, bitmap: 1 << (node.hash & MASK), children: [node] };
}
