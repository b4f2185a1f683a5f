/**
 * Identifiers of the v1 protocol (DESIGN §3): device ids, model ids and principal ids.
 *
 * An id is 1 to 64 of `A-Za-z0-9._-`. Two refinements, written down here because DESIGN is
 * silent on them: `.` and `..` are refused (ids end up in file names and URLs, where they
 * mean something else), and the device id `enrol` is reserved, since `enrol` is the MQTT
 * username of self-enrolment. A principal is a device id, or `admin:{id}` / `clinician:{id}`.
 */

import { ID_MAX_LENGTH } from './decode/limits.js';
import { MedgateError, ProtocolErrorCode } from './errors.js';

/** An id of any kind (model ids, the id after a role prefix): the alphabet, not `.` or `..`. */
export const ID_PATTERN = /^(?!\.\.?$)[A-Za-z0-9._-]{1,64}$/;

/** Device ids that no device may have. */
export const RESERVED_DEVICE_IDS: readonly string[] = Object.freeze(['enrol']);

/** A device id: ID_PATTERN minus RESERVED_DEVICE_IDS (a test keeps the two in step). */
export const DEVICE_ID_PATTERN = /^(?!(?:\.|\.\.|enrol)$)[A-Za-z0-9._-]{1,64}$/;

/** A principal id: a device id, or `admin:` / `clinician:` and an id. */
export const PRINCIPAL_PATTERN =
  /^(?:(?:admin|clinician):(?!\.\.?$)[A-Za-z0-9._-]{1,64}|(?!(?:\.|\.\.|enrol)$)[A-Za-z0-9._-]{1,64})$/;

export type Role = 'device' | 'admin' | 'clinician';

export interface Principal {
  readonly role: Role;
  /** The id without its role prefix. */
  readonly id: string;
}

/** Principal ids: a device id, or a role prefix and an id (longest: `clinician:` + 64). */
export const PRINCIPAL_MAX_LENGTH = 'clinician:'.length + ID_MAX_LENGTH;

function badId(message: string, name: string, got: unknown): MedgateError {
  return new MedgateError(ProtocolErrorCode.BAD_DEVICE_ID, `${name}: ${message}`, {
    field: name,
    got: typeof got === 'string' ? got.slice(0, ID_MAX_LENGTH + 16) : typeof got,
  });
}

function isId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

export function isDeviceId(id: unknown): id is string {
  return typeof id === 'string' && DEVICE_ID_PATTERN.test(id);
}

/** Returns `id` if it is a device id; throws MG_ERR_BAD_DEVICE_ID naming `name` otherwise. */
export function assertDeviceId(id: unknown, name = 'deviceId'): string {
  if (!isId(id)) throw badId('must be 1 to 64 of A-Za-z0-9._- (not . or ..)', name, id);
  if (RESERVED_DEVICE_IDS.includes(id)) throw badId(`"${id}" is reserved`, name, id);
  return id;
}

/** Model ids use the id alphabet (DESIGN §3). */
export function isModelId(id: unknown): id is string {
  return isId(id);
}

/** Returns `id` if it is a model id; throws MG_ERR_BAD_FIELD naming `name` otherwise. */
export function assertModelId(id: unknown, name = 'model'): string {
  if (!isId(id)) {
    throw new MedgateError(ProtocolErrorCode.BAD_FIELD, `${name}: must be 1 to 64 of A-Za-z0-9._-`, {
      field: name,
    });
  }
  return id;
}

const ROLE_PREFIXES: readonly (readonly [string, Role])[] = [
  ['admin:', 'admin'],
  ['clinician:', 'clinician'],
];

/** Like `parsePrincipal`, but returns undefined instead of throwing. */
export function toPrincipal(text: unknown): Principal | undefined {
  if (typeof text !== 'string' || text.length > PRINCIPAL_MAX_LENGTH) return undefined;
  for (const [prefix, role] of ROLE_PREFIXES) {
    if (text.startsWith(prefix)) {
      const id = text.slice(prefix.length);
      return isId(id) ? Object.freeze({ role, id }) : undefined;
    }
  }
  return isDeviceId(text) ? Object.freeze({ role: 'device', id: text }) : undefined;
}

/** Splits a principal id (`dev-1`, `admin:alice`, `clinician:bob`); MG_ERR_BAD_DEVICE_ID if it is none. */
export function parsePrincipal(text: unknown, name = 'principal'): Principal {
  const principal = toPrincipal(text);
  if (principal === undefined) {
    throw badId('must be a device id, admin:{id} or clinician:{id}', name, text);
  }
  return principal;
}

/** The principal id of `principal`; inverse of `parsePrincipal`. */
export function formatPrincipal(principal: Principal): string {
  const { role, id } = principal;
  if (role === 'device') return assertDeviceId(id, 'principal.id');
  if (role !== 'admin' && role !== 'clinician') {
    throw new MedgateError(
      ProtocolErrorCode.BAD_ARGUMENT,
      'principal.role must be device, admin or clinician',
      {
        field: 'principal.role',
      },
    );
  }
  if (!isId(id)) throw badId('must be 1 to 64 of A-Za-z0-9._- (not . or ..)', 'principal.id', id);
  return `${role}:${id}`;
}
