/**
 * `medgate proposal approve|list`: the M-of-N mechanism of DESIGN §4 from the admin's side.
 * An approval is the admin's own signature on the ledger (devices verify these themselves);
 * the action runs in the block where the approvals reach the threshold.
 */
import { fromHex } from '../../../firmware-ts/protocol/bytes.js';
import { ADMIN_OPTIONS, adminSession, clientOf, GATEWAY_OPTION, submitTx } from '../admin-session.js';
import { type Command, ExitCode, UsageError } from '../command.js';
import { JSON_OPTION, maxPositionals } from './common.js';

/** A proposal as `GET /v1/proposals/{id}` shows it. */
export interface ProposalView {
  readonly id: string;
  readonly proposer: string;
  readonly action: { readonly type: string; readonly body: unknown };
  readonly status: 'open' | 'executed';
  readonly expires: number;
  readonly approvedBy: readonly string[];
  readonly approvals: number;
  readonly required: number;
}

/** One line for people: where a proposal stands and what to do next. */
export function describeProposal(view: ProposalView, what: string): string {
  if (view.status === 'executed') {
    return `${what}: done (proposal ${view.id} reached ${view.approvals} of ${view.required} approvals)`;
  }
  return (
    `${what}: proposal ${view.id} has ${view.approvals} of ${view.required} approvals` +
    ` (${view.approvedBy.join(', ')}); another admin approves with:\n` +
    `  medgate proposal approve ${view.id} --admin-key KEY`
  );
}

const approve: Command = {
  path: ['proposal', 'approve'],
  summary: 'approve a pending proposal (policy, firmware rollout, admins, vendors)',
  args: 'PROPOSAL_ID',
  options: { ...ADMIN_OPTIONS, json: JSON_OPTION },
  async run(args, io) {
    maxPositionals(args, 1);
    const id = args.positionals[0];
    if (id === undefined) throw new UsageError('missing PROPOSAL_ID (64 hex digits)');
    if (!/^[0-9a-fA-F]{64}$/.test(id)) throw new UsageError(`PROPOSAL_ID must be 64 hex digits, got '${id}'`);
    const session = await adminSession(args);
    const result = await submitTx(session, 'proposal.approve', { proposal: fromHex(id, 'PROPOSAL_ID') });
    const view = await session.client.get<ProposalView>(`/v1/proposals/${id.toLowerCase()}`);
    if (args.values.json) io.out(JSON.stringify({ ...result, proposal: view }));
    else io.out(describeProposal(view, `${view.action.type} approved by ${session.actor}`));
    return ExitCode.OK;
  },
};

const list: Command = {
  path: ['proposal', 'list'],
  summary: 'list open proposals with their approvals',
  options: { gateway: GATEWAY_OPTION, json: JSON_OPTION },
  async run(args, io) {
    maxPositionals(args, 0);
    const { proposals } = await clientOf(args).get<{ proposals: ProposalView[] }>('/v1/proposals');
    if (args.values.json) {
      io.out(JSON.stringify({ proposals }));
      return ExitCode.OK;
    }
    if (proposals.length === 0) io.out('no open proposals');
    for (const p of proposals) {
      io.out(
        `${p.id}  ${p.action.type.padEnd(18)} ${p.approvals}/${p.required}  by ${p.approvedBy.join(', ')}` +
          `  expires ${new Date(p.expires).toISOString()}`,
      );
    }
    return ExitCode.OK;
  },
};

export const proposalCommands: readonly Command[] = [approve, list];
