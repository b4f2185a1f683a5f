/**
 * Where the simulated factory gets its chain id and vendor key: a `medgate init --demo` data
 * directory (`DIR/demo-keys/index.json` lists the vendor key with the models it signs), or
 * `--chain` with `--vendor-key FILE`. The vendor key is only used to attest new devices, as a
 * factory would at manufacture; the gateway never sees it.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type CoseSigner, signerFromSecretKey } from '../firmware-ts/protocol/cose.js';
import { nodeBackend } from '../firmware-ts/protocol/ed25519/node.js';
import { decodePrivateKeyPem } from '../firmware-ts/protocol/pem.js';
import { decodeBundle, FACTORY_BUNDLE_FILE, type TrustBundle } from '../firmware-ts/protocol/update/index.js';
import { MedgateError, SimErrorCode } from './errors.js';
import type { SimConfig } from './options.js';
import { readJson } from './state/json.js';

export const DEMO_INDEX = join('demo-keys', 'index.json');

export interface Factory {
  readonly chain: string;
  /** Signs attestations; undefined when no vendor key was given (existing devices still run). */
  readonly vendor: CoseSigner | undefined;
  /** The vendor's models, when known (demo index). */
  readonly models: readonly string[] | undefined;
  /**
   * The trust bundle devices are provisioned with (DESIGN §2), built from the demo index, which
   * lists the genesis config's authority, admins, threshold and vendors; undefined without
   * --data (the firmware agent then stays off).
   */
  readonly bundle: TrustBundle | undefined;
}

async function readVendorKey(path: string): Promise<CoseSigner> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new MedgateError(SimErrorCode.NO_VENDOR_KEY, `cannot read the vendor key ${path}`, { cause: err });
  }
  return signerFromSecretKey(decodePrivateKeyPem(pem), nodeBackend);
}

export async function loadFactory(config: SimConfig): Promise<Factory> {
  let chain = config.chain;
  let vendor: CoseSigner | undefined;
  let models: readonly string[] | undefined;
  let bundle: TrustBundle | undefined;
  if (config.data !== undefined) {
    const indexPath = join(config.data, DEMO_INDEX);
    const index = await readJson(indexPath);
    if (index === undefined) {
      throw new MedgateError(
        SimErrorCode.NO_VENDOR_KEY,
        `${indexPath} not found: is ${config.data} a 'medgate init --demo' data dir?`,
      );
    }
    if (typeof index.chain !== 'string')
      throw new MedgateError(SimErrorCode.STATE, `${indexPath}: no chain id`);
    chain ??= index.chain;
    const keys = Array.isArray(index.keys) ? (index.keys as Record<string, unknown>[]) : [];
    const entry = keys.find((k) => k.role === 'vendor' && typeof k.key === 'string');
    if (entry !== undefined && config.vendorKey === undefined) {
      vendor = await readVendorKey(join(dirname(indexPath), entry.key as string));
      models = Array.isArray(entry.models) ? entry.models.map(String) : undefined;
    }
    bundle = await readFactoryBundle(config.data);
  }
  if (config.vendorKey !== undefined) vendor = await readVendorKey(config.vendorKey);
  if (chain === undefined)
    throw new MedgateError(SimErrorCode.STATE, 'no chain id: give --data DIR or --chain ID');
  return { chain, vendor, models, bundle };
}

/** The factory trust bundle `medgate init` wrote next to the ledger: what a device maker provisions. */
async function readFactoryBundle(dataDir: string): Promise<TrustBundle> {
  const path = join(dataDir, FACTORY_BUNDLE_FILE);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new MedgateError(SimErrorCode.STATE, `cannot read the factory trust bundle ${path}`, {
      cause: err,
    });
  }
  try {
    return decodeBundle(bytes);
  } catch (err) {
    throw new MedgateError(SimErrorCode.STATE, `${path} is not a trust bundle`, { cause: err });
  }
}
