/**
 * Who signs a transaction (DESIGN §4): `admin:{id}`, `vendor:{id}`, `clinician:{id}`, or a
 * bare device id. ids.ts knows devices, admins and clinicians; vendors sign transactions too
 * (a vendor may submit its own firmware release), so the ledger adds the `vendor:` prefix.
 */
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { ID_PATTERN, toPrincipal } from '../ids.js';

export const ACTOR_KINDS = Object.freeze(['admin', 'vendor', 'clinician', 'device'] as const);
export type ActorKind = (typeof ACTOR_KINDS)[number];

export interface ActorRef {
  readonly kind: ActorKind;
  /** The id without its role prefix (the device id for devices). */
  readonly id: string;
}

const VENDOR_PREFIX = 'vendor:';

/** Splits an actor string; MG_ERR_BAD_FIELD (naming `field`) when it is none of the four forms. */
export function parseActor(actor: string, field = 'actor'): ActorRef {
  if (actor.startsWith(VENDOR_PREFIX)) {
    const id = actor.slice(VENDOR_PREFIX.length);
    if (ID_PATTERN.test(id)) return Object.freeze({ kind: 'vendor', id });
  } else {
    const p = toPrincipal(actor);
    if (p !== undefined) return Object.freeze({ kind: p.role, id: p.id });
  }
  throw new MedgateError(
    ProtocolErrorCode.BAD_FIELD,
    `${field}: not an admin:, vendor:, clinician: or device id`,
    {
      field,
    },
  );
}

/** The actor string of a principal (parseActor's inverse). */
export function actorOf(kind: ActorKind, id: string): string {
  return kind === 'device' ? id : `${kind}:${id}`;
}
