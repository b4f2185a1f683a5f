/** Reading the simulator's own state files: JSON without prototype keys, shapes checked by the caller. */
import { readFile } from 'node:fs/promises';
import { MedgateError, SimErrorCode } from '../errors.js';

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** The parsed JSON of `path`, or undefined when the file does not exist; MG_ERR_SIM_STATE if damaged. */
export async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MedgateError(SimErrorCode.STATE, `cannot read ${path}`, { cause: err });
  }
  try {
    const value: unknown = JSON.parse(text, (key, v) => (FORBIDDEN.has(key) ? undefined : v));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new MedgateError(SimErrorCode.STATE, `${path} is not a JSON object`, { cause: err });
  }
}

export function field<T>(
  obj: Record<string, unknown>,
  key: string,
  type: 'string' | 'number' | 'object',
  path: string,
): T {
  const v = obj[key];
  const ok =
    type === 'number' ? Number.isSafeInteger(v) && (v as number) >= 0 : typeof v === type && v !== null;
  if (!ok)
    throw new MedgateError(SimErrorCode.STATE, `${path}: '${key}' is missing or not a ${type}`, {
      field: key,
    });
  return v as T;
}
