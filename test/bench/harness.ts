/**
 * What every bench script shares: the row type, env knobs, timed rounds (wall ops/s and CPU
 * time per op), the machine line, one table printer and JSON output. `main.ts` runs the
 * scripts as suites; each script also runs alone (`npx tsx test/bench/<name>.ts`).
 */
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { progress } from './progress.js';

export interface Row {
  readonly bench: string;
  readonly value: number;
  readonly unit: string;
  /** The figure the row should reach, where the project has set one. */
  readonly target?: number;
  /** 'max': the value should stay under `target` (latency, memory); default 'min': at least `target`. */
  readonly targetKind?: 'min' | 'max';
  readonly note?: string;
  /**
   * Machine-readable facets of the row (e.g. `{ publishers: 5, design: 'medgate', metric:
   * 'throughput' }`), for the chart and for readers of the JSON; not printed in the table.
   */
  readonly params?: Readonly<Record<string, string | number>>;
}

export interface BenchOptions {
  /** Short rounds and small workloads: a smoke run whose figures must not be quoted. */
  readonly quick?: boolean;
  /** Only these rows, by `bench`; a script skips the measurements of the others. */
  readonly only?: readonly string[];
}

export type Bench = (options?: BenchOptions) => Promise<Row[]>;

export const wants = (options: BenchOptions, bench: string): boolean =>
  options.only === undefined || options.only.includes(bench);

/** A positive number from the environment, or undefined when the variable is unset. */
export function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${raw}: want a positive number`);
  return value;
}

/**
 * A workload knob: `quick` under --quick (so that a smoke run stays short whatever the
 * environment says), else the env variable `name`, else `full`.
 */
export function knob(options: BenchOptions, name: string, full: number, quick = full): number {
  return options.quick === true ? quick : (envNumber(name) ?? full);
}

/** Upper middle of the sorted values, as every script has always reported. */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[values.length >> 1] as number;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const cpuSeconds = (used: NodeJS.CpuUsage): number => (used.user + used.system) / 1e6;

export interface Rate {
  /** Wall-clock operations per second over the rounds: lower when other processes share the cores. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Median CPU seconds per operation (process.cpuUsage: every thread of this process). */
  readonly cpuPerOp: number;
}

export interface RateOptions {
  readonly rounds: number;
  /** Wall-clock length of one round. */
  readonly seconds: number;
  /** Operations between two clock reads. */
  readonly batch?: number;
  /** Untimed calls before the first round. */
  readonly warmup?: number;
}

/** Results that are not `undefined` are counted here, so that the optimiser cannot drop the call. */
let sink = 0;
export const sunk = (): number => sink;

/** Rates of `op(i)` (i counts up across warm-up and rounds) over `rounds` rounds of `seconds`. */
export function rate(op: (i: number) => unknown, options: RateOptions): Rate {
  const { rounds, seconds, batch = 8, warmup = 0 } = options;
  let i = 0;
  while (i < warmup) if (op(i++) !== undefined) sink++;
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const end = start + seconds * 1000;
    let count = 0;
    let now = start;
    while (now < end) {
      for (let k = 0; k < batch; k++) if (op(i++) !== undefined) sink++;
      count += batch;
      now = performance.now();
    }
    cpu.push(cpuSeconds(process.cpuUsage(cpuStart)) / count);
    wall.push(count / ((now - start) / 1000));
  }
  return { median: median(wall), min: Math.min(...wall), max: Math.max(...wall), cpuPerOp: median(cpu) };
}

/** Operations per second of CPU time: what one otherwise idle core would do. */
export const perCpuSecond = (r: Rate): number => Math.round(1 / r.cpuPerOp);

const count = (x: number): string => Math.round(x).toLocaleString('en-US');
const spread = (r: Rate): string | undefined =>
  r.min === r.max ? undefined : `rounds ${count(r.min)} to ${count(r.max)}`;
const notes = (...parts: (string | undefined)[]): string => parts.filter((p) => p).join('; ');

/** A row in operations per CPU-second; the note adds the wall-clock rate and its spread. */
export const cpuRow = (bench: string, r: Rate, ...note: (string | undefined)[]): Row => ({
  bench,
  value: perCpuSecond(r),
  unit: 'ops/CPU-s',
  note: notes(...note, `wall ${count(r.median)}/s${r.min === r.max ? '' : ` (${spread(r)})`}`),
});

/** A row in wall-clock operations per second (the median round); the note adds the spread. */
export const wallRow = (bench: string, r: Rate, unit: string, ...note: (string | undefined)[]): Row => ({
  bench,
  value: Math.round(r.median),
  unit,
  note: notes(...note, spread(r)),
});

export interface Measured {
  readonly seconds: number;
  readonly perSecond: number;
  readonly cpuPerOp: number;
}

/** Wall and CPU time of one run of `fn`, which performs `ops` operations. */
export async function measure(ops: number, fn: () => Promise<unknown>): Promise<Measured> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const seconds = (performance.now() - start) / 1000;
  return { seconds, perSecond: Math.round(ops / seconds), cpuPerOp: cpuSeconds(process.cpuUsage(cpu)) / ops };
}

/** The 1-minute load average, for the notes of rows that a busy machine disturbs. */
export const loadNote = (): string => `load ${loadavg()[0]?.toFixed(1)}`;

export interface Machine {
  readonly cpus: number;
  readonly model: string;
  readonly node: string;
  readonly platform: string;
  /** 1, 5 and 15-minute load averages when the run started. */
  readonly loadavg: readonly number[];
  readonly date: string;
}

export function captureMachine(): Machine {
  const list = cpus();
  return {
    cpus: list.length,
    model: list[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadavg: loadavg().map((x) => round(x, 2)),
    date: new Date().toISOString(),
  };
}

export function machineLine(m: Machine): string {
  return `machine: ${m.cpus} x ${m.model}, ${m.platform}, node ${m.node}, load avg ${m.loadavg.map((x) => x.toFixed(2)).join(' ')}, ${m.date}`;
}

function targetCell(r: Row): string {
  if (r.target === undefined) return '';
  return `${r.targetKind === 'max' ? '<' : '>='} ${r.target.toLocaleString('en-US')}`;
}

export function printTable(rows: readonly Row[], title?: string): void {
  const withTarget = rows.some((r) => r.target !== undefined);
  const cells = rows.map((r) => [
    r.bench,
    r.value.toLocaleString('en-US'),
    r.unit,
    ...(withTarget ? [targetCell(r)] : []),
    r.note ?? '',
  ]);
  const head = ['bench', 'value', 'unit', ...(withTarget ? ['target'] : []), 'note'];
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((line) => (line[c] as string).length)));
  // Values right-aligned so that magnitudes line up; the note is last and not padded.
  const format = (line: readonly string[]) =>
    line
      .map((cell, c) =>
        c === line.length - 1 ? cell : c === 1 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!),
      )
      .join('  ')
      .trimEnd();
  if (title !== undefined) console.log(`\n${title}`);
  console.log(format(head));
  for (const line of cells) console.log(format(line));
}

/** All rows and the machine they ran on, for tracking figures across runs. */
export async function writeJson(
  rows: readonly Row[],
  file: string,
  info: {
    machine?: Machine;
    quick?: boolean;
    /** Scripts that threw (npm run bench goes on without their rows); omitted when none did. */
    failed?: readonly { suite: string; part: string; error: string }[];
  } = {},
): Promise<void> {
  const { machine = captureMachine(), quick = false, failed = [] } = info;
  const out = failed.length === 0 ? { machine, quick, rows } : { machine, quick, failed, rows };
  await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
}

/** True when the module at `url` is the script node was started with. */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && url === pathToFileURL(process.argv[1]).href;
}

/** A script run alone: the machine line, then its table; progress on stderr while it runs. */
export async function standalone(run: Bench): Promise<void> {
  const machine = captureMachine();
  progress.enabled = true;
  let rows: Row[];
  try {
    rows = await run();
  } finally {
    progress.done();
    progress.enabled = false;
  }
  console.log(machineLine(machine));
  printTable(rows);
}
