/**
 * The composition root of `medgate gateway` (DESIGN §7, issue 4): it opens, wires and stops,
 * in order, everything the gateway is made of. Nothing else constructs these parts.
 *
 *   start: ledger → verify pool (one for the whole gateway) → reading store → broker (hooks)
 *          → telemetry pipeline (caught up with the log) → MQTT listeners → HTTP API
 *   stop:  refuse new connections and publishes → stop accepting (MQTT, HTTP) → finish the
 *          readings in flight (their PUBACKs) → pipeline follow-ups (store, verified feed) →
 *          disconnect clients → close listeners and HTTP → reading store → ledger (cuts a last
 *          block, closes the database) → verify pool → flush the log
 */
import { createGatewayBroker, type GatewayBroker } from './broker/broker.js';
import { type Listeners, startListeners } from './broker/listeners.js';
import { NonceCache } from './broker/nonce-cache.js';
import { PACKET_OVERHEAD_BYTES } from './broker/packet-limit.js';
import { listensTo } from './broker/publisher.js';
import type { TelemetryHandler } from './broker/telemetry-seam.js';
import type { GatewayConfig } from './config.js';
import { GatewayErrorCode, MedgateError } from './errors.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import { Ledger, type ProducedBlock } from './ledger/ledger.js';
import { createLogger, flushLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { Penalty } from './telemetry/penalty.js';
import { createTelemetryPipeline, type TelemetryPipeline } from './telemetry/pipeline.js';
import { ReadingStore } from './telemetry/reading-store.js';
import { VerifiedReadings } from './telemetry/verified-readings.js';
import { lazyUpdateHandlers, startUpdateService, type UpdateService } from './updates/service.js';
import { VerifyPool } from './verify/pool.js';

/** How long a graceful stop waits for each step before it moves on. */
export const STOP_TIMEOUTS = Object.freeze({
  /** Readings being verified and appended get this long to be acknowledged. */
  inflightMs: 10_000,
  /** Open MQTT sockets and HTTP requests after the broker closed. */
  socketsMs: 2_000,
  httpGraceMs: 5_000,
});

export interface GatewayPorts {
  readonly mqtt: number;
  readonly mqtts: number | null;
  readonly ws: number | null;
  readonly http: number | null;
}

export interface RunningGateway {
  readonly ports: GatewayPorts;
  readonly chain: string;
  /** The parts, for tests and for embedding; the gateway owns them (do not close them). */
  readonly ledger: Ledger;
  readonly broker: GatewayBroker;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Absent when `options.telemetry` replaced it. */
  readonly pipeline: TelemetryPipeline | undefined;
  /** The firmware service: offers, chunks, update statuses (gateway/updates/). */
  readonly updates: UpdateService;
  /** Graceful stop (see the top of this file). Idempotent; rejects if a step failed. */
  stop(): Promise<void>;
}

export interface StartGatewayOptions {
  /** Default: pino to stderr at `config.logLevel`. */
  readonly log?: Logger;
  /** Replaces the telemetry pipeline (tests of the MQTT front end with a handler of their own). */
  readonly telemetry?: TelemetryHandler;
  readonly now?: () => number;
}

/** Opens everything and starts listening; on failure closes what it opened and rethrows. */
export async function startGateway(
  config: GatewayConfig,
  options: StartGatewayOptions = {},
): Promise<RunningGateway> {
  const log = options.log ?? createLogger({ level: config.logLevel });
  const now = options.now ?? Date.now;
  const closers: Array<{ name: string; close: () => Promise<unknown> }> = [];
  const blockListeners: Array<(produced: ProducedBlock) => void> = [];
  const cleanup = async (): Promise<void> => {
    for (const { name, close } of closers.reverse()) {
      await close().catch((err: unknown) => log.error({ err, part: name }, 'close failed'));
    }
  };
  try {
    const ledger = await Ledger.open(config.dataDir, {
      blockIntervalMs: config.blockIntervalMs,
      heartbeatMs: config.heartbeatMs,
      maxTxPerBlock: config.maxTxPerBlock,
      now,
      onBlock: (produced) => {
        for (const listener of blockListeners) listener(produced);
      },
      onError: (err) => log.error({ err }, 'block cut failed'),
    });
    closers.push({ name: 'ledger', close: () => ledger.close() });
    const pool = await VerifyPool.create({ threads: config.verifyThreads });
    closers.push({ name: 'verify pool', close: () => pool.close() });
    const store = await ReadingStore.open(config.dataDir);
    closers.push({ name: 'reading store', close: () => store.close() });
    const metrics = createMetrics();
    const penalty = new Penalty({
      failuresBeforeSlowdown: config.limits.failuresBeforeSlowdown,
      banMs: config.limits.banMs,
      now,
    });

    // One cache of connect-token nonces for MQTT and HTTP: a token serves one use on either.
    const nonces = new NonceCache(config.limits.nonceCacheSize);
    // The broker hands telemetry to the pipeline, which publishes through the broker.
    let pipeline: TelemetryPipeline | undefined;
    const telemetry: TelemetryHandler = options.telemetry ?? {
      handle: (client, payload, info) => pipeline!.handle(client, payload, info),
    };
    let updates: UpdateService | undefined;
    const broker = await createGatewayBroker({
      ledger,
      verify: (job) => pool.verify(job),
      handlers: { telemetry, ...lazyUpdateHandlers(() => updates) },
      limits: config.limits,
      log,
      metrics,
      penalty,
      now,
      nonces,
    });
    closers.push({ name: 'broker', close: () => broker.close() });
    blockListeners.push(broker.onBlock);

    if (options.telemetry === undefined) {
      pipeline = createTelemetryPipeline({
        ledger,
        pool,
        store,
        publish: (topic, payload, opts) =>
          broker.publisher.publish(topic, payload, { qos: opts.qos === 0 ? 0 : 1, retain: opts.retain }),
        log: log.child({ part: 'telemetry' }),
        metrics,
        config,
        penalty,
        onPenalty: (client, decision) => {
          if (decision === 'ban') broker.disconnect(client.principal, GatewayErrorCode.AUTH_BANNED);
        },
        listening: (client, topic) => listensTo(broker.sessions.client(client.principal), topic),
        now,
      });
      const started = pipeline;
      closers.push({ name: 'telemetry', close: () => started.close() });
      await pipeline.ready;
    }

    // Firmware updates: offers after every block, chunks on fw/get, statuses on update/status.
    const firmware = await startUpdateService({
      ledger,
      publisher: broker.publisher,
      log: log.child({ part: 'updates' }),
    });
    updates = firmware;
    closers.push({ name: 'updates', close: () => firmware.close() });
    blockListeners.push(firmware.onBlock);

    const listeners: Listeners = await startListeners({
      host: config.host,
      mqttPort: config.mqttPort,
      mqttsPort: config.mqttsPort,
      wsPort: config.wsPort,
      tls: config.tls,
      maxConnections: config.limits.maxConnections,
      maxPacketBytes: config.limits.maxPayloadBytes + PACKET_OVERHEAD_BYTES,
      handle: broker.handle,
      log,
    });
    closers.push({ name: 'listeners', close: () => listeners.close(STOP_TIMEOUTS.socketsMs) });

    let stopping = false;
    const http: HttpServer = createHttpServer({
      ledger,
      store: new VerifiedReadings({ chain: ledger.chain, store, log: ledger.log }),
      metrics,
      config,
      log: log.child({ part: 'http' }),
      now,
      readiness: () => ({ mqtt: !stopping }),
      wsPort: listeners.ports.ws,
      nonces,
    });
    const httpPort = await http.listen(config.httpPort, config.host).catch((cause: NodeJS.ErrnoException) => {
      throw new MedgateError(
        GatewayErrorCode.LISTEN_FAILED,
        `http cannot listen on ${config.host}:${config.httpPort}: ${cause.code ?? cause.message}`,
        { field: 'httpPort', got: config.httpPort, cause },
      );
    });
    closers.push({ name: 'http', close: () => http.close(STOP_TIMEOUTS.httpGraceMs) });

    const ports: GatewayPorts = { ...listeners.ports, http: httpPort };
    log.info({ ports, chain: ledger.chain, height: ledger.tip.header.height }, 'gateway listening');

    let stopped: Promise<void> | undefined;
    const stop = async (): Promise<void> => {
      stopping = true;
      const failures: unknown[] = [];
      const step = async (name: string, work: () => Promise<unknown>): Promise<void> => {
        try {
          await work();
        } catch (err) {
          failures.push(err);
          log.error({ err, part: name }, 'stop step failed');
        }
      };
      log.info('gateway stopping');
      broker.beginStop();
      listeners.stopAccepting();
      const httpClosed = http.close(STOP_TIMEOUTS.httpGraceMs);
      await step('in-flight readings', async () => {
        if (!(await broker.drain(STOP_TIMEOUTS.inflightMs))) {
          log.warn(
            { inflight: broker.inflight },
            'readings still in flight at stop; they were not acknowledged',
          );
        }
      });
      if (pipeline !== undefined) await step('telemetry', () => pipeline!.close());
      await step('updates', () => firmware.close());
      await step('broker', () => broker.close());
      await step('listeners', () => listeners.close(STOP_TIMEOUTS.socketsMs));
      await step('http', () => httpClosed);
      await step('reading store', () => store.close());
      await step('ledger', () => ledger.close());
      await step('verify pool', () => pool.close());
      log.info({ height: ledger.tip.header.height, logSize: ledger.log.size }, 'gateway stopped');
      await flushLogger(log);
      // Every step ran; the first failure is the one to report.
      if (failures.length > 0) throw failures[0];
    };
    return {
      ports,
      chain: ledger.chain,
      ledger,
      broker,
      metrics,
      log,
      pipeline,
      updates: firmware,
      stop: () => {
        stopped ??= stop();
        return stopped;
      },
    };
  } catch (err) {
    await cleanup();
    await flushLogger(log);
    throw err;
  }
}
