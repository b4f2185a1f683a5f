/**
 * The new key's half of a key rotation (DESIGN §4: "signed by old and new key"). The device
 * signs `device.rotate` with its current key; the body carries this payload signed by the NEW
 * key, naming the old key's kid, so neither key alone can move the identity.
 */

import { Fields } from '../decode/fields.js';
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { KID_LENGTH } from '../kid.js';
import { DEVICE_RULE } from './bodies.js';
import type { RotateProof } from './types.js';

export const ROTATE_PROOF_KEYS = Object.freeze(['purpose', 'dev', 'old', 'pub'] as const);

export function decodeRotateProof(value: unknown, path = ''): RotateProof {
  const f = Fields.of(value, path, ROTATE_PROOF_KEYS);
  const purpose = f.text('purpose', { min: 1, max: 32 });
  if (purpose !== 'rotate') {
    throw new MedgateError(ProtocolErrorCode.BAD_PURPOSE, `${f.at('purpose')}: must be "rotate"`, {
      field: f.at('purpose'),
      got: purpose,
      want: 'rotate',
    });
  }
  return {
    purpose,
    dev: f.text('dev', DEVICE_RULE),
    old: f.bytes('old', { len: KID_LENGTH }),
    pub: f.bytes('pub', { len: 32 }),
  };
}

export function encodeRotateProof(p: Omit<RotateProof, 'purpose'>): Map<string, unknown> {
  return new Map<string, unknown>([
    ['purpose', 'rotate'],
    ['dev', p.dev],
    ['old', p.old],
    ['pub', p.pub],
  ]);
}
