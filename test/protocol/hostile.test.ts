/**
 * Hostile input for every API that takes untrusted input (CONVENTIONS "Untrusted input"; the
 * sigstore-js pattern of one file for malformed input only). Each subject is fed junk of every
 * type, every edit of its valid inputs, every truncation, byte flips and random input from
 * fast-check. The only thing allowed to escape is a MedgateError with a known protocol code:
 * never a crash, a TypeError, a RangeError or an uncoded Error.
 *
 * To cover a new API, add one entry to SUBJECTS.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBlock, GENESIS_PREV, signBlock } from '../../firmware-ts/protocol/block.js';
import { fromHex } from '../../firmware-ts/protocol/bytes.js';
import { CborTag, decodeCbor, encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { decodeConsistencyBundle, encodeConsistencyBundle } from '../../firmware-ts/protocol/checkpoint.js';
import {
  chainAad,
  decodeCoseSign1,
  decodeCoseSign1Generic,
  signCoseSign1,
  signerFromSecretKey,
} from '../../firmware-ts/protocol/cose.js';
import { decodeAttestation, encodeAttestation } from '../../firmware-ts/protocol/decode/attestation.js';
import { decodeConnectToken, encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { decodeEnrolRequest, encodeEnrolRequest } from '../../firmware-ts/protocol/decode/enrol.js';
import { READING_CBOR_LIMITS, TOKEN_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import { decodeReading, encodeReading, type Reading } from '../../firmware-ts/protocol/decode/reading.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { assertDeviceId, assertModelId, parsePrincipal } from '../../firmware-ts/protocol/ids.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { leafHash, MemoryTree } from '../../firmware-ts/protocol/merkle/index.js';
import {
  decodePrivateKeyPem,
  decodePublicKeyPem,
  encodePrivateKeyPem,
  encodePublicKeyPem,
} from '../../firmware-ts/protocol/pem.js';
import { decodeReceipt, encodeReceipt } from '../../firmware-ts/protocol/receipt.js';
import { parseTopic } from '../../firmware-ts/protocol/topics.js';
import { decodeLedgerEntry } from '../../firmware-ts/protocol/tx/entry.js';
import { decodeTx, signTx } from '../../firmware-ts/protocol/tx/sign.js';
import { decodeVerifiedReading, encodeVerifiedReading } from '../../firmware-ts/protocol/verified-reading.js';
import { checkObservation, news2Alerts } from '../../firmware-ts/protocol/vitals.js';
import { editAt, isRecord, paths, REMOVE } from '../support/tree-edit.js';
import coseVector from '../vectors/cose-eddsa-sig-01.json' with { type: 'json' };

// ---------------------------------------------------------------------------------------------
// Valid samples

const reading: Reading = {
  dev: 'ward3-bed12',
  seq: 41,
  t: 1_760_000_000_000,
  obs: [
    { code: '8867-4', v: 72, u: '/min' },
    { code: '2708-6', v: 97, u: '%' },
    { code: '8310-5', v: 36.6, u: 'Cel' },
    { code: '8480-6', v: 121.5, u: 'mm[Hg]' },
  ],
  fw: 7,
};
const readingNoFw = { dev: 'w', seq: 0, t: 0, obs: [{ code: '2339-0', v: 5.25, u: 'mg/dL' }] };
const nonce = new Uint8Array(16).fill(0xab);
const connect = { dev: 'admin:alice', t: 1_760_000_000_000, nonce };
const attestation = { dev: 'gluco-42', pub: new Uint8Array(32).fill(0x11), model: 'acme.gluco-2' };
const enrol = { ...attestation, t: 1_760_000_000_000, nonce, att: new Uint8Array(120).fill(0xd2) };

const readingBytes = [encodeReading(reading), encodeReading(readingNoFw)];
const connectBytes = [encodeConnectToken(connect), encodeConnectToken({ ...connect, dev: 'pump-7' })];
const enrolBytes = [encodeEnrolRequest(enrol)];
const attestationBytes = [encodeAttestation(attestation)];
const coseBytes = fromHex(coseVector.output.cbor);
const cborSamples = [
  encodeCbor([1, -1, 1.5, 0.1, 'text', new Uint8Array([1, 2]), null, true, false]),
  encodeCbor(
    new Map<unknown, unknown>([
      [1, -8],
      [4, new Uint8Array(16)],
      ['k', [new Map(), []]],
    ]),
  ),
  ...readingBytes,
  ...enrolBytes,
];

const topics = [
  'mg/v1/dev/bed-12/telemetry',
  'mg/v1/dev/bed-12/events',
  'mg/v1/dev/bed-12/update',
  'mg/v1/dev/bed-12/update/status',
  'mg/v1/dev/bed-12/fw/abc/chunk/7',
  'mg/v1/verified/bed-12',
  'mg/v1/security',
];

// Signed structures: a fixed key, a two-block chain, a receipt and a consistency bundle.
const CHAIN = 'hostile-test';
const secret = new Uint8Array(32).fill(0x42);
const pub = nobleBackend.publicKey(secret);
const signer = signerFromSecretKey(secret, nobleBackend);
const signedReading = signCoseSign1(readingBytes[0] as Uint8Array, signer, chainAad(CHAIN));
const tree = new MemoryTree();
for (let i = 0; i < 5; i++) tree.append(leafHash(i === 2 ? signedReading : new Uint8Array([i])));
const header = (height: number, size: number) => ({
  v: 1 as const,
  chain: CHAIN,
  height,
  prev: GENESIS_PREV,
  t: 1_760_000_000_000 + height,
  txRoot: leafHash(new Uint8Array()),
  txCount: 0,
  log: { size, root: tree.root(size) },
});
const block3 = signBlock(header(1, 3), signer).bytes;
const block5 = signBlock(header(2, 5), signer).bytes;
const receiptJson = encodeReceipt({
  chain: CHAIN,
  leafIndex: 2,
  leafHash: leafHash(signedReading),
  treeSize: 3,
  proof: tree.inclusionProof(2, 3),
  block: block3,
  reading: signedReading,
});
const bundleJson = encodeConsistencyBundle({
  chain: CHAIN,
  size1: 3,
  size2: 5,
  proof: tree.consistencyProof(3, 5),
  block1: block3,
  block2: block5,
});
const txBytes = signTx(
  {
    type: 'access.grant',
    chain: CHAIN,
    actor: 'admin:alice',
    nonce: 7,
    t: 1_760_000_000_000,
    body: { clinician: 'dr-lee', devs: ['ward3-bed12'] },
  },
  signer,
);
const verifiedJson = encodeVerifiedReading({
  chain: CHAIN,
  dev: reading.dev,
  seq: reading.seq,
  t: reading.t,
  received: reading.t + 5,
  fw: 7,
  obs: [{ code: '8867-4', display: 'Heart rate', v: 72, u: '/min' }],
  leafIndex: 2,
  leafHash: leafHash(signedReading),
  kid: kidOf(pub),
  cose: signedReading,
});

// ---------------------------------------------------------------------------------------------
// The subjects. `takes` chooses the junk: bytes get truncations, flips and random bytes; strings
// get prefixes and random strings; values get every field replaced by junk of every type.

interface Subject {
  readonly name: string;
  readonly takes: 'bytes' | 'string' | 'value';
  readonly run: (input: unknown) => unknown;
  readonly valid: readonly unknown[];
}

const SUBJECTS: readonly Subject[] = [
  { name: 'decodeCbor', takes: 'bytes', run: (b) => decodeCbor(b as Uint8Array), valid: cborSamples },
  {
    name: 'decodeCbor with tag 18',
    takes: 'bytes',
    run: (b) => decodeCbor(b as Uint8Array, { tags: [18] }),
    valid: [coseBytes, ...cborSamples],
  },
  {
    name: 'decodeCbor with tight limits',
    takes: 'bytes',
    run: (b) => decodeCbor(b as Uint8Array, { maxBytes: 64, maxDepth: 2, maxStringBytes: 8, maxItems: 4 }),
    valid: [encodeCbor([1, 'abc', [2]])],
  },
  {
    name: 'decodeReading(decodeCbor(bytes))',
    takes: 'bytes',
    run: (b) => decodeReading(decodeCbor(b as Uint8Array, READING_CBOR_LIMITS)),
    valid: readingBytes,
  },
  {
    name: 'decodeConnectToken(decodeCbor(bytes))',
    takes: 'bytes',
    run: (b) => decodeConnectToken(decodeCbor(b as Uint8Array, TOKEN_CBOR_LIMITS)),
    valid: connectBytes,
  },
  {
    name: 'decodeEnrolRequest(decodeCbor(bytes))',
    takes: 'bytes',
    run: (b) => decodeEnrolRequest(decodeCbor(b as Uint8Array, TOKEN_CBOR_LIMITS)),
    valid: enrolBytes,
  },
  {
    name: 'decodeAttestation(decodeCbor(bytes))',
    takes: 'bytes',
    run: (b) => decodeAttestation(decodeCbor(b as Uint8Array, TOKEN_CBOR_LIMITS)),
    valid: attestationBytes,
  },
  {
    name: 'decodeReading',
    takes: 'value',
    run: decodeReading,
    valid: readingBytes.map((b) => decodeCbor(b)),
  },
  {
    name: 'decodeConnectToken',
    takes: 'value',
    run: decodeConnectToken,
    valid: connectBytes.map((b) => decodeCbor(b)),
  },
  {
    name: 'decodeEnrolRequest',
    takes: 'value',
    run: decodeEnrolRequest,
    valid: enrolBytes.map((b) => decodeCbor(b)),
  },
  {
    name: 'decodeAttestation',
    takes: 'value',
    run: decodeAttestation,
    valid: attestationBytes.map((b) => decodeCbor(b)),
  },
  {
    name: 'encodeCbor',
    takes: 'value',
    run: encodeCbor,
    valid: [reading, new CborTag(18, [1, new Map([[1, 2]])])],
  },
  {
    name: 'encodeReading',
    takes: 'value',
    run: (v) => encodeReading(v as Reading),
    valid: [reading, readingNoFw],
  },
  {
    name: 'encodeConnectToken',
    takes: 'value',
    run: (v) => encodeConnectToken(v as typeof connect),
    valid: [connect],
  },
  {
    name: 'encodeEnrolRequest',
    takes: 'value',
    run: (v) => encodeEnrolRequest(v as typeof enrol),
    valid: [enrol],
  },
  {
    name: 'encodeAttestation',
    takes: 'value',
    run: (v) => encodeAttestation(v as typeof attestation),
    valid: [attestation],
  },
  {
    name: 'checkObservation',
    takes: 'value',
    run: (v) => checkObservation(v as Reading['obs'][number]),
    valid: reading.obs,
  },
  {
    name: 'news2Alerts(decodeReading(...).obs)',
    takes: 'value',
    run: (v) => news2Alerts(decodeReading(v).obs),
    valid: readingBytes.map((b) => decodeCbor(b)),
  },
  { name: 'parseTopic', takes: 'string', run: parseTopic, valid: topics },
  {
    name: 'assertDeviceId',
    takes: 'string',
    run: (s) => assertDeviceId(s),
    valid: ['bed-12', 'x'.repeat(64)],
  },
  { name: 'assertModelId', takes: 'string', run: (s) => assertModelId(s), valid: ['acme.gluco-2'] },
  {
    name: 'parsePrincipal',
    takes: 'string',
    run: (s) => parsePrincipal(s),
    valid: ['pump-7', 'admin:alice', 'clinician:bob'],
  },
  {
    name: 'decodeCoseSign1',
    takes: 'bytes',
    run: (b) => decodeCoseSign1(b as Uint8Array),
    valid: [signedReading],
  },
  {
    name: 'decodeCoseSign1Generic',
    takes: 'bytes',
    run: (b) => decodeCoseSign1Generic(b as Uint8Array),
    valid: [coseBytes, signedReading],
  },
  {
    name: 'decodePrivateKeyPem',
    takes: 'string',
    run: (s) => decodePrivateKeyPem(s as string),
    valid: [encodePrivateKeyPem(secret)],
  },
  {
    name: 'decodePublicKeyPem',
    takes: 'string',
    run: (s) => decodePublicKeyPem(s as string),
    valid: [encodePublicKeyPem(pub)],
  },
  { name: 'decodeBlock', takes: 'bytes', run: (b) => decodeBlock(b as Uint8Array), valid: [block3, block5] },
  { name: 'decodeTx', takes: 'bytes', run: (b) => decodeTx(b as Uint8Array), valid: [txBytes] },
  {
    name: 'decodeLedgerEntry',
    takes: 'bytes',
    run: (b) => decodeLedgerEntry(b as Uint8Array),
    valid: [txBytes],
  },
  { name: 'decodeReceipt', takes: 'value', run: decodeReceipt, valid: [receiptJson] },
  { name: 'decodeConsistencyBundle', takes: 'value', run: decodeConsistencyBundle, valid: [bundleJson] },
  { name: 'decodeVerifiedReading', takes: 'value', run: decodeVerifiedReading, valid: [verifiedJson] },
];

// ---------------------------------------------------------------------------------------------
// Junk

const deepArray = (() => {
  let v: unknown = 0;
  for (let i = 0; i < 10_000; i++) v = [v];
  return v;
})();

/** One value of every type. Proxies with throwing traps are left out: no decoder sees one from the wire. */
const JUNK: readonly unknown[] = [
  null,
  undefined,
  true,
  false,
  0,
  -1,
  1.5,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  2 ** 53,
  Number.MAX_VALUE,
  10n,
  '',
  'x',
  'é',
  '\ud800',
  '\u0000',
  '__proto__',
  'a'.repeat(100_000),
  Symbol('junk'),
  () => 1,
  [],
  [null],
  Object.assign(new Array(3), { 1: 1 }),
  deepArray,
  {},
  { dev: 'x' },
  Object.create(null),
  JSON.parse('{"__proto__": {"polluted": true}}'),
  new Map(),
  new Map([[1, 2]]),
  new Map([[{}, 1]]),
  new Map([['purpose', 'connect']]),
  new Set([1]),
  new Date(0),
  new Uint8Array(0),
  new Uint8Array(100).fill(0xff),
  Buffer.from('a2616101616102', 'hex'),
  new ArrayBuffer(8),
  new Uint16Array(2),
  new DataView(new ArrayBuffer(2)),
  new CborTag(18, null),
  new Error('junk'),
  Promise.resolve(1),
];

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ProtocolErrorCode));

/** Runs `run(input)`; passes if it returns or throws a MedgateError with a known protocol code. */
function survives(subject: Subject, input: unknown): void {
  try {
    subject.run(input);
  } catch (err) {
    if (!(err instanceof MedgateError)) {
      throw new Error(`${subject.name} threw an uncoded ${String(err)}`, { cause: err });
    }
    if (!KNOWN_CODES.has(err.code)) throw new Error(`${subject.name} threw an unknown code ${err.code}`);
  }
}

/** Like `survives`, but the input must be refused. */
function refuses(subject: Subject, input: unknown): void {
  let returned = true;
  try {
    subject.run(input);
  } catch (err) {
    returned = false;
    if (!(err instanceof MedgateError) || !KNOWN_CODES.has(err.code)) {
      throw new Error(`${subject.name} threw ${String(err)}`, { cause: err });
    }
  }
  if (returned) throw new Error(`${subject.name} accepted a truncated input`);
}

// Every edit of a structure: each node replaced by each junk value, removed, or given an
// extra key. Works through Maps, arrays and plain objects; copies only along the path.

function* edits(valid: unknown): Generator<unknown> {
  for (const path of paths(valid)) {
    for (const junk of JUNK) yield editAt(valid, path, () => junk);
    if (path.length > 0) yield editAt(valid, path, () => REMOVE);
    yield editAt(valid, path, (old) => {
      if (old instanceof Map) return new Map([...old, ['extra', 1]]);
      if (isRecord(old)) return { ...old, extra: 1 };
      if (Array.isArray(old)) return [...old, old[0]];
      return old;
    });
  }
}

// ---------------------------------------------------------------------------------------------

describe.each(SUBJECTS)('$name', (subject) => {
  it('accepts its valid inputs (the table is sane)', () => {
    for (const input of subject.valid) expect(() => subject.run(input)).not.toThrow();
  });

  it('survives junk of every type', () => {
    for (const junk of JUNK) survives(subject, junk);
  });

  it('survives fast-check’s anything()', () => {
    fc.assert(
      fc.property(
        fc.anything({ withMap: true, withSet: true, withTypedArray: true, withBigInt: true }),
        (x) => {
          survives(subject, x);
        },
      ),
      { numRuns: 300 },
    );
  });

  if (subject.takes === 'value') {
    it('survives every field of its valid inputs replaced, removed or extended', () => {
      let count = 0;
      for (const valid of subject.valid) {
        for (const edited of edits(valid)) {
          survives(subject, edited);
          count++;
        }
      }
      expect(count).toBeGreaterThan(JUNK.length);
    });
  }

  if (subject.takes === 'bytes') {
    it('refuses every truncation of its valid inputs', () => {
      for (const valid of subject.valid as Uint8Array[]) {
        for (let n = 0; n < valid.length; n++) refuses(subject, valid.subarray(0, n));
      }
    });

    it('survives every single-byte change of its valid inputs', () => {
      for (const valid of subject.valid as Uint8Array[]) {
        for (let i = 0; i < valid.length; i++) {
          for (const mask of [0x01, 0x20, 0x80, 0xff]) {
            const copy = valid.slice();
            copy[i] = (copy[i] as number) ^ mask;
            survives(subject, copy);
          }
        }
      }
    });

    it('survives random bytes (fast-check)', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => survives(subject, bytes)),
        { numRuns: 2000 },
      );
    });

    it('survives random edits of its valid inputs (fast-check)', () => {
      const valid = subject.valid as Uint8Array[];
      const edit = fc.record({
        which: fc.nat({ max: valid.length - 1 }),
        at: fc.nat(),
        cut: fc.nat(),
        insert: fc.uint8Array({ maxLength: 12 }),
      });
      fc.assert(
        fc.property(edit, ({ which, at, cut, insert }) => {
          const base = valid[which] as Uint8Array;
          const i = at % (base.length + 1);
          const j = Math.min(base.length, i + (cut % 12));
          survives(subject, new Uint8Array([...base.subarray(0, i), ...insert, ...base.subarray(j)]));
        }),
        { numRuns: 2000 },
      );
    });
  }

  if (subject.takes === 'string') {
    it('survives every prefix of its valid inputs', () => {
      for (const valid of subject.valid as string[]) {
        for (let n = 0; n <= valid.length; n++) survives(subject, valid.slice(0, n));
      }
    });

    it('survives random strings (fast-check)', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => survives(subject, s)),
        { numRuns: 2000 },
      );
    });

    it('survives random edits of its valid inputs (fast-check)', () => {
      const valid = subject.valid as string[];
      const edit = fc.record({
        which: fc.nat({ max: valid.length - 1 }),
        at: fc.nat(),
        cut: fc.nat(),
        insert: fc.string({
          unit: fc.constantFrom('/', '+', '#', '$', '.', ':', 'a', '0', ' ', '\u0000'),
          maxLength: 4,
        }),
      });
      fc.assert(
        fc.property(edit, ({ which, at, cut, insert }) => {
          const base = valid[which] as string;
          const i = at % (base.length + 1);
          survives(subject, base.slice(0, i) + insert + base.slice(Math.min(base.length, i + (cut % 8))));
        }),
        { numRuns: 2000 },
      );
    });
  }
});
