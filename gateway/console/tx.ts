/**
 * Transactions the console signs in the browser with the admin's own key (DESIGN §2: the
 * gateway never holds admin keys): an approval of a proposal and the approval of a waiting
 * enrolment. The key stays in the page; only the signed COSE_Sign1 goes to `POST /v1/tx`.
 */
import { fromHex } from '../../firmware-ts/protocol/bytes.js';
import type { CoseSigner } from '../../firmware-ts/protocol/cose.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';

/** Who signs: the admin actor (`admin:{id}`) of the chain, and its key. */
export interface TxSigner {
  readonly chain: string;
  readonly actor: string;
  readonly signer: CoseSigner;
}

/**
 * The nonce of the next transaction, as the CLI picks it (docs/http-api.md): above the last one
 * the ledger accepted from this actor, and the current time in ms when that is higher, so that
 * two sessions of one admin rarely collide and a clock set back never goes below the ledger.
 */
export function nextNonce(last: number | null, now: number): number {
  return Math.max((last ?? 0) + 1, Math.floor(now));
}

/** `proposal.approve` of the proposal with id `proposalHex` (64 hex digits). */
export function approveProposalTx(who: TxSigner, proposalHex: string, nonce: number, t: number): Uint8Array {
  return signTx(
    {
      type: 'proposal.approve',
      chain: who.chain,
      actor: who.actor,
      nonce,
      t,
      body: { proposal: fromHex(proposalHex, 'proposal') },
    },
    who.signer,
  );
}

/** `device.approve` of a self-enrolled device waiting for an admin. */
export function approveDeviceTx(who: TxSigner, dev: string, nonce: number, t: number): Uint8Array {
  return signTx(
    { type: 'device.approve', chain: who.chain, actor: who.actor, nonce, t, body: { dev } },
    who.signer,
  );
}

/**
 * The CLI command that does the same approval from a shell: `rollout approve` for a rollout
 * (gateway/cli/commands/rollout.ts), `proposal approve` for any other proposal.
 */
export function approveCommand(proposalHex: string, actionType: string, gateway: string): string {
  const command = actionType === 'rollout.authorize' ? 'rollout approve' : 'proposal approve';
  return `medgate ${command} ${proposalHex} --gateway ${gateway} --admin-key ADMIN.key`;
}
