/** Readings an attacker crafts: fresh seqs from the device's own counter, so its stream stays valid. */
import type { CoseSigner } from '../../firmware-ts/protocol/cose.js';
import type { Observation, Reading } from '../../firmware-ts/protocol/decode/reading.js';
import { signReading } from '../device/credentials.js';
import type { AttackContext } from './context.js';

export const NORMAL_OBS: readonly Observation[] = Object.freeze([
  Object.freeze({ code: '8867-4', v: 72, u: '/min' }),
  Object.freeze({ code: '2708-6', v: 97, u: '%' }),
]);

export interface Crafted {
  readonly reading: Reading;
  readonly bytes: Uint8Array;
}

/** A reading with the attacker's next seq, signed by `signer` (default: the device's own key). */
export async function craft(
  ctx: AttackContext,
  options: { obs?: readonly Observation[]; dev?: string; signer?: CoseSigner; seq?: number } = {},
): Promise<Crafted> {
  const reading: Reading = {
    dev: options.dev ?? ctx.attacker.id,
    seq: options.seq ?? (await ctx.attacker.store.nextSeq()),
    t: Date.now(),
    obs: options.obs ?? NORMAL_OBS,
  };
  return { reading, bytes: signReading(options.signer ?? ctx.attacker.key.signer, ctx.chain, reading) };
}
