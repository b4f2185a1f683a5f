/**
 * The vendor-signed firmware manifest (DESIGN §5, SUIT-inspired): the payload of the vendor's
 * COSE_Sign1 that a `firmware.release` transaction carries and a device verifies itself.
 */
import { Fields } from '../decode/fields.js';
import { ID_RULE } from './bodies.js';
import type { Manifest } from './types.js';

export const MANIFEST_KEYS = Object.freeze([
  'vendor',
  'model',
  'seq',
  'version',
  'digest',
  'size',
  'created',
] as const);

/** Largest image a manifest may announce (1 GiB): bounds the "endless data" attack (DESIGN §5). */
export const MAX_IMAGE_SIZE = 1024 * 1024 * 1024;

export function decodeManifest(value: unknown, path = ''): Manifest {
  const f = Fields.of(value, path, MANIFEST_KEYS);
  return {
    vendor: f.text('vendor', ID_RULE),
    model: f.text('model', ID_RULE),
    seq: f.uint('seq'),
    version: f.text('version', { min: 1, max: 64, pattern: /^[\x21-\x7e]+$/ }),
    digest: f.bytes('digest', { len: 32 }),
    size: f.uint('size', { min: 1, max: MAX_IMAGE_SIZE }),
    created: f.uint('created'),
  };
}

export function encodeManifest(m: Manifest): Map<string, unknown> {
  return new Map<string, unknown>([
    ['vendor', m.vendor],
    ['model', m.model],
    ['seq', m.seq],
    ['version', m.version],
    ['digest', m.digest],
    ['size', m.size],
    ['created', m.created],
  ]);
}
