/**
 * Responses of the HTTP API: JSON bodies, and every error as
 * `{"error": {"code": "MG_ERR_...", "message", "field"?}}` with a status that fits the code.
 * Messages of coded errors are written for people and carry no secrets; anything that is not
 * a MedgateError is a 500 whose details stay in the log.
 */
import type { ServerResponse } from 'node:http';
import { isMedgateError, MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { GatewayErrorCode } from '../errors.js';
import { StateErrorCode } from '../ledger/state/errors.js';

/** A coded refusal with the HTTP status it is answered with. */
export class HttpError extends MedgateError {
  readonly status: number;

  constructor(
    status: number,
    code: string,
    message: string,
    details: { field?: string; got?: unknown; want?: unknown; cause?: unknown } = {},
  ) {
    super(code, message, details);
    this.name = 'HttpError';
    this.status = status;
  }
}

const S = StateErrorCode;
const G = GatewayErrorCode;

/** State-machine refusals that name the signer's right to act. */
const FORBIDDEN: ReadonlySet<string> = new Set([
  S.UNKNOWN_ACTOR,
  S.ACTOR_NOT_ALLOWED,
  S.NOT_APPROVER,
  ProtocolErrorCode.BAD_SIGNATURE,
  ProtocolErrorCode.COSE_KID_MISMATCH,
]);

/** Refusals because of what the ledger holds now (retrying the same bytes will not help). */
const CONFLICT: ReadonlySet<string> = new Set([
  S.NONCE_REPLAY,
  S.NONCE_STALE,
  S.KEY_IN_USE,
  S.ALREADY_EXISTS,
  S.UNKNOWN_ADMIN,
  S.UNKNOWN_VENDOR,
  S.UNKNOWN_CLINICIAN,
  S.DEVICE_EXISTS,
  S.UNKNOWN_DEVICE,
  S.DEVICE_NOT_PENDING,
  S.DEVICE_NOT_ACTIVE,
  S.DEVICE_REVOKED,
  S.ALREADY_GRANTED,
  S.NOT_GRANTED,
  S.UNKNOWN_RELEASE,
  S.RELEASE_SEQ_EQUAL,
  S.RELEASE_SEQ_LOWER,
  S.UNKNOWN_ROLLOUT,
  S.ROLLOUT_HALTED,
  S.REPORT_OUT_OF_ORDER,
  S.UNKNOWN_PROPOSAL,
  S.PROPOSAL_EXPIRED,
  S.PROPOSAL_CLOSED,
  S.DUPLICATE_APPROVAL,
  S.GOVERNANCE_UNSATISFIABLE,
]);

const NOT_FOUND: ReadonlySet<string> = new Set([
  G.BLOCK_NOT_FOUND,
  G.TX_NOT_FOUND,
  G.LEAF_NOT_FOUND,
  G.LEAF_NOT_CHECKPOINTED,
  G.NOT_A_CHECKPOINT,
]);

const UNAVAILABLE: ReadonlySet<string> = new Set([
  G.TX_POOL_FULL,
  G.LEDGER_CLOSED,
  G.LEDGER_READ_ONLY,
  G.VERIFY_OVERLOADED,
]);

const TOO_LARGE: ReadonlySet<string> = new Set([G.JSON_TOO_LARGE, ProtocolErrorCode.CBOR_TOO_LARGE]);

/** Codes of untrusted input: the protocol's decoders, the state machine's other rules, JSON. */
const INPUT: ReadonlySet<string> = new Set<string>([
  ...Object.values(ProtocolErrorCode),
  ...Object.values(StateErrorCode),
  G.JSON_MALFORMED,
  G.JSON_FORBIDDEN_KEY,
]);

/** The status a coded error is answered with (400 input, 403 signer, 409 state, ...). */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (!isMedgateError(err)) return 500;
  const { code } = err;
  if (FORBIDDEN.has(code)) return 403;
  if (CONFLICT.has(code)) return 409;
  if (NOT_FOUND.has(code)) return 404;
  if (UNAVAILABLE.has(code)) return 503;
  if (TOO_LARGE.has(code)) return 413;
  if (INPUT.has(code)) return 400;
  return 500;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
}

/** The JSON error body of `err`; non-coded and internal errors say nothing about their cause. */
export function errorBody(err: unknown, status: number): ErrorBody {
  if (!isMedgateError(err) || status === 500) {
    return { error: { code: G.HTTP_INTERNAL, message: 'the gateway failed to serve this request' } };
  }
  return {
    error: {
      code: err.code,
      message: err.message,
      ...(err.field === undefined ? {} : { field: err.field }),
    },
  };
}

const COMMON_HEADERS = Object.freeze({
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
});

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  contentType = 'application/json; charset=utf-8',
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...COMMON_HEADERS,
    ...headers,
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): number {
  const status = statusOf(err);
  // RFC 9110 §15.5.2: a 401 names the scheme that would be accepted.
  const auth: Record<string, string> = status === 401 ? { 'www-authenticate': 'Medgate' } : {};
  sendJson(res, status, errorBody(err, status), undefined, { ...auth, ...headers });
  return status;
}
