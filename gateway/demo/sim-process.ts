/**
 * The device simulator as the demo runs it: its own process (`medgate sim --json`), talking to
 * the gateway only over MQTT (DESIGN §6), read back as JSON lines of events. The demo waits on
 * those events; it never reaches into the devices.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { simEntry } from '../cli/commands/sim.js';

/** One JSON line of `medgate sim --json` (device-sim/report/events.ts has the full union). */
export interface SimEvent {
  readonly event: string;
  readonly dev?: string;
  readonly [key: string]: unknown;
}

export interface SimProcess {
  readonly events: readonly SimEvent[];
  /** Resolves with the events so far once `done(events)` holds; rejects after `timeoutMs`. */
  until(what: string, done: (events: readonly SimEvent[]) => boolean, timeoutMs: number): Promise<void>;
  /** SIGTERM, then the final `summary` event (undefined if the process died without one). */
  stop(): Promise<SimEvent | undefined>;
}

export function startSim(argv: readonly string[]): SimProcess {
  const entry = simEntry();
  if (entry === undefined) throw new Error("the simulator is not built (run 'npm run build')");
  const child: ChildProcess = spawn(process.execPath, [...entry.args, ...argv, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: SimEvent[] = [];
  let stderr = '';
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as SimEvent);
    } catch {
      return; // not an event line
    }
    for (const wake of waiters) wake();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  exited.then(() => {
    for (const wake of waiters) wake();
  });
  let alive = true;
  void exited.then(() => {
    alive = false;
  });

  return {
    events,
    until(what, done, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), timeoutMs);
        const finish = (err?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err) reject(err);
          else resolve();
        };
        const check = () => {
          if (done(events)) finish();
          else if (!alive) finish(new Error(`the simulator exited before ${what}: ${stderr.trim()}`));
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (alive) child.kill('SIGTERM');
      await exited;
      return events.findLast((e) => e.event === 'summary');
    },
  };
}

/** Events of one kind, e.g. `of(events, 'firmware', { state: 'confirmed' })`. */
export function eventsOf(
  events: readonly SimEvent[],
  event: string,
  match: Readonly<Record<string, unknown>> = {},
): SimEvent[] {
  return events.filter((e) => e.event === event && Object.entries(match).every(([k, v]) => e[k] === v));
}
