/**
 * `medgate sim`: the device simulator (device-sim/). The gateway must not import the simulator
 * (DESIGN §6: device-sim talks to the gateway only over the network), so this command runs it
 * as its own process: `process.execPath` on `device-sim/main.js` next to this build
 * (dist/gateway/cli/commands/sim.js → dist/device-sim/main.js), or on `main.ts` through tsx
 * when medgate runs from source. Same arguments, inherited stdio, its exit code forwarded;
 * Ctrl-C reaches it from the terminal (same process group), so this process only waits for it;
 * a SIGTERM sent to this process is forwarded.
 *
 * The options are declared here for `--help` and parsing; they mirror device-sim/options.ts
 * (test/sim/cli.test.ts checks that the two lists are equal).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type Command, ExitCode, type OptionSpec, type ParsedArgs } from '../command.js';

const s = (value: string, description: string): OptionSpec =>
  Object.freeze({ type: 'string', value, description });

export const SIM_COMMAND_OPTIONS: Readonly<Record<string, OptionSpec>> = Object.freeze({
  mqtt: s('URL', 'MQTT URL of the gateway (default mqtt://127.0.0.1:1883)'),
  data: s('DIR', "a 'medgate init --demo' data dir: chain id and vendor key from demo-keys/index.json"),
  chain: s('ID', 'chain id (external_aad of every signature); needed without --data'),
  'vendor-key': s('FILE', 'vendor private key (PKCS#8 PEM) that attests new devices; needed without --data'),
  state: s(
    'DIR',
    'state directory: keys, seqs, outboxes, firmware slots (default: temporary, removed at exit)',
  ),
  devices: s('N', 'devices in the fleet (default 3)'),
  profile: Object.freeze({
    type: 'string',
    multiple: true,
    value: 'NAME',
    description:
      'device profiles, round-robin: wearable, bp-cuff, glucose (repeatable or comma list; default all)',
  }),
  'time-scale': s('X', 'simulated seconds per real second (default 1)'),
  seed: s('TEXT', "seed of the physiology (default: the fleet's, or random)"),
  episodes: s('RATE', 'deterioration episodes per device per simulated hour (default 1)'),
  duration: s('SECONDS', 'stop measuring after this many real seconds'),
  readings: s('N', 'stop measuring after N readings per device'),
  buffer: s('N', 'readings kept per device while offline (default 10000)'),
  'drain-ms': s('MS', 'at the end, wait this long for acknowledgements (default 10000)'),
  'retry-ms': s('MS', 'first reconnect back-off, doubling to 30 s (default 1000)'),
  attack: Object.freeze({
    type: 'string',
    multiple: true,
    value: 'MODE',
    description:
      "run an attack and print the gateway's answer: replay, forge, spoof, tamper-fw, downgrade, flood, malformed (repeatable)",
  }),
  'fail-selftest': s('N', 'N devices fail the self-test of a new firmware and roll back (default 0)'),
  'no-firmware': Object.freeze({ type: 'boolean', description: 'run without the firmware update agent' }),
  json: Object.freeze({
    type: 'boolean',
    description: 'JSON lines of events on stdout, then a summary object',
  }),
});

/** The simulator's entry point next to this file: compiled JS, or the TypeScript source via tsx. */
export function simEntry(): { args: string[]; file: string } | undefined {
  const js = fileURLToPath(new URL('../../../device-sim/main.js', import.meta.url));
  if (existsSync(js)) return { args: [js], file: js };
  const ts = fileURLToPath(new URL('../../../device-sim/main.ts', import.meta.url));
  if (existsSync(ts)) return { args: ['--import', 'tsx', ts], file: ts };
  return undefined;
}

/** The parsed arguments written out again, for the child's own parser. */
export function simArgv(args: ParsedArgs): string[] {
  const argv: string[] = [];
  for (const [name, value] of Object.entries(args.values)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === undefined || v === false) continue;
      argv.push(`--${name}`);
      if (typeof v === 'string') argv.push(v);
    }
  }
  return [...argv, ...args.positionals];
}

export const simCommand: Command = {
  path: ['sim'],
  summary: 'run a simulated device fleet against a gateway (enrolment, readings, firmware, attacks)',
  options: SIM_COMMAND_OPTIONS,
  details: [
    'Devices self-enrol with a vendor attestation, keep keys and seqs in --state, sign every',
    'reading, and buffer readings while offline (store-and-forward). Without --duration or',
    '--readings the fleet runs until SIGINT/SIGTERM (after the attacks, if any). Exit codes:',
    '0 done, 1 an attack was not refused or no device reached the gateway, 2 bad usage.',
  ].join('\n'),
  async run(args, io) {
    const entry = simEntry();
    if (entry === undefined) {
      io.err("medgate sim: the simulator is not built (run 'npm run build')");
      return ExitCode.FAILED;
    }
    const child = spawn(process.execPath, [...entry.args, ...simArgv(args)], { stdio: 'inherit' });
    const forward = () => child.kill('SIGTERM');
    const wait = () => {}; // the child got the terminal's SIGINT too and stops by itself
    process.on('SIGINT', wait);
    process.on('SIGTERM', forward);
    try {
      return await new Promise<number>((resolve) => {
        child.once('error', (err) => {
          io.err(`medgate sim: cannot start the simulator: ${err.message}`);
          resolve(ExitCode.FAILED);
        });
        child.once('exit', (code, signal) =>
          resolve(code ?? (signal === null ? ExitCode.FAILED : 128 + (constants.signals[signal] ?? 0))),
        );
      });
    } finally {
      process.off('SIGINT', wait);
      process.off('SIGTERM', forward);
    }
  },
};
