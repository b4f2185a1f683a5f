/**
 * The shape of every `medgate` subcommand. Parsing is node's own `util.parseArgs`; each
 * command declares its options once, and `--help` text is generated from the declaration.
 * Exit codes (DESIGN §7): 0 success, 1 a check failed or a request was refused, 2 bad usage.
 */
import { parseArgs } from 'node:util';

export const ExitCode = Object.freeze({ OK: 0, FAILED: 1, USAGE: 2 });

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  readonly description: string;
  /** Shown in help as the value's name, e.g. DIR. */
  readonly value?: string;
}

export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | Array<string | boolean> | undefined>>;
  readonly positionals: readonly string[];
}

export interface Command {
  /** Words after `medgate`, e.g. ['ledger', 'verify']. */
  readonly path: readonly string[];
  readonly summary: string;
  /** Positional arguments as shown in usage, e.g. 'LEAF_HASH'. */
  readonly args?: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Longer text after the options in `--help`. */
  readonly details?: string;
  run(args: ParsedArgs, io: Io): Promise<number>;
}

/** A mistake in how the command was called: printed as one line, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseCommandArgs(command: Command, argv: readonly string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(command.options)) {
    options[name] = {
      type: spec.type,
      ...(spec.short === undefined ? {} : { short: spec.short }),
      ...(spec.multiple === undefined ? {} : { multiple: spec.multiple }),
    };
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals };
  } catch (cause) {
    throw new UsageError(parseArgsMessage(cause));
  }
}

/** node's parseArgs messages are long and multi-line; a user gets one short line instead. */
function parseArgsMessage(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  const option = /Option '(-[^' ]+)/.exec(message)?.[1] ?? /option '(-[^']+)'/i.exec(message)?.[1];
  if (option !== undefined) {
    if (/^Unknown option/.test(message)) return `unknown option '${option}'`;
    if (/does not take an argument/.test(message)) return `${option} takes no value`;
    if (/argument missing/.test(message)) return `${option} needs a value`;
    if (/ambiguous/.test(message)) {
      return `${option} needs a value (for one that starts with '-', write ${option}=VALUE)`;
    }
  }
  return message.split('\n')[0] ?? message;
}

/** Returns the value of a string option, or throws a UsageError naming it when required. */
export function stringOption(args: ParsedArgs, name: string, required: true): string;
export function stringOption(args: ParsedArgs, name: string, required?: false): string | undefined;
export function stringOption(args: ParsedArgs, name: string, required = false): string | undefined {
  const value = args.values[name];
  if (value === undefined) {
    if (required) throw new UsageError(`missing --${name}`);
    return undefined;
  }
  if (typeof value !== 'string') throw new UsageError(`--${name} takes a value`);
  return value;
}

export function integerOption(args: ParsedArgs, name: string, fallback: number): number {
  const text = stringOption(args, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--${name} must be a non-negative integer, got '${text}'`);
  }
  return Number(text);
}

export function helpText(command: Command): string {
  const lines = [
    `usage: medgate ${command.path.join(' ')}${command.args ? ` ${command.args}` : ''} [options]`,
    '',
  ];
  lines.push(command.summary, '');
  const entries = Object.entries(command.options);
  if (entries.length > 0) {
    lines.push('options:');
    for (const [name, spec] of entries) {
      const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
      lines.push(`  ${flag.padEnd(28)} ${spec.description}`);
    }
  }
  lines.push(`  ${'-h, --help'.padEnd(28)} show this help`);
  if (command.details) lines.push('', command.details);
  return lines.join('\n');
}
