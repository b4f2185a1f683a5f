/**
 * Fuzzing every decoder of untrusted input (issue 7 "Fuzzing"; CONVENTIONS "Untrusted input").
 * Each target gets, spread over the kinds of input it takes:
 *   - arbitrary bytes / strings / values;
 *   - edits of valid bytes: bit flips, byte sets, truncation, extension, splices, repeats;
 *   - structured mutations of a valid input's decoded tree (replace a node by any CBOR value,
 *     remove it, add a key, wrap it, nudge or retype it), re-encoded, and re-signed by the
 *     original signer where a COSE_Sign1 carries it: well-formed CBOR of the wrong shape that
 *     reaches the typed decoders and the signature checks behind the CBOR layer.
 * The property: a typed result, or a MedgateError whose code is in the protocol's code enum
 * (the gateway's enums for gateway decoders). test/protocol/hostile.test.ts feeds junk of every
 * JS type with fixed counts; this suite scales (MEDGATE_FUZZ_RUNS cases per target) and adds
 * the targets and input kinds above.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBlock, GENESIS_PREV, signBlock, verifyBlock } from '../../firmware-ts/protocol/block.js';
import { decodeCbor, encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import {
  decodeConsistencyBundle,
  encodeConsistencyBundle,
  verifyConsistencyBundle,
} from '../../firmware-ts/protocol/checkpoint.js';
import {
  type CoseSigner,
  chainAad,
  decodeCoseSign1,
  signCoseSign1,
  signerFromSecretKey,
} from '../../firmware-ts/protocol/cose.js';
import { decodeAttestation, encodeAttestation } from '../../firmware-ts/protocol/decode/attestation.js';
import { decodeConnectToken, encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { decodeEnrolRequest, encodeEnrolRequest } from '../../firmware-ts/protocol/decode/enrol.js';
import { READING_CBOR_LIMITS, TOKEN_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import { decodeReading, encodeReading } from '../../firmware-ts/protocol/decode/reading.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { leafHash, MemoryTree } from '../../firmware-ts/protocol/merkle/index.js';
import {
  decodePrivateKeyPem,
  decodePublicKeyPem,
  encodePrivateKeyPem,
  encodePublicKeyPem,
} from '../../firmware-ts/protocol/pem.js';
import { decodeReceipt, encodeReceipt, verifyReceipt } from '../../firmware-ts/protocol/receipt.js';
import { fwTopic, parseTopic } from '../../firmware-ts/protocol/topics.js';
import { decodeAction, decodeBody, encodeAction, encodeBody } from '../../firmware-ts/protocol/tx/bodies.js';
import { decodeLedgerEntry } from '../../firmware-ts/protocol/tx/entry.js';
import {
  decodeManifestCose,
  decodeRotateProofCose,
  decodeTx,
  signManifest,
  signRotateProof,
  signTx,
} from '../../firmware-ts/protocol/tx/sign.js';
import { ACTION_TYPES, type EnvelopeType, TX_TYPES } from '../../firmware-ts/protocol/tx/types.js';
import {
  decodeBundle,
  decodeBundleReplacement,
  decodeChunk,
  decodeChunkRequest,
  decodeGenesisTrust,
  decodeOffer,
  encodeBundle,
  encodeChunk,
  encodeChunkRequest,
  encodeOffer,
  signBundle,
  type TrustBundle,
} from '../../firmware-ts/protocol/update/index.js';
import {
  decodeVerifiedReading,
  encodeVerifiedReading,
  parseVerifiedReading,
  verifiedReadingText,
  verifyVerifiedReading,
} from '../../firmware-ts/protocol/verified-reading.js';
import { decodeGenesisBytes, encodeGenesis } from '../../gateway/ledger/genesis.js';
import { SAMPLE_BODIES } from '../ledger/tx-samples.js';
import {
  ALL_CODES,
  applyByteEdits,
  applyTreeEdits,
  byteEdits,
  cborValue,
  fuzzRuns,
  jsonValue,
  outcome,
  PROTOCOL_CODES,
  params,
  treeEdits,
  tryEncode,
} from './fuzz-support.js';

// ---------------------------------------------------------------------------------------------
// Valid samples, signed with fixed keys

const CHAIN = 'fuzz-chain';
const AAD = chainAad(CHAIN);
const keyOf = (n: number) => {
  const secret = new Uint8Array(32).fill(n);
  return { secret, pub: nodeBackend.publicKey(secret), signer: signerFromSecretKey(secret, nodeBackend) };
};
const device = keyOf(1);
const vendor = keyOf(2);
const admin = keyOf(3);
const authority = keyOf(4);
const T = 1_760_000_000_000;
const nonce = new Uint8Array(16).fill(0xab);

const reading = {
  dev: 'ward3-bed12',
  seq: 41,
  t: T,
  obs: [
    { code: '8867-4', v: 72, u: '/min' },
    { code: '8480-6', v: 121.5, u: 'mm[Hg]' },
    { code: '8462-4', v: 80, u: 'mm[Hg]' },
  ],
  fw: 7,
};
const readingBytes = encodeReading(reading);
const signedReading = signCoseSign1(readingBytes, device.signer, AAD);
const connectBytes = encodeConnectToken({ dev: 'ward3-bed12', t: T, nonce });
const attestationBytes = encodeAttestation({ dev: 'gluco-42', pub: device.pub, model: 'glucose-v1' });
const att = signCoseSign1(attestationBytes, vendor.signer, AAD);
const enrolBytes = encodeEnrolRequest({
  dev: 'gluco-42',
  pub: device.pub,
  model: 'glucose-v1',
  t: T,
  nonce,
  att,
});
const signedEnrol = signCoseSign1(enrolBytes, device.signer, AAD);
const manifest = signManifest(
  {
    vendor: 'acme',
    model: 'wearable-v1',
    seq: 3,
    version: '3.0.0',
    digest: sha256(new Uint8Array([1])),
    size: 4096,
    created: T,
  },
  vendor.signer,
  CHAIN,
);
const rotateProof = signRotateProof(
  { dev: 'ward3-bed12', old: kidOf(device.pub), pub: admin.pub },
  admin.signer,
  CHAIN,
);
const txs = (['access.grant', 'device.enrol', 'proposal.create', 'update.report'] as const).map((type) =>
  signTx(
    {
      type,
      chain: CHAIN,
      actor: 'admin:alice',
      nonce: 7,
      t: T,
      body: SAMPLE_BODIES[type],
    } as Parameters<typeof signTx>[0],
    admin.signer,
  ),
);

const tree = new MemoryTree();
for (let i = 0; i < 7; i++) tree.append(leafHash(i === 2 ? signedReading : new Uint8Array([i])));
const header = (height: number, size: number) => ({
  v: 1 as const,
  chain: CHAIN,
  height,
  prev: GENESIS_PREV,
  t: T + height,
  txRoot: leafHash(new Uint8Array()),
  txCount: 0,
  log: { size, root: tree.root(size) },
});
const block3 = signBlock(header(1, 3), authority.signer).bytes;
const block7 = signBlock(header(2, 7), authority.signer).bytes;
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
  size2: 7,
  proof: tree.consistencyProof(3, 7),
  block1: block3,
  block2: block7,
});
const verified = {
  chain: CHAIN,
  dev: reading.dev,
  seq: reading.seq,
  t: reading.t,
  received: reading.t + 5,
  fw: 7,
  obs: [
    { code: '8867-4', display: 'Heart rate', v: 72, u: '/min' },
    { code: '8480-6', display: 'Systolic blood pressure', v: 121.5, u: 'mm[Hg]' },
    { code: '8462-4', display: 'Diastolic blood pressure', v: 80, u: 'mm[Hg]' },
  ],
  leafIndex: 2,
  leafHash: leafHash(signedReading),
  kid: kidOf(device.pub),
  cose: signedReading,
};
const genesisBytes = encodeGenesis({
  chain: CHAIN,
  authorities: [authority.pub],
  admins: [{ id: 'alice', pub: admin.pub }],
  threshold: 1,
  vendors: [{ id: 'acme', pub: vendor.pub, models: ['wearable-v1'] }],
  policies: [
    {
      model: '*',
      policy: { approvals: 1, approvers: 'all', enrolment: 'auto', maxWaveSize: 10, maxFailures: 1 },
    },
  ],
});

// Firmware update wire format v1 (firmware-ts/protocol/update).
const offerBytes = encodeOffer({
  rollout: sha256(txs[2] as Uint8Array),
  manifest,
  proposal: txs[2] as Uint8Array,
  approvals: [txs[0] as Uint8Array],
  block: block7,
  txIndex: 1,
  txPath: [sha256(new Uint8Array([1])), sha256(new Uint8Array([2]))],
  latest: block7,
  chunk: 16_384,
});
const digest = sha256(new Uint8Array([9]));
const chunkRequestBytes = encodeChunkRequest({ digest, offset: 16_384, len: 4096 });
const chunkBytes = encodeChunk({ digest, offset: 0, data: new Uint8Array(300).fill(5) });
const bundle: TrustBundle = {
  chain: CHAIN,
  seq: 1,
  authorities: [authority.pub],
  admins: [{ id: 'alice', pub: admin.pub }],
  threshold: 1,
  vendors: [{ id: 'acme', pub: vendor.pub, models: ['wearable-v1'] }],
};
const bundleBytes = encodeBundle(bundle);
const replacementBytes = signBundle({ ...bundle, seq: 2 }, [admin.signer], CHAIN);

// ---------------------------------------------------------------------------------------------
// Targets

/** Cases per target inside `npm test` (MEDGATE_FUZZ_RUNS replaces it). */
const SHORT_RUNS = 2400;

/** How a valid input's tree is taken apart and rebuilt (re-signed when `signer` is given). */
interface TreeView {
  readonly name: string;
  readonly of: (valid: Uint8Array) => unknown;
  readonly build: (tree: unknown) => Uint8Array | undefined;
}

/** The payload of a COSE_Sign1 sample, mutated and signed again by `signer`. */
const coseEnvelope: TreeView = {
  name: 'COSE structure',
  of: (valid) => decodeCbor(valid, { tags: [18] }),
  build: tryEncode,
};
const cosePayload = (signer: CoseSigner): TreeView => ({
  name: 'payload, re-signed',
  of: (valid) => decodeCbor(decodeCoseSign1(valid, 1 << 20).payload, { maxDepth: 64 }),
  build: (t) => {
    const payload = tryEncode(t);
    return payload === undefined ? undefined : signCoseSign1(payload, signer, AAD);
  },
});
const plain: TreeView = { name: 'CBOR tree', of: (valid) => decodeCbor(valid), build: tryEncode };

interface BytesTarget {
  readonly name: string;
  readonly run: (bytes: Uint8Array) => unknown;
  readonly valid: readonly Uint8Array[];
  readonly trees: readonly TreeView[];
  readonly codes?: ReadonlySet<string>;
  /** Cases in the short run, if not SHORT_RUNS (slow decoders: key checks). */
  readonly short?: number;
}

interface ValueTarget {
  readonly name: string;
  readonly run: (value: unknown) => unknown;
  readonly valid: readonly unknown[];
  readonly values: fc.Arbitrary<unknown>;
  readonly codes?: ReadonlySet<string>;
}

interface StringTarget {
  readonly name: string;
  readonly run: (text: string) => unknown;
  readonly valid: readonly string[];
  readonly alphabet: readonly string[];
}

const authorities = [authority.pub];
const BYTES_TARGETS: readonly BytesTarget[] = [
  {
    name: 'decodeCbor',
    run: (b) => decodeCbor(b),
    valid: [readingBytes, enrolBytes, genesisBytes],
    trees: [plain],
  },
  {
    name: 'decodeCoseSign1',
    run: (b) => decodeCoseSign1(b),
    valid: [signedReading, signedEnrol],
    trees: [coseEnvelope],
  },
  {
    name: 'decodeReading',
    run: (b) => decodeReading(decodeCbor(b, READING_CBOR_LIMITS)),
    valid: [readingBytes],
    trees: [plain],
  },
  {
    name: 'decodeConnectToken',
    run: (b) => decodeConnectToken(decodeCbor(b, TOKEN_CBOR_LIMITS)),
    valid: [connectBytes],
    trees: [plain],
  },
  {
    name: 'decodeEnrolRequest',
    run: (b) => decodeEnrolRequest(decodeCbor(b, TOKEN_CBOR_LIMITS)),
    valid: [enrolBytes],
    trees: [plain],
  },
  {
    name: 'decodeAttestation',
    run: (b) => decodeAttestation(decodeCbor(b, TOKEN_CBOR_LIMITS)),
    valid: [attestationBytes],
    trees: [plain],
  },
  { name: 'decodeTx', run: decodeTx, valid: txs, trees: [coseEnvelope, cosePayload(admin.signer)] },
  {
    name: 'decodeLedgerEntry',
    run: decodeLedgerEntry,
    valid: [...txs, signedEnrol],
    trees: [coseEnvelope, cosePayload(admin.signer)],
  },
  {
    name: 'decodeManifestCose',
    run: decodeManifestCose,
    valid: [manifest],
    trees: [coseEnvelope, cosePayload(vendor.signer)],
  },
  {
    name: 'decodeRotateProofCose',
    run: decodeRotateProofCose,
    valid: [rotateProof],
    trees: [coseEnvelope, cosePayload(admin.signer)],
  },
  {
    name: 'decodeBlock',
    run: decodeBlock,
    valid: [block3, block7],
    trees: [coseEnvelope, cosePayload(authority.signer)],
  },
  {
    name: 'verifyBlock',
    run: (b) => verifyBlock(b, { authorities, chain: CHAIN }, nodeBackend),
    valid: [block3, block7],
    trees: [coseEnvelope, cosePayload(authority.signer)],
  },
  {
    name: 'verifyVerifiedReading (cose)',
    run: (b) =>
      verifyVerifiedReading({ ...verified, cose: b, leafHash: leafHash(b) }, device.pub, nodeBackend),
    valid: [signedReading],
    trees: [coseEnvelope, cosePayload(device.signer)],
  },
  { name: 'decodeOffer', run: decodeOffer, valid: [offerBytes], trees: [plain] },
  { name: 'decodeChunkRequest', run: decodeChunkRequest, valid: [chunkRequestBytes], trees: [plain] },
  { name: 'decodeChunk', run: decodeChunk, valid: [chunkBytes], trees: [plain] },
  { name: 'decodeBundle', run: decodeBundle, valid: [bundleBytes], trees: [plain] },
  {
    name: 'decodeBundleReplacement',
    run: decodeBundleReplacement,
    valid: [replacementBytes],
    trees: [plain],
  },
  { name: 'decodeGenesisTrust', run: decodeGenesisTrust, valid: [genesisBytes], trees: [plain], short: 800 },
  {
    name: 'decodeGenesisBytes',
    run: decodeGenesisBytes,
    valid: [genesisBytes],
    trees: [plain],
    codes: ALL_CODES,
    short: 800,
  },
];

const BODY_TYPES: readonly EnvelopeType[] = [...TX_TYPES, ...ACTION_TYPES];
const VALUE_TARGETS: readonly ValueTarget[] = [
  ...BODY_TYPES.map(
    (type): ValueTarget => ({
      name: `decodeBody(${type})`,
      run: (v) => decodeBody(type, v),
      valid: [encodeBody(type, SAMPLE_BODIES[type] as never)],
      values: cborValue,
    }),
  ),
  {
    name: 'decodeAction',
    run: (v) => decodeAction(v, 'action'),
    valid: ACTION_TYPES.map((type) => encodeAction({ type, body: SAMPLE_BODIES[type] } as never)),
    values: cborValue,
  },
  { name: 'decodeReceipt', run: decodeReceipt, valid: [receiptJson], values: jsonValue },
  {
    name: 'verifyReceipt',
    run: (v) => verifyReceipt(v, authorities, nodeBackend),
    valid: [receiptJson],
    values: jsonValue,
  },
  { name: 'decodeConsistencyBundle', run: decodeConsistencyBundle, valid: [bundleJson], values: jsonValue },
  {
    name: 'verifyConsistencyBundle',
    run: (v) => verifyConsistencyBundle(v, authorities, nodeBackend),
    valid: [bundleJson],
    values: jsonValue,
  },
  {
    name: 'decodeVerifiedReading',
    run: decodeVerifiedReading,
    valid: [encodeVerifiedReading(verified)],
    values: jsonValue,
  },
];

const B64 = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/='];
const STRING_TARGETS: readonly StringTarget[] = [
  {
    name: 'parseTopic',
    run: parseTopic,
    valid: [
      'mg/v1/dev/bed-12/telemetry',
      'mg/v1/dev/bed-12/update/status',
      fwTopic('bed-12', 'get'),
      'mg/v1/verified/bed-12',
      'mg/v1/security',
    ],
    alphabet: ['/', '+', '#', '$', '.', ':', 'a', '0', ' ', '\u0000', 'mg', 'v1', 'dev', 'fw', '..', 'é'],
  },
  {
    name: 'decodePublicKeyPem',
    run: decodePublicKeyPem,
    valid: [encodePublicKeyPem(device.pub)],
    alphabet: [...B64, '\n', '\r\n', '-----', 'BEGIN', 'END', ' PUBLIC KEY', ' PRIVATE KEY', ' '],
  },
  {
    name: 'decodePrivateKeyPem',
    run: decodePrivateKeyPem,
    valid: [encodePrivateKeyPem(device.secret)],
    alphabet: [...B64, '\n', '\r\n', '-----', 'BEGIN', 'END', ' PUBLIC KEY', ' PRIVATE KEY', ' '],
  },
  {
    name: 'parseVerifiedReading',
    run: parseVerifiedReading,
    valid: [verifiedReadingText(verified)],
    alphabet: [
      '{',
      '}',
      '[',
      ']',
      '"',
      ':',
      ',',
      '\\u0000',
      '__proto__',
      'constructor',
      '1e400',
      '-0',
      'null',
      ' ',
    ],
  },
];

// ---------------------------------------------------------------------------------------------

describe.each(BYTES_TARGETS)('fuzz $name', (target) => {
  const codes = target.codes ?? PROTOCOL_CODES;
  const kinds = 2 + target.trees.length;
  const runs = Math.ceil(fuzzRuns(target.short ?? SHORT_RUNS) / kinds);

  it('accepts its valid inputs', () => {
    for (const valid of target.valid) expect(outcome(() => target.run(valid), codes, target.name)).toBe('ok');
  });

  it(`arbitrary bytes (${runs} cases)`, () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      // A plausible start (a tagged COSE array, a map) so more cases get past the first byte.
      fc
        .tuple(fc.constantFrom(0xd2, 0x84, 0xa4, 0xa5, 0xa6, 0x98), fc.uint8Array({ maxLength: 400 }))
        .map(([first, rest]) => new Uint8Array([first, ...rest])),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        outcome(() => target.run(b), codes, target.name);
      }),
      params(runs),
    );
  });

  it(`edits of valid bytes (${runs} cases)`, () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.nat(), byteEdits, (which, edits) => {
        const base = target.valid[which % target.valid.length] as Uint8Array;
        seen.add(outcome(() => target.run(applyByteEdits(base, edits)), codes, target.name));
      }),
      params(runs),
    );
    expect([...seen].some((c) => c !== 'ok')).toBe(true);
  });

  for (const view of target.trees) {
    it(`structured mutations: ${view.name} (${runs} cases)`, () => {
      const trees = target.valid.map(view.of);
      const seen = new Set<string>();
      fc.assert(
        fc.property(fc.nat(), treeEdits(), (which, edits) => {
          const bytes = view.build(applyTreeEdits(trees[which % trees.length], edits));
          if (bytes === undefined) return;
          seen.add(outcome(() => target.run(bytes), codes, target.name));
        }),
        params(runs),
      );
      expect([...seen].some((c) => c !== 'ok')).toBe(true);
    });
  }
});

describe.each(VALUE_TARGETS)('fuzz $name', (target) => {
  const codes = target.codes ?? PROTOCOL_CODES;
  // Bodies have one target per type: fewer cases each in the short run.
  const short = target.name.startsWith('decodeBody(') ? 800 : SHORT_RUNS;
  const runs = Math.ceil(fuzzRuns(short) / 2);

  it('accepts its valid inputs', () => {
    for (const valid of target.valid) expect(outcome(() => target.run(valid), codes, target.name)).toBe('ok');
  });

  it(`arbitrary values (${runs} cases)`, () => {
    fc.assert(
      fc.property(target.values, (v) => {
        outcome(() => target.run(v), codes, target.name);
      }),
      params(runs),
    );
  });

  it(`structured mutations of valid values (${runs} cases)`, () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.nat(), treeEdits(target.values), (which, edits) => {
        const value = applyTreeEdits(target.valid[which % target.valid.length], edits);
        seen.add(outcome(() => target.run(value), codes, target.name));
      }),
      params(runs),
    );
    expect([...seen].some((c) => c !== 'ok')).toBe(true);
  });
});

describe.each(STRING_TARGETS)('fuzz $name', (target) => {
  const runs = Math.ceil(fuzzRuns(SHORT_RUNS) / 2);

  it('accepts its valid inputs', () => {
    for (const valid of target.valid)
      expect(outcome(() => target.run(valid), PROTOCOL_CODES, target.name)).toBe('ok');
  });

  it(`arbitrary strings (${runs} cases)`, () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 400 }),
      fc.array(fc.constantFrom(...target.alphabet), { maxLength: 200 }).map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(text, (s) => {
        outcome(() => target.run(s), PROTOCOL_CODES, target.name);
      }),
      params(runs),
    );
  });

  it(`edits of valid strings (${runs} cases)`, () => {
    const edit = fc.record({
      which: fc.nat(),
      at: fc.nat(),
      cut: fc.nat({ max: 24 }),
      insert: fc.array(fc.constantFrom(...target.alphabet), { maxLength: 4 }).map((p) => p.join('')),
    });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        let s = target.valid[(edits[0] as { which: number }).which % target.valid.length] as string;
        for (const { at, cut, insert } of edits) {
          const i = at % (s.length + 1);
          s = s.slice(0, i) + insert + s.slice(Math.min(s.length, i + cut));
        }
        outcome(() => target.run(s), PROTOCOL_CODES, target.name);
      }),
      params(runs),
    );
  });
});

it('the valid samples are what they claim (the table is sane)', () => {
  expect(encodeCbor(decodeCbor(readingBytes))).toEqual(readingBytes);
  expect(verifyReceipt(receiptJson, authorities, nodeBackend).leafIndex).toBe(2);
  expect(verifyConsistencyBundle(bundleJson, authorities, nodeBackend).size2).toBe(7);
});
