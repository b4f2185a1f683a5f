/**
 * The ledger, read-only and public: what is on it is signed and meant to be checked by anyone
 * (auditors, devices, the CLI). Chain facts, blocks with their transactions, receipts,
 * consistency proofs, an actor's last nonce, proposals and policies. No patient data is here:
 * readings are on the ledger only as leaf hashes, and a receipt carries the reading's bytes
 * only for a caller who may read that device (see routes-readings.ts for the rules).
 */
import type { SignedBlock } from '../../firmware-ts/protocol/block.js';
import { toBase64, toHex } from '../../firmware-ts/protocol/bytes.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { encodeConsistencyBundle } from '../../firmware-ts/protocol/checkpoint.js';
import { decodeCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { READING_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import { decodeReading } from '../../firmware-ts/protocol/decode/reading.js';
import { isModelId } from '../../firmware-ts/protocol/ids.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { encodeReceipt, type Receipt } from '../../firmware-ts/protocol/receipt.js';
import { parseActor } from '../../firmware-ts/protocol/tx/actor.js';
import { decodeLedgerEntry, entryType } from '../../firmware-ts/protocol/tx/entry.js';
import { txId } from '../../firmware-ts/protocol/tx/sign.js';
import { DEFAULT_POLICY_MODEL } from '../../firmware-ts/protocol/tx/types.js';
import { GatewayErrorCode } from '../errors.js';
import { decodeGenesisBytes } from '../ledger/genesis.js';
import { StateErrorCode } from '../ledger/state/errors.js';
import type { ProposalView } from '../ledger/state/queries.js';
import { actorKeyOf, actorNonce, pendingProposals, policyOf, proposalOf } from '../ledger/state/queries.js';
import type { State } from '../ledger/state/state.js';
import { type Principal, requireDeviceAccess } from './auth.js';
import type { RouteEnv } from './deps.js';
import { plain, stampJson } from './json.js';
import { hashParam, intParam, intQuery } from './params.js';
import { HttpError, sendJson } from './respond.js';
import type { Router } from './router.js';

/** One transaction of a block, decoded for display; undecodable bytes are shown as such. */
function txJson(bytes: Uint8Array, index: number): Record<string, unknown> {
  const base = { index, id: toHex(txId(bytes)), bytes: toBase64(bytes) };
  try {
    const entry = decodeLedgerEntry(bytes);
    if (entry.kind === 'enrol') return { ...base, type: entryType(entry), request: plain(entry.request) };
    const { type, chain, actor, nonce, t, body } = entry.tx;
    return { ...base, type, chain, actor, nonce, t, body: plain(body) };
  } catch {
    return { ...base, type: 'undecodable' };
  }
}

export function blockJson(block: SignedBlock, txs: readonly Uint8Array[]): Record<string, unknown> {
  const { header } = block;
  return {
    height: header.height,
    hash: toHex(block.hash),
    kid: toHex(block.kid),
    block: toBase64(block.bytes),
    header: { ...(plain(header) as object), at: new Date(header.t).toISOString() },
    txs:
      header.height === 0
        ? txs.map((bytes, index) => ({
            index,
            id: toHex(txId(bytes)),
            bytes: toBase64(bytes),
            type: 'genesis',
            genesis: plain(decodeGenesisBytes(bytes)),
          }))
        : txs.map((bytes, index) => txJson(bytes, index)),
  };
}

export function proposalJson(view: ProposalView): Record<string, unknown> {
  const { proposal } = view;
  return {
    id: proposal.id,
    proposer: proposal.proposer,
    action: { type: proposal.action.type, body: plain(proposal.action.body) },
    status: proposal.status,
    expires: proposal.expires,
    created: stampJson(proposal.created),
    ...(proposal.executed === undefined ? {} : { executed: stampJson(proposal.executed) }),
    approvedBy: [proposal.proposer, ...proposal.approvals.map((a) => a.admin)],
    approvals: view.approvals,
    required: view.required,
  };
}

function chainJson(state: State): Record<string, unknown> {
  return {
    chain: state.chain,
    height: state.height,
    authorities: state.authorities.map((pub) => ({ pub: toHex(pub), kid: toHex(kidOf(pub)) })),
    threshold: state.threshold,
    admins: state.admins.sortedKeys().map((id) => ({ id, kid: state.admins.get(id)!.kid })),
    vendors: state.vendors.sortedKeys().map((id) => {
      const v = state.vendors.get(id)!;
      return { id, kid: v.kid, models: v.models };
    }),
  };
}

/** The device of a reading's COSE bytes (their payload), or undefined if they do not decode. */
function readingDevice(bytes: Uint8Array): string | undefined {
  try {
    return decodeReading(decodeCbor(decodeCoseSign1(bytes).payload, READING_CBOR_LIMITS)).dev;
  } catch {
    return undefined;
  }
}

/**
 * A receipt without the reading's bytes (patient data) unless the caller is an admin or a
 * clinician granted that device: the proof stays checkable by anyone who has the reading.
 */
function receiptFor(receipt: Receipt, state: State, principal: Principal | undefined): Receipt {
  if (receipt.reading === undefined) return receipt;
  const dev = readingDevice(receipt.reading);
  if (principal !== undefined && dev !== undefined) {
    try {
      requireDeviceAccess(state, principal, dev);
      return receipt;
    } catch {
      // fall through: no access, no reading
    }
  }
  const { reading: _omitted, ...proof } = receipt;
  return proof;
}

export function ledgerRoutes(router: Router, { deps, auth }: RouteEnv): void {
  const { ledger } = deps;

  router.get('/v1/chain', ({ res }) => sendJson(res, 200, chainJson(ledger.state)));

  const block = async (height: number) =>
    blockJson(await ledger.block(height), await ledger.blockTxs(height));

  router.get('/v1/blocks/tip', async ({ res }) => sendJson(res, 200, await block(ledger.tip.header.height)));

  router.get('/v1/blocks/:height', async ({ res, params }) => {
    sendJson(res, 200, await block(intParam(params.height!, 'height')));
  });

  router.get('/v1/receipts/:leaf', async ({ req, res, params }) => {
    const leaf = params.leaf!;
    const key = /^\d+$/.test(leaf) ? intParam(leaf, 'leaf') : hashParam(leaf, 'leaf');
    // A token is optional here; one that is sent must be valid.
    const header = req.headers.authorization;
    const principal = header === undefined ? undefined : auth.authenticate(header);
    const receipt = await ledger.receipt(key);
    sendJson(res, 200, encodeReceipt(receiptFor(receipt, ledger.state, principal)));
  });

  router.get('/v1/consistency', async ({ res, query }) => {
    for (const name of ['from', 'to']) {
      if (query.get(name) === null) {
        throw new HttpError(400, GatewayErrorCode.HTTP_BAD_PARAM, `${name}: required`, { field: name });
      }
    }
    const from = intQuery(query, 'from', 0, 1);
    const to = intQuery(query, 'to', 0, 1);
    sendJson(res, 200, encodeConsistencyBundle(await ledger.consistencyProof(from, to)));
  });

  router.get('/v1/actors/:actor', ({ res, params }) => {
    let actor: ReturnType<typeof parseActor>;
    try {
      actor = parseActor(params.actor!, 'actor');
    } catch (cause) {
      throw new HttpError(
        400,
        GatewayErrorCode.HTTP_BAD_PARAM,
        'actor: must be admin:ID, vendor:ID, clinician:ID or a device id',
        {
          field: 'actor',
          cause,
        },
      );
    }
    const state = ledger.state;
    const pub = actorKeyOf(state, actor);
    sendJson(res, 200, {
      actor: params.actor,
      kind: actor.kind,
      active: pub !== undefined,
      kid: pub === undefined ? null : toHex(kidOf(pub)),
      nonce: actorNonce(state, params.actor!) ?? null,
    });
  });

  router.get('/v1/proposals', ({ res }) => {
    const state = ledger.state;
    sendJson(res, 200, { proposals: pendingProposals(state, ledger.tip.header.t).map(proposalJson) });
  });

  router.get('/v1/proposals/:id', ({ res, params }) => {
    const id = toHex(hashParam(params.id!, 'id'));
    const view = proposalOf(ledger.state, id);
    if (view === undefined) {
      throw new HttpError(404, StateErrorCode.UNKNOWN_PROPOSAL, `no proposal ${id}`, { field: 'id' });
    }
    sendJson(res, 200, proposalJson(view));
  });

  router.get('/v1/policies/:model', ({ res, params }) => {
    const model = params.model!;
    if (!isModelId(model) && model !== DEFAULT_POLICY_MODEL) {
      throw new HttpError(400, GatewayErrorCode.HTTP_BAD_PARAM, 'model: must be a model id or *', {
        field: 'model',
      });
    }
    const state = ledger.state;
    sendJson(res, 200, { model, own: state.policies.has(model), policy: plain(policyOf(state, model)) });
  });
}
