/**
 * The console's HTTP side without a browser: the page and its headers, the static allow-list
 * (every module the page imports is served; nothing else is, however the path is spelled), and
 * the console's read routes with their access rules.
 */

import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../gateway/config.js';
import { CONSOLE_IMPORT_MAP, confineAsset, resolveConsoleAsset } from '../../gateway/http/console-assets.js';
import { packageRoot } from '../../gateway/http/routes-console.js';
import { createHttpServer } from '../../gateway/http/server.js';
import {
  addReading,
  authHeader,
  codeOf,
  enrolDemo,
  getJson,
  type Harness,
  removeTempDirs,
  startHarness,
} from '../gateway/http-harness.js';
import { buildConsole, ROOT } from './browser.js';

const root = packageRoot();

/** A GET with the path sent exactly as given (fetch would normalise `..` and `%2e`). */
function rawGet(base: string, path: string): Promise<{ status: number; type: string; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console asset allow-list (resolveConsoleAsset)', () => {
  it('finds the package root from the module', () => {
    expect(root).toBe(ROOT);
  });

  it.each([
    [['app', 'gateway', 'console', 'main.js'], 'dist/gateway/console/main.js'],
    [['app', 'firmware-ts', 'protocol', 'cose.js'], 'dist/firmware-ts/protocol/cose.js'],
    [['app', 'firmware-ts', 'protocol', 'merkle', 'index.js'], 'dist/firmware-ts/protocol/merkle/index.js'],
    [['app', 'firmware-ts', 'protocol', 'ed25519', 'noble.js'], 'dist/firmware-ts/protocol/ed25519/noble.js'],
    [['cborg', 'cborg.js'], 'node_modules/cborg/cborg.js'],
    [['cborg', 'lib', '0uint.js'], 'node_modules/cborg/lib/0uint.js'],
    [['noble-hashes', '_md.js'], 'node_modules/@noble/hashes/_md.js'],
    [['noble-ed25519', 'index.js'], 'node_modules/@noble/ed25519/index.js'],
    [['mqtt', 'mqtt.esm.js'], 'node_modules/mqtt/dist/mqtt.esm.js'],
    [['uplot', 'uPlot.min.css'], 'node_modules/uplot/dist/uPlot.min.css'],
    [['static', 'console.css'], 'gateway/console/static/console.css'],
  ])('serves %j from %s', (segments, file) => {
    expect(resolveConsoleAsset('/r', segments)?.file).toBe(join('/r', file));
  });

  it.each([
    // Node-only or server code, sources, maps and package metadata.
    [['app', 'firmware-ts', 'protocol', 'ed25519', 'node.js']],
    [['app', 'gateway', 'http', 'server.js']],
    [['app', 'gateway', 'ledger', 'init.js']],
    [['app', 'firmware-ts', 'agent', 'agent.js']],
    [['app', 'gateway', 'console', 'main.ts']],
    [['app', 'gateway', 'console', 'main.js.map']],
    [['app', 'gateway', 'console', 'main.d.ts']],
    [['cborg', 'lib', 'bin.js']],
    [['cborg', 'package.json']],
    [['mqtt', 'mqtt.js']],
    [['uplot', 'uPlot.cjs.js']],
    [['static', 'index.html']],
    // Traversal, however spelled once percent-decoded by the router.
    [['static', '..', 'static', 'console.css']],
    [['app', '..', 'package.json']],
    [['app', 'gateway', 'console', '..', 'main.js']],
    [['app', 'gateway', 'console', '../../../package.json']],
    [['app', 'gateway', 'console', '..\\..\\main.js']],
    [['static', '.', 'console.css']],
    [['static', '.console.css']],
    [['static', 'console.css\u0000.js']],
    [['noble-hashes', 'a..b.js']],
    // Unknown or prototype-named tables; empty, too short or too deep.
    [['__proto__', 'x.js']],
    [['constructor', 'x.js']],
    [['toString', 'x.js']],
    [['node_modules', 'cborg', 'cborg.js']],
    [['static', '']],
    [['static']],
    [[]],
    [['app', 'firmware-ts', 'protocol', 'merkle', 'x', 'y.js']],
  ])('refuses %j', (segments) => {
    expect(resolveConsoleAsset('/r', segments)).toBeUndefined();
  });
});

describe('confineAsset', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medgate-console-'));
    await mkdir(join(dir, 'gateway/console/static'), { recursive: true });
    await writeFile(join(dir, 'secret.css'), 'secret');
    await writeFile(join(dir, 'gateway/console/static/ok.css'), 'ok');
    await symlink(join(dir, 'secret.css'), join(dir, 'gateway/console/static/escape.css'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps a file inside its table and refuses a symlink out of it or a missing file', async () => {
    const ok = resolveConsoleAsset(dir, ['static', 'ok.css'])!;
    expect(await confineAsset(ok)).toBe(join(dir, 'gateway/console/static/ok.css'));
    const outside = resolveConsoleAsset(dir, ['static', 'escape.css'])!;
    expect(outside).toBeDefined();
    expect(await confineAsset(outside)).toBeUndefined();
    expect(await confineAsset(resolveConsoleAsset(dir, ['static', 'missing.css'])!)).toBeUndefined();
  });
});

describe('console over HTTP', () => {
  let h: Harness;

  beforeAll(async () => {
    await buildConsole();
    h = await startHarness();
    await enrolDemo(h, { 'wearable-001': 'wearable-v1', 'wearable-002': 'wearable-v1' }, ['wearable-001']);
  });
  afterAll(async () => {
    await h?.close();
    await removeTempDirs();
  });

  it('serves the page with its import map, a strict CSP and the WebSocket port slot', async () => {
    const res = await fetch(`${h.base}/console/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/]+={0,2}'/);
    expect(csp).toContain("frame-ancestors 'none'");
    // This server has no WebSocket listener: no ws source, an empty port.
    expect(csp).toContain("connect-src 'self';");
    const html = await res.text();
    expect(html).toContain(`<script type="importmap">${JSON.stringify(CONSOLE_IMPORT_MAP)}</script>`);
    expect(html).toContain('<meta name="medgate-ws-port" content="">');
    const redirect = await fetch(`${h.base}/console`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/console/');
  });

  it('serves every module the page imports, following the import map (and nothing needs more)', async () => {
    const map = CONSOLE_IMPORT_MAP.imports as Record<string, string>;
    const resolveSpec = (spec: string, from: string): string => {
      if (spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/'))
        return new URL(spec, `http://x${from}`).pathname;
      if (map[spec] !== undefined) return map[spec];
      const prefix = Object.keys(map).find((k) => k.endsWith('/') && spec.startsWith(k));
      if (prefix === undefined)
        throw new Error(`bare specifier ${spec} (from ${from}) is not in the import map`);
      return map[prefix] + spec.slice(prefix.length);
    };
    const seen = new Set<string>();
    const queue = ['/console/app/gateway/console/main.js'];
    for (let i = 0; i < queue.length && i < 500; i++) {
      const path = queue[i]!;
      const res = await rawGet(h.base, path);
      expect(res.status, path).toBe(200);
      expect(res.type).toBe('text/javascript; charset=utf-8');
      const specs = [
        ...res.body.matchAll(/(?:^|[;\n}])\s*(?:import|export)\s*(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/g),
      ].map((m) => m[1]!);
      for (const spec of specs) {
        const next = resolveSpec(spec, path);
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    expect(queue).toContain('/console/mqtt/mqtt.esm.js');
    expect(queue).toContain('/console/uplot/uPlot.esm.js');
    expect(queue).toContain('/console/app/firmware-ts/protocol/ed25519/noble.js');
    expect(queue).toContain('/console/noble-hashes/sha2.js');
    expect(queue.length).toBeGreaterThan(40);
    for (const css of ['/console/static/console.css', '/console/uplot/uPlot.min.css']) {
      const res = await rawGet(h.base, css);
      expect(res.status, css).toBe(200);
      expect(res.type).toBe('text/css; charset=utf-8');
    }
  });

  it.each([
    '/console/static/..%2f..%2f..%2fpackage.json',
    '/console/static/%2e%2e/%2e%2e/%2e%2e/package.json',
    '/console/app/gateway/console/../../../package.json',
    '/console/app/gateway/console/..%5c..%5cmain.js',
    '/console/app/firmware-ts/protocol/ed25519/node.js',
    '/console/app/gateway/http/server.js',
    '/console/cborg/lib/bin.js',
    '/console/cborg/package.json',
    '/console/static/console.css%00.js',
    '/console/app/gateway/console/nope.js',
    '/console/node_modules/cborg/cborg.js',
    '/console/static/index.html',
  ])('answers 404 to %s', async (path) => {
    const res = await rawGet(h.base, path);
    expect(res.status).toBe(404);
    expect(codeOf(JSON.parse(res.body))).toBe('MG_ERR_HTTP_NOT_FOUND');
  });

  it('says the console is not built when dist has no console', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'medgate-console-root-'));
    const http = createHttpServer({
      ledger: h.ledger,
      metrics: h.metrics,
      config: { limits: DEFAULT_CONFIG.limits },
      log: pino({ level: 'silent' }),
      consoleRoot: empty,
    });
    try {
      const port = await http.listen(0, '127.0.0.1');
      const res = await rawGet(`http://127.0.0.1:${port}`, '/console/app/gateway/console/main.js');
      expect(res.status).toBe(503);
      expect(codeOf(JSON.parse(res.body))).toBe('MG_ERR_CONSOLE_NOT_BUILT');
    } finally {
      await http.close(100);
      await rm(empty, { recursive: true, force: true });
    }
  });

  it("/v1/console/me: the principal, and a clinician's granted devices", async () => {
    const lee = await getJson(h, '/v1/console/me', authHeader(h, h.key('clinician:dr-lee')));
    expect(lee.status).toBe(200);
    expect(lee.body).toMatchObject({
      actor: 'clinician:dr-lee',
      role: 'clinician',
      id: 'dr-lee',
      chain: h.chain,
      devices: [{ id: 'wearable-001', model: 'wearable-v1', status: 'active' }],
    });
    const alice = await getJson(h, '/v1/console/me', authHeader(h, h.key('admin:alice')));
    expect(alice.body).toMatchObject({ actor: 'admin:alice', role: 'admin' });
    expect((alice.body as { devices?: unknown }).devices).toBeUndefined();
    const none = await getJson(h, '/v1/console/me');
    expect(none.status).toBe(401);
    expect(codeOf(none.body)).toBe('MG_ERR_AUTH_REQUIRED');
  });

  it('/v1/console/devices/{id}/latest: newest first, only with a grant', async () => {
    for (let seq = 1; seq <= 4; seq++)
      await addReading(h, 'wearable-001', seq, [{ code: '8867-4', v: 60 + seq, u: '/min' }]);
    const lee = authHeader(h, h.key('clinician:dr-lee'));
    const latest = await getJson(h, '/v1/console/devices/wearable-001/latest?limit=3', lee);
    expect(latest.status).toBe(200);
    expect((latest.body as { readings: { seq: number }[] }).readings.map((r) => r.seq)).toEqual([4, 3, 2]);
    const other = await getJson(
      h,
      '/v1/console/devices/wearable-002/latest',
      authHeader(h, h.key('clinician:dr-lee')),
    );
    expect(other.status).toBe(403);
    expect(codeOf(other.body)).toBe('MG_ERR_AUTH_NO_GRANT');
    const tooMany = await getJson(
      h,
      '/v1/console/devices/wearable-001/latest?limit=501',
      authHeader(h, h.key('admin:alice')),
    );
    expect(tooMany.status).toBe(400);
    expect(codeOf(tooMany.body)).toBe('MG_ERR_HTTP_BAD_PARAM');
  });

  it('/v1/console/fleet: admins only; each device with when it was last seen', async () => {
    const refused = await getJson(h, '/v1/console/fleet', authHeader(h, h.key('clinician:dr-lee')));
    expect(refused.status).toBe(403);
    expect(codeOf(refused.body)).toBe('MG_ERR_AUTH_FORBIDDEN');
    const fleet = await getJson(h, '/v1/console/fleet?limit=1', authHeader(h, h.key('admin:alice')));
    expect(fleet.body).toMatchObject({
      devices: [{ id: 'wearable-001', model: 'wearable-v1', status: 'active', lastSeen: { seq: 4 } }],
      next: 'wearable-001',
    });
    const rest = await getJson(
      h,
      '/v1/console/fleet?after=wearable-001',
      authHeader(h, h.key('admin:alice')),
    );
    const devices = (rest.body as { devices: Record<string, unknown>[] }).devices;
    expect(devices.map((d) => d.id)).toEqual(['wearable-002']);
    expect(devices[0]!.lastSeen).toBeUndefined();
  });
});
