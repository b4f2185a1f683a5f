/**
 * The genesis config (DESIGN §2): chain id, authority keys, admins with the governance
 * threshold, initial vendors and policies. It is the first thing on the chain and the root of
 * all trust, so it is decoded as strictly as any transaction: a closed CBOR map, every field
 * bounded, and the whole checked for consistency (every threshold reachable, every key
 * distinct, a default policy present) before a State is built from it.
 *
 * CBOR shape: `{"v": 1, "chain": tstr, "authorities": [bstr(32)], "admins": [{"id", "pub"}],
 * "threshold": uint, "vendors": [{"id", "pub", "models": [tstr]}], "policies": [{"model", ...Policy}]}`.
 */
import { decodeCbor, encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { checkForEncoding, Fields } from '../../firmware-ts/protocol/decode/fields.js';
import { MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { decodeBody, encodeBody, TX_LIMITS } from '../../firmware-ts/protocol/tx/bodies.js';
import { CHAIN_ID_RULE } from '../../firmware-ts/protocol/tx/envelope.js';
import {
  type AdminAddBody,
  DEFAULT_POLICY_MODEL,
  type PolicySetBody,
  type VendorRegisterBody,
} from '../../firmware-ts/protocol/tx/types.js';
import { assertSatisfiable, claimKey, type Draft, freeze, hex } from './state/common.js';
import { refuse, StateErrorCode } from './state/errors.js';
import { freezePolicy } from './state/rules-governance.js';
import { emptyState, type Stamp, type State } from './state/state.js';

export interface GenesisConfig {
  readonly chain: string;
  readonly authorities: readonly Uint8Array[];
  readonly admins: readonly AdminAddBody[];
  readonly threshold: number;
  readonly vendors: readonly VendorRegisterBody[];
  readonly policies: readonly PolicySetBody[];
}

export const GENESIS_LIMITS = Object.freeze({
  maxAuthorities: 8,
  maxAdmins: 64,
  maxVendors: 256,
  maxPolicies: 256,
});

export const GENESIS_CBOR_LIMITS = Object.freeze({
  maxBytes: 256 * 1024,
  maxDepth: 4,
  maxStringBytes: 64,
  maxItems: 256,
});

const KEYS = Object.freeze([
  'v',
  'chain',
  'authorities',
  'admins',
  'threshold',
  'vendors',
  'policies',
] as const);

/** Decodes and checks a genesis config (a decoded CBOR map); coded errors name the field. */
export function decodeGenesis(value: unknown): GenesisConfig {
  const f = Fields.of(value, '', KEYS);
  f.uint('v', { min: 1, max: 1 });
  const config: GenesisConfig = freeze({
    chain: f.text('chain', CHAIN_ID_RULE),
    authorities: f.list('authorities', { min: 1, max: GENESIS_LIMITS.maxAuthorities }, (item, path) => {
      if (!(item instanceof Uint8Array) || item.length !== 32) {
        throw new MedgateError(ProtocolErrorCode.BAD_FIELD, `${path}: must be a 32-byte public key`, {
          field: path,
        });
      }
      return item;
    }),
    admins: f.list('admins', { min: 1, max: GENESIS_LIMITS.maxAdmins }, (item, path) =>
      decodeBody('admin.add', item, path),
    ),
    threshold: f.uint('threshold', { min: 1, max: TX_LIMITS.maxThreshold }),
    vendors: f.list('vendors', { max: GENESIS_LIMITS.maxVendors }, (item, path) =>
      decodeBody('vendor.register', item, path),
    ),
    policies: f.list('policies', { min: 1, max: GENESIS_LIMITS.maxPolicies }, (item, path) =>
      decodeBody('policy.set', item, path),
    ),
  });
  genesisState(config); // consistency: throws the first rule the config breaks
  return config;
}

export function decodeGenesisBytes(bytes: Uint8Array): GenesisConfig {
  return decodeGenesis(decodeCbor(bytes, GENESIS_CBOR_LIMITS));
}

/** Deterministic CBOR of a genesis config; MG_ERR_BAD_ARGUMENT if it would not decode. */
export function encodeGenesis(config: GenesisConfig): Uint8Array {
  const map = new Map<string, unknown>([
    ['v', 1],
    ['chain', config.chain],
    ['authorities', [...config.authorities]],
    ['admins', config.admins.map((a) => encodeBody('admin.add', a))],
    ['threshold', config.threshold],
    ['vendors', config.vendors.map((v) => encodeBody('vendor.register', v))],
    ['policies', config.policies.map((p) => encodeBody('policy.set', p))],
  ]);
  checkForEncoding(map, decodeGenesis);
  return encodeCbor(map);
}

function badGenesis(field: string, message: string): Error {
  return refuse(StateErrorCode.BAD_GENESIS, `genesis ${field}: ${message}`, { field });
}

function unique(ids: readonly string[], field: string): void {
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    if (seen.has(id)) throw badGenesis(`${field}[${i}]`, `${id} is listed twice`);
    seen.add(id);
  });
}

/**
 * The State at height 0. `time` is the genesis block's time (the stamp of every genesis
 * principal). Throws the first consistency rule the config breaks.
 */
export function genesisState(config: GenesisConfig, time = 0): State {
  const at: Stamp = freeze({ height: 0, time });
  const d: Draft = { ...emptyState(config.chain), time, threshold: config.threshold };
  unique(
    config.authorities.map((a) => hex(a)),
    'authorities',
  );
  // Authority keys sign blocks only; binding them keeps any principal from reusing one.
  for (const pub of config.authorities) claimKey(d, pub, 'authority');
  d.authorities = freeze([...config.authorities]);
  unique(
    config.admins.map((a) => a.id),
    'admins',
  );
  for (const { id, pub } of config.admins) {
    const kid = claimKey(d, pub, `admin:${id}`);
    d.admins = d.admins.set(id, freeze({ id, pub, kid, since: at }));
  }
  unique(
    config.vendors.map((v) => v.id),
    'vendors',
  );
  for (const { id, pub, models } of config.vendors) {
    const kid = claimKey(d, pub, `vendor:${id}`);
    d.vendors = d.vendors.set(id, freeze({ id, pub, kid, models: freeze([...models]), since: at }));
  }
  unique(
    config.policies.map((p) => p.model),
    'policies',
  );
  config.policies.forEach(({ model, policy }, i) => {
    if (policy.approvers !== 'all') {
      for (const admin of policy.approvers) {
        if (!d.admins.has(admin)) throw badGenesis(`policies[${i}].approvers`, `${admin} is not an admin`);
      }
    }
    d.policies = d.policies.set(model, freezePolicy(policy));
  });
  if (!d.policies.has(DEFAULT_POLICY_MODEL)) {
    throw badGenesis('policies', `a default policy (model "${DEFAULT_POLICY_MODEL}") is required`);
  }
  assertSatisfiable(d);
  return freeze(d);
}
