/**
 * What every fuzz target shares (issue 7 "Fuzzing"): case counts, the set of codes a refusal
 * may carry, the property "a typed result or a coded MedgateError, never anything else", and
 * fast-check generators for the three kinds of input: arbitrary bytes, edits of valid bytes
 * (bit flips, truncation, extension, splices), and structured mutations of a valid input's
 * decoded CBOR (or JSON) tree, re-encoded (and re-signed where a signature guards it), so the
 * decoders see well-formed CBOR of the wrong shape.
 *
 * Case counts: MEDGATE_FUZZ_RUNS is the number of cases per target (spread over its input
 * kinds); without it, `fuzzRuns(short)` follows MEDGATE_PROPERTY_SCALE (test/support/runs.ts).
 */
import fc from 'fast-check';
import { CborTag, encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { StateErrorCode } from '../../gateway/ledger/state/errors.js';
import { propertyRuns } from '../support/runs.js';
import { editAt, isRecord, type Path, paths, REMOVE } from '../support/tree-edit.js';

/** Cases for one target: MEDGATE_FUZZ_RUNS if set, else `short` scaled by MEDGATE_PROPERTY_SCALE. */
export function fuzzRuns(short: number): number {
  const fixed = Number(process.env.MEDGATE_FUZZ_RUNS);
  return Number.isSafeInteger(fixed) && fixed > 0 ? fixed : propertyRuns(short);
}

/** fast-check parameters: `runs` cases, a seed printed on failure (fast-check does), no time limit. */
export function params(runs: number): fc.Parameters<unknown> {
  return { numRuns: runs, endOnFailure: true };
}

export const PROTOCOL_CODES: ReadonlySet<string> = new Set(Object.values(ProtocolErrorCode));
export const ALL_CODES: ReadonlySet<string> = new Set([
  ...PROTOCOL_CODES,
  ...Object.values(GatewayErrorCode),
  ...Object.values(StateErrorCode),
]);

/**
 * Runs `run(input)`: returns 'ok' or the refusal's code. Anything thrown that is not a
 * MedgateError with a code in `codes` fails the property with the input's description.
 */
export function outcome(run: () => unknown, codes: ReadonlySet<string>, what: string): string {
  try {
    run();
    return 'ok';
  } catch (err) {
    if (!(err instanceof MedgateError)) {
      throw new Error(
        `${what}: uncoded ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
        {
          cause: err,
        },
      );
    }
    if (!codes.has(err.code)) throw new Error(`${what}: code ${err.code} is in no code enum`, { cause: err });
    return err.code;
  }
}

// ---------------------------------------------------------------------------------------------
// Values

/** Values with a CBOR v1 encoding: what a signer could put in a payload. */
export const cborValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.constantFrom(0, 1, -1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1)),
    fc.maxSafeNat(),
    fc
      .double({ noNaN: true, noDefaultInfinity: true })
      .filter((d) => !Number.isInteger(d) || Number.isSafeInteger(d)),
    fc.string({ maxLength: 24 }),
    fc.constantFrom('', 'connect', 'enrol', 'rotate', 'admin:alice', 'dev-1', '8867-4', '/min', 'mg/v1'),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 40 }),
    fc.constantFrom(16, 32, 64).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
    fc.array(tie('v'), { maxLength: 5 }),
    fc
      .dictionary(fc.string({ maxLength: 10 }), tie('v'), { maxKeys: 6 })
      .map((o) => new Map<string, unknown>(Object.entries(o))),
    fc.array(fc.tuple(fc.integer({ min: -10, max: 10 }), tie('v')), { maxLength: 4 }).map((e) => new Map(e)),
    fc.tuple(fc.constantFrom(0, 1, 18, 24, 55799), tie('v')).map(([tag, v]) => new CborTag(tag, v)),
  ),
})).v;

/** JSON values (receipts, consistency bundles, verified readings are JSON). */
export const jsonValue: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 4 });

// ---------------------------------------------------------------------------------------------
// Byte edits

export type ByteEdit =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; tail: Uint8Array }
  | { kind: 'splice'; at: number; cut: number; insert: Uint8Array }
  | { kind: 'repeat'; at: number; len: number };

export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.constantFrom(
      0x00,
      0x17,
      0x18,
      0x1f,
      0x40,
      0x5f,
      0x7f,
      0x9f,
      0xa0,
      0xbf,
      0xc0,
      0xd2,
      0xf7,
      0xff,
    ),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), tail: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({
    kind: fc.constant('splice' as const),
    at: fc.nat(),
    cut: fc.nat({ max: 16 }),
    insert: fc.uint8Array({ maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 32 }) }),
);

/** One to three edits applied in turn. */
export const byteEdits: fc.Arbitrary<ByteEdit[]> = fc.array(byteEdit, { minLength: 1, maxLength: 3 });

export function applyByteEdit(bytes: Uint8Array, edit: ByteEdit): Uint8Array {
  const n = bytes.length;
  switch (edit.kind) {
    case 'flip': {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[edit.at % n]! ^= 1 << edit.bit;
      return out;
    }
    case 'set': {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[edit.at % n] = edit.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, edit.at % (n + 1));
    case 'extend':
      return new Uint8Array([...bytes, ...edit.tail]);
    case 'splice': {
      const at = edit.at % (n + 1);
      return new Uint8Array([
        ...bytes.subarray(0, at),
        ...edit.insert,
        ...bytes.subarray(Math.min(n, at + edit.cut)),
      ]);
    }
    case 'repeat': {
      const at = edit.at % (n + 1);
      const chunk = bytes.subarray(at, at + edit.len);
      return new Uint8Array([...bytes.subarray(0, at), ...chunk, ...bytes.subarray(at)]);
    }
  }
}

export function applyByteEdits(bytes: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  return edits.reduce(applyByteEdit, bytes);
}

// ---------------------------------------------------------------------------------------------
// Structured mutations of a decoded tree (Maps, arrays, plain objects, CborTags)

export type TreeEdit = {
  /** Picks the node (modulo the number of nodes). */
  readonly node: number;
  readonly op: 'replace' | 'remove' | 'addKey' | 'wrap' | 'nudge' | 'retype' | 'duplicate';
  readonly value: unknown;
  readonly key: string;
};

export function treeEdit(values: fc.Arbitrary<unknown> = cborValue): fc.Arbitrary<TreeEdit> {
  return fc.record({
    node: fc.nat(),
    op: fc.constantFrom('replace', 'remove', 'addKey', 'wrap', 'nudge', 'retype', 'duplicate'),
    value: values,
    key: fc.oneof(
      fc.constantFrom('v', 'extra', 'dev', 'seq', 'type', 'body', '__proto__'),
      fc.string({ maxLength: 6 }),
    ),
  });
}

export function treeEdits(values: fc.Arbitrary<unknown> = cborValue): fc.Arbitrary<TreeEdit[]> {
  return fc.array(treeEdit(values), { minLength: 1, maxLength: 3 });
}

/** The same value as another type of the same "size": what a confused encoder would send. */
function retype(old: unknown): unknown {
  if (typeof old === 'number') return Number.isInteger(old) ? String(old) : Math.trunc(old);
  if (typeof old === 'string') return /^\d+$/.test(old) ? Number(old) : new TextEncoder().encode(old);
  if (old instanceof Uint8Array) return Array.from(old.subarray(0, 8));
  if (Array.isArray(old)) return new Map(old.map((v, i) => [i, v]));
  if (old instanceof Map) return [...old.values()];
  if (typeof old === 'boolean') return old ? 1 : 0;
  return old === null ? 0 : null;
}

function nudge(old: unknown): unknown {
  if (typeof old === 'number') return Number.isSafeInteger(old + 1) ? old + 1 : old - 1;
  if (typeof old === 'string') return `${old}x`;
  if (old instanceof Uint8Array) return old.length > 0 ? old.subarray(1) : new Uint8Array(1);
  if (Array.isArray(old)) return old.slice(1);
  return old;
}

export function applyTreeEdit(tree: unknown, edit: TreeEdit): unknown {
  const all = paths(tree);
  const path = all[edit.node % all.length] as Path;
  switch (edit.op) {
    case 'replace':
      return editAt(tree, path, () => edit.value);
    case 'remove':
      return path.length === 0 ? edit.value : editAt(tree, path, () => REMOVE);
    case 'addKey':
      return editAt(tree, path, (old) => {
        if (old instanceof Map) return new Map([...old, [edit.key, edit.value]]);
        if (isRecord(old)) return { ...old, [edit.key]: edit.value };
        if (Array.isArray(old)) return [...old, edit.value];
        return old;
      });
    case 'wrap':
      return editAt(tree, path, (old) => [old]);
    case 'nudge':
      return editAt(tree, path, nudge);
    case 'retype':
      return editAt(tree, path, retype);
    case 'duplicate':
      return editAt(tree, path, (old) => (Array.isArray(old) ? [...old, ...old] : old));
  }
}

export function applyTreeEdits(tree: unknown, edits: readonly TreeEdit[]): unknown {
  return edits.reduce(applyTreeEdit, tree);
}

/** encodeCbor, or undefined when the mutated tree has no v1 encoding (the case is skipped). */
export function tryEncode(tree: unknown): Uint8Array | undefined {
  try {
    return encodeCbor(tree);
  } catch (err) {
    if (err instanceof MedgateError && err.code === ProtocolErrorCode.BAD_ARGUMENT) return undefined;
    throw err;
  }
}
