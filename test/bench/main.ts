/**
 * `npm run bench -- [suite ...] [--quick] [--json FILE] [--svg FILE]`: runs the bench suites
 * (the default set when none is named) and prints the machine line, then one table per suite,
 * with a progress display on stderr while they run. docs/benchmarks.md says what each row means.
 *
 *   crypto  ed25519 (both backends), COSE_Sign1, CBOR decode of a reading, inclusion proofs
 *   pool    the verify pool's ceiling against one thread of each backend (verify-pool.ts)
 *   cbor    test/bench/cbor.ts      merkle  test/bench/merkle.ts
 *   ledger  ledger-log, ledger-state, ledger-verify
 *   e2e     throughput against publishers for medgate, plain aedes and the naive in-hook
 *           design, delivery latency p50/p99, ratios (sweep.ts; issue 7)
 *   scale   connects/s, memory per idle device at 1,000 and 10,000, sustained 1 Hz readings
 *           from 5,000 devices (scale-connect.ts, scale-sustained.ts; issue 7)
 *   gateway issue 4's single-point run   (not in the default set: e2e and scale cover it)
 *
 * --quick: one short round and small workloads, to check that the benches run; its figures
 * are not to be quoted. --json FILE: every row, with its suite, and the machine; when the e2e
 * suite ran, its chart goes next to it (FILE with .svg for .json) unless --svg FILE names another.
 * A script that fails is reported on stderr and in the JSON (`failed`), and the run goes on.
 * Exit codes (DESIGN §7): 0 done, 1 a script failed, 2 bad usage.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { lineChart } from './chart.js';
import {
  type Bench,
  type BenchOptions,
  captureMachine,
  isMain,
  type Machine,
  machineLine,
  printTable,
  type Row,
  writeJson,
} from './harness.js';
import { progress } from './progress.js';
import { throughputChart } from './sweep-chart.js';

interface Part {
  /** Shown by the progress display. */
  readonly name: string;
  /** Imported when its suite runs, so that a suite loads only what it measures. */
  readonly load: () => Promise<{ run: Bench }>;
  readonly only?: readonly string[];
}

const crypto: Part = { name: 'crypto.ts', load: () => import('./crypto.js') };
const cbor: Part = { name: 'cbor.ts', load: () => import('./cbor.js') };
const merkle: Part = { name: 'merkle.ts', load: () => import('./merkle.js') };
const pool: Part = { name: 'verify-pool.ts', load: () => import('./verify-pool.js') };

/** In the order a full run takes them. */
const SUITES: Readonly<Record<string, readonly Part[]>> = Object.freeze({
  // The figures the gateway's hot path rests on, in one table.
  crypto: [
    crypto,
    { ...cbor, only: ['reading decode: medgate decodeCbor', 'reading decode: medgate + decodeReading'] },
    { ...merkle, only: ['inclusion proof generate', 'inclusion proof verify'] },
  ],
  // The verify pool's ceiling against one thread of each backend.
  pool: [pool],
  cbor: [cbor],
  merkle: [merkle],
  ledger: [
    { name: 'ledger-log.ts', load: () => import('./ledger-log.js') },
    { name: 'ledger-state.ts', load: () => import('./ledger-state.js') },
    { name: 'ledger-verify.ts', load: () => import('./ledger-verify.js') },
  ],
  e2e: [{ name: 'sweep.ts', load: () => import('./sweep.js') }],
  scale: [
    { name: 'scale-connect.ts', load: () => import('./scale-connect.js') },
    { name: 'scale-sustained.ts', load: () => import('./scale-sustained.js') },
  ],
  gateway: [{ name: 'gateway.ts', load: () => import('./gateway.js') }],
});

/** What `npm run bench` runs with no suite named: every figure once. */
export const DEFAULT_SUITES = Object.freeze(['crypto', 'pool', 'cbor', 'merkle', 'ledger', 'e2e', 'scale']);

const USAGE = `usage: npm run bench -- [${Object.keys(SUITES).join('|')} ...] [--quick] [--json FILE] [--svg FILE]`;

export type SuiteRow = Row & { readonly suite: string };

/** Where the chart goes: --svg, else next to --json (`.json` → `.svg`), else nowhere. */
export function svgPath(json: string | undefined, svg: string | undefined): string | undefined {
  if (svg !== undefined) return svg;
  if (json === undefined) return undefined;
  return json.endsWith('.json') ? `${json.slice(0, -'.json'.length)}.svg` : `${json}.svg`;
}

/** The e2e chart of `rows` as SVG text, or undefined when no e2e row is among them. */
export function chartSvg(rows: readonly SuiteRow[], machine: Machine, quick: boolean): string | undefined {
  const subtitle = `${machine.cpus} × ${machine.model}, ${machine.platform}, node ${machine.node}, ${machine.date}${quick ? ' (--quick: not to be quoted)' : ''}`;
  const chart = throughputChart(
    rows.filter((r) => r.suite === 'e2e'),
    subtitle,
  );
  return chart === undefined ? undefined : lineChart(chart);
}

/** Runs the suites named in `argv` and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}; ${USAGE}`);
    return 2;
  }
  if (args.values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const names = args.positionals.length === 0 ? DEFAULT_SUITES : args.positionals;
  const unknown = names.find((name) => !Object.hasOwn(SUITES, name));
  if (unknown !== undefined) {
    console.error(`bench: unknown suite '${unknown}'; ${USAGE}`);
    return 2;
  }

  const quick = args.values.quick === true;
  const machine = captureMachine();
  console.log(machineLine(machine));
  if (quick) console.log('--quick: short rounds and small workloads; these figures are not to be quoted');
  const parts = names.flatMap((suite) => SUITES[suite]!.map((part) => ({ suite, part })));
  progress.enabled = true;
  const all: SuiteRow[] = [];
  // A script that fails is reported and the run goes on: a long run keeps what the others measured.
  const failed: { suite: string; part: string; error: string }[] = [];
  try {
    let step = 0;
    for (const suite of names) {
      const rows: Row[] = [];
      for (const part of SUITES[suite]!) {
        progress.step(`[${++step}/${parts.length}] ${suite}: ${part.name}`);
        const options: BenchOptions = part.only === undefined ? { quick } : { quick, only: part.only };
        try {
          rows.push(...(await (await part.load()).run(options)));
        } catch (err) {
          progress.clear();
          console.error(`bench: ${suite}: ${part.name} failed: ${(err as Error).stack ?? String(err)}`);
          failed.push({ suite, part: part.name, error: (err as Error).message ?? String(err) });
        }
      }
      progress.clear();
      if (rows.length > 0) printTable(rows, suite);
      all.push(...rows.map((row) => ({ suite, ...row })));
    }
  } finally {
    progress.done();
    progress.enabled = false;
  }
  if (failed.length > 0) {
    console.log(`\nfailed: ${failed.map((f) => `${f.suite}: ${f.part}`).join(', ')} (stderr has the errors)`);
  }
  if (args.values.json !== undefined) await writeJson(all, args.values.json, { machine, quick, failed });
  const svgFile = svgPath(args.values.json, args.values.svg);
  if (svgFile !== undefined) {
    const svg = chartSvg(all, machine, quick);
    if (svg !== undefined) await writeFile(svgFile, svg);
    // Asked for by name: say why there is none. Next to --json, a run without e2e simply has no chart.
    else if (args.values.svg !== undefined) console.error(`bench: no e2e rows in this run: no chart written`);
  }
  return failed.length > 0 ? 1 : 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      quick: { type: 'boolean' },
      json: { type: 'string' },
      svg: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

if (isMain(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
