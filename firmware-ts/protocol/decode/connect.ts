/**
 * Connect token (DESIGN §3, MQTT 3.1.1 password): the COSE_Sign1 payload
 * `{"purpose": "connect", "dev": principal id, "t": ms, "nonce": bstr(16)}`, signed by the
 * principal's current key. Structure only: the caller checks the signature, the time window
 * and that the nonce is fresh.
 */
import { encodeCbor } from '../cbor.js';
import { PRINCIPAL_MAX_LENGTH, PRINCIPAL_PATTERN, type Principal, parsePrincipal } from '../ids.js';
import { checkForEncoding, checkPurpose, Fields, mapOf } from './fields.js';
import { MAX_TIME_MS, NONCE_BYTES } from './limits.js';

export const CONNECT_PURPOSE = 'connect';

export interface ConnectToken {
  readonly purpose: typeof CONNECT_PURPOSE;
  /** Principal id: a device id, `admin:{id}` or `clinician:{id}`. */
  readonly dev: string;
  /** Signing time, ms since the Unix epoch. */
  readonly t: number;
  readonly nonce: Uint8Array;
}

export interface DecodedConnectToken extends ConnectToken {
  /** `dev`, split into role and id. */
  readonly principal: Principal;
}

const CONNECT_KEYS = Object.freeze(['purpose', 'dev', 't', 'nonce']);

/** The typed, frozen connect token in `value`; MG_ERR_BAD_PURPOSE for any other token. */
export function decodeConnectToken(value: unknown): DecodedConnectToken {
  checkPurpose(value, CONNECT_PURPOSE);
  const f = Fields.of(value, '', CONNECT_KEYS);
  f.text('purpose', { min: 1, max: CONNECT_PURPOSE.length, pattern: /^connect$/ });
  const dev = f.text('dev', { min: 1, max: PRINCIPAL_MAX_LENGTH, pattern: PRINCIPAL_PATTERN });
  const t = f.uint('t', { max: MAX_TIME_MS });
  const nonce = f.bytes('nonce', { len: NONCE_BYTES });
  return Object.freeze({ purpose: CONNECT_PURPOSE, dev, principal: parsePrincipal(dev, 'dev'), t, nonce });
}

/** Deterministic bytes of a connect token; `purpose` is filled in. MG_ERR_BAD_ARGUMENT if invalid. */
export function encodeConnectToken(token: Omit<ConnectToken, 'purpose'>): Uint8Array {
  const map = mapOf({ ...token, purpose: CONNECT_PURPOSE }, CONNECT_KEYS);
  checkForEncoding(map, decodeConnectToken);
  return encodeCbor(map);
}
