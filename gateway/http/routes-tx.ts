/**
 * `POST /v1/tx`: a signed ledger transaction in, its position out once a durable block holds
 * it. No token: the transaction's own signature by its actor is what the state machine
 * checks, with every other rule, before the gateway takes it (refusals come back with the
 * state machine's code). The body is the COSE_Sign1 itself (`application/cose`) or
 * `{"tx": "<base64>"}` (`application/json`).
 */
import { fromBase64, toHex } from '../../firmware-ts/protocol/bytes.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { decodeLedgerEntry, entryType } from '../../firmware-ts/protocol/tx/entry.js';
import { TX_MAX_BYTES } from '../../firmware-ts/protocol/tx/sign.js';
import { GatewayErrorCode } from '../errors.js';
import { mediaType, readBody, readJson } from './body.js';
import type { RouteEnv } from './deps.js';
import { HttpError, sendJson } from './respond.js';
import type { Router } from './router.js';

export const COSE_MEDIA_TYPE = 'application/cose';

/** Base64 of the largest transaction, with room for the JSON around it. */
export const TX_JSON_MAX_BYTES = Math.ceil(TX_MAX_BYTES / 3) * 4 + 1024;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function badBody(message: string, field?: string): HttpError {
  return new HttpError(400, GatewayErrorCode.HTTP_BAD_BODY, message, field === undefined ? {} : { field });
}

/** The transaction bytes of a JSON body `{"tx": base64}` (a closed object). */
function txFromJson(value: unknown): Uint8Array {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badBody('the body must be a JSON object {"tx": "<base64>"}');
  }
  const keys = Object.keys(value);
  const extra = keys.find((k) => k !== 'tx');
  if (extra !== undefined) throw badBody(`unknown field ${extra.slice(0, 32)}`, extra.slice(0, 32));
  const tx = (value as { tx?: unknown }).tx;
  if (typeof tx !== 'string' || tx.length === 0 || !BASE64.test(tx)) {
    throw badBody('tx must be the base64 of the COSE_Sign1 bytes', 'tx');
  }
  return fromBase64(tx, 'tx');
}

export function txRoutes(router: Router, { deps }: RouteEnv): void {
  const { ledger, metrics, log } = deps;

  router.post('/v1/tx', async ({ req, res }) => {
    const type = mediaType(req);
    let bytes: Uint8Array;
    if (type === COSE_MEDIA_TYPE) bytes = await readBody(req, TX_MAX_BYTES);
    else if (type === 'application/json') bytes = txFromJson(await readJson(req, TX_JSON_MAX_BYTES));
    else {
      throw new HttpError(
        415,
        GatewayErrorCode.HTTP_UNSUPPORTED_MEDIA_TYPE,
        `Content-Type must be ${COSE_MEDIA_TYPE} or application/json`,
        { got: type.slice(0, 64) },
      );
    }
    let label = 'malformed';
    try {
      const entry = decodeLedgerEntry(bytes);
      label = entryType(entry);
      const position = await ledger.submitTx(bytes);
      metrics.txSubmitted.inc({ type: label, result: 'ok' });
      log.info({ type: label, height: position.height, index: position.index }, 'transaction included');
      sendJson(res, 200, {
        height: position.height,
        index: position.index,
        txId: toHex(position.id),
        type: label,
      });
    } catch (err) {
      metrics.txSubmitted.inc({ type: label, result: isMedgateError(err) ? err.code : 'error' });
      throw err;
    }
  });
}
