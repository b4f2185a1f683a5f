/**
 * `medgate gateway` as a child process for the fault runs: spawn it on a data directory with
 * every port 0, read its one JSON `listening` line, kill it (SIGKILL) or stop it (SIGTERM),
 * read its RSS from /proc. Also the fault-run sizes (env) and a few HTTP helpers.
 *
 * The child runs the compiled `dist/gateway/cli/bin.js` when dist is at least as new as every
 * source file (as after `npm test`'s `tsc -b`), else the sources through tsx: a restart costs
 * about 0.8 s instead of 1.8 s, and a stale build is never what gets tested.
 * MEDGATE_FAULT_BIN=dist|tsx forces one.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ephemeralGatewayArgs } from '../support/gateway-args.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A positive integer from the environment, else `fallback`. */
export function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

/** Kills of the gateway-kill run (at least 50 in `npm run test:faults`). */
export const FAULT_KILLS = envInt('MEDGATE_FAULT_KILLS', 3);
/** Multiplies the misbehaving clients' counts (and the kill run's devices). */
export const FAULT_SCALE = envInt('MEDGATE_FAULT_SCALE', 1);
export const VERBOSE = process.env.MEDGATE_FAULT_VERBOSE !== undefined;

/** True when every emitted .js of gateway/ and firmware-ts/ is at least as new as its source. */
function distIsFresh(): boolean {
  for (const part of ['gateway', 'firmware-ts']) {
    for (const entry of readdirSync(join(ROOT, part), { withFileTypes: true, recursive: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
      const src = join(entry.parentPath, entry.name);
      const out = join(ROOT, 'dist', src.slice(ROOT.length).replace(/\.ts$/, '.js'));
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) return false;
    }
  }
  return existsSync(join(ROOT, 'dist/gateway/cli/bin.js'));
}

let medgateArgs: string[] | undefined;

/** node arguments that run `medgate` (compiled if fresh, else through tsx). */
export function medgateCommand(): string[] {
  if (medgateArgs === undefined) {
    const forced = process.env.MEDGATE_FAULT_BIN;
    const dist = forced === 'dist' || (forced !== 'tsx' && distIsFresh());
    medgateArgs = dist ? [join(ROOT, 'dist/gateway/cli/bin.js')] : ['--import', 'tsx', 'gateway/cli/bin.ts'];
  }
  return medgateArgs;
}

/** The environment without MEDGATE_* (the child reads its settings from flags only). */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('MEDGATE_')));
}

/** `medgate ...args` to completion (ledger verify, receipt get). */
export function runMedgate(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [...medgateCommand(), ...args], {
    cwd: ROOT,
    env: cleanEnv(),
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

export interface Listening {
  readonly mqtt: number;
  readonly http: number;
  readonly height: number;
}

export class GatewayChild {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves with the `listening` line; rejects if the process exits first. */
  readonly listening: Promise<Listening>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last 64 KiB of stderr (pino JSON lines), for failure messages. */
  stderr = '';

  constructor(dir: string, flags: readonly string[] = []) {
    this.child = spawn(
      process.execPath,
      [
        ...medgateCommand(),
        ...ephemeralGatewayArgs(dir),
        '--block-interval-ms',
        '200',
        '--verify-threads',
        '1',
        ...flags,
      ],
      { cwd: ROOT, env: cleanEnv() },
    );
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-65_536);
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const lines = createInterface({ input: this.child.stdout });
    this.listening = new Promise((resolve, reject) => {
      lines.once('line', (line) => {
        const parsed = JSON.parse(line) as Listening & { event: string };
        if (parsed.event === 'listening') resolve(parsed);
        else reject(new Error(`unexpected first line: ${line}`));
      });
      this.exited.then(({ code, signal }) =>
        reject(
          new Error(`gateway exited (${code ?? signal}) before listening:\n${this.stderr.slice(-4000)}`),
        ),
      );
    });
    this.listening.catch(() => {}); // a kill before listening is a normal outcome here
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(): Promise<unknown> {
    if (this.alive) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** Graceful stop; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.alive) this.child.kill('SIGTERM');
    return (await this.exited).code;
  }

  /** Resident set size of the process (Linux /proc), in bytes. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    if (kb === undefined) throw new Error('no VmRSS in /proc status');
    return Number(kb) * 1024;
  }
}

/** GET on the child's HTTP API; JSON body. */
export async function getJson(port: number, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** A gauge of `/metrics` (Prometheus text), e.g. `medgate_log_size`. */
export async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no metric ${name}`);
  return Number(line.slice(name.length + 1));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
