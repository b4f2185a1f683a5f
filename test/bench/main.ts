/**
 * `npm run bench -- [suite ...] [--quick] [--json FILE]`: runs the bench suites (all of them
 * when none is named) and prints the machine line, then one table per suite. docs/benchmarks.md
 * says what each row means.
 *
 *   crypto  ed25519 (both backends), COSE_Sign1, CBOR decode of a reading, inclusion proofs
 *   cbor    test/bench/cbor.ts      merkle  test/bench/merkle.ts
 *   ledger  ledger-log, ledger-state, ledger-verify
 *   pool    verify-pool
 *   gateway the gateway against plain and naive aedes, the verify pool, delivery latency,
 *           connects/s and memory per idle device (gateway.ts, gateway-connect.ts; issue 4)
 *
 * --quick: one short round and small workloads, to check that the benches run; its figures
 * are not to be quoted. --json FILE: every row, with its suite, and the machine.
 * Exit codes (DESIGN §7): 0 done, 2 bad usage.
 */
import { parseArgs } from 'node:util';
import {
  type Bench,
  type BenchOptions,
  captureMachine,
  isMain,
  machineLine,
  printTable,
  type Row,
  writeJson,
} from './harness.js';

interface Part {
  /** Imported when its suite runs, so that a suite loads only what it measures. */
  readonly load: () => Promise<{ run: Bench }>;
  readonly only?: readonly string[];
}

const crypto: Part = { load: () => import('./crypto.js') };
const cbor: Part = { load: () => import('./cbor.js') };
const merkle: Part = { load: () => import('./merkle.js') };

/** In the order a full run takes them. */
const SUITES: Readonly<Record<string, readonly Part[]>> = Object.freeze({
  // The figures the gateway's hot path rests on, in one table.
  crypto: [
    crypto,
    { ...cbor, only: ['reading decode: medgate decodeCbor', 'reading decode: medgate + decodeReading'] },
    { ...merkle, only: ['inclusion proof generate', 'inclusion proof verify'] },
  ],
  cbor: [cbor],
  merkle: [merkle],
  ledger: [
    { load: () => import('./ledger-log.js') },
    { load: () => import('./ledger-state.js') },
    { load: () => import('./ledger-verify.js') },
  ],
  pool: [{ load: () => import('./verify-pool.js') }],
  gateway: [{ load: () => import('./gateway.js') }],
});

const USAGE = `usage: npm run bench -- [${Object.keys(SUITES).join('|')} ...] [--quick] [--json FILE]`;

export type SuiteRow = Row & { readonly suite: string };

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
  const names = args.positionals.length === 0 ? Object.keys(SUITES) : args.positionals;
  const unknown = names.find((name) => !Object.hasOwn(SUITES, name));
  if (unknown !== undefined) {
    console.error(`bench: unknown suite '${unknown}'; ${USAGE}`);
    return 2;
  }

  const quick = args.values.quick === true;
  const machine = captureMachine();
  console.log(machineLine(machine));
  if (quick) console.log('--quick: short rounds and small workloads; these figures are not to be quoted');
  const all: SuiteRow[] = [];
  for (const suite of names) {
    const rows: Row[] = [];
    for (const part of SUITES[suite]!) {
      const options: BenchOptions = part.only === undefined ? { quick } : { quick, only: part.only };
      rows.push(...(await (await part.load()).run(options)));
    }
    printTable(rows, suite);
    all.push(...rows.map((row) => ({ suite, ...row })));
  }
  if (args.values.json !== undefined) await writeJson(all, args.values.json, { machine, quick });
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { quick: { type: 'boolean' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
}

if (isMain(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
