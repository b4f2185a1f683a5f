/** Typed readers of path and query parameters: each refusal is a 400 naming the parameter. */
import { fromHex } from '../../firmware-ts/protocol/bytes.js';
import { isDeviceId } from '../../firmware-ts/protocol/ids.js';
import { GatewayErrorCode } from '../errors.js';
import { HttpError } from './respond.js';

function bad(field: string, message: string, got?: unknown): HttpError {
  return new HttpError(400, GatewayErrorCode.HTTP_BAD_PARAM, `${field}: ${message}`, { field, got });
}

const DIGITS = /^\d{1,16}$/;

/** A non-negative safe integer in [min, max], given as decimal digits. */
export function intParam(text: string, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const value = DIGITS.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw bad(field, `must be an integer from ${min} to ${max}`, text.slice(0, 32));
  }
  return value;
}

/** An optional integer query parameter. */
export function intQuery(
  query: URLSearchParams,
  field: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const text = query.get(field);
  return text === null ? fallback : intParam(text, field, min, max);
}

/** A device id (DESIGN §3: 1 to 64 of A-Za-z0-9._-, not `enrol`). */
export function deviceParam(text: string, field = 'id'): string {
  if (!isDeviceId(text))
    throw bad(field, 'must be a device id (1 to 64 of A-Za-z0-9._-)', String(text).slice(0, 80));
  return text;
}

/** 32 bytes as 64 hex digits (leaf hashes, proposal ids). */
export function hashParam(text: string, field: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw bad(field, 'must be 64 hex digits', text.slice(0, 80));
  return fromHex(text, field);
}

/** A FHIR id (Patient), 1 to 64 of A-Za-z0-9-. */
export function fhirIdQuery(query: URLSearchParams, field: string): string | undefined {
  const text = query.get(field);
  if (text === null) return undefined;
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(text)) throw bad(field, 'must be a FHIR id (1 to 64 of A-Za-z0-9-.)');
  return text;
}
