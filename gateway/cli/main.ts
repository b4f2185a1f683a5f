/**
 * `medgate`: one binary, a subcommand for every role. User errors are one clear line and a
 * non-zero exit, never a stack trace (set MEDGATE_DEBUG=1 to see one).
 */
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { type Command, ExitCode, helpText, type Io, parseCommandArgs, UsageError } from './command.js';
import { commands } from './registry.js';

const io: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function overview(): string {
  const lines = ['usage: medgate <command> [options]', '', 'commands:'];
  for (const c of commands) lines.push(`  ${c.path.join(' ').padEnd(26)} ${c.summary}`);
  lines.push('', "Run 'medgate <command> --help' for the options of a command.");
  lines.push('Exit codes: 0 success, 1 a check failed or a request was refused, 2 bad usage.');
  return lines.join('\n');
}

/** The longest command path that prefixes argv. */
function find(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((word, i) => argv[i] === word) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { command: best, rest: argv.slice(best.path.length) } : undefined;
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(overview());
    return argv.length === 0 ? ExitCode.USAGE : ExitCode.OK;
  }
  const found = find(argv);
  if (!found) {
    const group = commands.filter((c) => c.path[0] === argv[0]);
    if (group.length > 0) {
      io.err(`medgate: '${argv.slice(0, 2).join(' ')}' is not a command; one of:`);
      for (const c of group) io.err(`  medgate ${c.path.join(' ')}  ${c.summary}`);
    } else {
      io.err(`medgate: unknown command '${argv[0]}'. Run 'medgate --help'.`);
    }
    return ExitCode.USAGE;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(helpText(command));
    return ExitCode.OK;
  }
  try {
    return await command.run(parseCommandArgs(command, rest), io);
  } catch (err) {
    if (process.env.MEDGATE_DEBUG === '1') io.err(String((err as Error).stack));
    if (err instanceof UsageError) {
      io.err(`medgate ${command.path.join(' ')}: ${err.message} (see --help)`);
      return ExitCode.USAGE;
    }
    if (isMedgateError(err)) {
      io.err(`medgate ${command.path.join(' ')}: ${err.code}: ${err.message}`);
      return ExitCode.FAILED;
    }
    io.err(`medgate ${command.path.join(' ')}: ${(err as Error).message ?? String(err)}`);
    return ExitCode.FAILED;
  }
}
