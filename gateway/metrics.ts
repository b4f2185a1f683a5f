/**
 * Prometheus metrics of the gateway (prom-client). One `Registry` per gateway instance, not
 * prom-client's global one, so that tests and several gateways in one process never share
 * counters. Label values are bounded sets (error codes, roles, tx types): never a device id.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Verify latency buckets in seconds: a worker-pool verify is sub-millisecond, a batch a few ms. */
const VERIFY_BUCKETS = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
]);

export interface Metrics {
  readonly registry: Registry;
  /** Readings verified, anchored in the reading log and acknowledged. */
  readonly readingsAccepted: Counter;
  /** Readings refused, by MedgateError code. */
  readonly readingsRefused: Counter<'code'>;
  /** Time from receipt of a reading to a verified signature, in seconds. */
  readonly verifyLatency: Histogram;
  /** Connected MQTT clients by role (device, clinician, admin). */
  readonly connectedClients: Gauge<'role'>;
  /** Height of the newest block (set on scrape, see `refreshLedgerGauges`). */
  readonly blockHeight: Gauge;
  /** Number of leaves in the reading log. */
  readonly logSize: Gauge;
  /** Transactions submitted, by tx type and result (`ok` or an error code). */
  readonly txSubmitted: Counter<'type' | 'result'>;
}

/** Creates a fresh registry with every medgate metric registered (prefix `medgate_`). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  return Object.freeze({
    registry,
    readingsAccepted: new Counter({
      name: 'medgate_readings_accepted_total',
      help: 'Readings verified, anchored in the reading log and acknowledged',
      registers,
    }),
    readingsRefused: new Counter({
      name: 'medgate_readings_refused_total',
      help: 'Readings refused, by error code',
      labelNames: ['code'] as const,
      registers,
    }),
    verifyLatency: new Histogram({
      name: 'medgate_verify_latency_seconds',
      help: 'Time from receipt of a reading to its verified signature',
      buckets: [...VERIFY_BUCKETS],
      registers,
    }),
    connectedClients: new Gauge({
      name: 'medgate_connected_clients',
      help: 'Connected MQTT clients by role',
      labelNames: ['role'] as const,
      registers,
    }),
    blockHeight: new Gauge({
      name: 'medgate_block_height',
      help: 'Height of the newest block',
      registers,
    }),
    logSize: new Gauge({
      name: 'medgate_log_size',
      help: 'Number of leaves in the reading log',
      registers,
    }),
    txSubmitted: new Counter({
      name: 'medgate_tx_submitted_total',
      help: 'Transactions submitted, by type and result (ok or an error code)',
      labelNames: ['type', 'result'] as const,
      registers,
    }),
  });
}

/** Sets the ledger gauges from the current tip; called on every scrape so they are never stale. */
export function refreshLedgerGauges(metrics: Metrics, tip: { height: number; logSize: number }): void {
  metrics.blockHeight.set(tip.height);
  metrics.logSize.set(tip.logSize);
}
