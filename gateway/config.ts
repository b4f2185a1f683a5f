/**
 * The gateway's configuration (DESIGN §7), read from four sources in this precedence:
 * flags > environment (`MEDGATE_*`) > JSON config file > defaults. Validated once, every bad
 * value refused with MG_ERR_CONFIG naming the field and the source, then deep-frozen (as
 * fastify does with its options). The fields, env vars and flags are declared in
 * config-schema.ts and listed in docs/configuration.md.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import {
  CONFIG_FIELDS,
  type ConfigValue,
  DEFAULT_MQTTS_PORT,
  type FieldSpec,
  type LOG_LEVELS,
  NON_CONFIG_ENV,
  type Rule,
} from './config-schema.js';
import { GatewayErrorCode, MedgateError } from './errors.js';
import { safeJsonParse } from './util/safe-json.js';

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string | null;
}

export interface GatewayLimits {
  readonly maxPayloadBytes: number;
  readonly skewMs: number;
  readonly backlogMaxAgeMs: number;
  readonly maxConnections: number;
  readonly nonceCacheSize: number;
  readonly failuresBeforeSlowdown: number;
  readonly banMs: number;
}

export interface GatewayConfig {
  /** Absolute path. */
  readonly dataDir: string;
  readonly host: string;
  readonly mqttPort: number;
  /** null: no MQTTS listener. */
  readonly mqttsPort: number | null;
  /** null: no WebSocket listener. */
  readonly wsPort: number | null;
  readonly httpPort: number;
  /** null: no TLS files given. Paths are absolute. */
  readonly tls: TlsFiles | null;
  readonly blockIntervalMs: number;
  readonly heartbeatMs: number;
  readonly maxTxPerBlock: number;
  readonly limits: GatewayLimits;
  readonly verifyThreads: number;
  readonly logLevel: LogLevel;
}

export type ConfigSource = 'default' | 'file' | 'env' | 'flag';

/** MG_ERR_CONFIG, with where the bad value came from: `source` and `origin` (file path, env var or flag). */
export class ConfigError extends MedgateError {
  readonly source: ConfigSource;
  readonly origin: string;

  constructor(
    message: string,
    details: {
      field: string;
      source: ConfigSource;
      origin: string;
      got?: unknown;
      want?: unknown;
      cause?: unknown;
    },
  ) {
    super(GatewayErrorCode.CONFIG, message, details);
    this.name = 'ConfigError';
    this.source = details.source;
    this.origin = details.origin;
  }
}

export interface LoadConfigOptions {
  /** JSON config file; when omitted, `MEDGATE_CONFIG` from `env` names it, if set. */
  readonly file?: string | undefined;
  /** Environment; default `process.env`. Only `MEDGATE_*` names are read. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Parsed flags keyed by long name without dashes (`{ 'mqtt-port': '0' }`), as util.parseArgs returns them. */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** Base of relative paths given in env and flags (default `process.cwd()`); the file's own directory is the base for its paths. */
  readonly cwd?: string;
}

interface Given {
  readonly value: ConfigValue;
  readonly source: ConfigSource;
  readonly origin: string;
}

const byPath: ReadonlyMap<string, FieldSpec> = new Map(CONFIG_FIELDS.map((f) => [f.path, f]));

function spec(path: string): FieldSpec {
  const found = byPath.get(path);
  if (found === undefined) throw new Error(`config-schema has no field ${path}`);
  return found;
}

function describeSource(given: { source: ConfigSource; origin: string }): string {
  switch (given.source) {
    case 'file':
      return `config file ${given.origin}`;
    case 'env':
      return `environment variable ${given.origin}`;
    case 'flag':
      return `flag --${given.origin}`;
    default:
      return 'default';
  }
}

function refuse(
  path: string,
  given: { source: ConfigSource; origin: string },
  problem: string,
  got?: unknown,
  want?: unknown,
): ConfigError {
  return new ConfigError(`${path} (from ${describeSource(given)}) ${problem}`, {
    field: path,
    source: given.source,
    origin: given.origin,
    got,
    want,
  });
}

function ruleText(rule: Rule): string {
  switch (rule.kind) {
    case 'int':
      return `an integer from ${rule.min} to ${rule.max}`;
    case 'port':
      return 'a port from 0 to 65535';
    case 'optional-port':
      return 'a port from 0 to 65535, or off';
    case 'dir':
      return 'a directory path';
    case 'file':
      return 'the path of a readable file';
    case 'host':
      return 'an IP address or a host name';
    case 'enum':
      return `one of ${rule.values.join(', ')}`;
  }
}

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const DIGITS = /^\d{1,16}$/;

/** Turns the text of an env var or flag into the JSON type the rule expects (validated next). */
function fromText(rule: Rule, text: string): ConfigValue {
  if (rule.kind === 'optional-port' && text === 'off') return null;
  if (rule.kind === 'int' || rule.kind === 'port' || rule.kind === 'optional-port') {
    // Decimal digits only: no '1e3', '0x10', ' 1' or '' silently becoming a number.
    return DIGITS.test(text) ? Number(text) : text;
  }
  return text;
}

/**
 * Checks one value against its rule and returns it normalised (paths made absolute).
 * `base` is the directory relative paths resolve against.
 */
function validate(f: FieldSpec, given: Given, base: string): ConfigValue {
  const { rule } = f;
  const { value } = given;
  const fail = (problem = `must be ${ruleText(rule)}`): ConfigError =>
    refuse(f.path, given, problem, value, ruleText(rule));
  switch (rule.kind) {
    case 'int':
    case 'port':
    case 'optional-port': {
      if (value === null && rule.kind === 'optional-port') return null;
      const [min, max] = rule.kind === 'int' ? [rule.min, rule.max] : [0, 65535];
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
        throw fail();
      return value;
    }
    case 'host':
      if (typeof value !== 'string' || (isIP(value) === 0 && !HOST_NAME.test(value))) throw fail();
      return value;
    case 'enum':
      if (typeof value !== 'string' || !rule.values.includes(value)) throw fail();
      return value;
    case 'dir':
    case 'file': {
      if (typeof value !== 'string' || value === '' || value.includes('\0')) throw fail();
      const path = resolve(base, value);
      if (rule.kind === 'file') {
        try {
          if (!statSync(path).isFile()) throw fail(`is not a regular file: ${path}`);
          accessSync(path, constants.R_OK);
        } catch (cause) {
          if (cause instanceof ConfigError) throw cause;
          const err = fail(`cannot be read: ${path} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`);
          throw Object.assign(err, { cause });
        }
      }
      return path;
    }
  }
}

/** Reads and flattens the JSON file into path → value, refusing unknown keys and wrong shapes. */
function readFile(file: string): Map<string, Given> {
  const where = { source: 'file' as const, origin: file };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${file}: ${(cause as Error).message}`, {
      field: '',
      ...where,
      cause,
    });
  }
  let root: unknown;
  try {
    // A BOM is what some editors put before JSON; JSON.parse refuses it.
    root = safeJsonParse(text.replace(/^\uFEFF/, ''), { maxLength: 1024 * 1024, maxDepth: 8 });
  } catch (cause) {
    const field = (cause as MedgateError).field ?? '';
    throw new ConfigError(`config file ${file}: ${(cause as Error).message}`, { field, ...where, cause });
  }
  const out = new Map<string, Given>();
  const walk = (value: unknown, prefix: string): void => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw refuse(prefix === '' ? '(root)' : prefix, where, 'must be a JSON object', value);
    }
    for (const [key, child] of Object.entries(value)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (byPath.has(path)) {
        if (child !== null && typeof child === 'object')
          throw refuse(path, where, `must be ${ruleText(spec(path).rule)}`, child);
        out.set(path, { value: child as ConfigValue, ...where });
      } else if (CONFIG_FIELDS.some((f) => f.path.startsWith(`${path}.`))) {
        walk(child, path);
      } else {
        throw refuse(path, where, 'is not a setting (unknown key)', key);
      }
    }
  };
  walk(root, '');
  return out;
}

function readEnv(env: Readonly<Record<string, string | undefined>>): Map<string, Given> {
  const byEnv = new Map(CONFIG_FIELDS.map((f) => [f.env, f]));
  const out = new Map<string, Given>();
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith('MEDGATE_') || text === undefined || NON_CONFIG_ENV.has(name)) continue;
    const f = byEnv.get(name);
    const given = { source: 'env' as const, origin: name };
    // A misspelt variable would otherwise be ignored without a word.
    if (f === undefined) throw refuse(name, given, 'is not a setting (unknown variable)', name);
    if (text === '') throw refuse(f.path, given, `is empty; unset it or give ${ruleText(f.rule)}`, text);
    out.set(f.path, { value: fromText(f.rule, text), ...given });
  }
  return out;
}

function readFlags(flags: Readonly<Record<string, unknown>>): Map<string, Given> {
  const byFlag = new Map(CONFIG_FIELDS.map((f) => [f.flag, f]));
  const out = new Map<string, Given>();
  for (const [name, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const f = byFlag.get(name);
    const given = { source: 'flag' as const, origin: name };
    if (f === undefined) throw refuse(name, given, 'is not a setting (unknown flag)', name);
    if (typeof value !== 'string') throw refuse(f.path, given, 'takes one value', value);
    out.set(f.path, { value: fromText(f.rule, value), ...given });
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Every setting at its default; `dataDir` has none (it is required). Frozen. */
export const DEFAULT_CONFIG: Readonly<Omit<GatewayConfig, 'dataDir'>> = deepFreeze({
  host: spec('host').default as string,
  mqttPort: spec('mqttPort').default as number,
  mqttsPort: spec('mqttsPort').default as number | null,
  wsPort: spec('wsPort').default as number | null,
  httpPort: spec('httpPort').default as number,
  tls: null,
  blockIntervalMs: spec('blockIntervalMs').default as number,
  heartbeatMs: spec('heartbeatMs').default as number,
  maxTxPerBlock: spec('maxTxPerBlock').default as number,
  limits: {
    maxPayloadBytes: spec('limits.maxPayloadBytes').default as number,
    skewMs: spec('limits.skewMs').default as number,
    backlogMaxAgeMs: spec('limits.backlogMaxAgeMs').default as number,
    maxConnections: spec('limits.maxConnections').default as number,
    nonceCacheSize: spec('limits.nonceCacheSize').default as number,
    failuresBeforeSlowdown: spec('limits.failuresBeforeSlowdown').default as number,
    banMs: spec('limits.banMs').default as number,
  },
  verifyThreads: spec('verifyThreads').default as number,
  logLevel: spec('logLevel').default as LogLevel,
});

/**
 * Loads, validates and freezes the gateway configuration. Throws ConfigError (MG_ERR_CONFIG)
 * naming the field (`err.field`, e.g. `limits.skewMs`) and where the value came from
 * (`err.source`: file, env or flag; `err.origin`: the file path, variable or flag name).
 */
export function loadConfig(options: LoadConfigOptions = {}): GatewayConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = options.file ?? env.MEDGATE_CONFIG;
  const filePath = file === undefined || file === '' ? undefined : resolve(cwd, file);

  // Lowest precedence first; each later source overwrites what it sets. Every given value is
  // validated, even one a higher source overrides: a wrong config file stays an error.
  const sources: Array<[Map<string, Given>, string]> = [];
  if (filePath !== undefined) sources.push([readFile(filePath), dirname(filePath)]);
  sources.push([readEnv(env), cwd], [readFlags(options.flags ?? {}), cwd]);

  const values = new Map<string, ConfigValue>();
  const origins = new Map<string, Given>();
  for (const [source, base] of sources) {
    for (const [path, g] of source) {
      values.set(path, validate(spec(path), g, base));
      origins.set(path, g);
    }
  }
  const originOf = (path: string): Given =>
    origins.get(path) ?? { value: null, source: 'default', origin: path };
  const get = (path: string): ConfigValue | undefined =>
    values.has(path) ? values.get(path) : spec(path).default;

  const dataDir = get('dataDir');
  if (typeof dataDir !== 'string') {
    throw refuse(
      'dataDir',
      originOf('dataDir'),
      'is required: set --data, MEDGATE_DATA_DIR or "dataDir" in the config file',
    );
  }

  const tls = tlsFiles(get, originOf);
  let mqttsPort = get('mqttsPort') as number | null;
  if (tls !== null && !values.has('mqttsPort')) mqttsPort = DEFAULT_MQTTS_PORT;
  if (mqttsPort !== null && tls === null) {
    throw refuse(
      'mqttsPort',
      originOf('mqttsPort'),
      'needs TLS files: set tls.certFile and tls.keyFile, or turn it off',
    );
  }

  const config: GatewayConfig = {
    dataDir,
    host: get('host') as string,
    mqttPort: get('mqttPort') as number,
    mqttsPort,
    wsPort: get('wsPort') as number | null,
    httpPort: get('httpPort') as number,
    tls,
    blockIntervalMs: get('blockIntervalMs') as number,
    heartbeatMs: get('heartbeatMs') as number,
    maxTxPerBlock: get('maxTxPerBlock') as number,
    limits: {
      maxPayloadBytes: get('limits.maxPayloadBytes') as number,
      skewMs: get('limits.skewMs') as number,
      backlogMaxAgeMs: get('limits.backlogMaxAgeMs') as number,
      maxConnections: get('limits.maxConnections') as number,
      nonceCacheSize: get('limits.nonceCacheSize') as number,
      failuresBeforeSlowdown: get('limits.failuresBeforeSlowdown') as number,
      banMs: get('limits.banMs') as number,
    },
    verifyThreads: get('verifyThreads') as number,
    logLevel: get('logLevel') as LogLevel,
  };
  checkPorts(config, originOf);
  // DESIGN §3: backlog is what arrives outside the skew window; a shorter limit would refuse it all.
  if (config.limits.backlogMaxAgeMs < config.limits.skewMs) {
    throw refuse(
      'limits.backlogMaxAgeMs',
      originOf('limits.backlogMaxAgeMs'),
      `must not be below limits.skewMs (${config.limits.skewMs})`,
      config.limits.backlogMaxAgeMs,
      config.limits.skewMs,
    );
  }
  return deepFreeze(config);
}

function tlsFiles(
  get: (path: string) => ConfigValue | undefined,
  originOf: (path: string) => Given,
): TlsFiles | null {
  const certFile = get('tls.certFile');
  const keyFile = get('tls.keyFile');
  const caFile = get('tls.caFile');
  if (typeof certFile === 'string' && typeof keyFile === 'string') {
    return { certFile, keyFile, caFile: typeof caFile === 'string' ? caFile : null };
  }
  if (typeof certFile === 'string')
    throw refuse('tls.keyFile', originOf('tls.certFile'), 'is required with tls.certFile');
  if (typeof keyFile === 'string')
    throw refuse('tls.certFile', originOf('tls.keyFile'), 'is required with tls.keyFile');
  if (typeof caFile === 'string') {
    throw refuse('tls.caFile', originOf('tls.caFile'), 'is only used with tls.certFile and tls.keyFile');
  }
  return null;
}

/** Two listeners on one fixed port would fail at bind time, after the ledger opened: refuse now. */
function checkPorts(config: GatewayConfig, originOf: (path: string) => Given): void {
  const seen = new Map<number, string>();
  for (const path of ['mqttPort', 'mqttsPort', 'wsPort', 'httpPort'] as const) {
    const port = config[path];
    if (port === null || port === 0) continue;
    const other = seen.get(port);
    if (other !== undefined) throw refuse(path, originOf(path), `uses port ${port}, as ${other} does`, port);
    seen.set(port, path);
  }
}
