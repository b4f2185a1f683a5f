import { describe, expect, it } from 'vitest';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { encodeAttestation } from '../../firmware-ts/protocol/decode/attestation.js';
import { encodeEnrolRequest } from '../../firmware-ts/protocol/decode/enrol.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { isMedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { actorOf, parseActor } from '../../firmware-ts/protocol/tx/actor.js';
import { decodeBody, encodeBody } from '../../firmware-ts/protocol/tx/bodies.js';
import { decodeLedgerEntry, entryType } from '../../firmware-ts/protocol/tx/entry.js';
import { decodeEnvelope, encodeEnvelope } from '../../firmware-ts/protocol/tx/envelope.js';
import { decodeManifest, encodeManifest } from '../../firmware-ts/protocol/tx/manifest.js';
import { decodeRotateProof } from '../../firmware-ts/protocol/tx/rotate.js';
import {
  decodeManifestCose,
  decodeRotateProofCose,
  decodeTx,
  encodeTx,
  signManifest,
  signRotateProof,
  signTx,
} from '../../firmware-ts/protocol/tx/sign.js';
import { ACTION_TYPES, type EnvelopeType, TX_TYPES, type Tx } from '../../firmware-ts/protocol/tx/types.js';
import { CHAIN, keyFor } from './state-harness.js';
import { SAMPLE_BODIES } from './tx-samples.js';

function codeOf(fn: () => unknown): { code?: string; field?: string } {
  try {
    fn();
  } catch (err) {
    if (isMedgateError(err)) return { code: err.code, field: err.field };
    throw err;
  }
  return {};
}

const tx = <K extends EnvelopeType>(type: K, body = SAMPLE_BODIES[type]): Tx =>
  ({ type, chain: CHAIN, actor: 'admin:a', nonce: 1, t: 2, body }) as Tx;

/** Body of `type` with `key` replaced (or removed when value is undefined). */
function bodyWith(type: EnvelopeType, key: string, value: unknown): Map<string, unknown> {
  const map = encodeBody(type, SAMPLE_BODIES[type] as never);
  if (value === undefined) map.delete(key);
  else map.set(key, value);
  return map;
}

describe('transaction envelope and bodies', () => {
  it.each([...TX_TYPES, ...ACTION_TYPES])('round-trips %s through sign and decode', (type) => {
    const t = tx(type);
    const bytes = signTx(t, keyFor('admin:a').signer);
    const decoded = decodeTx(bytes);
    expect(decoded.kind).toBe('tx');
    expect(decoded.tx).toEqual(t);
    expect(encodeTx(decoded.tx)).toEqual(decoded.cose.payload);
    expect(decodeLedgerEntry(bytes)).toEqual(decoded);
    expect(entryType(decoded)).toBe(type);
  });

  it('signs the same bytes with the node and the noble backends (RFC 8032 is deterministic)', () => {
    const t = tx('device.enrol');
    expect(signTx(t, keyFor('admin:a').signer)).toEqual(signTx(t, keyFor('admin:a', nobleBackend).signer));
  });

  it("recognises a device's self-enrolment request as a ledger entry", () => {
    const dev = keyFor('dev-s');
    const att = signCoseSign1(
      encodeAttestation({ dev: 'dev-s', pub: dev.pub, model: 'm1' }),
      keyFor('vendor:acme').signer,
      chainAad(CHAIN),
    );
    const payload = encodeEnrolRequest({
      dev: 'dev-s',
      pub: dev.pub,
      model: 'm1',
      t: 5,
      nonce: new Uint8Array(16),
      att,
    });
    const entry = decodeLedgerEntry(signCoseSign1(payload, dev.signer, chainAad(CHAIN)));
    expect(entry.kind).toBe('enrol');
    expect(entryType(entry)).toBe('device.enrol.self');
    if (entry.kind === 'enrol') expect(entry.request.dev).toBe('dev-s');
    // Any other purpose is refused as such.
    const connect = encodeCbor(
      new Map<string, unknown>([
        ['purpose', 'connect'],
        ['dev', 'x'],
        ['t', 1],
        ['nonce', new Uint8Array(16)],
      ]),
    );
    expect(codeOf(() => decodeLedgerEntry(signCoseSign1(connect, dev.signer, chainAad(CHAIN)))).code).toBe(
      ProtocolErrorCode.BAD_PURPOSE,
    );
  });

  it('refuses malformed envelopes naming the field', () => {
    const env = encodeEnvelope(tx('device.approve'));
    const withKey = (key: string, value: unknown) => new Map([...env, [key, value]]);
    expect(codeOf(() => decodeEnvelope(withKey('type', 'device.explode')))).toEqual({
      code: ProtocolErrorCode.BAD_FIELD,
      field: 'type',
    });
    expect(codeOf(() => decodeEnvelope(withKey('type', 'device.enrol.self')))).toMatchObject({
      field: 'type',
    });
    // A bare id is a device actor: structurally fine, the state machine decides who may sign what.
    expect(decodeEnvelope(withKey('actor', 'root')).actor).toBe('root');
    expect(codeOf(() => decodeEnvelope(withKey('actor', 'root:x')))).toEqual({
      code: ProtocolErrorCode.BAD_FIELD,
      field: 'actor',
    });
    expect(codeOf(() => decodeEnvelope(withKey('actor', 'admin:')))).toEqual({
      code: ProtocolErrorCode.BAD_FIELD,
      field: 'actor',
    });
    expect(codeOf(() => decodeEnvelope(withKey('nonce', -1)))).toEqual({
      code: ProtocolErrorCode.BAD_FIELD,
      field: 'nonce',
    });
    expect(codeOf(() => decodeEnvelope(withKey('t', 1.5)))).toEqual({
      code: ProtocolErrorCode.BAD_FIELD,
      field: 't',
    });
    expect(codeOf(() => decodeEnvelope(withKey('chain', '')))).toEqual({
      code: ProtocolErrorCode.BAD_FIELD,
      field: 'chain',
    });
    expect(codeOf(() => decodeEnvelope(withKey('extra', 1)))).toEqual({
      code: ProtocolErrorCode.UNKNOWN_FIELD,
      field: 'extra',
    });
    const noBody = new Map(env);
    noBody.delete('body');
    expect(codeOf(() => decodeEnvelope(noBody))).toEqual({
      code: ProtocolErrorCode.MISSING_FIELD,
      field: 'body',
    });
    expect(codeOf(() => decodeEnvelope([1]))).toMatchObject({ code: ProtocolErrorCode.BAD_FIELD });
  });

  it('refuses bad bodies with bounds on every field', () => {
    const cases: [EnvelopeType, string, unknown, string, string][] = [
      ['device.enrol', 'dev', 'enrol', ProtocolErrorCode.BAD_FIELD, 'body.dev'],
      ['device.enrol', 'dev', 'a'.repeat(65), ProtocolErrorCode.BAD_FIELD, 'body.dev'],
      ['device.enrol', 'pub', new Uint8Array(31), ProtocolErrorCode.BAD_FIELD, 'body.pub'],
      ['device.enrol', 'extra', 1, ProtocolErrorCode.UNKNOWN_FIELD, 'body.extra'],
      ['device.enrol', 'model', undefined, ProtocolErrorCode.MISSING_FIELD, 'body.model'],
      ['access.grant', 'devs', ['d1', 'd1'], ProtocolErrorCode.BAD_FIELD, 'body.devs[1]'],
      ['access.grant', 'devs', [], ProtocolErrorCode.BAD_FIELD, 'body.devs'],
      [
        'access.grant',
        'devs',
        Array.from({ length: 1025 }, (_, i) => `d${i}`),
        ProtocolErrorCode.BAD_FIELD,
        'body.devs',
      ],
      ['update.report', 'state', 'exploded', ProtocolErrorCode.BAD_FIELD, 'body.state'],
      ['update.report', 'error', 'lower case', ProtocolErrorCode.BAD_FIELD, 'body.error'],
      ['update.report', 'rollout', new Uint8Array(16), ProtocolErrorCode.BAD_FIELD, 'body.rollout'],
      ['governance.set', 'threshold', 0, ProtocolErrorCode.BAD_FIELD, 'body.threshold'],
      ['policy.set', 'approvals', 3, ProtocolErrorCode.BAD_FIELD, 'body.approvals'],
      ['policy.set', 'approvers', 'some', ProtocolErrorCode.BAD_FIELD, 'body.approvers'],
      ['policy.set', 'enrolment', 'maybe', ProtocolErrorCode.BAD_FIELD, 'body.enrolment'],
      ['policy.set', 'model', '**', ProtocolErrorCode.BAD_FIELD, 'body.model'],
      ['rollout.authorize', 'expires', 10, ProtocolErrorCode.BAD_FIELD, 'body.expires'],
      ['rollout.authorize', 'waves', [1, 1], ProtocolErrorCode.BAD_FIELD, 'body.waves'],
      ['rollout.authorize', 'waves', [0, 5], ProtocolErrorCode.BAD_FIELD, 'body.waves[0]'],
      ['rollout.authorize', 'target', new Map(), ProtocolErrorCode.BAD_FIELD, 'body.target'],
      [
        'rollout.authorize',
        'target',
        new Map([['cohort', 'half']]),
        ProtocolErrorCode.BAD_FIELD,
        'body.target.cohort',
      ],
      ['rollout.authorize', 'maxFailures', 0, ProtocolErrorCode.BAD_FIELD, 'body.maxFailures'],
      ['firmware.release', 'manifest', new Uint8Array(2049), ProtocolErrorCode.BAD_FIELD, 'body.manifest'],
      ['vendor.register', 'models', ['m1', 'bad model'], ProtocolErrorCode.BAD_FIELD, 'body.models[1]'],
    ];
    for (const [type, key, value, code, field] of cases) {
      expect(
        codeOf(() => decodeBody(type, bodyWith(type, key, value))),
        `${type}.${key}`,
      ).toEqual({ code, field });
    }
    // An error reason belongs to failed / rolledBack reports only.
    const ok = bodyWith('update.report', 'state', 'confirmed');
    expect(codeOf(() => decodeBody('update.report', ok))).toEqual({
      code: ProtocolErrorCode.BAD_FIELD,
      field: 'body.error',
    });
    // Proposals carry threshold actions only.
    const action = new Map<string, unknown>([
      ['type', 'device.approve'],
      ['body', new Map([['dev', 'x']])],
    ]);
    expect(
      codeOf(() => decodeBody('proposal.create', bodyWith('proposal.create', 'action', action))),
    ).toEqual({
      code: ProtocolErrorCode.BAD_FIELD,
      field: 'body.action.type',
    });
    const nested = new Map<string, unknown>([
      ['type', 'governance.set'],
      ['body', new Map([['threshold', 'two']])],
    ]);
    expect(
      codeOf(() => decodeBody('proposal.create', bodyWith('proposal.create', 'action', nested))),
    ).toEqual({
      code: ProtocolErrorCode.BAD_FIELD,
      field: 'body.action.body.threshold',
    });
  });

  it('refuses to sign what it would refuse to decode', () => {
    const bad = { ...tx('device.enrol'), body: { dev: 'x', pub: new Uint8Array(3), model: 'm1' } } as Tx;
    expect(codeOf(() => signTx(bad, keyFor('admin:a').signer))).toMatchObject({
      code: ProtocolErrorCode.BAD_ARGUMENT,
      field: 'body.pub',
    });
  });
});

describe('actors', () => {
  it('parses the four forms and formats them back', () => {
    for (const actor of ['admin:a', 'vendor:acme', 'clinician:dr.who', 'dev-1']) {
      const ref = parseActor(actor);
      expect(actorOf(ref.kind, ref.id)).toBe(actor);
    }
    expect(parseActor('vendor:acme')).toEqual({ kind: 'vendor', id: 'acme' });
    for (const bad of ['', 'enrol', 'admin:..', 'vendor:', 'vendor:a b', 'auditor:x', 'a'.repeat(65)]) {
      expect(codeOf(() => parseActor(bad)).code, bad).toBe(ProtocolErrorCode.BAD_FIELD);
    }
  });
});

describe('manifest and rotation proof', () => {
  const manifest = {
    vendor: 'acme',
    model: 'm1',
    seq: 7,
    version: '1.2.3-rc1',
    digest: new Uint8Array(32).fill(1),
    size: 1234,
    created: 1_700_000_000_000,
  };

  it('signs and decodes a manifest', () => {
    const bytes = signManifest(manifest, keyFor('vendor:acme').signer, CHAIN);
    const { cose, manifest: decoded } = decodeManifestCose(bytes);
    expect(decoded).toEqual(manifest);
    expect(cose.kid).toEqual(keyFor('vendor:acme').kid);
    expect(
      codeOf(() => decodeManifest(new Map([...encodeManifest(manifest), ['digest', new Uint8Array(31)]])))
        .field,
    ).toBe('digest');
    expect(codeOf(() => decodeManifest(new Map([...encodeManifest(manifest), ['size', 0]]))).field).toBe(
      'size',
    );
    expect(
      codeOf(() => decodeManifest(new Map([...encodeManifest(manifest), ['version', 'has space']]))).field,
    ).toBe('version');
    expect(
      codeOf(() => signManifest({ ...manifest, seq: -1 }, keyFor('vendor:acme').signer, CHAIN)).code,
    ).toBe(ProtocolErrorCode.BAD_ARGUMENT);
  });

  it('signs and decodes a rotation proof; another purpose is refused as such', () => {
    const k = keyFor('new');
    const bytes = signRotateProof({ dev: 'dev-1', old: new Uint8Array(16), pub: k.pub }, k.signer, CHAIN);
    expect(decodeRotateProofCose(bytes).proof).toEqual({
      purpose: 'rotate',
      dev: 'dev-1',
      old: new Uint8Array(16),
      pub: k.pub,
    });
    const enrol = new Map<string, unknown>([
      ['purpose', 'enrol'],
      ['dev', 'x'],
      ['old', new Uint8Array(16)],
      ['pub', k.pub],
    ]);
    expect(codeOf(() => decodeRotateProof(enrol)).code).toBe(ProtocolErrorCode.BAD_PURPOSE);
  });
});
