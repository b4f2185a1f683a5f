/**
 * Runs `medgate` subcommands inside the demo's process, exactly as the binary would parse and
 * run them, so each step shows the command line an operator would type and its real output.
 */
import { type Command, type Io, parseCommandArgs } from '../cli/command.js';

export interface CliRun {
  readonly out: readonly string[];
  /** The command line as a person would type it. */
  readonly line: string;
}

/** Runs `medgate ...argv` with one of `commands`; throws with its error line unless it exits 0. */
export async function runMedgate(commands: readonly Command[], argv: readonly string[]): Promise<CliRun> {
  const command = commands.find((c) => c.path.every((word, i) => argv[i] === word));
  if (command === undefined) throw new Error(`no command for: medgate ${argv.join(' ')}`);
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await command.run(parseCommandArgs(command, argv.slice(command.path.length)), io);
  if (code !== 0) throw new Error(`medgate ${command.path.join(' ')} exited ${code}: ${err.join(' ')}`);
  return { out, line: `medgate ${argv.join(' ')}` };
}
