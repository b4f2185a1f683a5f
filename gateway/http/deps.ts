/** What the HTTP API is built from (the composition root passes these) and what routes share. */
import type { Logger } from 'pino';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import type { VerifiedReadingJson } from '../../firmware-ts/protocol/verified-reading.js';
import type { NonceCache } from '../broker/nonce-cache.js';
import type { GatewayConfig } from '../config.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Metrics } from '../metrics.js';
import type { VerifiedReadings } from '../telemetry/verified-readings.js';
import type { TokenAuth } from './auth.js';

export type HttpLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/** A verified reading as the API serves it (DESIGN §3 JSON). */
export type ServedReading = VerifiedReadingJson;

/** Verified readings by device and seq (the reading store joined with the log), all the API reads. */
export type ReadingSource = Pick<VerifiedReadings, 'get' | 'history'>;

export interface HttpDeps {
  readonly ledger: Ledger;
  /** Without it the reading routes answer 503 MG_ERR_READINGS_UNAVAILABLE. */
  readonly store?: ReadingSource;
  readonly metrics: Metrics;
  /** Reads `limits.skewMs` and `limits.nonceCacheSize` (token checks). */
  readonly config: Pick<GatewayConfig, 'limits'>;
  readonly log: HttpLog;
  /** ed25519 backend for token signatures; default the ledger's. */
  readonly backend?: Ed25519Backend;
  /** Clock for token windows; default Date.now. */
  readonly now?: () => number;
  /** The broker's connect-token nonce cache, shared so a token serves one use on either protocol. */
  readonly nonces?: NonceCache;
  /** More readiness checks of the composition root (broker listening, ...), by name. */
  readonly readiness?: () => Readonly<Record<string, boolean>>;
  /** The MQTT-over-WebSocket port the web console connects to (null or absent: none). */
  readonly wsPort?: number | null;
  /** Where the console's files are (the package root); default found from this module. */
  readonly consoleRoot?: string;
}

/** What every route module gets. */
export interface RouteEnv {
  readonly deps: HttpDeps;
  readonly auth: TokenAuth;
  readonly now: () => number;
}
