/**
 * `medgate sim` options: declared once here (device-sim owns them), mirrored by the gateway
 * CLI's `sim` command for `--help` and parsing (test/sim/cli.test.ts keeps the two equal), and
 * validated into a frozen SimConfig. Exit code 2 for any mistake in how it was called.
 */
import { parseArgs } from 'node:util';
import { isProfileName, PROFILE_NAMES, type ProfileName } from './physiology/profiles.js';

export interface SimOptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly value?: string;
  readonly description: string;
}

export const ATTACKS = Object.freeze([
  'replay',
  'forge',
  'spoof',
  'tamper-fw',
  'downgrade',
  'flood',
  'malformed',
] as const);
export type AttackName = (typeof ATTACKS)[number];

export const SIM_OPTIONS: Readonly<Record<string, SimOptionSpec>> = Object.freeze({
  mqtt: {
    type: 'string',
    value: 'URL',
    description: 'MQTT URL of the gateway (default mqtt://127.0.0.1:1883)',
  },
  data: {
    type: 'string',
    value: 'DIR',
    description: "a 'medgate init --demo' data dir: chain id and vendor key from demo-keys/index.json",
  },
  chain: {
    type: 'string',
    value: 'ID',
    description: 'chain id (external_aad of every signature); needed without --data',
  },
  'vendor-key': {
    type: 'string',
    value: 'FILE',
    description: 'vendor private key (PKCS#8 PEM) that attests new devices; needed without --data',
  },
  state: {
    type: 'string',
    value: 'DIR',
    description:
      'state directory: keys, seqs, outboxes, firmware slots (default: temporary, removed at exit)',
  },
  devices: { type: 'string', value: 'N', description: 'devices in the fleet (default 3)' },
  profile: {
    type: 'string',
    multiple: true,
    value: 'NAME',
    description: `device profiles, round-robin: ${PROFILE_NAMES.join(', ')} (repeatable or comma list; default all)`,
  },
  'time-scale': { type: 'string', value: 'X', description: 'simulated seconds per real second (default 1)' },
  seed: {
    type: 'string',
    value: 'TEXT',
    description: "seed of the physiology (default: the fleet's, or random)",
  },
  episodes: {
    type: 'string',
    value: 'RATE',
    description: 'deterioration episodes per device per simulated hour (default 1)',
  },
  duration: { type: 'string', value: 'SECONDS', description: 'stop measuring after this many real seconds' },
  readings: { type: 'string', value: 'N', description: 'stop measuring after N readings per device' },
  buffer: {
    type: 'string',
    value: 'N',
    description: 'readings kept per device while offline (default 10000)',
  },
  'drain-ms': {
    type: 'string',
    value: 'MS',
    description: 'at the end, wait this long for acknowledgements (default 10000)',
  },
  'retry-ms': {
    type: 'string',
    value: 'MS',
    description: 'first reconnect back-off, doubling to 30 s (default 1000)',
  },
  attack: {
    type: 'string',
    multiple: true,
    value: 'MODE',
    description: `run an attack and print the gateway's answer: ${ATTACKS.join(', ')} (repeatable)`,
  },
  'fail-selftest': {
    type: 'string',
    value: 'N',
    description: 'N devices fail the self-test of a new firmware and roll back (default 0)',
  },
  'no-firmware': { type: 'boolean', description: 'run without the firmware update agent' },
  json: { type: 'boolean', description: 'JSON lines of events on stdout, then a summary object' },
  help: { type: 'boolean', description: 'show this help' },
});

export interface SimConfig {
  readonly gateway: string;
  readonly data: string | undefined;
  readonly chain: string | undefined;
  readonly vendorKey: string | undefined;
  readonly state: string | undefined;
  readonly devices: number;
  readonly profiles: readonly ProfileName[];
  readonly timeScale: number;
  readonly seed: string | undefined;
  readonly episodesPerHour: number;
  readonly durationMs: number | undefined;
  readonly readings: number | undefined;
  readonly buffer: number;
  readonly drainMs: number;
  readonly retryMs: number;
  readonly attacks: readonly AttackName[];
  readonly failSelftest: number;
  readonly firmware: boolean;
  readonly json: boolean;
  readonly help: boolean;
}

/** A mistake in how the simulator was called: one line, exit 2. */
export class SimUsageError extends Error {
  override readonly name = 'SimUsageError';
}

function text(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function list(values: Record<string, unknown>, name: string): string[] {
  const v = values[name];
  const items = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return items
    .flatMap((s) => String(s).split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function integer(
  values: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number;
function integer(values: Record<string, unknown>, name: string, min: number, max: number): number | undefined;
function integer(values: Record<string, unknown>, name: string, min: number, max: number, fallback?: number) {
  const t = text(values, name);
  if (t === undefined) return fallback;
  const n = Number(t);
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new SimUsageError(`--${name} must be an integer from ${min} to ${max}, got '${t}'`);
  }
  return n;
}

function decimal(
  values: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const t = text(values, name);
  if (t === undefined) return undefined;
  const n = Number(t);
  if (!/^\d+(\.\d+)?$/.test(t) || !(n >= min && n <= max)) {
    throw new SimUsageError(`--${name} must be a number from ${min} to ${max}, got '${t}'`);
  }
  return n;
}

export function parseSimArgs(argv: readonly string[]): SimConfig {
  let values: Record<string, unknown>;
  try {
    const parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries(SIM_OPTIONS).map(([name, spec]) => [
          name,
          {
            type: spec.type,
            ...(spec.multiple ? { multiple: true } : {}),
            ...(name === 'help' ? { short: 'h' } : {}),
          },
        ]),
      ),
      allowPositionals: false,
      strict: true,
    });
    values = parsed.values as Record<string, unknown>;
  } catch (err) {
    throw new SimUsageError((err as Error).message);
  }
  const profiles = list(values, 'profile');
  for (const p of profiles) {
    if (!isProfileName(p))
      throw new SimUsageError(`--profile: unknown profile '${p}' (one of ${PROFILE_NAMES.join(', ')})`);
  }
  const attacks = list(values, 'attack');
  for (const a of attacks) {
    if (!(ATTACKS as readonly string[]).includes(a)) {
      throw new SimUsageError(`--attack: unknown mode '${a}' (one of ${ATTACKS.join(', ')})`);
    }
  }
  const gateway = text(values, 'mqtt') ?? 'mqtt://127.0.0.1:1883';
  if (!/^(mqtts?|wss?):\/\/[^\s]+$/.test(gateway)) {
    throw new SimUsageError(`--mqtt must be an mqtt://, mqtts://, ws:// or wss:// URL, got '${gateway}'`);
  }
  const seconds = decimal(values, 'duration', 0.001, 7 * 24 * 3600);
  const config: SimConfig = {
    gateway,
    data: text(values, 'data'),
    chain: text(values, 'chain'),
    vendorKey: text(values, 'vendor-key'),
    state: text(values, 'state'),
    devices: integer(values, 'devices', 0, 10_000, 3),
    profiles: (profiles.length > 0 ? profiles : PROFILE_NAMES) as ProfileName[],
    timeScale: decimal(values, 'time-scale', 0.001, 1_000_000) ?? 1,
    seed: text(values, 'seed'),
    episodesPerHour: decimal(values, 'episodes', 0, 3600) ?? 1,
    durationMs: seconds === undefined ? undefined : Math.round(seconds * 1000),
    readings: integer(values, 'readings', 0, Number.MAX_SAFE_INTEGER),
    buffer: integer(values, 'buffer', 1, 10_000_000, 10_000),
    drainMs: integer(values, 'drain-ms', 0, 3_600_000, 10_000),
    retryMs: integer(values, 'retry-ms', 10, 600_000, 1000),
    attacks: attacks as AttackName[],
    failSelftest: integer(values, 'fail-selftest', 0, 10_000, 0),
    firmware: values['no-firmware'] !== true,
    json: values.json === true,
    help: values.help === true,
  };
  if (!config.help && config.data === undefined && config.chain === undefined) {
    throw new SimUsageError('give --data DIR (a demo data dir) or --chain ID');
  }
  if (config.attacks.length > 0 && config.devices < 2 && config.attacks.includes('spoof')) {
    throw new SimUsageError('--attack spoof needs at least 2 devices (one spoofs the other)');
  }
  return Object.freeze(config);
}

export function simHelp(): string {
  const lines = [
    'usage: medgate sim [options]',
    '',
    'Run a simulated fleet of devices against a medgate gateway over MQTT.',
    '',
    'options:',
  ];
  for (const [name, spec] of Object.entries(SIM_OPTIONS)) {
    const flag = `${name === 'help' ? '-h, ' : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
    lines.push(`  ${flag.padEnd(28)} ${spec.description}`);
  }
  lines.push('', SIM_DETAILS);
  return lines.join('\n');
}

/** Longer help text (also shown by `medgate sim --help`). */
export const SIM_DETAILS = [
  'Devices self-enrol with a vendor attestation, keep keys and seqs in --state, sign every',
  'reading, and buffer readings while offline (store-and-forward). Without --duration or',
  '--readings the fleet runs until SIGINT/SIGTERM (after the attacks, if any). Exit codes:',
  '0 done, 1 an attack was not refused or no device reached the gateway, 2 bad usage.',
].join('\n');
