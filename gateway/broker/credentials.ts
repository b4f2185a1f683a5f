/**
 * Connect tokens (DESIGN §3): the MQTT password is a COSE_Sign1 of
 * `{"purpose": "connect", "dev": principal, "t", "nonce"}` signed by the principal's current
 * key with external_aad = the chain id. Checked in the order that spends least on junk:
 * size and COSE profile, token fields, username, the key on the ledger, the signature (on
 * the verify pool), then what only a proven key holder may learn (revoked, pending), the time
 * window and last the nonce (recorded only for a valid signature, so strangers cannot fill
 * the cache).
 */
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { type CoseSign1, decodeCoseSign1, sigStructure } from '../../firmware-ts/protocol/cose.js';
import { type DecodedConnectToken, decodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { TOKEN_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import { isMedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import type { Principal } from '../../firmware-ts/protocol/ids.js';
import { GatewayErrorCode } from '../errors.js';
import { StateErrorCode } from '../ledger/state/errors.js';
import type { State } from '../ledger/state/state.js';
import type { VerifyJob } from '../verify/pool.js';
import type { NonceCache } from './nonce-cache.js';
import { asRefusal, ConnackCode, refuseConnect } from './refusal.js';

/** A connect token is about 150 bytes; an enrolment request with its attestation under 1.5 KiB. */
export const MAX_CONNECT_TOKEN_BYTES = 512;
export const MAX_ENROL_REQUEST_BYTES = TOKEN_CBOR_LIMITS.maxBytes + 256;

export interface CredentialDeps {
  /** The current ledger state (read again after every await). */
  readonly state: () => State;
  /** external_aad of every signature: the chain id as UTF-8. */
  readonly aad: Uint8Array;
  /** Signature verification (the gateway's one worker pool). */
  readonly verify: (job: VerifyJob) => Promise<boolean>;
  readonly nonces: NonceCache;
  readonly skewMs: number;
  readonly now: () => number;
}

export interface Credential {
  readonly principal: Principal;
  /** Hex kid of the key that signed the token. */
  readonly kid: string;
}

const G = GatewayErrorCode;
const { BAD_CREDENTIALS, NOT_AUTHORIZED, SERVER_UNAVAILABLE } = ConnackCode;

function decodeToken(password: Uint8Array): { cose: CoseSign1; token: DecodedConnectToken } {
  if (password.length > MAX_CONNECT_TOKEN_BYTES) {
    throw refuseConnect(G.AUTH_BAD_TOKEN, 'the password is too long for a connect token', BAD_CREDENTIALS, {
      got: password.length,
      want: MAX_CONNECT_TOKEN_BYTES,
    });
  }
  try {
    const cose = decodeCoseSign1(password, MAX_CONNECT_TOKEN_BYTES);
    return { cose, token: decodeConnectToken(decodeCbor(cose.payload, TOKEN_CBOR_LIMITS)) };
  } catch (err) {
    const why = isMedgateError(err) ? ` (${err.code})` : '';
    throw refuseConnect(G.AUTH_BAD_TOKEN, `the password is not a connect token${why}`, BAD_CREDENTIALS, {
      cause: err,
    });
  }
}

/** The public key the token's kid names, among the principal's keys on the ledger. */
function keyFor(state: State, principal: Principal, kid: string): Uint8Array {
  const unknown = () =>
    refuseConnect(
      G.AUTH_UNKNOWN_PRINCIPAL,
      `no ${principal.role} ${principal.id} on the ledger`,
      BAD_CREDENTIALS,
    );
  const otherKey = () =>
    refuseConnect(
      ProtocolErrorCode.COSE_KID_MISMATCH,
      'the token kid names no key of this principal',
      BAD_CREDENTIALS,
      {
        field: 'protected.4',
      },
    );
  if (principal.role === 'device') {
    const device = state.devices.get(principal.id);
    if (device === undefined) throw unknown();
    const epoch = device.keys.find((k) => k.kid === kid);
    if (epoch === undefined) throw otherKey();
    return epoch.pub;
  }
  const record =
    principal.role === 'admin' ? state.admins.get(principal.id) : state.clinicians.get(principal.id);
  if (record === undefined) throw unknown();
  if (record.kid !== kid) throw otherKey();
  return record.pub;
}

/** Verifies `msg` under `publicKey` on the pool; CONNACK 4 if it fails, 3 if the pool cannot. */
export async function verifySignature(
  deps: Pick<CredentialDeps, 'verify' | 'aad'>,
  msg: CoseSign1,
  publicKey: Uint8Array,
): Promise<void> {
  let ok: boolean;
  try {
    ok = await deps.verify({ publicKey, message: sigStructure(msg, deps.aad), signature: msg.signature });
  } catch (err) {
    throw asRefusal(err, SERVER_UNAVAILABLE, G.VERIFY_OVERLOADED);
  }
  if (!ok) {
    throw refuseConnect(ProtocolErrorCode.BAD_SIGNATURE, 'the signature does not verify', BAD_CREDENTIALS, {
      field: 'signature',
    });
  }
}

/** `t` within ±skewMs of the gateway clock, else CONNACK 4 MG_ERR_AUTH_TOKEN_EXPIRED. */
export function checkWindow(deps: Pick<CredentialDeps, 'skewMs' | 'now'>, t: number): void {
  const now = deps.now();
  if (Math.abs(t - now) > deps.skewMs) {
    throw refuseConnect(G.AUTH_TOKEN_EXPIRED, `t is ${t - now} ms from the gateway clock`, BAD_CREDENTIALS, {
      field: 't',
      want: `within ±${deps.skewMs} ms`,
    });
  }
}

/** Records the nonce; CONNACK 4 if it was used, 3 if the cache is full of live nonces. */
export function claimNonce(
  deps: Pick<CredentialDeps, 'nonces' | 'skewMs' | 'now'>,
  key: string,
  t: number,
): void {
  const verdict = deps.nonces.claim(key, t + deps.skewMs, deps.now());
  if (verdict === 'seen') {
    throw refuseConnect(G.AUTH_NONCE_REUSED, 'the nonce was already used', BAD_CREDENTIALS, {
      field: 'nonce',
    });
  }
  if (verdict === 'full') {
    throw refuseConnect(
      G.AUTH_NONCE_CACHE_FULL,
      'the nonce cache is full of live nonces',
      SERVER_UNAVAILABLE,
    );
  }
}

/**
 * Checks the connect token `password` for `username` (= client id, checked by the caller).
 * Resolves with the principal and kid; rejects with a ConnectRefusal (code and CONNACK code).
 */
export async function checkConnectToken(
  deps: CredentialDeps,
  username: string,
  password: Uint8Array,
): Promise<Credential> {
  const { cose, token } = decodeToken(password);
  if (token.dev !== username) {
    throw refuseConnect(
      G.AUTH_ID_MISMATCH,
      'the token is for another principal than the username',
      BAD_CREDENTIALS,
      {
        field: 'dev',
      },
    );
  }
  const { principal } = token;
  const kid = toHex(cose.kid);
  await verifySignature(deps, cose, keyFor(deps.state(), principal, kid));

  // The signature proves the key holder: now it may learn why its principal is refused.
  const state = deps.state();
  // Read again: the principal may have been removed or replaced while the pool verified.
  keyFor(state, principal, kid);
  if (principal.role === 'device') {
    const device = state.devices.get(principal.id)!;
    const epoch = device.keys.find((k) => k.kid === kid)!;
    if (device.status === 'revoked') {
      throw refuseConnect(StateErrorCode.DEVICE_REVOKED, `device ${device.id} is revoked`, NOT_AUTHORIZED);
    }
    if (epoch.until !== undefined) {
      throw refuseConnect(
        G.KEY_ROTATED,
        'the token is signed with a key the device rotated away from',
        BAD_CREDENTIALS,
        {
          field: 'protected.4',
        },
      );
    }
    if (device.status !== 'active') {
      throw refuseConnect(
        StateErrorCode.DEVICE_NOT_ACTIVE,
        `device ${device.id} is ${device.status}`,
        NOT_AUTHORIZED,
      );
    }
  }
  checkWindow(deps, token.t);
  claimNonce(deps, `${token.dev}:${toHex(token.nonce)}`, token.t);
  return { principal, kid };
}
