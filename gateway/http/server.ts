/**
 * The gateway's HTTP API (docs/http-api.md) on node:http with our own small router: no
 * framework for about twenty JSON routes, and every body limit, JSON parse (prototype-poisoning
 * safe) and error shape stays in this folder. Every error is `{"error": {"code", "message"}}`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { GatewayErrorCode } from '../errors.js';
import { TokenAuth } from './auth.js';
import type { HttpDeps, RouteEnv } from './deps.js';
import { HttpError, sendError } from './respond.js';
import { Router } from './router.js';
import { consoleRoutes } from './routes-console.js';
import { deviceRoutes } from './routes-devices.js';
import { firmwareRoutes } from './routes-firmware.js';
import { healthRoutes } from './routes-health.js';
import { ledgerRoutes } from './routes-ledger.js';
import { readingRoutes } from './routes-readings.js';
import { txRoutes } from './routes-tx.js';

export type { HttpDeps, HttpLog, ReadingSource, ServedReading } from './deps.js';

export interface HttpServer {
  /** Listens on `host:port` (0 = any free port); resolves with the bound port. */
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish (at most `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
  /** The node:http server (for tests and the composition root). */
  readonly server: Server;
}

/** Node's defaults are generous; the API's requests are small and quick to send. */
const SERVER_LIMITS = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxHeaderSize: 16 * 1024,
  defaultGraceMs: 5_000,
});

export function createRouter(env: RouteEnv): Router {
  const router = new Router();
  healthRoutes(router, env);
  ledgerRoutes(router, env);
  deviceRoutes(router, env);
  readingRoutes(router, env);
  txRoutes(router, env);
  firmwareRoutes(router, env);
  consoleRoutes(router, env);
  return router;
}

export function createHttpServer(deps: HttpDeps): HttpServer {
  const now = deps.now ?? Date.now;
  const auth = new TokenAuth({
    state: () => deps.ledger.state,
    backend: deps.backend ?? deps.ledger.machine.backend,
    skewMs: deps.config.limits.skewMs,
    nonceCacheSize: deps.config.limits.nonceCacheSize,
    now,
    ...(deps.nonces === undefined ? {} : { nonces: deps.nonces }),
  });
  const router = createRouter({ deps, auth, now });
  const { log } = deps;
  let closing = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let route = 'unmatched';
    const started = performance.now();
    // Route pattern and status only: never the path's ids, a query or a header.
    res.once('finish', () =>
      log.debug(
        { method: req.method, route, status: res.statusCode, ms: Math.round(performance.now() - started) },
        'http',
      ),
    );
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const match = router.match(req.method ?? '', url.pathname);
      if (match.kind === 'none') {
        throw new HttpError(404, GatewayErrorCode.HTTP_NOT_FOUND, `no route ${url.pathname.slice(0, 200)}`);
      }
      if (match.kind === 'method') {
        res.setHeader('allow', match.allowed.join(', '));
        throw new HttpError(
          405,
          GatewayErrorCode.HTTP_METHOD_NOT_ALLOWED,
          `use ${match.allowed.join(' or ')}`,
        );
      }
      route = match.name;
      await match.handler({ req, res, params: match.params, query: url.searchParams, url });
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // After a 413 the rest of the upload is not worth reading: close the connection.
      const extra: Record<string, string> =
        err instanceof HttpError && err.status === 413 ? { connection: 'close' } : {};
      const status = sendError(res, err, extra);
      if (status >= 500 && !isMedgateError(err)) log.error({ err, route }, 'request failed');
      else log.info({ route, status, code: isMedgateError(err) ? err.code : undefined }, 'request refused');
    }
  }

  const server = createServer(
    {
      headersTimeout: SERVER_LIMITS.headersTimeoutMs,
      requestTimeout: SERVER_LIMITS.requestTimeoutMs,
      maxHeaderSize: SERVER_LIMITS.maxHeaderSize,
    },
    (req, res) => {
      if (closing) res.setHeader('connection', 'close');
      void handle(req, res);
    },
  );

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close(graceMs = SERVER_LIMITS.defaultGraceMs) {
      closing = true;
      return new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        // In-flight requests finish (a transaction waits for its block); past the grace period
        // their connections are cut.
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
