/**
 * `medgate`: one binary, a subcommand for every role. User errors are one clear line and a
 * non-zero exit, never a stack trace (set MEDGATE_DEBUG=1 to see one).
 */
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { ConfigError } from '../config.js';
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

const isHelp = (word: string | undefined): boolean => word === '--help' || word === '-h';

/** `medgate ledger`: the commands of one group. */
function groupText(group: readonly Command[]): string {
  const lines = [`usage: medgate ${group[0]?.path[0] ?? ''} <command> [options]`, '', 'commands:'];
  for (const c of group) lines.push(`  medgate ${c.path.join(' ').padEnd(24)} ${c.summary}`);
  lines.push('', "Run 'medgate <command> --help' for the options of a command.");
  return lines.join('\n');
}

/** One line, whatever the error: never a stack trace (MEDGATE_DEBUG=1 shows one). */
function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\n\s*/g, ' ').trim() || 'failed';
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 0 || isHelp(argv[0]) || argv[0] === 'help') {
    // `medgate help ledger verify` is `medgate ledger verify --help`.
    if (argv[0] === 'help' && argv.length > 1) return main([...argv.slice(1), '--help']);
    io.out(overview());
    return argv.length === 0 ? ExitCode.USAGE : ExitCode.OK;
  }
  const found = find(argv);
  if (!found) {
    const group = commands.filter((c) => c.path[0] === argv[0]);
    if (group.length === 0) {
      io.err(`medgate: unknown command '${argv[0]}'. Run 'medgate --help'.`);
      return ExitCode.USAGE;
    }
    if (isHelp(argv[1])) {
      io.out(groupText(group));
      return ExitCode.OK;
    }
    io.err(
      argv.length === 1
        ? `medgate: '${argv[0]}' needs a command; one of:`
        : `medgate: '${argv.slice(0, 2).join(' ')}' is not a command; one of:`,
    );
    for (const c of group) io.err(`  medgate ${c.path.join(' ')}  ${c.summary}`);
    return ExitCode.USAGE;
  }
  const { command, rest } = found;
  // Options after `--` are positionals, so a `--help` there is data.
  const options = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (options.some(isHelp)) {
    io.out(helpText(command));
    return ExitCode.OK;
  }
  const name = `medgate ${command.path.join(' ')}`;
  try {
    return await command.run(parseCommandArgs(command, rest), io);
  } catch (err) {
    if (process.env.MEDGATE_DEBUG === '1') io.err(String((err as Error | undefined)?.stack ?? err));
    if (err instanceof UsageError) {
      io.err(`${name}: ${oneLine(err)} (see --help)`);
      return ExitCode.USAGE;
    }
    // A bad flag value found by the config validation is bad usage too (DESIGN §7).
    if (err instanceof ConfigError && err.source === 'flag') {
      io.err(`${name}: ${err.code}: ${oneLine(err)} (see --help)`);
      return ExitCode.USAGE;
    }
    if (isMedgateError(err)) {
      io.err(`${name}: ${err.code}: ${oneLine(err)}`);
      return ExitCode.FAILED;
    }
    io.err(`${name}: ${oneLine(err)}`);
    return ExitCode.FAILED;
  }
}
