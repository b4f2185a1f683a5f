/**
 * The device's trust bundle (DESIGN §2, update wire format v1) and its signed replacement
 * (TUF root rotation):
 *
 * - bundle: `{"v": 1, "chain": tstr, "seq": uint, "authorities": [bstr32, ...],
 *   "admins": [{"id", "pub"}, ...], "threshold": uint, "vendors": [{"id", "pub", "models"}, ...],
 *   ? "policies": [{"model": tstr, "approvals": uint, ? "approvers": [tstr, ...]}, ...]}`
 * - replacement: `{"bundle": bstr (the encoded bundle), "sigs": [COSE_Sign1, ...]}`, each sig an
 *   admin's COSE_Sign1 whose payload is exactly the bundle bytes, external_aad = the chain id.
 *
 * Who may sign a replacement (distinct admins of the bundle it replaces, at least its
 * threshold, a higher seq, the same chain) is the device's check (firmware-ts/agent/trust.ts).
 * The factory bundle is derived from the genesis config (`buildFactoryBundle`).
 *
 * `policies` are the ledger's per-model rollout policies (DESIGN §4, §5), so that a device counts
 * approvals as the ledger does. They are a copy: a `policy.set` on the ledger after manufacture
 * reaches a device only in a bundle replacement signed by the admins' threshold. A bundle
 * without `policies` (older bundles) leaves the threshold alone in force.
 */
import { abytes, toHex } from '../bytes.js';
import { decodeCbor, encodeCbor } from '../cbor.js';
import { type CoseSigner, chainAad, signCoseSign1 } from '../cose.js';
import { checkForEncoding, Fields } from '../decode/fields.js';
import { ID_MAX_LENGTH } from '../decode/limits.js';
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { ID_PATTERN } from '../ids.js';
import { decodeBody, encodeBody, TX_LIMITS } from '../tx/bodies.js';
import { CHAIN_ID_RULE } from '../tx/envelope.js';
import {
  type AdminAddBody,
  DEFAULT_POLICY_MODEL,
  type PolicySetBody,
  type VendorRegisterBody,
} from '../tx/types.js';
import { BUNDLE_CBOR_LIMITS, REPLACEMENT_CBOR_LIMITS, UPDATE_LIMITS, UPDATE_WIRE_VERSION } from './limits.js';

export const BUNDLE_KEYS = Object.freeze([
  'v',
  'chain',
  'seq',
  'authorities',
  'admins',
  'threshold',
  'vendors',
  'policies',
] as const);
export const POLICY_KEYS = Object.freeze(['model', 'approvals', 'approvers'] as const);
export const REPLACEMENT_KEYS = Object.freeze(['bundle', 'sigs'] as const);

export type BundleAdmin = AdminAddBody;
export type BundleVendor = VendorRegisterBody;

/**
 * A rollout policy as a device enforces it: the ledger's Policy (tx/types.ts) without what only
 * the ledger uses. A rollout of `model` (DEFAULT_POLICY_MODEL '*': every model without an entry
 * of its own) needs `approvals` distinct admins, each one of `approvers` (absent: every admin).
 */
export interface BundlePolicy {
  readonly model: string;
  readonly approvals: number;
  /** Bundle admin ids; undefined means every admin of the bundle. */
  readonly approvers?: readonly string[];
}

export interface TrustBundle {
  readonly chain: string;
  /** Rises with every replacement; the factory bundle has 0. */
  readonly seq: number;
  /** Keys that sign blocks. */
  readonly authorities: readonly Uint8Array[];
  readonly admins: readonly BundleAdmin[];
  /** Distinct admins needed to approve a rollout or sign a replacement bundle. */
  readonly threshold: number;
  readonly vendors: readonly BundleVendor[];
  /** Per-model rollout policies, one of them '*'; absent in older bundles. */
  readonly policies?: readonly BundlePolicy[];
}

export interface BundleReplacement {
  /** The encoded new bundle: what every sig's payload must equal. */
  readonly bundleBytes: Uint8Array;
  /** The new bundle, decoded (not yet trusted). */
  readonly bundle: TrustBundle;
  /** Admin COSE_Sign1s over `bundleBytes` (not yet verified). */
  readonly sigs: readonly Uint8Array[];
}

/** The fields of a genesis config (gateway/ledger/genesis.ts) that a trust bundle needs. */
export interface GenesisTrust {
  readonly chain: string;
  readonly authorities: readonly Uint8Array[];
  readonly admins: readonly BundleAdmin[];
  readonly threshold: number;
  readonly vendors: readonly BundleVendor[];
  /** The genesis policies (gateway GenesisConfig.policies); they become the bundle's policies. */
  readonly policies?: readonly PolicySetBody[];
}

function badField(field: string, message: string): MedgateError {
  return new MedgateError(ProtocolErrorCode.BAD_FIELD, `${field}: ${message}`, { field });
}

function publicKey(item: unknown, path: string): Uint8Array {
  if (!(item instanceof Uint8Array) || item.length !== 32)
    throw badField(path, 'must be a 32-byte public key');
  return item;
}

/** One key, one role: a key listed twice could be counted twice. */
function checkDistinct(bundle: Omit<TrustBundle, 'seq'>): void {
  const keys = new Set<string>();
  const claim = (pub: Uint8Array, field: string) => {
    const hex = toHex(pub);
    if (keys.has(hex)) throw badField(field, 'this key is listed twice');
    keys.add(hex);
  };
  const ids = (items: readonly { id: string }[], field: string) => {
    const seen = new Set<string>();
    items.forEach(({ id }, i) => {
      if (seen.has(id)) throw badField(`${field}[${i}].id`, `${id} is listed twice`);
      seen.add(id);
    });
  };
  bundle.authorities.forEach((pub, i) => {
    claim(pub, `authorities[${i}]`);
  });
  bundle.admins.forEach(({ pub }, i) => {
    claim(pub, `admins[${i}].pub`);
  });
  bundle.vendors.forEach(({ pub }, i) => {
    claim(pub, `vendors[${i}].pub`);
  });
  ids(bundle.admins, 'admins');
  ids(bundle.vendors, 'vendors');
  if (bundle.threshold > bundle.admins.length) {
    throw badField('threshold', `${bundle.threshold} is more than the ${bundle.admins.length} admins`);
  }
  if (bundle.policies !== undefined) checkPolicies(bundle.policies, bundle.admins);
}

/**
 * As the ledger keeps them (gateway genesis.ts, rules-governance.ts policy.set): one entry per
 * model, a default '*' entry, approvers that are admins, and approvals they can reach. A policy
 * with fewer approvers than the bundle threshold is valid here as on the ledger, but a device
 * never counts below the threshold: rollouts of that model cannot install until a bundle fixes it.
 */
function checkPolicies(policies: readonly BundlePolicy[], admins: readonly BundleAdmin[]): void {
  const models = new Set<string>();
  const adminIds = new Set(admins.map((a) => a.id));
  policies.forEach(({ model, approvals, approvers }, i) => {
    const field = `policies[${i}]`;
    if (models.has(model)) throw badField(`${field}.model`, `${model} is listed twice`);
    models.add(model);
    approvers?.forEach((id, j) => {
      if (!adminIds.has(id))
        throw badField(`${field}.approvers[${j}]`, `${id} is not an admin of the bundle`);
    });
    const eligible = approvers?.length ?? admins.length;
    if (approvals > eligible) {
      throw badField(
        `${field}.approvals`,
        `${approvals} is more than the ${eligible} admins who may approve`,
      );
    }
  });
  if (!models.has(DEFAULT_POLICY_MODEL)) {
    throw badField('policies', `a default policy (model "${DEFAULT_POLICY_MODEL}") is required`);
  }
}

function adminId(item: unknown, path: string): string {
  if (typeof item !== 'string' || !ID_PATTERN.test(item)) {
    throw badField(path, 'must be an admin id (1 to 64 of A-Za-z0-9._-)');
  }
  return item;
}

function decodePolicy(item: unknown, path: string): BundlePolicy {
  const f = Fields.of(item, path, POLICY_KEYS);
  const model = f.text('model', { min: 1, max: ID_MAX_LENGTH });
  if (model !== DEFAULT_POLICY_MODEL) f.text('model', { min: 1, max: ID_MAX_LENGTH, pattern: ID_PATTERN });
  const approvals = f.uint('approvals', { min: 1, max: TX_LIMITS.maxThreshold });
  const approvers = f.optional('approvers', () =>
    f.list('approvers', { min: 1, max: UPDATE_LIMITS.maxAdmins }, adminId),
  );
  if (approvers !== undefined && new Set(approvers).size !== approvers.length) {
    throw badField(f.at('approvers'), 'an admin is listed twice');
  }
  return Object.freeze(approvers === undefined ? { model, approvals } : { model, approvals, approvers });
}

/** Byte order of ids (all ASCII): policies and approvers are encoded sorted, so equal sets encode equally. */
function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function encodePolicy({ model, approvals, approvers }: BundlePolicy): Map<string, unknown> {
  const map = new Map<string, unknown>([
    ['model', model],
    ['approvals', approvals],
  ]);
  if (approvers !== undefined) map.set('approvers', [...approvers].sort(byId));
  return map;
}

/** The bundle entry of a ledger policy (a genesis `policies` item, or a `policy.set` body). */
export function bundlePolicy({ model, policy }: PolicySetBody): BundlePolicy {
  return policy.approvers === 'all'
    ? { model, approvals: policy.approvals }
    : { model, approvals: policy.approvals, approvers: [...policy.approvers] };
}

/**
 * The policy that governs rollouts of `model`: its own entry, else the default '*' (as the
 * ledger's policyFor); undefined for a bundle without policies.
 */
export function bundlePolicyFor(bundle: TrustBundle, model: string): BundlePolicy | undefined {
  const policies = bundle.policies;
  if (policies === undefined) return undefined;
  return policies.find((p) => p.model === model) ?? policies.find((p) => p.model === DEFAULT_POLICY_MODEL);
}

/** Decodes a bundle (already CBOR-decoded); checks distinct ids and keys, reachable threshold and policies. */
export function decodeBundleValue(value: unknown): TrustBundle {
  const f = Fields.of(value, '', BUNDLE_KEYS);
  f.uint('v', { min: UPDATE_WIRE_VERSION, max: UPDATE_WIRE_VERSION });
  const bundle: TrustBundle = {
    chain: f.text('chain', CHAIN_ID_RULE),
    seq: f.uint('seq'),
    authorities: f.list('authorities', { min: 1, max: UPDATE_LIMITS.maxAuthorities }, publicKey),
    admins: f.list('admins', { min: 1, max: UPDATE_LIMITS.maxAdmins }, (item, path) =>
      decodeBody('admin.add', item, path),
    ),
    threshold: f.uint('threshold', { min: 1, max: TX_LIMITS.maxThreshold }),
    vendors: f.list('vendors', { max: UPDATE_LIMITS.maxVendors }, (item, path) =>
      decodeBody('vendor.register', item, path),
    ),
  };
  const policies = f.optional('policies', () =>
    f.list('policies', { min: 1, max: UPDATE_LIMITS.maxPolicies }, decodePolicy),
  );
  const full: TrustBundle = policies === undefined ? bundle : { ...bundle, policies };
  checkDistinct(full);
  return Object.freeze(full);
}

/** Strict decoding of a bundle from untrusted bytes. */
export function decodeBundle(bytes: Uint8Array): TrustBundle {
  return decodeBundleValue(decodeCbor(abytes(bytes, undefined, 'bytes'), BUNDLE_CBOR_LIMITS));
}

/** Deterministic CBOR of a bundle; MG_ERR_BAD_ARGUMENT (with the field) if it would not decode. */
export function encodeBundle(bundle: TrustBundle): Uint8Array {
  const map = new Map<string, unknown>([
    ['v', UPDATE_WIRE_VERSION],
    ['chain', bundle.chain],
    ['seq', bundle.seq],
    ['authorities', [...bundle.authorities]],
    ['admins', bundle.admins.map((a) => encodeBody('admin.add', a))],
    ['threshold', bundle.threshold],
    ['vendors', bundle.vendors.map((v) => encodeBody('vendor.register', v))],
  ]);
  // Absent, not empty, in a bundle without policies: an older bundle encodes as it always did.
  if (bundle.policies !== undefined) {
    map.set('policies', [...bundle.policies].sort((a, b) => byId(a.model, b.model)).map(encodePolicy));
  }
  checkForEncoding(map, decodeBundleValue);
  const bytes = encodeCbor(map);
  if (bytes.length > UPDATE_LIMITS.maxBundleBytes) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'the bundle is larger than a device accepts', {
      field: 'bundle',
      got: bytes.length,
      want: UPDATE_LIMITS.maxBundleBytes,
    });
  }
  return bytes;
}

export function decodeBundleReplacementValue(value: unknown): BundleReplacement {
  const f = Fields.of(value, '', REPLACEMENT_KEYS);
  const bundleBytes = f.bytes('bundle', { min: 1, max: UPDATE_LIMITS.maxBundleBytes });
  const sigs = f.list('sigs', { min: 1, max: UPDATE_LIMITS.maxBundleSigs }, (item, path) => {
    if (!(item instanceof Uint8Array) || item.length === 0) throw badField(path, 'must be a COSE_Sign1');
    return item;
  });
  let bundle: TrustBundle;
  try {
    bundle = decodeBundle(bundleBytes);
  } catch (err) {
    if (!(err instanceof MedgateError)) throw err;
    // The inner decoder's code stands; the path says where.
    throw new MedgateError(err.code, `bundle: ${err.message}`, {
      field: err.field === undefined ? 'bundle' : `bundle.${err.field}`,
      cause: err,
    });
  }
  return Object.freeze({ bundleBytes, bundle, sigs });
}

/** Strict decoding of a bundle replacement from untrusted bytes (signatures not verified). */
export function decodeBundleReplacement(bytes: Uint8Array): BundleReplacement {
  return decodeBundleReplacementValue(decodeCbor(abytes(bytes, undefined, 'bytes'), REPLACEMENT_CBOR_LIMITS));
}

/**
 * A bundle replacement: `bundle` encoded once and signed by each of `adminSigners` (admins of
 * the bundle it replaces), external_aad = `chainId`, the chain of the bundle being replaced.
 */
export function signBundle(
  bundle: TrustBundle,
  adminSigners: readonly CoseSigner[],
  chainId: string,
): Uint8Array {
  if (!Array.isArray(adminSigners) || adminSigners.length === 0) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'adminSigners must be a non-empty array', {
      field: 'adminSigners',
    });
  }
  const bundleBytes = encodeBundle(bundle);
  const aad = chainAad(chainId);
  const sigs = adminSigners.map((signer) => signCoseSign1(bundleBytes, signer, aad));
  const map = new Map<string, unknown>([
    ['bundle', bundleBytes],
    ['sigs', sigs],
  ]);
  checkForEncoding(map, decodeBundleReplacementValue);
  return encodeCbor(map);
}

/** The keys of a genesis config; `policies` is read too, so that the map stays closed. */
const GENESIS_KEYS = Object.freeze([
  'v',
  'chain',
  'authorities',
  'admins',
  'threshold',
  'vendors',
  'policies',
]);

/** As gateway/ledger/genesis.ts GENESIS_CBOR_LIMITS. */
export const GENESIS_TRUST_CBOR_LIMITS = Object.freeze({
  maxBytes: 256 * 1024,
  maxDepth: 4,
  maxStringBytes: 64,
  maxItems: 256,
});

/**
 * The trust fields of a genesis config from its CBOR bytes (the one "transaction" of the genesis
 * block, block.ts). Structure only: the gateway's decodeGenesis also checks the config's
 * consistency; a bundle built from it is checked by decodeBundleValue.
 */
export function decodeGenesisTrust(bytes: Uint8Array): GenesisTrust {
  const f = Fields.of(
    decodeCbor(abytes(bytes, undefined, 'bytes'), GENESIS_TRUST_CBOR_LIMITS),
    '',
    GENESIS_KEYS,
  );
  f.uint('v', { min: 1, max: 1 });
  return Object.freeze({
    policies: f.list('policies', { min: 1, max: UPDATE_LIMITS.maxPolicies }, (item, path) =>
      decodeBody('policy.set', item, path),
    ),
    chain: f.text('chain', CHAIN_ID_RULE),
    authorities: f.list('authorities', { min: 1, max: UPDATE_LIMITS.maxAuthorities }, publicKey),
    admins: f.list('admins', { min: 1, max: UPDATE_LIMITS.maxAdmins }, (item, path) =>
      decodeBody('admin.add', item, path),
    ),
    threshold: f.uint('threshold', { min: 1, max: TX_LIMITS.maxThreshold }),
    vendors: f.list('vendors', { max: UPDATE_LIMITS.maxVendors }, (item, path) =>
      decodeBody('vendor.register', item, path),
    ),
  });
}

/**
 * The factory bundle of a chain (DESIGN §2): its authorities, admins and governance threshold,
 * vendors and rollout policies, from the genesis config (the gateway's GenesisConfig fits
 * GenesisTrust). Its seq is `seq` (0 by default); every replacement must rise above it. On a
 * rollout a device requires max(threshold, the model's policy approvals) distinct admins that the
 * policy allows: never looser than the ledger. A later `policy.set` reaches devices only in a
 * signed bundle replacement.
 */
/**
 * Name of the encoded factory bundle that `medgate init` writes next to the ledger: the file a
 * device maker provisions at manufacture (and the simulator's devices start from).
 */
export const FACTORY_BUNDLE_FILE = 'trust-bundle.cbor';

export function buildFactoryBundle(genesis: GenesisTrust, seq = 0): TrustBundle {
  const bundle: TrustBundle = {
    chain: genesis.chain,
    seq,
    authorities: [...genesis.authorities],
    admins: genesis.admins.map(({ id, pub }) => ({ id, pub })),
    threshold: genesis.threshold,
    vendors: genesis.vendors.map(({ id, pub, models }) => ({ id, pub, models: [...models] })),
    ...(genesis.policies === undefined ? {} : { policies: genesis.policies.map(bundlePolicy) }),
  };
  // Same checks as a bundle from the wire; a config that fails them is the caller's bug.
  return decodeBundle(encodeBundle(bundle));
}
