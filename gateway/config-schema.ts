/**
 * Every setting of `medgate gateway` (DESIGN §7) declared once: its path in the JSON config
 * file, its environment variable, its command-line flag, its rule and its default. config.ts
 * reads every source through this table, and docs/configuration.md lists the same rows (a test
 * keeps the two in step).
 */
import { availableParallelism } from 'node:os';

export type Rule =
  /** An integer in [min, max] (JSON number; decimal digits in env and flags). */
  | { readonly kind: 'int'; readonly min: number; readonly max: number }
  /** A TCP port 0..65535; 0 asks the OS for any free port. */
  | { readonly kind: 'port' }
  /** A port, or off: `null` in the file, `off` in env and flags. */
  | { readonly kind: 'optional-port' }
  /** A directory path; relative paths resolve against the file's directory or the cwd. */
  | { readonly kind: 'dir' }
  /** A path to an existing, readable regular file (resolved like `dir`). */
  | { readonly kind: 'file' }
  /** An IP address or a DNS host name to listen on. */
  | { readonly kind: 'host' }
  | { readonly kind: 'enum'; readonly values: readonly string[] };

export type ConfigValue = string | number | null;

export interface FieldSpec {
  /** Path in the config file and in GatewayConfig, e.g. `limits.skewMs`. */
  readonly path: string;
  readonly env: string;
  /** Long flag name without the dashes, e.g. `skew-ms`. */
  readonly flag: string;
  readonly rule: Rule;
  /** undefined: required (dataDir) or absent unless given (the TLS files). */
  readonly default: ConfigValue | undefined;
  readonly description: string;
  /** Flag value name in `--help`, e.g. DIR. */
  readonly value: string;
}

export const LOG_LEVELS = Object.freeze([
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
] as const);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The port `mqttsPort` takes when TLS files are given and no source sets it (IANA secure-mqtt). */
export const DEFAULT_MQTTS_PORT = 8883;

const port = Object.freeze({ kind: 'port' as const });
const optionalPort = Object.freeze({ kind: 'optional-port' as const });
const int = (min: number, max: number): Rule => Object.freeze({ kind: 'int' as const, min, max });

function field(spec: FieldSpec): FieldSpec {
  return Object.freeze(spec);
}

export const CONFIG_FIELDS: readonly FieldSpec[] = Object.freeze([
  field({
    path: 'dataDir',
    env: 'MEDGATE_DATA_DIR',
    flag: 'data',
    rule: { kind: 'dir' },
    default: undefined,
    value: 'DIR',
    description:
      'Data directory (ledger, reading store). Required: a gateway never guesses where its ledger is.',
  }),
  field({
    path: 'host',
    env: 'MEDGATE_HOST',
    flag: 'host',
    rule: { kind: 'host' },
    default: '127.0.0.1',
    value: 'HOST',
    description: 'Address every listener binds to; loopback unless set (`0.0.0.0` or `::` for all).',
  }),
  field({
    path: 'mqttPort',
    env: 'MEDGATE_MQTT_PORT',
    flag: 'mqtt-port',
    rule: port,
    default: 1883,
    value: 'PORT',
    description: 'MQTT over TCP (IANA 1883); 0 = any free port.',
  }),
  field({
    path: 'mqttsPort',
    env: 'MEDGATE_MQTTS_PORT',
    flag: 'mqtts-port',
    rule: optionalPort,
    default: null,
    value: 'PORT|off',
    description: `MQTT over TLS. Off unless TLS files are given, then ${DEFAULT_MQTTS_PORT}; needs tls.certFile and tls.keyFile.`,
  }),
  field({
    path: 'wsPort',
    env: 'MEDGATE_WS_PORT',
    flag: 'ws-port',
    rule: optionalPort,
    default: 8083,
    value: 'PORT|off',
    description: 'MQTT over WebSocket (browsers, the web console); `off` disables it.',
  }),
  field({
    path: 'httpPort',
    env: 'MEDGATE_HTTP_PORT',
    flag: 'http-port',
    rule: port,
    default: 8080,
    value: 'PORT',
    description: 'HTTP API; 0 = any free port.',
  }),
  field({
    path: 'tls.certFile',
    env: 'MEDGATE_TLS_CERT_FILE',
    flag: 'tls-cert',
    rule: { kind: 'file' },
    default: undefined,
    value: 'FILE',
    description: 'PEM certificate chain of the MQTTS listener. Must exist.',
  }),
  field({
    path: 'tls.keyFile',
    env: 'MEDGATE_TLS_KEY_FILE',
    flag: 'tls-key',
    rule: { kind: 'file' },
    default: undefined,
    value: 'FILE',
    description: 'PEM private key of that certificate. Must exist; required with tls.certFile.',
  }),
  field({
    path: 'tls.caFile',
    env: 'MEDGATE_TLS_CA_FILE',
    flag: 'tls-ca',
    rule: { kind: 'file' },
    default: undefined,
    value: 'FILE',
    description: 'Optional PEM CA bundle given to the TLS server as `ca`. Only with certFile and keyFile.',
  }),
  field({
    path: 'blockIntervalMs',
    env: 'MEDGATE_BLOCK_INTERVAL_MS',
    flag: 'block-interval-ms',
    rule: int(50, HOUR),
    default: 1000,
    value: 'MS',
    description: 'A block is cut at least this often (DESIGN §4).',
  }),
  field({
    path: 'heartbeatMs',
    env: 'MEDGATE_HEARTBEAT_MS',
    flag: 'heartbeat-ms',
    rule: int(0, HOUR),
    default: 60_000,
    value: 'MS',
    description:
      'An idle gateway still cuts an empty block this often, so devices see a fresh signed time (DESIGN §5 freeze attacks) and scheduled rollouts open; 0 = never.',
  }),
  field({
    path: 'maxTxPerBlock',
    env: 'MEDGATE_MAX_TX_PER_BLOCK',
    flag: 'max-tx-per-block',
    rule: int(1, 100_000),
    default: 1000,
    value: 'N',
    description: 'A block is cut early when this many transactions wait.',
  }),
  field({
    path: 'limits.maxPayloadBytes',
    env: 'MEDGATE_MAX_PAYLOAD_BYTES',
    flag: 'max-payload-bytes',
    rule: int(256, 16 * 1024 * 1024),
    default: 16 * 1024,
    value: 'BYTES',
    description: 'Largest MQTT payload a client may publish; larger ones are refused before parsing.',
  }),
  field({
    path: 'limits.skewMs',
    env: 'MEDGATE_SKEW_MS',
    flag: 'skew-ms',
    rule: int(1000, DAY),
    default: 5 * MINUTE,
    value: 'MS',
    description:
      'Largest difference between a device clock `t` and the gateway clock (connect tokens, readings).',
  }),
  field({
    path: 'limits.backlogMaxAgeMs',
    env: 'MEDGATE_BACKLOG_MAX_AGE_MS',
    flag: 'backlog-max-age-ms',
    rule: int(1000, 30 * DAY),
    default: DAY,
    value: 'MS',
    description: 'Oldest store-and-forward reading accepted (marked late). Not below limits.skewMs.',
  }),
  field({
    path: 'limits.maxConnections',
    env: 'MEDGATE_MAX_CONNECTIONS',
    flag: 'max-connections',
    rule: int(1, 1_000_000),
    default: 10_000,
    value: 'N',
    description: 'Concurrent MQTT connections over all listeners.',
  }),
  field({
    path: 'limits.nonceCacheSize',
    env: 'MEDGATE_NONCE_CACHE_SIZE',
    flag: 'nonce-cache-size',
    rule: int(1000, 10_000_000),
    default: 100_000,
    value: 'N',
    description: 'Connect nonces remembered within the skew window (replayed CONNECTs are refused).',
  }),
  field({
    path: 'limits.failuresBeforeSlowdown',
    env: 'MEDGATE_FAILURES_BEFORE_SLOWDOWN',
    flag: 'failures-before-slowdown',
    rule: int(1, 1000),
    default: 5,
    value: 'N',
    description: 'Failed authentications from one client id or address before it is slowed down and banned.',
  }),
  field({
    path: 'limits.banMs',
    env: 'MEDGATE_BAN_MS',
    flag: 'ban-ms',
    rule: int(0, DAY),
    default: MINUTE,
    value: 'MS',
    description: 'How long such a client is refused; 0 = slow down only.',
  }),
  field({
    path: 'verifyThreads',
    env: 'MEDGATE_VERIFY_THREADS',
    flag: 'verify-threads',
    rule: int(1, 256),
    default: availableParallelism(),
    value: 'N',
    description: 'Signature verification worker threads (default: os.availableParallelism()).',
  }),
  field({
    path: 'logLevel',
    env: 'MEDGATE_LOG_LEVEL',
    flag: 'log-level',
    rule: { kind: 'enum', values: LOG_LEVELS },
    default: 'info',
    value: 'LEVEL',
    description: `pino level: ${LOG_LEVELS.join(', ')}.`,
  }),
]);

/** `MEDGATE_*` variables that are not settings and are allowed beside them. */
export const NON_CONFIG_ENV: ReadonlySet<string> = new Set([
  'MEDGATE_CONFIG', // path of the config file when no `file` is passed
  'MEDGATE_DEBUG', // stack traces in the CLI (gateway/cli/main.ts)
]);

export interface ConfigFlagOption {
  readonly type: 'string';
  readonly description: string;
  readonly value: string;
}

/** The config flags in the shape of the CLI's OptionSpec, for `medgate gateway`'s options. */
export const CONFIG_FLAG_OPTIONS: Readonly<Record<string, ConfigFlagOption>> = Object.freeze(
  Object.fromEntries(
    CONFIG_FIELDS.map((f) => [
      f.flag,
      Object.freeze({ type: 'string' as const, description: f.description, value: f.value }),
    ]),
  ),
);
