/**
 * Creating a ledger (DESIGN §2, §7): the authority key (`DIR/authority.key`, PKCS#8 PEM,
 * mode 0600, and `DIR/authority.pub`), then the genesis block, signed by it, whose one
 * "transaction" is the genesis config's CBOR (block.ts). The config comes from a JSON file
 * (docs/ledger.md) or, with `demo`, from freshly generated keys for every role, written to
 * `DIR/demo-keys/` with an `index.json` naming each key's role and id.
 *
 * Everything is checked before anything is written; the genesis block is written last, so a
 * directory either holds a whole ledger or none.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  BLOCK_VERSION,
  GENESIS_PREV,
  type SignedBlock,
  signBlock,
  txRootOf,
} from '../../firmware-ts/protocol/block.js';
import { equalBytes, fromHex, toHex } from '../../firmware-ts/protocol/bytes.js';
import { type CoseSigner, signerFromSecretKey } from '../../firmware-ts/protocol/cose.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { EMPTY_ROOT } from '../../firmware-ts/protocol/merkle/index.js';
import {
  decodePublicKeyPem,
  encodePrivateKeyPem,
  encodePublicKeyPem,
} from '../../firmware-ts/protocol/pem.js';
import { CHAIN_ID_RULE } from '../../firmware-ts/protocol/tx/envelope.js';
import type { Policy } from '../../firmware-ts/protocol/tx/types.js';
import {
  buildFactoryBundle,
  encodeBundle,
  FACTORY_BUNDLE_FILE,
} from '../../firmware-ts/protocol/update/index.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import { safeJsonParse } from '../util/safe-json.js';
import { BlockStore } from './blocks.js';
import { openDataDir } from './data-dir.js';
import {
  decodeGenesis,
  decodeGenesisBytes,
  encodeGenesis,
  type GenesisConfig,
  genesisState,
} from './genesis.js';
import { AUTHORITY_KEY_FILE, AUTHORITY_PUB_FILE } from './ledger.js';
import { encodeState } from './state/encode.js';

export const DEMO_KEYS_DIR = 'demo-keys';
export const DEMO_INDEX_FILE = 'index.json';

export const DEFAULT_DEMO_CHAIN = 'medgate-demo';

export interface InitOptions {
  readonly dir: string;
  /** Path of a genesis config JSON file (docs/ledger.md). */
  readonly configFile?: string;
  /** Generate keys for every role and a demo genesis config (when no config file is given). */
  readonly demo?: boolean;
  /** Chain id; overrides the config file's. */
  readonly chain?: string;
  readonly backend?: Ed25519Backend;
  /** Clock for the genesis block time. */
  readonly now?: () => number;
}

export type DemoRole = 'authority' | 'admin' | 'vendor' | 'clinician' | 'device';

/** One entry of demo-keys/index.json. Paths are relative to index.json. */
export interface DemoKeyEntry {
  readonly role: DemoRole;
  readonly id: string;
  readonly key: string;
  readonly pub: string;
  /** Hex kid (first 16 bytes of SHA-256 of the public key). */
  readonly kid: string;
  /** Vendors: the models they sign for. */
  readonly models?: readonly string[];
  /** Devices: their model. */
  readonly model?: string;
}

export interface DemoKeyIndex {
  readonly v: 1;
  readonly chain: string;
  /** Governance threshold of the demo admins. */
  readonly threshold: number;
  readonly keys: readonly DemoKeyEntry[];
}

export interface InitResult {
  readonly dir: string;
  readonly chain: string;
  readonly authority: { readonly pub: Uint8Array; readonly kid: Uint8Array };
  readonly genesis: SignedBlock;
  readonly config: GenesisConfig;
  /** With `demo`: what was written to demo-keys/index.json. */
  readonly demoKeys?: DemoKeyIndex;
}

/** Demo fleet (DESIGN §7): 3 admins (2 of 3), one vendor with three models, a clinician, devices. */
const DEMO = Object.freeze({
  admins: ['alice', 'bob', 'carol'],
  threshold: 2,
  vendor: { id: 'acme', models: ['wearable-v1', 'bp-cuff-v1', 'glucose-v1'] },
  clinician: 'dr-lee',
  devices: [
    ['wearable-001', 'wearable-v1'],
    ['wearable-002', 'wearable-v1'],
    ['wearable-003', 'wearable-v1'],
    ['bp-cuff-001', 'bp-cuff-v1'],
    ['glucose-001', 'glucose-v1'],
  ],
});

const DEMO_POLICIES: readonly { model: string; policy: Policy }[] = Object.freeze([
  // Every model: firmware rollouts need 2 admin approvals; new devices wait for an admin.
  {
    model: '*',
    policy: { approvals: 2, approvers: 'all', enrolment: 'approval', maxWaveSize: 100, maxFailures: 5 },
  },
  // Wearables self-enrol with a vendor attestation (DESIGN §3 (b)).
  {
    model: 'wearable-v1',
    policy: { approvals: 2, approvers: 'all', enrolment: 'auto', maxWaveSize: 100, maxFailures: 5 },
  },
]);

interface KeyPair {
  readonly secret: Uint8Array;
  readonly pub: Uint8Array;
}

function keyPair(backend: Ed25519Backend): KeyPair {
  const secret = backend.generateSecretKey();
  return { secret, pub: backend.publicKey(secret) };
}

/** Writes PREFIX.key (PKCS#8, mode 0600, never overwritten) and PREFIX.pub (SPKI). */
export async function writeKeyPair(prefix: string, pair: KeyPair): Promise<void> {
  for (const file of [`${prefix}.key`, `${prefix}.pub`]) {
    if (await exists(file)) throw Object.assign(new Error(`${file} already exists`), { code: 'EEXIST' });
  }
  await writeFile(`${prefix}.key`, encodePrivateKeyPem(pair.secret), { mode: 0o600, flag: 'wx' });
  await writeFile(`${prefix}.pub`, encodePublicKeyPem(pair.pub), { flag: 'wx' });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Creates the authority key and the genesis block in `dir`. MG_ERR_LEDGER_EXISTS if it has a ledger. */
export async function initLedger(options: InitOptions): Promise<InitResult> {
  const backend = options.backend ?? nodeBackend;
  const dir = resolve(options.dir);
  if (await exists(join(dir, AUTHORITY_KEY_FILE))) {
    throw new MedgateError(GatewayErrorCode.LEDGER_EXISTS, `${dir} already holds an authority key`, {
      field: 'dir',
    });
  }
  if (options.configFile !== undefined && options.demo) {
    throw new MedgateError(GatewayErrorCode.CONFIG, 'give a genesis config file or demo, not both', {
      field: 'config',
    });
  }
  if (options.chain !== undefined && !CHAIN_ID_RULE.pattern!.test(options.chain)) {
    throw new MedgateError(GatewayErrorCode.CONFIG, 'the chain id must be 1 to 64 of A-Za-z0-9._-', {
      field: 'chain',
      got: options.chain.slice(0, 80),
    });
  }
  const authority = keyPair(backend);
  let config: GenesisConfig;
  let demo: { index: DemoKeyIndex; pairs: Map<string, KeyPair> } | undefined;
  if (options.configFile !== undefined) {
    config = await readGenesisJson(options.configFile, authority.pub, options.chain);
  } else if (options.demo) {
    demo = demoKeys(options.chain ?? DEFAULT_DEMO_CHAIN, authority.pub, backend);
    config = demoGenesis(demo.index, demo.pairs, authority.pub);
  } else {
    throw new MedgateError(GatewayErrorCode.CONFIG, 'a genesis config file or demo is required', {
      field: 'config',
    });
  }
  encodeGenesis(config); // refuses a config that would not decode back
  // Checked before any file is written: a directory with a ledger is left as it is.
  await assertNoLedger(dir);
  const signer = signerFromSecretKey(authority.secret, backend);
  await writeKeyPair(join(dir, 'authority'), authority);
  if (demo !== undefined) await writeDemoKeys(join(dir, DEMO_KEYS_DIR), demo.index, demo.pairs);
  const genesis = await writeGenesis(dir, config, signer, (options.now ?? Date.now)());
  // The devices' factory trust bundle: what a device maker provisions at manufacture.
  await writeFile(join(dir, FACTORY_BUNDLE_FILE), encodeBundle(buildFactoryBundle(config)));
  const result = {
    dir,
    chain: config.chain,
    authority: { pub: authority.pub, kid: kidOf(authority.pub) },
    genesis,
    config,
  };
  return demo === undefined ? result : { ...result, demoKeys: demo.index };
}

async function assertNoLedger(dir: string): Promise<void> {
  const dataDir = await openDataDir(dir, { create: true });
  try {
    if ((await new BlockStore(dataDir.db).tipHeight()) !== undefined) {
      throw new MedgateError(GatewayErrorCode.LEDGER_EXISTS, `${dir} already holds a ledger`, {
        field: 'dir',
      });
    }
  } finally {
    await dataDir.close();
  }
}

/**
 * Writes the genesis block of `config` into `dir`, signed by `signer` (which must be one of
 * config.authorities), with block time `t`: one synced batch of header, config, tip and the
 * initial state snapshot. MG_ERR_LEDGER_EXISTS if the directory already has a ledger.
 */
export async function writeGenesis(
  dir: string,
  config: GenesisConfig,
  signer: CoseSigner,
  t: number,
): Promise<SignedBlock> {
  const configBytes = encodeGenesis(config);
  const state = genesisState(decodeGenesisBytes(configBytes), t);
  if (!state.authorities.some((pub) => equalBytes(kidOf(pub), signer.kid))) {
    throw new MedgateError(
      GatewayErrorCode.AUTHORITY_KEY,
      'the signer is not an authority of the genesis config',
      {
        field: 'authorities',
      },
    );
  }
  const dataDir = await openDataDir(dir, { create: true });
  try {
    const store = new BlockStore(dataDir.db);
    if ((await store.tipHeight()) !== undefined) {
      throw new MedgateError(GatewayErrorCode.LEDGER_EXISTS, `${dataDir.path} already holds a ledger`, {
        field: 'dir',
      });
    }
    const genesis = signBlock(
      {
        v: BLOCK_VERSION,
        chain: config.chain,
        height: 0,
        prev: GENESIS_PREV,
        t,
        txRoot: txRootOf([configBytes]),
        txCount: 1,
        log: { size: 0, root: EMPTY_ROOT },
      },
      signer,
    );
    await store.write({ block: genesis, txs: [configBytes], snapshot: encodeState(state) });
    return genesis;
  } finally {
    await dataDir.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Demo keys

function demoKeys(
  chain: string,
  authorityPub: Uint8Array,
  backend: Ed25519Backend,
): { index: DemoKeyIndex; pairs: Map<string, KeyPair> } {
  const pairs = new Map<string, KeyPair>();
  const keys: DemoKeyEntry[] = [];
  const add = (role: DemoRole, id: string, extra: { models?: readonly string[]; model?: string } = {}) => {
    const pair = keyPair(backend);
    const file = `${role}-${id}`;
    pairs.set(file, pair);
    keys.push({ role, id, key: `${file}.key`, pub: `${file}.pub`, kid: toHex(kidOf(pair.pub)), ...extra });
  };
  keys.push({
    role: 'authority',
    id: 'authority',
    key: `../${AUTHORITY_KEY_FILE}`,
    pub: `../${AUTHORITY_PUB_FILE}`,
    kid: toHex(kidOf(authorityPub)),
  });
  for (const id of DEMO.admins) add('admin', id);
  add('vendor', DEMO.vendor.id, { models: DEMO.vendor.models });
  add('clinician', DEMO.clinician);
  for (const [id, model] of DEMO.devices) add('device', id as string, { model: model as string });
  return { index: { v: 1, chain, threshold: DEMO.threshold, keys }, pairs };
}

function demoGenesis(
  index: DemoKeyIndex,
  pairs: Map<string, KeyPair>,
  authorityPub: Uint8Array,
): GenesisConfig {
  const pubOf = (entry: DemoKeyEntry) => (pairs.get(`${entry.role}-${entry.id}`) as KeyPair).pub;
  return {
    chain: index.chain,
    authorities: [authorityPub],
    admins: index.keys.filter((k) => k.role === 'admin').map((k) => ({ id: k.id, pub: pubOf(k) })),
    threshold: index.threshold,
    vendors: index.keys
      .filter((k) => k.role === 'vendor')
      .map((k) => ({ id: k.id, pub: pubOf(k), models: k.models ?? [] })),
    policies: DEMO_POLICIES,
  };
}

async function writeDemoKeys(dir: string, index: DemoKeyIndex, pairs: Map<string, KeyPair>): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const [file, pair] of pairs) await writeKeyPair(join(dir, file), pair);
  await writeFile(join(dir, DEMO_INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`, { flag: 'wx' });
}

// ---------------------------------------------------------------------------------------------
// Genesis config JSON

/**
 * Reads a genesis config JSON file: the CBOR genesis shape (genesis.ts) with public keys as
 * 64 hex digits or paths of SPKI PEM files (relative to the config file). The new authority
 * key is put first in `authorities`; the file may list more (for example a standby key).
 */
export async function readGenesisJson(
  file: string,
  authorityPub: Uint8Array,
  chain: string | undefined,
): Promise<GenesisConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new MedgateError(GatewayErrorCode.CONFIG, `cannot read genesis config ${path}`, {
      field: 'config',
      cause,
    });
  }
  const json = safeJsonParse(text);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new MedgateError(GatewayErrorCode.CONFIG, 'the genesis config must be a JSON object', {
      field: 'config',
    });
  }
  const base = dirname(path);
  const raw = json as Record<string, unknown>;
  const map = toMap(raw) as Map<string, unknown>;
  if (!map.has('v')) map.set('v', 1);
  if (chain !== undefined) map.set('chain', chain);
  const extra = Array.isArray(raw.authorities) ? raw.authorities : [];
  const keys: unknown[] = [authorityPub];
  for (let i = 0; i < extra.length; i++) keys.push(await publicKeyOf(extra[i], base, `authorities[${i}]`));
  map.set('authorities', keys);
  for (const list of ['admins', 'vendors'] as const) {
    const items = map.get(list);
    if (!Array.isArray(items)) continue;
    for (let i = 0; i < items.length; i++) {
      const item: unknown = items[i];
      if (item instanceof Map && item.has('pub'))
        item.set('pub', await publicKeyOf(item.get('pub'), base, `${list}[${i}].pub`));
    }
  }
  return decodeGenesis(map);
}

/** JSON objects as Maps (what the CBOR decoders take). */
function toMap(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toMap);
  if (typeof value === 'object' && value !== null) {
    return new Map(Object.entries(value).map(([k, v]) => [k, toMap(v)]));
  }
  return value;
}

/** A public key given as 64 hex digits or as the path of an SPKI PEM file. */
async function publicKeyOf(value: unknown, base: string, field: string): Promise<unknown> {
  if (typeof value !== 'string') return value; // the genesis decoder names the bad type
  if (/^[0-9a-fA-F]{64}$/.test(value)) return fromHex(value, field);
  const path = resolve(base, value);
  try {
    return decodePublicKeyPem(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new MedgateError(
      GatewayErrorCode.CONFIG,
      `${field}: ${path} is not a readable SPKI PEM public key`,
      {
        field,
        cause,
      },
    );
  }
}
