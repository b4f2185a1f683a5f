/**
 * Who the admin CLI acts as, and how it signs (DESIGN §2, §7): the admin's own PKCS#8 key
 * file, never a key the gateway holds. The chain id (the COSE external_aad) and the admin's
 * id come from the gateway's `/v1/chain`; the id is found by the key's kid unless `--as`
 * names it. Every transaction is signed here and submitted over the HTTP API; every admin
 * read carries a fresh connect token, as on MQTT.
 *
 * Nonces: per actor they must rise strictly (gaps allowed). The CLI uses
 * max(last nonce on the ledger + 1, current time in ms): it never goes back even if the clock
 * does, and two commands run at once by one admin in different shells almost never collide
 * (if they do, the second is refused with MG_ERR_TX_NONCE_REPLAY and can simply be rerun).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { toBase64, toHex } from '../../firmware-ts/protocol/bytes.js';
import {
  type CoseSigner,
  chainAad,
  signCoseSign1,
  signerFromSecretKey,
} from '../../firmware-ts/protocol/cose.js';
import { encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { decodePrivateKeyPem } from '../../firmware-ts/protocol/pem.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import type { EnvelopeType, Tx, TxBodies } from '../../firmware-ts/protocol/tx/types.js';
import { ApiClient, DEFAULT_GATEWAY, GATEWAY_ENV, type TxResult } from './api-client.js';
import { type OptionSpec, type ParsedArgs, stringOption, UsageError } from './command.js';

export const ADMIN_KEY_ENV = 'MEDGATE_ADMIN_KEY';

export const GATEWAY_OPTION: OptionSpec = Object.freeze({
  type: 'string',
  value: 'URL',
  description: `gateway HTTP API (default $${GATEWAY_ENV} or ${DEFAULT_GATEWAY})`,
});
export const ADMIN_KEY_OPTION: OptionSpec = Object.freeze({
  type: 'string',
  value: 'FILE',
  description: `the admin's private key, PKCS#8 PEM (default $${ADMIN_KEY_ENV})`,
});
export const AS_OPTION: OptionSpec = Object.freeze({
  type: 'string',
  value: 'admin:ID',
  description: 'the admin to act as (default: the admin whose key it is, from the ledger)',
});

/** The options every admin command takes. */
export const ADMIN_OPTIONS = Object.freeze({
  gateway: GATEWAY_OPTION,
  'admin-key': ADMIN_KEY_OPTION,
  as: AS_OPTION,
});

export interface ChainInfo {
  readonly chain: string;
  readonly threshold: number;
  readonly admins: readonly { readonly id: string; readonly kid: string }[];
}

/** A signer acting on the gateway's chain: an admin, or a device rotating its own key. */
export interface Session {
  readonly client: ApiClient;
  readonly chain: string;
  /** `admin:{id}`, or the device id. */
  readonly actor: string;
  readonly signer: CoseSigner;
}

export function clientOf(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): ApiClient {
  return new ApiClient(stringOption(args, 'gateway') ?? env[GATEWAY_ENV] ?? DEFAULT_GATEWAY);
}

/** The secret key in a PKCS#8 PEM file; UsageError naming the option when it is unreadable. */
export async function readSecretKey(path: string, option: string): Promise<Uint8Array> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch {
    throw new UsageError(`--${option}: cannot read ${path}`);
  }
  try {
    return decodePrivateKeyPem(pem);
  } catch (cause) {
    const code = isMedgateError(cause) ? `${cause.code}: ` : '';
    throw new UsageError(
      `--${option}: ${path} is not an ed25519 PKCS#8 PEM private key (${code}${(cause as Error).message})`,
    );
  }
}

/** The admin session of `--admin-key` / `--as` on the gateway of `--gateway`. */
export async function adminSession(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): Promise<Session> {
  const keyFile = stringOption(args, 'admin-key') ?? env[ADMIN_KEY_ENV];
  if (keyFile === undefined) throw new UsageError(`missing --admin-key (or $${ADMIN_KEY_ENV})`);
  const signer = signerFromSecretKey(await readSecretKey(keyFile, 'admin-key'), nodeBackend);
  const client = clientOf(args, env);
  const info = await client.get<ChainInfo>('/v1/chain');
  const kid = toHex(signer.kid);
  const as = stringOption(args, 'as');
  let id: string;
  if (as !== undefined) {
    const m = /^admin:(.+)$/.exec(as);
    if (m === null) throw new UsageError(`--as must be admin:ID, got '${as}'`);
    id = m[1]!;
    const admin = info.admins.find((a) => a.id === id);
    if (admin === undefined) throw new UsageError(`--as: ${as} is not an admin on chain ${info.chain}`);
    if (admin.kid !== kid) throw new UsageError(`--as: the key in ${keyFile} is not ${as}'s key`);
  } else {
    const admin = info.admins.find((a) => a.kid === kid);
    if (admin === undefined) {
      throw new UsageError(`the key in ${keyFile} is not an admin's key on chain ${info.chain}`);
    }
    id = admin.id;
  }
  return { client, chain: info.chain, actor: `admin:${id}`, signer };
}

/** The next nonce of `actor`: above its last one on the ledger, and at least the time in ms. */
export async function nextNonce(session: Session, now: () => number = Date.now): Promise<number> {
  const { nonce } = await session.client.get<{ nonce: number | null }>(
    `/v1/actors/${encodeURIComponent(session.actor)}`,
  );
  return Math.max((nonce ?? 0) + 1, now());
}

/** Signs a transaction of the session's actor and submits it; resolves once it is in a block. */
export async function submitTx<K extends EnvelopeType>(
  session: Session,
  type: K,
  body: TxBodies[K],
): Promise<TxResult> {
  const tx = {
    type,
    chain: session.chain,
    actor: session.actor,
    nonce: await nextNonce(session),
    t: Date.now(),
    body,
  } as Tx;
  return session.client.postTx(signTx(tx, session.signer));
}

/** `Authorization` value for one request: a fresh connect token of the session's actor. */
export function authorization(session: Session): string {
  const payload = encodeConnectToken({
    dev: session.actor,
    t: Date.now(),
    nonce: new Uint8Array(randomBytes(16)),
  });
  return `Medgate ${toBase64(signCoseSign1(payload, session.signer, chainAad(session.chain)))}`;
}
