/**
 * The simulator's entry point, `runSim(argv, io)`: parses the options (options.ts), runs the
 * fleet (fleet.ts), prints the summary, and returns the exit code: 0 done, 1 an attack was not
 * refused as expected or no device reached the gateway (or a coded failure), 2 bad usage.
 */
import { isMedgateError } from './errors.js';
import { runFleet } from './fleet.js';
import { parseSimArgs, SimUsageError, simHelp } from './options.js';
import { Output, type SimIo } from './report/output.js';
import { summaryTable } from './report/summary.js';

export type { SimIo } from './report/output.js';

export const SimExit = Object.freeze({ OK: 0, FAILED: 1, USAGE: 2 });

export async function runSim(argv: readonly string[], io: SimIo): Promise<number> {
  let config: ReturnType<typeof parseSimArgs>;
  try {
    config = parseSimArgs(argv);
  } catch (err) {
    if (!(err instanceof SimUsageError)) throw err;
    io.err(`medgate sim: ${err.message} (see --help)`);
    return SimExit.USAGE;
  }
  if (config.help) {
    io.out(simHelp());
    return SimExit.OK;
  }
  const output = new Output(io, config.json);
  try {
    const summary = await runFleet(config, output, io.signal);
    if (config.json) output.line(JSON.stringify({ event: 'summary', t: Date.now(), ...summary }));
    else for (const line of summaryTable(summary)) output.line(line);
    return summary.ok ? SimExit.OK : SimExit.FAILED;
  } catch (err) {
    output.clearProgress();
    if (process.env.MEDGATE_DEBUG === '1') io.err(String((err as Error).stack));
    io.err(
      `medgate sim: ${isMedgateError(err) ? `${err.code}: ` : ''}${(err as Error).message ?? String(err)}`,
    );
    return SimExit.FAILED;
  }
}
