/**
 * The device's checks of an update offer (DESIGN §5, update wire format v1), in order, each
 * refusing with its own code. The device trusts neither the gateway nor the network: every
 * fact comes from a signature checked against its own trust bundle.
 *
 *  1. `block` and `latest` are signed by an authority of the bundle, for the bundle's chain.
 *  2. The transaction that completed the threshold is in `block` (RFC 9162 inclusion).
 *  3. The manifest is signed by a vendor of the bundle that may sign for its model.
 *  4. The manifest's model is this device's model.
 *  5. The manifest's seq is above the installed one (anti-rollback; equal and lower differ).
 *  6. The proposal and approvals: `proposal.create` of `rollout.authorize`, its id is the
 *     offer's rollout id, every approval names it, and the distinct bundle admins that signed
 *     them and that the model's policy allows (the proposer too, only if allowed: as the ledger
 *     counts) reach max(bundle threshold, policy approvals) (trust.ts rolloutRequirement). A
 *     signature by a key not in the bundle, or not verifying, does not count; one admin counts
 *     once and is verified once.
 *  7. The action authorises exactly this manifest (SHA-256 of its COSE bytes) for its model and
 *     targets this device.
 *  8. Freshness: the action expires after the newest signed block time seen and its notBefore
 *     is not after it; the completing transaction was recorded before the proposal expired.
 *
 * Steps 1, 2, 6 and 7 prove the offer authorised: admins enough signed this rollout id for this
 * manifest and this device. Only then is `onAuthorised` called, and only a refusal after it may
 * be reported on the ledger against the rollout (a junk offer naming a real rollout must not
 * count as that rollout's failure).
 *
 * Pure: nothing is stored here. The agent persists only the block time of step 1 (from
 * authority-signed blocks) and, much later, the seq of a confirmed image.
 */
import { type SignedBlock, verifyBlock, verifyTxInclusion } from '../protocol/block.js';
import { equalBytes } from '../protocol/bytes.js';
import { chainAad, verifyCoseSign1 } from '../protocol/cose.js';
import type { Ed25519Backend } from '../protocol/ed25519/types.js';
import { isMedgateError, MedgateError, ProtocolErrorCode } from '../protocol/errors.js';
import { sha256 } from '../protocol/hash.js';
import { parseActor } from '../protocol/tx/actor.js';
import { type DecodedTx, decodeManifestCose, decodeTx, txId } from '../protocol/tx/sign.js';
import type { Manifest, RolloutAuthorizeBody } from '../protocol/tx/types.js';
import { completingTx, type Offer, type TrustBundle } from '../protocol/update/index.js';
import { UpdateErrorCode, updateError } from './errors.js';
import { type RolloutRequirement, rolloutRequirement } from './trust.js';

export interface OfferContext {
  readonly bundle: TrustBundle;
  readonly deviceId: string;
  readonly model: string;
  readonly installedSeq: number;
  /** Newest authority-signed block time the device has seen before this offer. */
  readonly newestBlockTime: number;
  readonly backend: Ed25519Backend;
  /** Called once step 1 passed, with the newest signed block time now known. */
  readonly onBlockTime?: (t: number) => void;
  /** Called once step 7 passed: the rollout id is proven, a later refusal may be reported. */
  readonly onAuthorised?: (rollout: Uint8Array) => void;
}

export interface CheckedOffer {
  readonly offer: Offer;
  /** Rollout id = proposal id. */
  readonly rollout: Uint8Array;
  readonly manifest: Manifest;
  /** SHA-256 of the manifest COSE bytes: the release id. */
  readonly release: Uint8Array;
  readonly action: RolloutAuthorizeBody;
  /** Distinct bundle admins whose signatures counted. */
  readonly approvers: readonly string[];
  readonly newestBlockTime: number;
}

/** Step 1 for one block: signed by a bundle authority, for the bundle's chain. */
function checkBlock(bytes: Uint8Array, field: string, ctx: OfferContext): SignedBlock {
  try {
    return verifyBlock(bytes, { authorities: ctx.bundle.authorities, chain: ctx.bundle.chain }, ctx.backend);
  } catch (err) {
    if (!isMedgateError(err)) throw err;
    if (err.code === ProtocolErrorCode.CHAIN_MISMATCH) {
      throw updateError(UpdateErrorCode.WRONG_CHAIN, `${field} belongs to another chain`, {
        field,
        got: err.got,
        want: ctx.bundle.chain,
        cause: err,
      });
    }
    throw updateError(
      UpdateErrorCode.BAD_BLOCK,
      `${field} is not a block signed by an authority of the bundle`,
      {
        field,
        cause: err,
      },
    );
  }
}

/** Decodes a transaction of the offer and checks its chain; decoding keeps the protocol codes. */
function offerTx(bytes: Uint8Array, field: string, ctx: OfferContext): DecodedTx {
  let decoded: DecodedTx;
  try {
    decoded = decodeTx(bytes);
  } catch (err) {
    if (!isMedgateError(err)) throw err;
    throw new MedgateError(err.code, `${field}: ${err.message}`, { field, cause: err });
  }
  if (decoded.tx.chain !== ctx.bundle.chain) {
    throw updateError(UpdateErrorCode.WRONG_CHAIN, `${field} belongs to another chain`, {
      field: `${field}.chain`,
      got: decoded.tx.chain,
      want: ctx.bundle.chain,
    });
  }
  return decoded;
}

/**
 * The bundle admin that signed `decoded`, or undefined when its signature does not count. Each
 * admin's signature is checked once per offer (`tried`): the ledger refuses a second approval by
 * the proposer or an approver, so only a padded offer names an admin twice, and padding must not
 * cost a device one verification per copy.
 */
function adminSigner(
  decoded: DecodedTx,
  ctx: OfferContext,
  requirement: RolloutRequirement,
  tried: Set<string>,
): string | undefined {
  let actor: ReturnType<typeof parseActor>;
  try {
    actor = parseActor(decoded.tx.actor);
  } catch {
    return undefined;
  }
  if (actor.kind !== 'admin') return undefined;
  const admin = ctx.bundle.admins.find((a) => a.id === actor.id);
  if (admin === undefined) return undefined; // not an admin of the bundle (unknown or removed)
  // Not allowed by the model's policy: the ledger does not count them either (mayApprove).
  if (requirement.approvers !== undefined && !requirement.approvers.includes(admin.id)) return undefined;
  if (tried.has(admin.id)) return undefined;
  tried.add(admin.id);
  try {
    verifyCoseSign1(decoded.cose, admin.pub, chainAad(ctx.bundle.chain), ctx.backend);
  } catch (err) {
    if (!isMedgateError(err)) throw err;
    return undefined; // another key than the bundle's for this admin, or a bad signature
  }
  return admin.id;
}

function targets(action: RolloutAuthorizeBody, deviceId: string): boolean {
  return 'devs' in action.target ? action.target.devs.includes(deviceId) : action.target.cohort === 'all';
}

/** Runs the checks in order; returns what they established, or throws the first refusal. */
export function checkOffer(offer: Offer, ctx: OfferContext): CheckedOffer {
  // 1. Blocks: signed by a bundle authority, this chain. Their time is a signed fact now.
  const block = checkBlock(offer.block, 'block', ctx);
  const latest = checkBlock(offer.latest, 'latest', ctx);
  const newest = Math.max(ctx.newestBlockTime, block.header.t, latest.header.t);
  ctx.onBlockTime?.(newest);

  // 2. The completing transaction is in the signed block.
  try {
    verifyTxInclusion(completingTx(offer), offer.txIndex, offer.txPath, block.header);
  } catch (err) {
    if (!isMedgateError(err)) throw err;
    throw updateError(
      UpdateErrorCode.NOT_IN_BLOCK,
      'the approving transaction is not proven to be in the block',
      {
        field: 'txPath',
        cause: err,
      },
    );
  }

  // 3. Vendor signature (arbitrary software): a bundle vendor, allowed for the model.
  const { cose, manifest } = decodeManifestCose(offer.manifest);
  const vendor = ctx.bundle.vendors.find((v) => v.id === manifest.vendor);
  if (vendor === undefined) {
    throw updateError(
      UpdateErrorCode.UNTRUSTED_VENDOR,
      `vendor ${manifest.vendor} is not in the trust bundle`,
      {
        field: 'manifest.vendor',
        got: manifest.vendor,
      },
    );
  }
  try {
    verifyCoseSign1(cose, vendor.pub, chainAad(ctx.bundle.chain), ctx.backend);
  } catch (err) {
    if (!isMedgateError(err)) throw err;
    throw updateError(UpdateErrorCode.UNTRUSTED_VENDOR, `the manifest is not signed by vendor ${vendor.id}`, {
      field: 'manifest',
      cause: err,
    });
  }
  if (!vendor.models.includes(manifest.model)) {
    throw updateError(
      UpdateErrorCode.UNTRUSTED_VENDOR,
      `vendor ${vendor.id} may not sign for ${manifest.model}`,
      {
        field: 'manifest.model',
        got: manifest.model,
      },
    );
  }

  // 4. Wrong model.
  if (manifest.model !== ctx.model) {
    throw updateError(
      UpdateErrorCode.WRONG_MODEL,
      `the manifest is for ${manifest.model}, this device is a ${ctx.model}`,
      {
        field: 'manifest.model',
        got: manifest.model,
        want: ctx.model,
      },
    );
  }

  // 5. Anti-rollback; "lower" and "equal" are different errors (TUF spec §5.4.3).
  if (manifest.seq < ctx.installedSeq) {
    throw updateError(
      UpdateErrorCode.ROLLBACK,
      `seq ${manifest.seq} is below the installed ${ctx.installedSeq}`,
      {
        field: 'manifest.seq',
        got: manifest.seq,
        want: ctx.installedSeq + 1,
      },
    );
  }
  if (manifest.seq === ctx.installedSeq) {
    throw updateError(UpdateErrorCode.ALREADY_INSTALLED, `seq ${manifest.seq} is already installed`, {
      field: 'manifest.seq',
      got: manifest.seq,
      want: ctx.installedSeq + 1,
    });
  }

  // 6. Proposal and approvals: distinct bundle admins, all for this proposal, threshold met.
  const proposal = offerTx(offer.proposal, 'proposal', ctx);
  if (proposal.tx.type !== 'proposal.create' || proposal.tx.body.action.type !== 'rollout.authorize') {
    throw updateError(
      UpdateErrorCode.BAD_OFFER,
      'the proposal must be a proposal.create of rollout.authorize',
      {
        field: 'proposal.type',
        got: proposal.tx.type,
      },
    );
  }
  const proposalExpires = proposal.tx.body.expires;
  const action = proposal.tx.body.action.body;
  const rollout = txId(offer.proposal);
  if (!equalBytes(rollout, offer.rollout)) {
    throw updateError(UpdateErrorCode.MIX_AND_MATCH, 'the rollout id is not the id of the proposal', {
      field: 'rollout',
    });
  }
  const requirement = rolloutRequirement(ctx.bundle, action.model);
  const signers = new Set<string>();
  const tried = new Set<string>();
  const proposer = adminSigner(proposal, ctx, requirement, tried);
  if (proposer !== undefined) signers.add(proposer);
  offer.approvals.forEach((bytes, i) => {
    const field = `approvals[${i}]`;
    const approval = offerTx(bytes, field, ctx);
    if (approval.tx.type !== 'proposal.approve') {
      throw updateError(UpdateErrorCode.BAD_OFFER, `${field} must be a proposal.approve`, {
        field: `${field}.type`,
        got: approval.tx.type,
      });
    }
    if (!equalBytes(approval.tx.body.proposal, rollout)) {
      throw updateError(UpdateErrorCode.MIX_AND_MATCH, `${field} approves another proposal`, {
        field: `${field}.body.proposal`,
      });
    }
    const admin = adminSigner(approval, ctx, requirement, tried);
    if (admin !== undefined) signers.add(admin);
  });
  if (signers.size < requirement.required) {
    const under = requirement.policy === undefined ? 'the bundle threshold' : `policy ${requirement.policy}`;
    throw updateError(
      UpdateErrorCode.BELOW_THRESHOLD,
      `${signers.size} distinct trusted admins approved, ${requirement.required} needed (${under})`,
      { field: 'approvals', got: signers.size, want: requirement.required },
    );
  }

  // 7. Exactly this manifest, its model, and this device among the targets.
  const release = sha256(offer.manifest);
  if (!equalBytes(action.manifest, release)) {
    throw updateError(UpdateErrorCode.MIX_AND_MATCH, 'the rollout authorises another manifest', {
      field: 'proposal.body.action.body.manifest',
    });
  }
  if (action.model !== manifest.model) {
    throw updateError(UpdateErrorCode.MIX_AND_MATCH, 'the rollout is for another model than the manifest', {
      field: 'proposal.body.action.body.model',
      got: action.model,
      want: manifest.model,
    });
  }
  if (!targets(action, ctx.deviceId)) {
    throw updateError(UpdateErrorCode.NOT_TARGETED, `the rollout does not target ${ctx.deviceId}`, {
      field: 'proposal.body.action.body.target',
    });
  }
  ctx.onAuthorised?.(rollout);

  // 8. Freshness against the newest signed block time (indefinite freeze).
  if (action.expires <= newest) {
    throw updateError(UpdateErrorCode.EXPIRED, 'the rollout expired before the newest signed block', {
      field: 'proposal.body.action.body.expires',
      got: action.expires,
      want: { after: newest },
    });
  }
  if (block.header.t >= proposalExpires) {
    throw updateError(UpdateErrorCode.EXPIRED, 'the proposal expired before its approval was recorded', {
      field: 'proposal.body.expires',
      got: proposalExpires,
      want: { after: block.header.t },
    });
  }
  if (action.notBefore > newest) {
    throw updateError(UpdateErrorCode.NOT_YET, 'the rollout has not started at the newest signed block', {
      field: 'proposal.body.action.body.notBefore',
      got: action.notBefore,
      want: { notAfter: newest },
    });
  }

  return Object.freeze({
    offer,
    rollout,
    manifest,
    release,
    action,
    approvers: Object.freeze([...signers]),
    newestBlockTime: newest,
  });
}
