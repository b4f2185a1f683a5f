/**
 * `medgate rollout propose|approve|status|halt|list` (DESIGN §5): a rollout is a
 * `rollout.authorize` action behind the model's policy (how many distinct admins approve).
 * `propose` creates the proposal (it counts as the proposer's approval); the rollout id is the
 * proposal id. Once authorised the gateway offers the update wave by wave; `status` shows each
 * device's state and the counts per wave; `halt` stops every further offer and chunk.
 */
import { readFile } from 'node:fs/promises';
import { fromHex, toHex } from '../../../firmware-ts/protocol/bytes.js';
import { sha256 } from '../../../firmware-ts/protocol/hash.js';
import { ID_PATTERN, isDeviceId } from '../../../firmware-ts/protocol/ids.js';
import { decodeManifestCose } from '../../../firmware-ts/protocol/tx/sign.js';
import type { RolloutTarget } from '../../../firmware-ts/protocol/tx/types.js';
import { ADMIN_OPTIONS, adminSession, clientOf, GATEWAY_OPTION, submitTx } from '../admin-session.js';
import {
  type Command,
  ExitCode,
  type Io,
  integerOption,
  type ParsedArgs,
  stringOption,
  UsageError,
} from '../command.js';
import { JSON_OPTION, maxPositionals } from './common.js';
import { printTx } from './device.js';
import { describeProposal, type ProposalView } from './proposal.js';

const HOUR_MS = 3_600_000;
/** The state machine refuses proposals that live longer than 30 days (STATE_LIMITS). */
const MAX_TTL_HOURS = 30 * 24;
const DEFAULT_TTL_HOURS = 7 * 24;
const DEFAULT_EXPIRY_MS = 30 * 24 * HOUR_MS;
const UNIT_MS: Readonly<Record<string, number>> = Object.freeze({
  s: 1000,
  m: 60_000,
  h: HOUR_MS,
  d: 24 * HOUR_MS,
});

/** A time: `now`, `+90s` / `+30m` / `+2h` / `+7d` from now, ms since the epoch, or ISO 8601. */
export function parseTime(text: string, option: string, now = Date.now()): number {
  if (text === 'now') return now;
  const rel = /^\+(\d{1,9})([smhd])$/.exec(text);
  if (rel !== null) return now + Number(rel[1]) * UNIT_MS[rel[2]!]!;
  if (/^\d{1,16}$/.test(text)) return Number(text);
  const parsed = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(parsed) || parsed < 0) {
    throw new UsageError(
      `--${option} must be now, +N(s|m|h|d), ms since the epoch or an ISO 8601 time, got '${text}'`,
    );
  }
  return parsed;
}

function idArg(args: ParsedArgs): string {
  maxPositionals(args, 1);
  const id = args.positionals[0];
  if (id === undefined) throw new UsageError('missing ROLLOUT_ID (64 hex digits)');
  if (!/^[0-9a-fA-F]{64}$/.test(id)) throw new UsageError(`ROLLOUT_ID must be 64 hex digits, got '${id}'`);
  return id.toLowerCase();
}

function listOption(args: ParsedArgs, name: string): string[] | undefined {
  const text = stringOption(args, name);
  return text === undefined
    ? undefined
    : text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
}

/** `--devices a,b` or `--cohort all`, exactly one. */
function targetOf(args: ParsedArgs): RolloutTarget {
  const devs = listOption(args, 'devices');
  const cohort = stringOption(args, 'cohort');
  if ((devs === undefined) === (cohort === undefined))
    throw new UsageError('give exactly one of --devices, --cohort');
  if (cohort !== undefined) {
    if (cohort !== 'all') throw new UsageError(`--cohort must be 'all', got '${cohort}'`);
    return { cohort: 'all' };
  }
  if (devs!.length === 0 || devs!.some((d) => !isDeviceId(d))) {
    throw new UsageError('--devices must be device ids separated by commas');
  }
  if (new Set(devs).size !== devs!.length) throw new UsageError('--devices lists a device twice');
  return { devs: devs! };
}

function wavesOf(args: ParsedArgs, target: RolloutTarget): number[] {
  const list = listOption(args, 'waves');
  if (list === undefined) {
    if ('devs' in target) return [target.devs.length];
    throw new UsageError('a cohort rollout needs --waves (sizes, e.g. 1,5,20; the last one repeats)');
  }
  if (list.length === 0 || list.some((w) => !/^\d{1,9}$/.test(w) || Number(w) < 1)) {
    throw new UsageError('--waves must be sizes >= 1 separated by commas, e.g. 1,2');
  }
  return list.map(Number);
}

/** The release id (hex) and its model, from --manifest FILE or --release ID. */
async function releaseOf(args: ParsedArgs): Promise<{ id: string; model?: string }> {
  const file = stringOption(args, 'manifest');
  const id = stringOption(args, 'release');
  if ((file === undefined) === (id === undefined))
    throw new UsageError('give exactly one of --manifest, --release');
  if (id !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(id)) throw new UsageError(`--release must be 64 hex digits, got '${id}'`);
    return { id: id.toLowerCase() };
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file!));
  } catch {
    throw new UsageError(`--manifest: cannot read ${file}`);
  }
  try {
    return { id: toHex(sha256(bytes)), model: decodeManifestCose(bytes).manifest.model };
  } catch (cause) {
    throw new UsageError(`--manifest: ${file} is not a signed manifest (${(cause as Error).message})`);
  }
}

/** `GET /v1/rollouts/{id}` (docs/http-api.md). */
export interface RolloutView {
  readonly id: string;
  readonly status: 'proposed' | 'scheduled' | 'active' | 'halted' | 'expired' | 'completed';
  readonly proposal?: ProposalView;
  readonly release?: { id: string; model?: string; seq?: number; version?: string; size?: number };
  readonly model?: string;
  readonly target?: { devs?: string[]; cohort?: string };
  readonly notBefore?: number;
  readonly expires?: number;
  readonly maxFailures?: number;
  readonly halted?: { by: string; reason: string };
  readonly confirmed?: number;
  readonly failures?: number;
  readonly waves?: readonly {
    index: number;
    size: number;
    open: boolean;
    devices: string[];
    counts: Record<string, number>;
  }[];
  readonly devices?: readonly {
    id: string;
    wave: number;
    state: string;
    offered: boolean;
    seq?: number;
    error?: string;
  }[];
}

/** Where a rollout proposal stands, and what to do next. */
function describeRolloutProposal(view: ProposalView, id: string): string {
  if (view.status === 'executed') return describeProposal(view, `rollout ${id}`);
  return (
    `rollout ${id}: proposed, ${view.approvals} of ${view.required} approvals (${view.approvedBy.join(', ')});` +
    ` another admin approves with:\n  medgate rollout approve ${id} --admin-key KEY`
  );
}

function printStatus(io: Io, v: RolloutView): void {
  if (v.status === 'proposed' && v.proposal !== undefined) {
    io.out(describeRolloutProposal(v.proposal, v.id));
    return;
  }
  const r = v.release;
  io.out(`rollout ${v.id}: ${v.status}`);
  io.out(
    `  release ${r?.id ?? '?'}: ${v.model} seq ${r?.seq ?? '?'} (${r?.version ?? '?'}), ${r?.size ?? '?'} bytes`,
  );
  const target = v.target?.devs !== undefined ? `devices ${v.target.devs.join(', ')}` : 'cohort all';
  io.out(
    `  target ${target}; halts at ${v.maxFailures} failure(s); ${v.confirmed} confirmed, ${v.failures} failed`,
  );
  io.out(`  window ${new Date(v.notBefore ?? 0).toISOString()} to ${new Date(v.expires ?? 0).toISOString()}`);
  if (v.halted !== undefined) io.out(`  halted by ${v.halted.by}: ${v.halted.reason}`);
  for (const w of v.waves ?? []) {
    const counts = Object.entries(w.counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    io.out(
      `  wave ${w.index + 1} (${w.open ? 'open' : 'closed'}): ${w.devices.length} device(s)${counts ? `: ${counts}` : ''}`,
    );
  }
  for (const d of v.devices ?? []) {
    const extra = `${d.seq === undefined ? '' : ` seq ${d.seq}`}${d.error === undefined ? '' : ` ${d.error}`}`;
    io.out(
      `    ${d.id.padEnd(24)} wave ${d.wave + 1}  ${d.state.padEnd(11)}${d.offered ? ' offered' : ''}${extra}`,
    );
  }
}

const propose: Command = {
  path: ['rollout', 'propose'],
  summary: 'propose a staged rollout of a release (takes effect at the model policy threshold)',
  options: {
    ...ADMIN_OPTIONS,
    manifest: { type: 'string', value: 'FILE', description: 'the signed manifest of the release' },
    release: { type: 'string', value: 'ID', description: 'or the release id (SHA-256 of the manifest, hex)' },
    model: { type: 'string', value: 'MODEL', description: "the model (default: the manifest's)" },
    devices: { type: 'string', value: 'a,b,...', description: 'target devices, in wave order' },
    cohort: { type: 'string', value: 'all', description: "or every active device of the model ('all')" },
    waves: {
      type: 'string',
      value: 'N,N,...',
      description: 'wave sizes (default one wave of every listed device)',
    },
    'max-failures': {
      type: 'string',
      value: 'N',
      description: 'failed or rolled-back devices that halt it (default 1)',
    },
    'not-before': { type: 'string', value: 'TIME', description: 'start, block time (default now)' },
    expires: { type: 'string', value: 'TIME', description: 'end, block time (default +30d)' },
    'ttl-hours': {
      type: 'string',
      value: 'H',
      description: `hours the proposal accepts approvals (default ${DEFAULT_TTL_HOURS}, at most ${MAX_TTL_HOURS})`,
    },
    json: JSON_OPTION,
  },
  details:
    'TIME is now, +N(s|m|h|d), ms since the epoch, or ISO 8601. The proposal counts as your\n' +
    "approval; other admins approve with `medgate rollout approve ROLLOUT_ID`. The model's policy\n" +
    '(medgate policy show MODEL) says how many distinct admins must approve, the largest wave\n' +
    'and the largest failure threshold.',
  async run(args, io) {
    maxPositionals(args, 0);
    const release = await releaseOf(args);
    const model = stringOption(args, 'model') ?? release.model;
    if (model === undefined) throw new UsageError('missing --model');
    if (!ID_PATTERN.test(model)) throw new UsageError(`--model must be a model id, got '${model}'`);
    if (release.model !== undefined && release.model !== model) {
      throw new UsageError(`--model ${model} is not the manifest's model ${release.model}`);
    }
    const target = targetOf(args);
    const waves = wavesOf(args, target);
    const maxFailures = integerOption(args, 'max-failures', 1);
    if (maxFailures < 1) throw new UsageError('--max-failures must be at least 1');
    const now = Date.now();
    const notBefore = parseTime(stringOption(args, 'not-before') ?? 'now', 'not-before', now);
    const expires = parseTime(stringOption(args, 'expires') ?? `${now + DEFAULT_EXPIRY_MS}`, 'expires', now);
    if (expires <= notBefore) throw new UsageError('--expires must be after --not-before');
    const ttl = integerOption(args, 'ttl-hours', DEFAULT_TTL_HOURS);
    if (ttl < 1 || ttl > MAX_TTL_HOURS) throw new UsageError(`--ttl-hours must be 1 to ${MAX_TTL_HOURS}`);
    const session = await adminSession(args);
    const result = await submitTx(session, 'proposal.create', {
      action: {
        type: 'rollout.authorize',
        body: {
          manifest: fromHex(release.id, 'release'),
          model,
          target,
          notBefore,
          expires,
          waves,
          maxFailures,
        },
      },
      expires: Date.now() + ttl * HOUR_MS,
    });
    const view = await session.client.get<ProposalView>(`/v1/proposals/${result.txId}`);
    if (args.values.json) io.out(JSON.stringify({ ...result, rollout: result.txId, proposal: view }));
    else io.out(describeRolloutProposal(view, result.txId));
    return ExitCode.OK;
  },
};

const approve: Command = {
  path: ['rollout', 'approve'],
  summary: 'approve a proposed rollout',
  args: 'ROLLOUT_ID',
  options: { ...ADMIN_OPTIONS, json: JSON_OPTION },
  async run(args, io) {
    const id = idArg(args);
    const session = await adminSession(args);
    const result = await submitTx(session, 'proposal.approve', { proposal: fromHex(id, 'ROLLOUT_ID') });
    const view = await session.client.get<RolloutView>(`/v1/rollouts/${id}`);
    if (args.values.json) io.out(JSON.stringify({ ...result, rollout: view }));
    else if (view.status === 'proposed' && view.proposal !== undefined) {
      io.out(`approved by ${session.actor}; ${describeRolloutProposal(view.proposal, id)}`);
    } else {
      io.out(
        `rollout ${id} approved by ${session.actor}: authorised, ${view.status} (block ${result.height})`,
      );
    }
    return ExitCode.OK;
  },
};

const status: Command = {
  path: ['rollout', 'status'],
  summary: "a rollout's state: each device's state and the counts per wave",
  args: 'ROLLOUT_ID',
  options: { gateway: GATEWAY_OPTION, json: JSON_OPTION },
  async run(args, io) {
    const id = idArg(args);
    const view = await clientOf(args).get<RolloutView>(`/v1/rollouts/${id}`);
    if (args.values.json) io.out(JSON.stringify(view));
    else printStatus(io, view);
    return ExitCode.OK;
  },
};

const halt: Command = {
  path: ['rollout', 'halt'],
  summary: 'halt a rollout: no more offers or image chunks (recorded on the ledger)',
  args: 'ROLLOUT_ID',
  options: {
    ...ADMIN_OPTIONS,
    reason: { type: 'string', value: 'TEXT', description: 'why (recorded on the ledger)' },
    json: JSON_OPTION,
  },
  async run(args, io) {
    const id = idArg(args);
    const reason = stringOption(args, 'reason');
    const session = await adminSession(args);
    const rollout = fromHex(id, 'ROLLOUT_ID');
    const result = await submitTx(
      session,
      'rollout.halt',
      reason === undefined ? { rollout } : { rollout, reason },
    );
    printTx(io, args, result, `rollout ${id} halted by ${session.actor}`);
    return ExitCode.OK;
  },
};

const list: Command = {
  path: ['rollout', 'list'],
  summary: 'list the rollouts on the ledger',
  options: { gateway: GATEWAY_OPTION, json: JSON_OPTION },
  async run(args, io) {
    maxPositionals(args, 0);
    const { rollouts } = await clientOf(args).get<{
      rollouts: {
        id: string;
        status: string;
        model: string;
        version?: string;
        devices: number;
        confirmed: number;
        failures: number;
      }[];
    }>('/v1/rollouts');
    if (args.values.json) {
      io.out(JSON.stringify({ rollouts }));
      return ExitCode.OK;
    }
    if (rollouts.length === 0) io.out('no rollouts');
    for (const r of rollouts) {
      io.out(
        `${r.id}  ${r.status.padEnd(9)} ${r.model.padEnd(16)} ${(r.version ?? '?').padEnd(10)} ` +
          `${r.confirmed}/${r.devices} confirmed, ${r.failures} failed`,
      );
    }
    return ExitCode.OK;
  },
};

export const rolloutCommands: readonly Command[] = [propose, approve, status, halt, list];
