/**
 * `medgate firmware sign|release` (DESIGN §5): the vendor signs a manifest with its own key
 * (COSE_Sign1, external_aad = the chain id); an admin records the release on the ledger and
 * uploads the image, which the gateway stores under its SHA-256 and serves only to devices an
 * approved rollout targets. The image is checked against the manifest here first, so that a
 * wrong file is refused before anything is submitted.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { toHex } from '../../../firmware-ts/protocol/bytes.js';
import { signerFromSecretKey } from '../../../firmware-ts/protocol/cose.js';
import { nodeBackend } from '../../../firmware-ts/protocol/ed25519/node.js';
import { isMedgateError, MedgateError } from '../../../firmware-ts/protocol/errors.js';
import { sha256 } from '../../../firmware-ts/protocol/hash.js';
import { ID_PATTERN } from '../../../firmware-ts/protocol/ids.js';
import { MAX_IMAGE_SIZE } from '../../../firmware-ts/protocol/tx/manifest.js';
import { decodeManifestCose, signManifest } from '../../../firmware-ts/protocol/tx/sign.js';
import type { Manifest } from '../../../firmware-ts/protocol/tx/types.js';
import { GatewayErrorCode } from '../../errors.js';
import { Ledger } from '../../ledger/ledger.js';
import { safeJsonParse } from '../../util/safe-json.js';
import {
  ADMIN_OPTIONS,
  adminSession,
  authorization,
  type ChainInfo,
  clientOf,
  GATEWAY_OPTION,
  readSecretKey,
  type Session,
  submitTx,
} from '../admin-session.js';
import type { TxResult } from '../api-client.js';
import {
  type Command,
  ExitCode,
  integerOption,
  type ParsedArgs,
  stringOption,
  UsageError,
} from '../command.js';
import { DATA_OPTION, JSON_OPTION, maxPositionals } from './common.js';

/** What `GET /v1/firmware/{digest}` answers. */
interface ImageView {
  readonly digest: string;
  readonly stored: boolean;
  readonly releases: readonly { readonly id: string }[];
}

/** SHA-256 and size of a file, streamed (images may be large). */
export async function hashFile(path: string, option: string): Promise<{ digest: Uint8Array; size: number }> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    throw new UsageError(`${option}: cannot read ${path}`);
  }
  if (size < 1 || size > MAX_IMAGE_SIZE) {
    throw new UsageError(`${option}: an image must hold 1 to ${MAX_IMAGE_SIZE} bytes, ${path} has ${size}`);
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { digest: new Uint8Array(hash.digest()), size };
}

async function readBytes(path: string, name: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch {
    throw new UsageError(`${name}: cannot read ${path}`);
  }
}

/** The chain id and the vendor id for `firmware sign`: flags, else the ledger of --data, else the gateway. */
async function vendorContext(args: ParsedArgs, kid: string): Promise<{ chain: string; vendor: string }> {
  const given = stringOption(args, 'vendor');
  if (given !== undefined && !ID_PATTERN.test(given.replace(/^vendor:/, ''))) {
    throw new UsageError(`--vendor must be a vendor id (1 to 64 of A-Za-z0-9._-), got '${given}'`);
  }
  const chainFlag = stringOption(args, 'chain');
  const data = stringOption(args, 'data');
  if ([chainFlag, data, stringOption(args, 'gateway')].filter((v) => v !== undefined).length > 1) {
    throw new UsageError('give one of --chain, --data, --gateway');
  }
  let chain: string;
  let vendors: readonly { id: string; kid: string }[] = [];
  if (chainFlag !== undefined) {
    chain = chainFlag;
  } else if (data !== undefined) {
    const ledger = await Ledger.open(data, { readOnly: true });
    try {
      chain = ledger.chain;
      vendors = [...ledger.state.vendors.values()];
    } finally {
      await ledger.close();
    }
  } else {
    const info = await clientOf(args).get<ChainInfo & { vendors: { id: string; kid: string }[] }>(
      '/v1/chain',
    );
    chain = info.chain;
    vendors = info.vendors;
  }
  if (given !== undefined) return { chain, vendor: given.replace(/^vendor:/, '') };
  const found = vendors.find((v) => v.kid === kid);
  if (found === undefined) {
    throw new UsageError(
      chainFlag !== undefined
        ? 'with --chain, name the vendor with --vendor ID'
        : `the key in --vendor-key is no vendor's key on chain ${chain}; name the vendor with --vendor ID`,
    );
  }
  return { chain, vendor: found.id };
}

const sign: Command = {
  path: ['firmware', 'sign'],
  summary: "sign a firmware manifest with the vendor's key (COSE_Sign1)",
  options: {
    'vendor-key': { type: 'string', value: 'FILE', description: "the vendor's private key (PKCS#8 PEM)" },
    image: {
      type: 'string',
      value: 'FILE',
      description: 'the firmware image (its SHA-256 and size are signed)',
    },
    model: { type: 'string', value: 'MODEL', description: 'the device model the image is for' },
    seq: { type: 'string', value: 'N', description: 'sequence number, rising per model (anti-rollback)' },
    version: { type: 'string', value: 'V', description: 'human version, e.g. 2.1.0' },
    out: {
      type: 'string',
      value: 'FILE',
      description: 'where to write the manifest (default IMAGE.manifest)',
    },
    vendor: {
      type: 'string',
      value: 'ID',
      description: 'the vendor id (default: found by the key on the ledger)',
    },
    chain: { type: 'string', value: 'ID', description: 'chain id the manifest is signed for' },
    data: DATA_OPTION,
    gateway: GATEWAY_OPTION,
    json: JSON_OPTION,
  },
  details:
    "The chain id (the signature's external_aad) comes from --chain, the ledger of --data, or the\n" +
    'gateway (--gateway or $MEDGATE_GATEWAY). The manifest file holds the COSE_Sign1 bytes that\n' +
    '`medgate firmware release MANIFEST IMAGE` submits; devices verify it themselves.',
  async run(args, io) {
    maxPositionals(args, 0);
    const image = stringOption(args, 'image', true);
    const model = stringOption(args, 'model', true);
    if (!ID_PATTERN.test(model)) throw new UsageError(`--model must be a model id, got '${model}'`);
    if (args.values.seq === undefined) throw new UsageError('missing --seq');
    const seq = integerOption(args, 'seq', 0);
    const version = stringOption(args, 'version', true);
    if (!/^[\x21-\x7e]{1,64}$/.test(version)) {
      throw new UsageError('--version must be 1 to 64 printable ASCII characters without spaces');
    }
    const signer = signerFromSecretKey(
      await readSecretKey(stringOption(args, 'vendor-key', true), 'vendor-key'),
      nodeBackend,
    );
    const { digest, size } = await hashFile(image, '--image');
    const { chain, vendor } = await vendorContext(args, toHex(signer.kid));
    const manifest: Manifest = { vendor, model, seq, version, digest, size, created: Date.now() };
    const bytes = signManifest(manifest, signer, chain);
    const out = stringOption(args, 'out') ?? `${image}.manifest`;
    await writeFile(out, bytes);
    const release = toHex(sha256(bytes));
    if (args.values.json) {
      io.out(
        JSON.stringify({ out, release, chain, vendor, model, seq, version, digest: toHex(digest), size }),
      );
    } else {
      io.out(`manifest ${out}: ${model} seq ${seq} (${version}), ${size} bytes, signed by vendor:${vendor}`);
      io.out(`  image sha-256 ${toHex(digest)}; release id ${release}`);
    }
    return ExitCode.OK;
  },
};

/** Uploads the image (admin token); the API's coded errors come back as MedgateErrors. */
async function uploadImage(session: Session, digest: Uint8Array, image: Uint8Array): Promise<string> {
  const url = `${session.client.base}/v1/firmware/${toHex(digest)}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', authorization: authorization(session) },
      body: image,
    });
    text = await res.text();
  } catch (cause) {
    throw new MedgateError(
      GatewayErrorCode.GATEWAY_UNREACHABLE,
      `cannot reach the gateway at ${session.client.base}`,
      {
        cause,
      },
    );
  }
  let body: { result?: string; error?: { code?: unknown; message?: unknown } } | null;
  try {
    body = safeJsonParse(text) as typeof body;
  } catch (cause) {
    throw new MedgateError(
      GatewayErrorCode.HTTP_BAD_RESPONSE,
      `upload: HTTP ${res.status} without a JSON body`,
      {
        cause,
      },
    );
  }
  if (res.ok) return String(body?.result ?? 'stored');
  const code = body?.error?.code;
  if (typeof code !== 'string' || !code.startsWith('MG_ERR_')) {
    throw new MedgateError(GatewayErrorCode.HTTP_BAD_RESPONSE, `upload: HTTP ${res.status}`);
  }
  throw new MedgateError(code, String(body?.error?.message ?? `HTTP ${res.status}`));
}

const release: Command = {
  path: ['firmware', 'release'],
  summary: 'record a vendor-signed release on the ledger and upload its image',
  args: 'MANIFEST IMAGE',
  options: { ...ADMIN_OPTIONS, json: JSON_OPTION },
  details:
    'Checks that IMAGE has the size and SHA-256 the manifest names, submits firmware.release\n' +
    '(skipped when the release is already on the ledger), then uploads the image unless the\n' +
    'gateway holds it. Running it again after a failed upload is safe.',
  async run(args, io) {
    maxPositionals(args, 2);
    const [manifestPath, imagePath] = args.positionals;
    if (manifestPath === undefined || imagePath === undefined) throw new UsageError('missing MANIFEST IMAGE');
    const bytes = await readBytes(manifestPath, 'MANIFEST');
    let manifest: Manifest;
    try {
      manifest = decodeManifestCose(bytes).manifest;
    } catch (cause) {
      const code = isMedgateError(cause) ? `${cause.code}: ` : '';
      throw new UsageError(
        `MANIFEST: ${manifestPath} is not a signed manifest (${code}${(cause as Error).message})`,
      );
    }
    const { digest, size } = await hashFile(imagePath, 'IMAGE');
    if (size !== manifest.size || toHex(digest) !== toHex(manifest.digest)) {
      throw new MedgateError(
        GatewayErrorCode.FW_IMAGE_MISMATCH,
        `${imagePath} (${size} bytes, sha-256 ${toHex(digest).slice(0, 16)}…) is not the image of ${manifestPath} ` +
          `(${manifest.size} bytes, sha-256 ${toHex(manifest.digest).slice(0, 16)}…)`,
        { field: 'image' },
      );
    }
    const session = await adminSession(args);
    const releaseId = toHex(sha256(bytes));
    const existing = await session.client.get<ImageView>(`/v1/firmware/${toHex(digest)}`);
    let tx: TxResult | undefined;
    if (!existing.releases.some((r) => r.id === releaseId)) {
      tx = await submitTx(session, 'firmware.release', { manifest: bytes });
    }
    const upload = existing.stored
      ? 'present'
      : await uploadImage(session, digest, await readBytes(imagePath, 'IMAGE'));
    const { model, seq, version } = manifest;
    if (args.values.json) {
      io.out(
        JSON.stringify({
          ...(tx ?? {}),
          release: releaseId,
          digest: toHex(digest),
          size,
          image: upload,
          model,
          seq,
          version,
        }),
      );
    } else {
      const where =
        tx === undefined ? 'already on the ledger' : `block ${tx.height}, tx ${tx.txId.slice(0, 16)}`;
      io.out(
        `release ${releaseId}: ${model} seq ${seq} (${version}) by vendor:${manifest.vendor} (${where})`,
      );
      io.out(
        `  image ${toHex(digest)} (${size} bytes) ${upload === 'present' ? 'already stored' : 'uploaded'}`,
      );
      io.out(`  roll it out with: medgate rollout propose --release ${releaseId} --model ${model} ...`);
    }
    return ExitCode.OK;
  },
};

export const firmwareCommands: readonly Command[] = [sign, release];
