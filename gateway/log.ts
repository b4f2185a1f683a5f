/**
 * The gateway's pino logger (CONVENTIONS: fastify's way). Object first, message second:
 * `log.warn({ code, principal }, 'connect refused')`. Child loggers carry the principal.
 *
 * What never reaches a log line: passwords, connect tokens, payloads, keys. Three layers make
 * sure of it: callers log codes and ids only; `redact` censors the fields that could carry such
 * bytes wherever they appear; and the error serializer keeps code, message and field but drops
 * `got`/`want` (they may echo wire input) and any attached buffers.
 */
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import { isMedgateError } from '../firmware-ts/protocol/errors.js';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

/** Field names whose values are secrets or patient data, at the top level and one level down. */
const SECRET_FIELDS = Object.freeze([
  'password',
  'token',
  'payload',
  'key',
  'secretKey',
  'privateKey',
  'secret',
  'authorization',
  'cose',
  'leafData',
]);

export const REDACT_PATHS: readonly string[] = Object.freeze([
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  'req.headers.authorization',
  'req.headers.cookie',
]);

/** An error as a log line shows it: what an operator acts on, nothing from the wire. */
export function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  if (isMedgateError(err)) {
    out.code = err.code;
    if (err.field !== undefined) out.field = err.field;
  } else {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string') out.code = code;
    // Unexpected errors: the stack is what a maintainer needs (it holds no wire data).
    out.stack = err.stack;
  }
  if (err.cause instanceof Error) out.cause = serializeError(err.cause);
  return out;
}

export interface CreateLoggerOptions {
  readonly level: LogLevel;
  /** Where lines go; default stderr (stdout is reserved for `medgate gateway`'s one JSON line). */
  readonly destination?: DestinationStream;
  /** Fields on every line. */
  readonly base?: Record<string, unknown>;
}

export function loggerOptions(level: LogLevel, base: Record<string, unknown> = {}): LoggerOptions {
  return {
    level,
    base: { name: 'medgate', ...base },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    serializers: { err: serializeError, error: serializeError },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

/** The gateway logger. Without a destination it writes to stderr asynchronously (flush on stop). */
export function createLogger(options: CreateLoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 2, sync: false });
  return pino(loggerOptions(options.level, options.base), destination);
}

/** A logger that writes nothing (tests, embedding without logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A child logger bound to a principal id (`dev-1`, `admin:alice`) and, if known, its address. */
export function principalLogger(log: Logger, principal: string, remote?: string): Logger {
  return log.child(remote === undefined ? { principal } : { principal, remote });
}

/** Flushes buffered lines (asynchronous destinations); resolves even if flushing fails. */
export function flushLogger(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      log.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}
