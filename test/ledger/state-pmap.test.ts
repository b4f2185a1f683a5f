import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashOf, PMap } from '../../gateway/ledger/state/pmap.js';

type Op = { op: 'set'; key: string; value: number } | { op: 'del'; key: string };

// Few distinct keys so that sets and deletes hit the same entries; plus long random keys.
const key = fc.oneof(fc.constantFrom('a', 'b', 'c', 'd', 'dev-1', 'dev-2', ''), fc.string({ maxLength: 12 }));
const ops = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('set' as const), key, value: fc.integer() }),
    fc.record({ op: fc.constant('del' as const), key }),
  ),
  { maxLength: 200 },
);

function sortedEntries<V>(m: Iterable<[string, V]>): [string, V][] {
  return [...m].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

describe('PMap (persistent hash trie) against Map as the reference', () => {
  it('agrees with Map after any sequence of set/delete, and never changes an older version', () => {
    fc.assert(
      fc.property(ops, (list: Op[]) => {
        const ref = new Map<string, number>();
        let map = PMap.empty<number>();
        const history: [PMap<number>, [string, number][]][] = [];
        for (const o of list) {
          if (o.op === 'set') {
            ref.set(o.key, o.value);
            map = map.set(o.key, o.value);
          } else {
            ref.delete(o.key);
            map = map.delete(o.key);
          }
          history.push([map, sortedEntries(ref)]);
        }
        expect(map.size).toBe(ref.size);
        expect(sortedEntries(map)).toEqual(sortedEntries(ref));
        for (const [k, v] of ref) expect(map.get(k)).toBe(v);
        for (const [old, snapshot] of history) expect(sortedEntries(old)).toEqual(snapshot);
      }),
      { numRuns: 300 },
    );
  });

  it('handles hash collisions and deep tries (10,000 keys, then deleting all of them)', () => {
    let map = PMap.empty<number>();
    for (let i = 0; i < 10_000; i++) map = map.set(`k${i}`, i);
    expect(map.size).toBe(10_000);
    expect(map.get('k1234')).toBe(1234);
    expect(map.has('k10000')).toBe(false);
    const half = map;
    for (let i = 0; i < 10_000; i++) map = map.delete(`k${i}`);
    expect(map.size).toBe(0);
    expect([...map]).toEqual([]);
    expect(half.size).toBe(10_000);
    expect(half.get('k9999')).toBe(9999);
  });

  it('keeps keys whose 32-bit hashes collide apart', () => {
    // Found by a birthday search over random keys: FNV-1a gives both the same 32-bit hash.
    const [a, b] = ['r2ddmlu', 'rkk66io'];
    expect(hashOf(a)).toBe(hashOf(b));
    let m = PMap.empty<string>().set(a, 'A').set('other', 'O').set(b, 'B');
    expect(m.get(a)).toBe('A');
    expect(m.get(b)).toBe('B');
    expect(m.size).toBe(3);
    m = m.set(b, 'B2');
    expect(m.size).toBe(3);
    expect(m.get(b)).toBe('B2');
    const without = m.delete(a);
    expect(without.get(a)).toBeUndefined();
    expect(without.get(b)).toBe('B2');
    expect(without.size).toBe(2);
    expect(without.delete(b).delete('other').size).toBe(0);
  });

  it('delete of an absent key returns the same map', () => {
    const m = PMap.empty<number>().set('a', 1);
    expect(m.delete('zz')).toBe(m);
  });

  it('has the same shape for the same key set whatever the history (canonical)', () => {
    const a = PMap.from([
      ['x', 1],
      ['y', 2],
    ]);
    const b = PMap.from([
      ['y', 2],
      ['z', 3],
      ['x', 1],
    ]).delete('z');
    expect(a).toEqual(b);
  });
});
