/**
 * Offer assembly (DESIGN §5, update wire format v1): everything a device needs to check, by
 * itself, that the policy on the ledger approved this update for it. From the ledger: the
 * vendor's manifest, the proposal and every approval exactly as their signers signed them, the
 * signed block holding the transaction that completed the threshold with its RFC 9162 inclusion
 * path over the block's transactions, and the newest signed block (freshness).
 *
 * The parts of a rollout never change once it is authorised, so they are built once per rollout;
 * only `latest` is taken at publishing time.
 */
import { fromHex } from '../../firmware-ts/protocol/bytes.js';
import {
  completingTx,
  encodeOffer,
  type Offer,
  UPDATE_LIMITS,
} from '../../firmware-ts/protocol/update/index.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Rollout } from '../ledger/state/state.js';

/** Largest chunk this gateway serves (and announces in offers). */
export const CHUNK_SIZE = UPDATE_LIMITS.maxChunk;

export type OfferParts = Omit<Offer, 'latest' | 'chunk'>;

export type OfferLedger = Pick<Ledger, 'state' | 'tip' | 'txProof'>;

/** The fixed parts of the offer of `rollout`, read from the ledger. */
export async function offerParts(ledger: OfferLedger, rollout: Rollout): Promise<OfferParts> {
  const state = ledger.state;
  const proposal = state.proposals.get(rollout.id);
  const release = state.releases.get(rollout.release);
  if (proposal === undefined || release === undefined) {
    throw new MedgateError(
      GatewayErrorCode.LEDGER_CORRUPT,
      `rollout ${rollout.id} has no proposal or release`,
    );
  }
  const approvals = proposal.approvals.map((a) => a.cose);
  const tx = completingTx({ proposal: proposal.cose, approvals });
  // The completing transaction was applied in the block that authorised the rollout.
  const proof = await ledger.txProof(rollout.authorized.height, tx);
  return Object.freeze({
    rollout: fromHex(rollout.id, 'rollout'),
    manifest: release.manifest,
    proposal: proposal.cose,
    approvals: Object.freeze(approvals),
    block: proof.block.bytes,
    txIndex: proof.index,
    txPath: Object.freeze(proof.proof),
  });
}

/** The encoded offer: fixed parts plus the newest signed block the gateway has. */
export function encodeOfferWith(parts: OfferParts, latest: Uint8Array): Uint8Array {
  return encodeOffer({ ...parts, latest, chunk: CHUNK_SIZE });
}

/** Builds each rollout's parts once (they are immutable on the ledger) and keeps them. */
export class OfferCache {
  readonly #ledger: OfferLedger;
  readonly #parts = new Map<string, Promise<OfferParts>>();

  constructor(ledger: OfferLedger) {
    this.#ledger = ledger;
  }

  parts(rollout: Rollout): Promise<OfferParts> {
    let parts = this.#parts.get(rollout.id);
    if (parts === undefined) {
      parts = offerParts(this.#ledger, rollout);
      // A failure is not cached: the next block tries again.
      parts.catch(() => this.#parts.delete(rollout.id));
      this.#parts.set(rollout.id, parts);
    }
    return parts;
  }

  /** The offer of `rollout` with the current tip as `latest`. */
  async offer(rollout: Rollout): Promise<Uint8Array> {
    return encodeOfferWith(await this.parts(rollout), this.#ledger.tip.bytes);
  }

  /** Forgets rollouts that can no longer be offered. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.#parts.keys()) if (!ids.has(id)) this.#parts.delete(id);
  }
}
