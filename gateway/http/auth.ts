/**
 * Clinician and admin authentication for the HTTP API: `Authorization: Medgate <base64 token>`
 * where the token is the same COSE_Sign1 connect token as on MQTT (DESIGN §3): payload
 * `{"purpose":"connect","dev":"clinician:{id}"|"admin:{id}","t","nonce"}`, signed by the
 * principal's key on the ledger with external_aad = the chain id. Checked in the order that
 * spends the least on junk: header, size, COSE profile, token fields, principal on the
 * ledger, signature, time window, then the nonce (recorded only for a valid signature, so
 * unauthenticated requests cannot fill the cache). One token serves one request.
 */
import { fromBase64 } from '../../firmware-ts/protocol/bytes.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, decodeCoseSign1, verifyCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { decodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { TOKEN_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { connectNonceKey, NonceCache } from '../broker/nonce-cache.js';
import { GatewayErrorCode } from '../errors.js';
import { actorKeyOf, hasAccess } from '../ledger/state/queries.js';
import type { State } from '../ledger/state/state.js';
import { HttpError } from './respond.js';

export const AUTH_SCHEME = 'Medgate';

/** A connect token is a small COSE_Sign1 (about 150 bytes); base64 of 2 KiB is plenty. */
const MAX_TOKEN_BYTES = 2048;
const MAX_HEADER_CHARS = Math.ceil(MAX_TOKEN_BYTES / 3) * 4 + AUTH_SCHEME.length + 1;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export interface Principal {
  readonly role: 'admin' | 'clinician';
  readonly id: string;
  /** `admin:{id}` or `clinician:{id}`. */
  readonly actor: string;
}

export interface TokenAuthOptions {
  readonly state: () => State;
  readonly backend: Ed25519Backend;
  readonly skewMs: number;
  readonly nonceCacheSize: number;
  readonly now: () => number;
  /**
   * The broker's cache of connect-token nonces, which the composition root (server.ts) shares:
   * a token used on MQTT cannot be replayed on HTTP, nor the other way round. Keys are
   * `connectNonceKey(principal, nonce)` (as the broker keys them), expiring at `t + skewMs`.
   */
  readonly nonces?: NonceCache;
}

const G = GatewayErrorCode;

function unauthorized(code: string, message: string, cause?: unknown): HttpError {
  return new HttpError(401, code, message, cause === undefined ? {} : { cause });
}

export class TokenAuth {
  readonly #options: TokenAuthOptions;
  readonly #nonces: NonceCache;

  constructor(options: TokenAuthOptions) {
    this.#options = options;
    this.#nonces = options.nonces ?? new NonceCache(options.nonceCacheSize);
  }

  /** The principal of a valid `Authorization` header; HttpError 401/503 with a code otherwise. */
  authenticate(header: string | undefined): Principal {
    const token = this.#tokenBytes(header);
    let cose: ReturnType<typeof decodeCoseSign1>;
    let claims: ReturnType<typeof decodeConnectToken>;
    try {
      cose = decodeCoseSign1(token, MAX_TOKEN_BYTES);
      claims = decodeConnectToken(decodeCbor(cose.payload, TOKEN_CBOR_LIMITS));
    } catch (cause) {
      const why = isMedgateError(cause) ? ` (${cause.code})` : '';
      throw unauthorized(G.AUTH_BAD_TOKEN, `the token is not a connect token${why}`, cause);
    }
    const { principal } = claims;
    if (principal.role === 'device') {
      throw unauthorized(G.AUTH_BAD_TOKEN, 'devices do not use the HTTP API; sign as clinician: or admin:');
    }
    const state = this.#options.state();
    const pub = actorKeyOf(state, { kind: principal.role, id: principal.id });
    if (pub === undefined) {
      throw unauthorized(G.AUTH_UNKNOWN_PRINCIPAL, `no ${principal.role} ${principal.id} on the ledger`);
    }
    try {
      verifyCoseSign1(cose, pub, chainAad(state.chain), this.#options.backend);
    } catch (cause) {
      if (!isMedgateError(cause)) throw cause;
      throw unauthorized(cause.code, `the token's signature does not verify: ${cause.message}`, cause);
    }
    const now = this.#options.now();
    if (Math.abs(claims.t - now) > this.#options.skewMs) {
      throw unauthorized(
        G.AUTH_TOKEN_EXPIRED,
        `the token's time is more than ${this.#options.skewMs} ms from ours`,
      );
    }
    // Remembered while a token with this nonce could still pass the time check.
    switch (
      this.#nonces.claim(connectNonceKey(claims.dev, claims.nonce), claims.t + this.#options.skewMs, now)
    ) {
      case 'seen':
        throw unauthorized(G.AUTH_NONCE_REUSED, 'the token was already used; sign a new one per request');
      case 'full':
        throw new HttpError(503, G.AUTH_NONCE_CACHE_FULL, 'too many recent tokens; retry shortly');
      default:
        return Object.freeze({ role: principal.role, id: principal.id, actor: claims.dev });
    }
  }

  #tokenBytes(header: string | undefined): Uint8Array {
    if (header === undefined || header === '') {
      throw unauthorized(G.AUTH_REQUIRED, `this route needs an Authorization: ${AUTH_SCHEME} <token> header`);
    }
    if (header.length > MAX_HEADER_CHARS) throw unauthorized(G.AUTH_BAD_TOKEN, 'the token is too long');
    const space = header.indexOf(' ');
    const scheme = space < 0 ? header : header.slice(0, space);
    // RFC 9110 §11.1: the scheme is case-insensitive.
    if (scheme.toLowerCase() !== AUTH_SCHEME.toLowerCase()) {
      throw unauthorized(G.AUTH_REQUIRED, `the Authorization scheme must be ${AUTH_SCHEME}`);
    }
    const text = header.slice(space + 1).trim();
    if (space < 0 || !BASE64.test(text)) throw unauthorized(G.AUTH_BAD_TOKEN, 'the token is not base64');
    return fromBase64(text, 'token');
  }
}

/** Admins only: HttpError 403 MG_ERR_AUTH_FORBIDDEN for anyone else. */
export function requireAdmin(principal: Principal): void {
  if (principal.role !== 'admin') {
    throw new HttpError(403, G.AUTH_FORBIDDEN, 'only admins may use this route');
  }
}

/**
 * Admins, and clinicians with an access grant for `dev` on the ledger (hasAccess also refuses a
 * revoked device). HttpError 403 MG_ERR_AUTH_NO_GRANT otherwise.
 */
export function requireDeviceAccess(state: State, principal: Principal, dev: string): void {
  if (principal.role === 'admin') return;
  if (!hasAccess(state, principal.id, dev)) {
    throw new HttpError(
      403,
      G.AUTH_NO_GRANT,
      `clinician ${principal.id} has no access grant for device ${dev}`,
      {
        field: 'id',
      },
    );
  }
}
