/**
 * The CLI's client of the gateway's HTTP API (docs/http-api.md). Every answer is JSON read
 * with safeJsonParse; an API error comes back as the MedgateError it names (same code, same
 * message), so the CLI prints it and exits 1 like any other refusal.
 */
import { MedgateError } from '../../firmware-ts/protocol/errors.js';
import { GatewayErrorCode } from '../errors.js';
import { safeJsonParse } from '../util/safe-json.js';

export const DEFAULT_GATEWAY = 'http://127.0.0.1:8080';
export const GATEWAY_ENV = 'MEDGATE_GATEWAY';

/** A transaction waits for its block (one block interval); a minute covers any sane interval. */
const REQUEST_TIMEOUT_MS = 60_000;
/** Largest answer the CLI reads (a page of 1,000 devices is well under this). */
const MAX_RESPONSE_CHARS = 8 * 1024 * 1024;

export interface TxResult {
  readonly height: number;
  readonly index: number;
  /** Hex SHA-256 of the transaction's COSE bytes (a proposal's id). */
  readonly txId: string;
  readonly type: string;
}

export class ApiClient {
  readonly base: string;

  constructor(base: string) {
    let url: URL;
    try {
      url = new URL(base);
    } catch {
      throw new MedgateError(GatewayErrorCode.CONFIG, `not a URL: ${base.slice(0, 200)}`, {
        field: 'gateway',
      });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new MedgateError(GatewayErrorCode.CONFIG, 'the gateway URL must be http: or https:', {
        field: 'gateway',
      });
    }
    this.base = url.href.replace(/\/+$/, '');
  }

  /** GET `path` (already encoded); `authorization` is a `Medgate <token>` header value. */
  get<T>(path: string, authorization?: string): Promise<T> {
    return this.#request<T>(path, {
      method: 'GET',
      ...(authorization === undefined ? {} : { headers: { authorization } }),
    });
  }

  /** POST /v1/tx with the COSE bytes; resolves once the transaction is in a block. */
  postTx(bytes: Uint8Array): Promise<TxResult> {
    return this.#request<TxResult>('/v1/tx', {
      method: 'POST',
      headers: { 'content-type': 'application/cose' },
      body: bytes,
    });
  }

  async #request<T>(path: string, init: RequestInit): Promise<T> {
    const url = `${this.base}${path}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      text = await res.text();
    } catch (cause) {
      // fetch wraps the socket error (ECONNREFUSED, ENOTFOUND, a timeout) in `cause`.
      const inner = (cause as Error).cause;
      const why = inner instanceof Error ? inner.message : (cause as Error).message;
      throw new MedgateError(
        GatewayErrorCode.GATEWAY_UNREACHABLE,
        `cannot reach the gateway at ${this.base}: ${why}`,
        {
          cause,
        },
      );
    }
    let body: unknown;
    try {
      body = safeJsonParse(text, { maxLength: MAX_RESPONSE_CHARS });
    } catch (cause) {
      throw new MedgateError(
        GatewayErrorCode.HTTP_BAD_RESPONSE,
        `${init.method} ${path}: HTTP ${res.status} without a JSON body; is ${this.base} a medgate gateway?`,
        { cause },
      );
    }
    if (res.ok) return body as T;
    const error = (body as { error?: { code?: unknown; message?: unknown; field?: unknown } } | null)?.error;
    if (typeof error?.code !== 'string' || !error.code.startsWith('MG_ERR_')) {
      throw new MedgateError(
        GatewayErrorCode.HTTP_BAD_RESPONSE,
        `${init.method} ${path}: HTTP ${res.status}`,
      );
    }
    throw new MedgateError(error.code, String(error.message ?? `HTTP ${res.status}`), {
      ...(typeof error.field === 'string' ? { field: error.field } : {}),
    });
  }
}
