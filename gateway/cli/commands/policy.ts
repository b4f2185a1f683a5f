/**
 * `medgate policy set|show`: a model's policy (DESIGN §4, §5): how many admins approve its
 * firmware rollouts and who may, whether self-enrolled devices wait for an admin, and the
 * rollout limits. A policy change is a governance action, so `policy set` does not change
 * anything by itself: it creates a proposal (counting as the proposer's approval) that takes
 * effect once the governance threshold of admins approved it (`medgate proposal approve`).
 */
import { ID_PATTERN } from '../../../firmware-ts/protocol/ids.js';
import {
  DEFAULT_POLICY_MODEL,
  ENROLMENT_MODES,
  type EnrolmentMode,
  type Policy,
} from '../../../firmware-ts/protocol/tx/types.js';
import { ADMIN_OPTIONS, adminSession, clientOf, GATEWAY_OPTION, submitTx } from '../admin-session.js';
import {
  type Command,
  ExitCode,
  integerOption,
  type ParsedArgs,
  stringOption,
  UsageError,
} from '../command.js';
import { JSON_OPTION, maxPositionals } from './common.js';
import { describeProposal, type ProposalView } from './proposal.js';

const HOUR_MS = 3_600_000;
/** The state machine refuses proposals that live longer than 30 days (STATE_LIMITS). */
const MAX_TTL_HOURS = 30 * 24;
const DEFAULT_TTL_HOURS = 7 * 24;

function modelArg(args: ParsedArgs): string {
  maxPositionals(args, 1);
  const model = args.positionals[0];
  if (model === undefined)
    throw new UsageError(`missing MODEL (a model id, or '${DEFAULT_POLICY_MODEL}' for the default)`);
  if (model !== DEFAULT_POLICY_MODEL && !ID_PATTERN.test(model)) {
    throw new UsageError(
      `MODEL must be 1 to 64 of A-Za-z0-9._- or '${DEFAULT_POLICY_MODEL}', got '${model}'`,
    );
  }
  return model;
}

function positive(args: ParsedArgs, name: string, current: number): number {
  const value = integerOption(args, name, current);
  if (value < 1) throw new UsageError(`--${name} must be at least 1`);
  return value;
}

/** The current policy with the flags given applied. */
function changed(args: ParsedArgs, current: Policy): Policy {
  const approvers = stringOption(args, 'approvers');
  const enrolment = stringOption(args, 'enrolment');
  if (enrolment !== undefined && !(ENROLMENT_MODES as readonly string[]).includes(enrolment)) {
    throw new UsageError(`--enrolment must be one of ${ENROLMENT_MODES.join(', ')}`);
  }
  let list: Policy['approvers'] = current.approvers;
  if (approvers !== undefined) {
    list = approvers === 'all' ? 'all' : approvers.split(',').map((a) => a.trim().replace(/^admin:/, ''));
    if (list !== 'all' && (list.length === 0 || list.some((a) => !ID_PATTERN.test(a)))) {
      throw new UsageError("--approvers must be 'all' or admin ids separated by commas");
    }
  }
  return {
    approvals: positive(args, 'approvals', current.approvals),
    approvers: list,
    enrolment: (enrolment as EnrolmentMode | undefined) ?? current.enrolment,
    maxWaveSize: positive(args, 'max-wave-size', current.maxWaveSize),
    maxFailures: positive(args, 'max-failures', current.maxFailures),
  };
}

const POLICY_FLAGS = ['approvals', 'approvers', 'enrolment', 'max-wave-size', 'max-failures'] as const;

const set: Command = {
  path: ['policy', 'set'],
  summary: "propose a model's policy (takes effect at the admins' governance threshold)",
  args: 'MODEL',
  options: {
    ...ADMIN_OPTIONS,
    approvals: {
      type: 'string',
      value: 'N',
      description: 'distinct admin approvals a firmware rollout needs',
    },
    approvers: {
      type: 'string',
      value: 'a,b|all',
      description: 'admins who may approve rollouts (default all)',
    },
    enrolment: {
      type: 'string',
      value: 'auto|approval',
      description: 'self-enrolled devices: active at once, or wait',
    },
    'max-wave-size': { type: 'string', value: 'N', description: 'largest rollout wave' },
    'max-failures': { type: 'string', value: 'N', description: 'largest failure threshold of a rollout' },
    'ttl-hours': {
      type: 'string',
      value: 'H',
      description: `hours the proposal accepts approvals (default ${DEFAULT_TTL_HOURS}, at most ${MAX_TTL_HOURS})`,
    },
    json: JSON_OPTION,
  },
  details:
    "Fields not given keep their current value (the model's own policy, else the default policy).\n" +
    'The proposal counts as your approval; other admins approve it with\n' +
    '  medgate proposal approve PROPOSAL_ID --admin-key THEIR.key',
  async run(args, io) {
    const model = modelArg(args);
    if (!POLICY_FLAGS.some((f) => args.values[f] !== undefined)) {
      throw new UsageError(
        `nothing to change: give at least one of ${POLICY_FLAGS.map((f) => `--${f}`).join(', ')}`,
      );
    }
    const ttl = integerOption(args, 'ttl-hours', DEFAULT_TTL_HOURS);
    if (ttl < 1 || ttl > MAX_TTL_HOURS) throw new UsageError(`--ttl-hours must be 1 to ${MAX_TTL_HOURS}`);
    const session = await adminSession(args);
    const current = await session.client.get<{ policy: Policy }>(`/v1/policies/${encodeURIComponent(model)}`);
    const policy = changed(args, current.policy);
    const result = await submitTx(session, 'proposal.create', {
      action: { type: 'policy.set', body: { model, policy } },
      expires: Date.now() + ttl * HOUR_MS,
    });
    const view = await session.client.get<ProposalView>(`/v1/proposals/${result.txId}`);
    if (args.values.json) io.out(JSON.stringify({ ...result, proposal: view }));
    else io.out(describeProposal(view, `policy of ${model}`));
    return ExitCode.OK;
  },
};

const show: Command = {
  path: ['policy', 'show'],
  summary: 'show the policy that applies to a model',
  args: 'MODEL',
  options: { gateway: GATEWAY_OPTION, json: JSON_OPTION },
  async run(args, io) {
    const model = modelArg(args);
    const res = await clientOf(args).get<{ own: boolean; policy: Policy }>(
      `/v1/policies/${encodeURIComponent(model)}`,
    );
    if (args.values.json) {
      io.out(JSON.stringify(res));
      return ExitCode.OK;
    }
    const p = res.policy;
    io.out(`policy of ${model}${res.own ? '' : ` (the default, ${DEFAULT_POLICY_MODEL})`}`);
    io.out(
      `  rollouts need ${p.approvals} approval(s) from ${p.approvers === 'all' ? 'any admin' : p.approvers.join(', ')}`,
    );
    io.out(`  self-enrolment: ${p.enrolment}; max wave ${p.maxWaveSize}; max failures ${p.maxFailures}`);
    return ExitCode.OK;
  },
};

export const policyCommands: readonly Command[] = [set, show];
