/**
 * Typed decoders and encoders of every transaction body (DESIGN §4). Each decoder reads a
 * closed map through `Fields`, with bounds on every field, so a bad body is refused with a
 * coded error naming the field (`body.devs[3]`). Each encoder is the decoder's inverse.
 * Rules that need the ledger's state (does the device exist, ...) live in the state machine.
 */

import { Fields, type TextRule } from '../decode/fields.js';
import { ID_MAX_LENGTH } from '../decode/limits.js';
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { DEVICE_ID_PATTERN, ID_PATTERN } from '../ids.js';
import {
  ACTION_TYPES,
  type Action,
  type ActionType,
  DEFAULT_POLICY_MODEL,
  ENROLMENT_MODES,
  type EnvelopeType,
  type Policy,
  type RolloutTarget,
  type TxBodies,
  UPDATE_STATES,
} from './types.js';

/** Bounds shared by the bodies; frozen so every side agrees. */
export const TX_LIMITS = Object.freeze({
  /** Device ids per access grant/revoke and per rollout target list. */
  maxDevices: 1024,
  maxModels: 64,
  maxApprovers: 64,
  maxWaves: 32,
  /** Approvals and thresholds: small numbers of people. */
  maxThreshold: 255,
  /** A manifest or rotation proof (COSE_Sign1 of a small map). */
  maxCoseBytes: 2048,
  maxReason: 256,
});

/** Bare principal ids (after `admin:` ...) and model ids: ids.ts's ID_PATTERN (DESIGN §3). */
export const ID_RULE: TextRule = Object.freeze({ min: 1, max: ID_MAX_LENGTH, pattern: ID_PATTERN });
/** Device ids: ids.ts's DEVICE_ID_PATTERN (`enrol` is reserved). */
export const DEVICE_RULE: TextRule = Object.freeze({
  min: 1,
  max: ID_MAX_LENGTH,
  pattern: DEVICE_ID_PATTERN,
});
const MODEL_RULE = ID_RULE;
const REASON_RULE: TextRule = Object.freeze({ min: 1, max: TX_LIMITS.maxReason });
/** Coded reasons a device reports, like `MG_ERR_BAD_DIGEST`. */
const ERROR_CODE_RULE: TextRule = Object.freeze({ min: 1, max: 64, pattern: /^[A-Z0-9_]+$/ });
const PUB = Object.freeze({ len: 32 });
const ID32 = Object.freeze({ len: 32 });
const COSE = Object.freeze({ min: 1, max: TX_LIMITS.maxCoseBytes });
const THRESHOLD = Object.freeze({ min: 1, max: TX_LIMITS.maxThreshold });

function badField(field: string, message: string, got?: unknown): MedgateError {
  return new MedgateError(ProtocolErrorCode.BAD_FIELD, `${field}: ${message}`, { field, got });
}

/** A text field that must be one of `allowed`. */
export function oneOf<T extends string>(f: Fields, key: string, allowed: readonly T[]): T {
  const value = f.text(key, { min: 1, max: 32 });
  if (!(allowed as readonly string[]).includes(value)) {
    throw badField(f.at(key), `must be one of ${allowed.join(', ')}`, value);
  }
  return value as T;
}

/** An array of distinct texts, each matching `rule` (duplicates would count twice). */
function distinctTexts(f: Fields, key: string, rule: TextRule, max: number): string[] {
  const items = f.array(key, { min: 1, max });
  const seen = new Set<string>();
  return items.map((item, i) => {
    const field = `${f.at(key)}[${i}]`;
    if (typeof item !== 'string') throw badField(field, 'must be a text string');
    if (item.length < (rule.min ?? 0) || item.length > rule.max || !(rule.pattern?.test(item) ?? true)) {
      throw badField(field, 'is not a valid id (1 to 64 of A-Za-z0-9._-)', item);
    }
    if (seen.has(item)) throw badField(field, 'is listed twice', item);
    seen.add(item);
    return item;
  });
}

function maybe<T>(f: Fields, key: string, read: () => T): T | undefined {
  return f.has(key) ? read() : undefined;
}

/** Puts `value` under `key` unless it is undefined (optional fields are absent, never null). */
function put(map: Map<string, unknown>, key: string, value: unknown): Map<string, unknown> {
  if (value !== undefined) map.set(key, value);
  return map;
}

interface Codec<T> {
  readonly keys: readonly string[];
  decode(f: Fields): T;
  encode(body: T): Map<string, unknown>;
}

const POLICY_KEYS = ['approvals', 'approvers', 'enrolment', 'maxWaveSize', 'maxFailures'] as const;

/** Decodes a Policy map (policy.set bodies and the genesis config share it). */
export function decodePolicy(f: Fields): Policy {
  const approvals = f.uint('approvals', THRESHOLD);
  const raw = f.raw('approvers');
  const approvers =
    raw === 'all' ? ('all' as const) : distinctTexts(f, 'approvers', ID_RULE, TX_LIMITS.maxApprovers);
  if (approvers !== 'all' && approvals > approvers.length) {
    throw badField(f.at('approvals'), 'exceeds the number of listed approvers', approvals);
  }
  return {
    approvals,
    approvers,
    enrolment: oneOf(f, 'enrolment', ENROLMENT_MODES),
    maxWaveSize: f.uint('maxWaveSize', { min: 1 }),
    maxFailures: f.uint('maxFailures', { min: 1 }),
  };
}

export function encodePolicy(policy: Policy): Map<string, unknown> {
  return new Map<string, unknown>([
    ['approvals', policy.approvals],
    ['approvers', policy.approvers === 'all' ? 'all' : [...policy.approvers]],
    ['enrolment', policy.enrolment],
    ['maxWaveSize', policy.maxWaveSize],
    ['maxFailures', policy.maxFailures],
  ]);
}

function decodeTarget(f: Fields): RolloutTarget {
  const t = f.map('target', ['devs', 'cohort']);
  if (t.has('devs') === t.has('cohort')) {
    throw badField(f.at('target'), 'must hold exactly one of devs, cohort');
  }
  if (t.has('cohort')) return { cohort: oneOf(t, 'cohort', ['all'] as const) };
  return { devs: distinctTexts(t, 'devs', DEVICE_RULE, TX_LIMITS.maxDevices) };
}

const codecs: { readonly [K in EnvelopeType]: Codec<TxBodies[K]> } = {
  'device.enrol': {
    keys: ['dev', 'pub', 'model'],
    decode: (f) => ({
      dev: f.text('dev', DEVICE_RULE),
      pub: f.bytes('pub', PUB),
      model: f.text('model', MODEL_RULE),
    }),
    encode: (b) =>
      new Map<string, unknown>([
        ['dev', b.dev],
        ['pub', b.pub],
        ['model', b.model],
      ]),
  },
  'device.approve': {
    keys: ['dev'],
    decode: (f) => ({ dev: f.text('dev', DEVICE_RULE) }),
    encode: (b) => new Map<string, unknown>([['dev', b.dev]]),
  },
  'device.revoke': {
    keys: ['dev', 'reason'],
    decode: (f) => {
      const dev = f.text('dev', DEVICE_RULE);
      const reason = maybe(f, 'reason', () => f.text('reason', REASON_RULE));
      return reason === undefined ? { dev } : { dev, reason };
    },
    encode: (b) => put(new Map<string, unknown>([['dev', b.dev]]), 'reason', b.reason),
  },
  'device.rotate': {
    keys: ['pub', 'proof'],
    decode: (f) => ({ pub: f.bytes('pub', PUB), proof: f.bytes('proof', COSE) }),
    encode: (b) =>
      new Map<string, unknown>([
        ['pub', b.pub],
        ['proof', b.proof],
      ]),
  },
  'clinician.register': {
    keys: ['id', 'pub'],
    decode: (f) => ({ id: f.text('id', ID_RULE), pub: f.bytes('pub', PUB) }),
    encode: (b) =>
      new Map<string, unknown>([
        ['id', b.id],
        ['pub', b.pub],
      ]),
  },
  'access.grant': {
    keys: ['clinician', 'devs'],
    decode: (f) => ({
      clinician: f.text('clinician', ID_RULE),
      devs: distinctTexts(f, 'devs', DEVICE_RULE, TX_LIMITS.maxDevices),
    }),
    encode: (b) =>
      new Map<string, unknown>([
        ['clinician', b.clinician],
        ['devs', [...b.devs]],
      ]),
  },
  'access.revoke': {
    keys: ['clinician', 'devs'],
    decode: (f) => ({
      clinician: f.text('clinician', ID_RULE),
      devs: distinctTexts(f, 'devs', DEVICE_RULE, TX_LIMITS.maxDevices),
    }),
    encode: (b) =>
      new Map<string, unknown>([
        ['clinician', b.clinician],
        ['devs', [...b.devs]],
      ]),
  },
  'firmware.release': {
    keys: ['manifest'],
    decode: (f) => ({ manifest: f.bytes('manifest', COSE) }),
    encode: (b) => new Map<string, unknown>([['manifest', b.manifest]]),
  },
  'proposal.create': {
    keys: ['action', 'expires'],
    decode: (f) => ({ action: decodeAction(f.raw('action'), f.at('action')), expires: f.uint('expires') }),
    encode: (b) =>
      new Map<string, unknown>([
        ['action', encodeAction(b.action)],
        ['expires', b.expires],
      ]),
  },
  'proposal.approve': {
    keys: ['proposal'],
    decode: (f) => ({ proposal: f.bytes('proposal', ID32) }),
    encode: (b) => new Map<string, unknown>([['proposal', b.proposal]]),
  },
  'rollout.halt': {
    keys: ['rollout', 'reason'],
    decode: (f) => {
      const rollout = f.bytes('rollout', ID32);
      const reason = maybe(f, 'reason', () => f.text('reason', REASON_RULE));
      return reason === undefined ? { rollout } : { rollout, reason };
    },
    encode: (b) => put(new Map<string, unknown>([['rollout', b.rollout]]), 'reason', b.reason),
  },
  'update.report': {
    keys: ['rollout', 'state', 'seq', 'error'],
    decode: (f) => {
      const body = {
        rollout: f.bytes('rollout', ID32),
        state: oneOf(f, 'state', UPDATE_STATES),
        seq: f.uint('seq'),
      };
      const error = maybe(f, 'error', () => f.text('error', ERROR_CODE_RULE));
      if (error === undefined) return body;
      // A reason explains an ending that went wrong, never progress or success.
      if (body.state !== 'failed' && body.state !== 'rolledBack') {
        throw badField(f.at('error'), 'only failed and rolledBack reports carry an error', body.state);
      }
      return { ...body, error };
    },
    encode: (b) =>
      put(
        new Map<string, unknown>([
          ['rollout', b.rollout],
          ['state', b.state],
          ['seq', b.seq],
        ]),
        'error',
        b.error,
      ),
  },
  'admin.add': {
    keys: ['id', 'pub'],
    decode: (f) => ({ id: f.text('id', ID_RULE), pub: f.bytes('pub', PUB) }),
    encode: (b) =>
      new Map<string, unknown>([
        ['id', b.id],
        ['pub', b.pub],
      ]),
  },
  'admin.remove': {
    keys: ['id'],
    decode: (f) => ({ id: f.text('id', ID_RULE) }),
    encode: (b) => new Map<string, unknown>([['id', b.id]]),
  },
  'governance.set': {
    keys: ['threshold'],
    decode: (f) => ({ threshold: f.uint('threshold', THRESHOLD) }),
    encode: (b) => new Map<string, unknown>([['threshold', b.threshold]]),
  },
  'vendor.register': {
    keys: ['id', 'pub', 'models'],
    decode: (f) => ({
      id: f.text('id', ID_RULE),
      pub: f.bytes('pub', PUB),
      models: distinctTexts(f, 'models', MODEL_RULE, TX_LIMITS.maxModels),
    }),
    encode: (b) =>
      new Map<string, unknown>([
        ['id', b.id],
        ['pub', b.pub],
        ['models', [...b.models]],
      ]),
  },
  'policy.set': {
    keys: ['model', ...POLICY_KEYS],
    decode: (f) => {
      const model = f.text('model', { min: 1, max: 64 });
      if (model !== DEFAULT_POLICY_MODEL) f.text('model', MODEL_RULE);
      return { model, policy: decodePolicy(f) };
    },
    encode: (b) => new Map<string, unknown>([['model', b.model], ...encodePolicy(b.policy)]),
  },
  'rollout.authorize': {
    keys: ['manifest', 'model', 'target', 'notBefore', 'expires', 'waves', 'maxFailures'],
    decode: (f) => {
      const notBefore = f.uint('notBefore');
      const expires = f.uint('expires');
      if (expires <= notBefore) throw badField(f.at('expires'), 'must be after notBefore', expires);
      const waves = f.array('waves', { min: 1, max: TX_LIMITS.maxWaves }).map((w, i) => {
        if (typeof w !== 'number' || !Number.isSafeInteger(w) || w < 1) {
          throw badField(`${f.at('waves')}[${i}]`, 'must be an integer >= 1');
        }
        return w;
      });
      const target = decodeTarget(f);
      // Every listed device must fall in some wave.
      const covered = waves.reduce((a, b) => a + b, 0);
      if ('devs' in target && covered < target.devs.length) {
        throw badField(
          f.at('waves'),
          `waves hold ${covered} devices, fewer than the ${target.devs.length} targets`,
        );
      }
      return {
        manifest: f.bytes('manifest', ID32),
        model: f.text('model', MODEL_RULE),
        target,
        notBefore,
        expires,
        waves,
        maxFailures: f.uint('maxFailures', { min: 1 }),
      };
    },
    encode: (b) =>
      new Map<string, unknown>([
        ['manifest', b.manifest],
        ['model', b.model],
        [
          'target',
          'cohort' in b.target
            ? new Map([['cohort', b.target.cohort]])
            : new Map([['devs', [...b.target.devs]]]),
        ],
        ['notBefore', b.notBefore],
        ['expires', b.expires],
        ['waves', [...b.waves]],
        ['maxFailures', b.maxFailures],
      ]),
  },
};

/** Freezes the plain objects and arrays of a decoded body (byte strings stay as decoded). */
function freezeDeep<T>(value: T): T {
  if (
    value !== null &&
    typeof value === 'object' &&
    !(value instanceof Uint8Array) &&
    !Object.isFrozen(value)
  ) {
    for (const item of Object.values(value)) freezeDeep(item);
    Object.freeze(value);
  }
  return value;
}

/**
 * Decodes the body of a transaction of type `type` (already checked to be an EnvelopeType).
 * The result is frozen: the ledger state keeps parts of it (proposal actions, rollout targets).
 */
export function decodeBody<K extends EnvelopeType>(type: K, value: unknown, path = 'body'): TxBodies[K] {
  const codec = codecs[type] as unknown as Codec<TxBodies[K]>;
  return freezeDeep(codec.decode(Fields.of(value, path, codec.keys)));
}

/** The CBOR map of a body (the decoder's inverse). */
export function encodeBody<K extends EnvelopeType>(type: K, body: TxBodies[K]): Map<string, unknown> {
  return (codecs[type] as unknown as Codec<TxBodies[K]>).encode(body);
}

/** Decodes a proposal's action `{type, body}`; only threshold actions may be proposed. */
export function decodeAction(value: unknown, path: string): Action {
  const f = Fields.of(value, path, ['type', 'body']);
  const type: ActionType = oneOf(f, 'type', ACTION_TYPES);
  return { type, body: decodeBody(type, f.raw('body'), f.at('body')) } as Action;
}

export function encodeAction(action: Action): Map<string, unknown> {
  return new Map<string, unknown>([
    ['type', action.type],
    ['body', encodeBody(action.type, action.body)],
  ]);
}
