/** Runs the simulator in this process against a test gateway and parses its `--json` lines. */
import { runSim } from '../../device-sim/cli.js';
import type { TestGateway } from '../gateway/harness.js';

export type SimLine = Record<string, unknown> & { event: string };

export interface SimRun {
  /** Resolves with the exit code. */
  readonly done: Promise<number>;
  /** Every JSON line so far, parsed. */
  readonly events: SimLine[];
  readonly err: string[];
}

export function startSim(gw: TestGateway, args: readonly string[], signal?: AbortSignal): SimRun {
  const events: SimLine[] = [];
  const err: string[] = [];
  const done = runSim(['--mqtt', gw.url(), '--data', gw.dir, '--json', '--retry-ms', '100', ...args], {
    out: (line) => events.push(JSON.parse(line) as SimLine),
    err: (line) => err.push(line),
    ...(signal === undefined ? {} : { signal }),
  });
  return { done, events, err };
}

export async function sim(
  gw: TestGateway,
  ...args: string[]
): Promise<{ code: number; events: SimLine[]; err: string[] }> {
  const run = startSim(gw, args);
  const code = await run.done;
  return { code, events: run.events, err: run.err };
}

/** Polls `check` every 20 ms until it holds, at most `ms` (then throws naming `what`). */
export async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const ofType = (events: readonly SimLine[], type: string) => events.filter((e) => e.event === type);
