/**
 * Edits of a decoded CBOR tree (Maps, arrays, plain objects, CborTags) for hostile-input tests:
 * every node's path, and a copy with one node replaced or removed (copies only along the path).
 */
import { CborTag } from '../../firmware-ts/protocol/cbor.js';

export type Path = readonly (string | number | unknown)[];

/** Return this from an edit to remove the node. */
export const REMOVE = Symbol('remove');

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** The path of every node, the root (an empty path) first, depth first. */
export function paths(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) out.push(...paths(value[i], [...prefix, i]));
  } else if (value instanceof Map) for (const [k, v] of value) out.push(...paths(v, [...prefix, k]));
  else if (value instanceof CborTag) out.push(...paths(value.value, [...prefix, 'value']));
  else if (isRecord(value)) for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

/** A copy of `value` whose node at `path` is `edit(old)` (or removed when that is REMOVE). */
export function editAt(value: unknown, path: Path, edit: (old: unknown) => unknown): unknown {
  if (path.length === 0) return edit(value);
  const [head, ...rest] = path;
  if (Array.isArray(value)) {
    const copy = [...value];
    const next = editAt(copy[head as number], rest, edit);
    if (next === REMOVE) copy.splice(head as number, 1);
    else copy[head as number] = next;
    return copy;
  }
  if (value instanceof Map) {
    const copy = new Map(value);
    const next = editAt(copy.get(head), rest, edit);
    if (next === REMOVE) copy.delete(head);
    else copy.set(head, next);
    return copy;
  }
  if (value instanceof CborTag) return new CborTag(value.tag, editAt(value.value, rest, edit));
  const copy = { ...(value as Record<string, unknown>) };
  const next = editAt(copy[head as string], rest, edit);
  if (next === REMOVE) delete copy[head as string];
  else copy[head as string] = next;
  return copy;
}
