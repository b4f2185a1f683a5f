/**
 * Which device is offered which rollout at a ledger state and block time: the one answer the
 * offer publisher (what to retain on each `update` topic) and the chunk server (which image a
 * device may fetch) share. Built from the wave planner; one index per (state, time), memoised,
 * since both ask many times between two blocks.
 *
 * A device is offered at most one rollout: when two active rollouts both offer it, the one
 * with the higher release seq wins (then the later authorised), as a device would install
 * only the newer one anyway.
 */
import { equalBytes, toHex } from '../../firmware-ts/protocol/bytes.js';
import { GatewayErrorCode } from '../errors.js';
import { rolloutsOf } from '../ledger/state/queries.js';
import type { Rollout, State } from '../ledger/state/state.js';
import { planRollout } from './planner.js';

export interface OfferedRollout {
  readonly rollout: Rollout;
  /** The release's image SHA-256. */
  readonly digest: Uint8Array;
  readonly seq: number;
}

export type ChunkDecision =
  | { readonly ok: true; readonly offered: OfferedRollout }
  | { readonly ok: false; readonly code: string; readonly message: string };

export class OfferIndex {
  readonly state: State;
  readonly time: number;
  /** Device id → the rollout offered to it now. */
  readonly offers: ReadonlyMap<string, OfferedRollout>;

  private constructor(state: State, time: number) {
    this.state = state;
    this.time = time;
    const offers = new Map<string, OfferedRollout>();
    for (const rollout of rolloutsOf(state)) {
      const release = state.releases.get(rollout.release);
      if (release === undefined) continue;
      const plan = planRollout(state, rollout, time);
      if (plan.status !== 'active') continue;
      const offered: OfferedRollout = { rollout, digest: release.digest, seq: release.seq };
      for (const device of plan.devices) {
        if (!device.offered) continue;
        const current = offers.get(device.dev);
        if (current === undefined || current.seq <= offered.seq) offers.set(device.dev, offered);
      }
    }
    this.offers = offers;
  }

  static #last: OfferIndex | undefined;

  /** The index of `state` at `time` (the last one is kept: states are immutable). */
  static of(state: State, time: number): OfferIndex {
    const last = OfferIndex.#last;
    if (last !== undefined && last.state === state && last.time === time) return last;
    const index = new OfferIndex(state, time);
    OfferIndex.#last = index;
    return index;
  }

  /**
   * May `dev` fetch chunks of the image `digest` now? Only the digest of the rollout offered
   * to it. Otherwise the most telling refusal: a halted or expired rollout that targets it
   * with this digest, else MG_ERR_FW_NOT_OFFERED (no such release, not a target, wave not
   * open, not started, or its update already ended).
   */
  mayFetch(dev: string, digest: Uint8Array): ChunkDecision {
    const offered = this.offers.get(dev);
    if (offered !== undefined && equalBytes(offered.digest, digest)) return { ok: true, offered };
    let halted = false;
    let expired = false;
    for (const rollout of this.state.rollouts.values()) {
      const release = this.state.releases.get(rollout.release);
      if (release === undefined || !equalBytes(release.digest, digest) || !this.#targets(rollout, dev))
        continue;
      if (rollout.halted !== undefined) halted = true;
      else if (this.time >= rollout.expires) expired = true;
    }
    if (halted) {
      return {
        ok: false,
        code: GatewayErrorCode.FW_ROLLOUT_HALTED,
        message: 'the rollout of this image was halted',
      };
    }
    if (expired) {
      return {
        ok: false,
        code: GatewayErrorCode.FW_ROLLOUT_EXPIRED,
        message: 'the rollout of this image expired',
      };
    }
    return {
      ok: false,
      code: GatewayErrorCode.FW_NOT_OFFERED,
      message: `image ${toHex(digest).slice(0, 16)} is not offered to this device now`,
    };
  }

  #targets(rollout: Rollout, dev: string): boolean {
    if ('devs' in rollout.target) return rollout.target.devs.includes(dev);
    return this.state.devices.get(dev)?.model === rollout.model;
  }
}
