/**
 * The web console (issue 8): its page at `/console/`, its files through the allow-list of
 * console-assets.ts, and the read routes only the console needs:
 *
 * - `GET /v1/console/me` (token): who the token's principal is; for a clinician, the devices it
 *   holds a live grant for (the page subscribes to exactly those).
 * - `GET /v1/console/devices/{id}/latest?limit=N` (admins, granted clinicians): the device's
 *   newest verified readings, newest first (what the charts open with).
 * - `GET /v1/console/fleet` (admins): devices with firmware, status and when a reading of each
 *   was last accepted (from the reading store), paged like `/v1/devices`.
 *
 * Rollouts come from `GET /v1/rollouts` and `/v1/rollouts/{id}` (routes-firmware.ts, the wave
 * planner's view). The page verifies what matters itself (signatures, receipts, blocks); these routes only say
 * what to fetch. The page is served with a Content-Security-Policy that allows scripts from
 * this origin and the one inline import map (by its hash), and WebSocket connections to the
 * gateway's MQTT-over-WebSocket port only.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayErrorCode } from '../errors.js';
import { currentKey, deviceOf, grantsOf, hasAccess } from '../ledger/state/queries.js';
import { requireAdmin, requireDeviceAccess } from './auth.js';
import {
  ASSET_CONTENT_TYPES,
  CONSOLE_IMPORT_MAP,
  confineAsset,
  MAX_ASSET_SEGMENTS,
  resolveConsoleAsset,
} from './console-assets.js';
import type { ReadingSource, RouteEnv } from './deps.js';
import { deviceParam, intQuery } from './params.js';
import { HttpError, sendJson } from './respond.js';
import type { RouteContext, Router } from './router.js';
import { deviceJson } from './routes-devices.js';

export const FLEET_PAGE = Object.freeze({ defaultLimit: 200, maxLimit: 1000 });
export const LATEST_PAGE = Object.freeze({ defaultLimit: 30, maxLimit: 500 });

/** The page template's placeholders (gateway/console/static/index.html). */
const IMPORT_MAP_SLOT = '<!--import-map-->';
const WS_PORT_SLOT = '%WS_PORT%';
/** The compiled entry module: present once `tsc -b` built the console. */
const CONSOLE_ENTRY = 'dist/gateway/console/main.js';

const ASSET_HEADERS = Object.freeze({
  'x-content-type-options': 'nosniff',
  // Revalidate each time: a rebuilt console must not mix old and new modules.
  'cache-control': 'no-cache',
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
});

/** The package root: the nearest directory above this module with a package.json. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`no package.json above ${from}`);
}

/** A hostname as it may appear in a CSP source (from the Host header; anything odd is dropped). */
function cspHost(hostHeader: string | undefined): string | undefined {
  const host = (hostHeader ?? '').replace(/:\d{1,5}$/, '');
  return /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])$/.test(host) ? host : undefined;
}

/** Content-Security-Policy of the page (W3C CSP3). */
export function consoleCsp(importMapText: string, wsPort: number | null, hostHeader?: string): string {
  const hash = createHash('sha256').update(importMapText, 'utf8').digest('base64');
  const host = cspHost(hostHeader);
  const ws = wsPort === null || host === undefined ? '' : ` ws://${host}:${wsPort} wss://${host}:${wsPort}`;
  return [
    "default-src 'none'",
    `script-src 'self' 'sha256-${hash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    // mqtt.js keeps its keepalive timers in a worker it makes from a blob (background tabs).
    'worker-src blob:',
    `connect-src 'self'${ws}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** When a reading of `dev` was last accepted, from the reading store (newest first). */
async function lastSeen(store: ReadingSource | undefined, dev: string) {
  if (store === undefined) return undefined;
  const [last] = await store.history(dev, { limit: 1, reverse: true });
  return last === undefined ? undefined : { seq: last.seq, t: last.t, received: last.received };
}

export function consoleRoutes(router: Router, { deps, auth }: RouteEnv): void {
  const { ledger } = deps;
  const root = deps.consoleRoot ?? packageRoot();
  const wsPort = deps.wsPort ?? null;
  const importMapText = JSON.stringify(CONSOLE_IMPORT_MAP);
  let template: Promise<string> | undefined;

  const sendPage = async ({ req, res }: RouteContext): Promise<void> => {
    template ??= readFile(join(root, 'gateway/console/static/index.html'), 'utf8');
    let html: string;
    try {
      html = (await template)
        .replace(IMPORT_MAP_SLOT, `<script type="importmap">${importMapText}</script>`)
        .replace(WS_PORT_SLOT, wsPort === null ? '' : String(wsPort));
    } catch (cause) {
      template = undefined;
      throw new HttpError(404, GatewayErrorCode.HTTP_NOT_FOUND, 'the console page is not installed', {
        cause,
      });
    }
    res.writeHead(200, {
      ...ASSET_HEADERS,
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(html),
      'content-security-policy': consoleCsp(importMapText, wsPort, req.headers.host),
      'x-frame-options': 'DENY',
    });
    res.end(html);
  };

  router.get('/console', ({ res }) => {
    res.writeHead(308, { ...ASSET_HEADERS, location: '/console/', 'content-length': 0 });
    res.end();
  });
  router.get('/console/', sendPage);

  const asset = async ({ res, params }: RouteContext): Promise<void> => {
    const segments = Array.from({ length: MAX_ASSET_SEGMENTS }, (_, i) => params[`p${i}`]).filter(
      (s): s is string => s !== undefined,
    );
    const resolved = resolveConsoleAsset(root, segments);
    const file = resolved === undefined ? undefined : await confineAsset(resolved);
    if (resolved === undefined || file === undefined) {
      // The app table's files are built by tsc: when none is there, say so rather than 404.
      if (resolved !== undefined && segments[0] === 'app' && !existsSync(join(root, CONSOLE_ENTRY))) {
        throw new HttpError(
          503,
          GatewayErrorCode.CONSOLE_NOT_BUILT,
          'the console is not built; run npm run build (tsc -b)',
        );
      }
      throw new HttpError(404, GatewayErrorCode.HTTP_NOT_FOUND, 'no such console file');
    }
    const body = await readFile(file);
    res.writeHead(200, {
      ...ASSET_HEADERS,
      'content-type': ASSET_CONTENT_TYPES[resolved.type],
      'content-length': body.length,
    });
    res.end(body);
  };
  // One pattern per depth: the router matches whole segments; the allow-list decides.
  for (let depth = 1; depth <= MAX_ASSET_SEGMENTS; depth++) {
    const pattern = Array.from({ length: depth }, (_, i) => `:p${i}`).join('/');
    router.get(`/console/${pattern}`, asset);
  }

  router.get('/v1/console/me', ({ req, res }) => {
    const principal = auth.authenticate(req.headers.authorization);
    const state = ledger.state;
    const devices =
      principal.role === 'clinician'
        ? grantsOf(state, principal.id)
            .filter((dev) => hasAccess(state, principal.id, dev))
            .map((dev) => {
              const d = deviceOf(state, dev);
              return { id: dev, model: d?.model ?? null, status: d?.status ?? null };
            })
        : undefined;
    sendJson(res, 200, {
      actor: principal.actor,
      role: principal.role,
      id: principal.id,
      chain: state.chain,
      height: state.height,
      ...(devices === undefined ? {} : { devices }),
    });
  });

  // The newest readings of a device (the reading routes page from the oldest).
  router.get('/v1/console/devices/:id/latest', async ({ req, res, params, query }) => {
    const dev = deviceParam(params.id!);
    requireDeviceAccess(ledger.state, auth.authenticate(req.headers.authorization), dev);
    if (deps.store === undefined) {
      throw new HttpError(503, GatewayErrorCode.READINGS_UNAVAILABLE, 'this gateway keeps no reading store');
    }
    const limit = intQuery(query, 'limit', LATEST_PAGE.defaultLimit, 1, LATEST_PAGE.maxLimit);
    sendJson(res, 200, { readings: await deps.store.history(dev, { limit, reverse: true }) });
  });

  router.get('/v1/console/fleet', async ({ req, res, query }) => {
    requireAdmin(auth.authenticate(req.headers.authorization));
    const after = query.get('after');
    const limit = intQuery(query, 'limit', FLEET_PAGE.defaultLimit, 1, FLEET_PAGE.maxLimit);
    const state = ledger.state;
    const ids = state.devices.sortedKeys();
    let start = 0;
    if (after !== null) while (start < ids.length && ids[start]! <= after) start++;
    const page = ids.slice(start, start + limit);
    const devices = await Promise.all(
      page.map(async (id) => {
        const seen = await lastSeen(deps.store, id);
        return {
          ...deviceJson(deviceOf(state, id)!, currentKey(state, id), false),
          ...(seen === undefined ? {} : { lastSeen: seen }),
        };
      }),
    );
    const more = start + limit < ids.length;
    sendJson(res, 200, { devices, ...(more ? { next: page[page.length - 1] } : {}) });
  });
}
