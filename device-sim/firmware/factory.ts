/**
 * What a simulated device ships with: a factory image per model (deterministic bytes, so every
 * device of a model has the same one) at firmware seq FACTORY_SEQ, in slot A.
 */

import { concatBytes, utf8 } from '../../firmware-ts/protocol/bytes.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';

/** Firmware seq of the factory image; a release must have a higher seq to be installed. */
export const FACTORY_SEQ = 1;

/** Bytes one A/B slot holds. */
export const SLOT_CAPACITY = 4 * 1024 * 1024;

const FACTORY_IMAGE_BYTES = 8 * 1024;

/** The factory image of `model`: a SHA-256 stream, so it is the same on every run. */
export function factoryImage(model: string): Uint8Array {
  const parts: Uint8Array[] = [];
  let block = sha256(utf8(`medgate-sim factory image ${model}`));
  for (let n = 0; n < FACTORY_IMAGE_BYTES; n += block.length) {
    parts.push(block);
    block = sha256(block);
  }
  return concatBytes(...parts).slice(0, FACTORY_IMAGE_BYTES);
}
