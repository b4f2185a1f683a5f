/**
 * Liveness, readiness and Prometheus metrics. Liveness says only that the process answers;
 * readiness that the ledger is open for writing and its database answers a read (plus the
 * composition root's own checks); `/metrics` refreshes the ledger gauges on every scrape.
 */
import { GatewayErrorCode } from '../errors.js';
import { refreshLedgerGauges } from '../metrics.js';
import type { RouteEnv } from './deps.js';
import { sendJson, sendText } from './respond.js';
import type { Router } from './router.js';

export function healthRoutes(router: Router, { deps }: RouteEnv): void {
  const { ledger, metrics } = deps;

  router.get('/healthz', ({ res }) => sendJson(res, 200, { status: 'ok' }));

  router.get('/readyz', async ({ res }) => {
    const checks: Record<string, boolean> = { ledgerWritable: !ledger.readOnly, database: false };
    try {
      await ledger.blockTxs(0); // a real read: fails once the data directory is closed
      checks.database = true;
    } catch {
      checks.database = false;
    }
    Object.assign(checks, deps.readiness?.() ?? {});
    const failing = Object.keys(checks).filter((name) => !checks[name]);
    if (failing.length === 0) {
      sendJson(res, 200, { status: 'ready', checks });
      return;
    }
    sendJson(res, 503, {
      error: { code: GatewayErrorCode.NOT_READY, message: `not ready: ${failing.join(', ')}` },
      checks,
    });
  });

  router.get('/metrics', async ({ res }) => {
    refreshLedgerGauges(metrics, { height: ledger.tip.header.height, logSize: ledger.log.size });
    sendText(res, 200, await metrics.registry.metrics(), metrics.registry.contentType);
  });
}
