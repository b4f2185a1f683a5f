/** Helpers shared by the ledger-facing commands: key arguments, JSON files, JSON output. */
import { readFile, writeFile } from 'node:fs/promises';
import { fromHex, toHex } from '../../../firmware-ts/protocol/bytes.js';
import { decodePublicKeyPem } from '../../../firmware-ts/protocol/pem.js';
import { Ledger } from '../../ledger/ledger.js';
import { safeJsonParse } from '../../util/safe-json.js';
import { type OptionSpec, type ParsedArgs, stringOption, UsageError } from '../command.js';

export const DATA_OPTION: OptionSpec = Object.freeze({
  type: 'string',
  value: 'DIR',
  description: 'data directory of the ledger',
});
export const JSON_OPTION: OptionSpec = Object.freeze({ type: 'boolean', description: 'print JSON' });
export const AUTHORITY_OPTION: OptionSpec = Object.freeze({
  type: 'string',
  multiple: true,
  value: 'PUBKEY',
  description: 'authority public key: SPKI PEM file or 64 hex digits (repeatable)',
});

/** Opens the ledger of `--data` for reading only (a running gateway holds the lock). */
export function openReadOnly(args: ParsedArgs): Promise<Ledger> {
  return Ledger.open(stringOption(args, 'data', true), { readOnly: true });
}

/** A public key given as 64 hex digits or as the path of an SPKI PEM file. */
export async function readPublicKey(text: string, option: string): Promise<Uint8Array> {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return fromHex(text, option);
  let pem: string;
  try {
    pem = await readFile(text, 'utf8');
  } catch {
    throw new UsageError(`--${option}: '${text}' is neither 64 hex digits nor a readable file`);
  }
  return decodePublicKeyPem(pem);
}

/** Every `--authority` key; a UsageError when none is given. */
export async function authorityKeys(args: ParsedArgs): Promise<Uint8Array[]> {
  const values = args.values.authority;
  const list = Array.isArray(values) ? values : values === undefined ? [] : [values];
  if (list.length === 0) throw new UsageError('missing --authority');
  return Promise.all(list.map((v) => readPublicKey(String(v), 'authority')));
}

/** Reads and parses a JSON file (prototype-poisoning safe); UsageError if it cannot be read. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${path}`);
  }
  return safeJsonParse(text);
}

export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** A non-negative integer positional argument. */
export function integerArg(text: string | undefined, name: string): number {
  if (text === undefined) throw new UsageError(`missing ${name}`);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${name} must be a non-negative integer, got '${text}'`);
  }
  return Number(text);
}

/** No more positional arguments than `max`. */
export function maxPositionals(args: ParsedArgs, max: number): void {
  if (args.positionals.length > max) throw new UsageError(`unexpected argument '${args.positionals[max]}'`);
}

/** Structures with bytes, Maps and persistent maps as plain JSON: bytes become hex. */
export function toJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJson(v)]));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}

/** A short hex prefix for people. */
export function short(bytes: Uint8Array): string {
  return toHex(bytes).slice(0, 16);
}
