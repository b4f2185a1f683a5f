/**
 * gateway/config.ts: precedence flags > env > file > defaults, one coded refusal per bad value
 * naming the field and its source, unknown keys refused, prototype poisoning refused, a frozen
 * result; and docs/configuration.md lists every field of the schema.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, type GatewayConfig, loadConfig } from '../../gateway/config.js';
import { CONFIG_FIELDS, CONFIG_FLAG_OPTIONS } from '../../gateway/config-schema.js';
import { isMedgateError } from '../../gateway/errors.js';

let dir: string;
let cert: string;
let key: string;
let ca: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'medgate-config-'));
  cert = join(dir, 'cert.pem');
  key = join(dir, 'key.pem');
  ca = join(dir, 'ca.pem');
  for (const f of [cert, key, ca]) writeFileSync(f, '-----BEGIN TEST-----\n');
  mkdirSync(join(dir, 'sub'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function configFile(content: unknown, raw = false): string {
  const path = join(dir, `config-${fileCount++}.json`);
  writeFileSync(path, raw ? (content as string) : JSON.stringify(content));
  return path;
}

/** Runs `fn`, expects a ConfigError, returns it. */
function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(isMedgateError(err, 'MG_ERR_CONFIG')).toBe(true);
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected MG_ERR_CONFIG');
}

const base = { env: {}, cwd: '/srv/medgate' };

describe('defaults', () => {
  it('fills every field but dataDir from DEFAULT_CONFIG', () => {
    const config = loadConfig({ ...base, flags: { data: 'd' } });
    expect(config).toEqual({ ...DEFAULT_CONFIG, dataDir: '/srv/medgate/d' });
    expect(config.host).toBe('127.0.0.1');
    expect(config.mqttPort).toBe(1883);
    expect(config.mqttsPort).toBeNull();
    expect(config.tls).toBeNull();
    expect(config.blockIntervalMs).toBe(1000);
    expect(config.limits.maxPayloadBytes).toBe(16 * 1024);
    expect(config.limits.skewMs).toBe(5 * 60_000);
    expect(config.limits.backlogMaxAgeMs).toBe(24 * 3_600_000);
    expect(config.verifyThreads).toBeGreaterThanOrEqual(1);
  });

  it('requires dataDir', () => {
    const err = refusal(() => loadConfig(base));
    expect(err.field).toBe('dataDir');
    expect(err.source).toBe('default');
  });

  it('DEFAULT_CONFIG is deeply frozen', () => {
    expect(Object.isFrozen(DEFAULT_CONFIG)).toBe(true);
    expect(Object.isFrozen(DEFAULT_CONFIG.limits)).toBe(true);
  });
});

describe('precedence: flags > env > file > defaults', () => {
  it('takes each field from the highest source that sets it', () => {
    const file = configFile({
      dataDir: 'from-file',
      mqttPort: 1001,
      httpPort: 1002,
      wsPort: 1003,
      limits: { skewMs: 10_000, banMs: 5 },
    });
    const config = loadConfig({
      ...base,
      file,
      env: { MEDGATE_MQTT_PORT: '2001', MEDGATE_HTTP_PORT: '2002', MEDGATE_SKEW_MS: '20000' },
      flags: { 'mqtt-port': '3001' },
    });
    expect(config.mqttPort).toBe(3001); // flag over env over file
    expect(config.httpPort).toBe(2002); // env over file
    expect(config.wsPort).toBe(1003); // file over default
    expect(config.limits.skewMs).toBe(20_000);
    expect(config.limits.banMs).toBe(5);
    expect(config.limits.maxConnections).toBe(DEFAULT_CONFIG.limits.maxConnections);
    // Relative paths from the file resolve against the file's directory.
    expect(config.dataDir).toBe(join(dir, 'from-file'));
  });

  it('resolves relative env and flag paths against cwd', () => {
    expect(loadConfig({ ...base, env: { MEDGATE_DATA_DIR: 'e' } }).dataDir).toBe('/srv/medgate/e');
    expect(loadConfig({ ...base, env: { MEDGATE_DATA_DIR: 'e' }, flags: { data: '/abs' } }).dataDir).toBe(
      '/abs',
    );
  });

  it('reads the file named by MEDGATE_CONFIG when no file is passed', () => {
    const file = configFile({ dataDir: '/x', httpPort: 0 });
    const config = loadConfig({ env: { MEDGATE_CONFIG: file } });
    expect(config.httpPort).toBe(0);
    expect(config.dataDir).toBe('/x');
  });

  it('accepts every field through every source', () => {
    const fromFile = loadConfig({
      ...base,
      file: configFile({
        dataDir: '/d',
        host: '::',
        mqttPort: 0,
        mqttsPort: 0,
        wsPort: null,
        httpPort: 0,
        tls: { certFile: cert, keyFile: key, caFile: ca },
        blockIntervalMs: 250,
        maxTxPerBlock: 10,
        limits: {
          maxPayloadBytes: 4096,
          skewMs: 1000,
          backlogMaxAgeMs: 1000,
          maxConnections: 3,
          nonceCacheSize: 1000,
          failuresBeforeSlowdown: 2,
          banMs: 0,
        },
        verifyThreads: 2,
        logLevel: 'warn',
      }),
    });
    const env: Record<string, string> = {};
    const flags: Record<string, string> = {};
    for (const f of CONFIG_FIELDS) {
      const value = f.path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], fromFile);
      const text = value === null ? 'off' : String(value);
      env[f.env] = text;
      flags[f.flag] = text;
    }
    expect(loadConfig({ ...base, env })).toEqual(fromFile);
    expect(loadConfig({ ...base, flags })).toEqual(fromFile);
    expect(fromFile.tls).toEqual({ certFile: cert, keyFile: key, caFile: ca });
    expect(fromFile.wsPort).toBeNull();
    expect(fromFile.logLevel).toBe('warn');
  });
});

describe('TLS and listeners', () => {
  it('turns MQTTS on at 8883 when TLS files are given', () => {
    const config = loadConfig({ ...base, flags: { data: '/d', 'tls-cert': cert, 'tls-key': key } });
    expect(config.mqttsPort).toBe(8883);
    expect(config.tls).toEqual({ certFile: cert, keyFile: key, caFile: null });
  });

  it('keeps MQTTS off when told so, even with TLS files', () => {
    const config = loadConfig({
      ...base,
      flags: { data: '/d', 'tls-cert': cert, 'tls-key': key, 'mqtts-port': 'off' },
    });
    expect(config.mqttsPort).toBeNull();
  });

  it('refuses an MQTTS port without TLS files', () => {
    const err = refusal(() =>
      loadConfig({ ...base, env: { MEDGATE_MQTTS_PORT: '8883' }, flags: { data: '/d' } }),
    );
    expect(err.field).toBe('mqttsPort');
    expect(err.source).toBe('env');
    expect(err.origin).toBe('MEDGATE_MQTTS_PORT');
  });

  it('refuses a certificate without its key, a key without its certificate, a CA alone', () => {
    expect(refusal(() => loadConfig({ ...base, flags: { data: '/d', 'tls-cert': cert } })).field).toBe(
      'tls.keyFile',
    );
    expect(refusal(() => loadConfig({ ...base, flags: { data: '/d', 'tls-key': key } })).field).toBe(
      'tls.certFile',
    );
    expect(refusal(() => loadConfig({ ...base, flags: { data: '/d', 'tls-ca': ca } })).field).toBe(
      'tls.caFile',
    );
  });

  it('refuses TLS files that do not exist or are not files', () => {
    const missing = refusal(() =>
      loadConfig({
        ...base,
        file: configFile({ dataDir: '/d', tls: { certFile: 'nope.pem', keyFile: key } }),
      }),
    );
    expect(missing.field).toBe('tls.certFile');
    expect(missing.source).toBe('file');
    expect(missing.message).toContain(join(dir, 'nope.pem'));
    const directory = refusal(() =>
      loadConfig({ ...base, flags: { data: '/d', 'tls-cert': cert, 'tls-key': join(dir, 'sub') } }),
    );
    expect(directory.field).toBe('tls.keyFile');
    expect(directory.source).toBe('flag');
    expect(directory.origin).toBe('tls-key');
  });

  it.skipIf(process.getuid?.() === 0)('refuses a TLS file it cannot read', () => {
    const locked = join(dir, 'locked.pem');
    writeFileSync(locked, 'x');
    chmodSync(locked, 0o000);
    const err = refusal(() =>
      loadConfig({ ...base, flags: { data: '/d', 'tls-cert': cert, 'tls-key': locked } }),
    );
    expect(err.field).toBe('tls.keyFile');
  });

  it('refuses two listeners on one fixed port, allows several on port 0', () => {
    const err = refusal(() => loadConfig({ ...base, flags: { data: '/d', 'http-port': '1883' } }));
    expect(err.field).toBe('httpPort');
    expect(err.source).toBe('flag');
    const config = loadConfig({
      ...base,
      flags: { data: '/d', 'mqtt-port': '0', 'ws-port': '0', 'http-port': '0' },
    });
    expect([config.mqttPort, config.wsPort, config.httpPort]).toEqual([0, 0, 0]);
  });

  it('refuses a backlog limit below the skew window', () => {
    const err = refusal(() =>
      loadConfig({ ...base, flags: { data: '/d', 'skew-ms': '60000', 'backlog-max-age-ms': '59999' } }),
    );
    expect(err.field).toBe('limits.backlogMaxAgeMs');
  });
});

describe('each invalid field is refused with its path and source', () => {
  // [path, bad text (env and flag), bad JSON value (file)]
  const cases: Array<[string, string, unknown]> = [
    ['dataDir', '', ''],
    ['host', 'not a host!', 7],
    ['mqttPort', '65536', -1],
    ['mqttsPort', 'on', 'off'],
    ['wsPort', '1e3', 80.5],
    ['httpPort', '0x50', '8080'],
    ['tls.certFile', join(dir ?? '/', 'missing'), true],
    ['tls.keyFile', '/definitely/missing.pem', 1],
    ['tls.caFile', '/definitely/missing.pem', ['a']],
    ['blockIntervalMs', '49', 3_600_001],
    ['heartbeatMs', '-1', 3_600_001],
    ['maxTxPerBlock', '0', 100_001],
    ['limits.maxPayloadBytes', '255', 16 * 1024 * 1024 + 1],
    ['limits.skewMs', '999', 86_400_001],
    ['limits.backlogMaxAgeMs', '-1', 31 * 86_400_000],
    ['limits.maxConnections', '0', 1_000_001],
    ['limits.nonceCacheSize', '999', 10_000_001],
    ['limits.failuresBeforeSlowdown', '0', 1001],
    ['limits.banMs', ' 1', 86_400_001],
    ['verifyThreads', '0', 257],
    ['logLevel', 'verbose', 'INFO'],
  ];

  it('covers every field of the schema', () => {
    expect(cases.map((c) => c[0]).sort()).toEqual(CONFIG_FIELDS.map((f) => f.path).sort());
  });

  // The TLS rules need both files; give the other one validly so the bad one is the refusal.
  function companions(path: string): Record<string, string> {
    if (path === 'tls.certFile') return { 'tls-key': key };
    if (path === 'tls.keyFile') return { 'tls-cert': cert };
    if (path === 'tls.caFile') return { 'tls-cert': cert, 'tls-key': key };
    return {};
  }

  it.each(cases)('%s from env, flag and file', (path, text, json) => {
    const f = CONFIG_FIELDS.find((x) => x.path === path)!;
    const data = path === 'dataDir' ? {} : { data: '/d' };

    const fromEnv = refusal(() =>
      loadConfig({ ...base, env: { [f.env]: text }, flags: { ...data, ...companions(path) } }),
    );
    expect([fromEnv.field, fromEnv.source, fromEnv.origin]).toEqual([path, 'env', f.env]);
    expect(fromEnv.message).toContain(f.env);

    const fromFlag = refusal(() =>
      loadConfig({ ...base, flags: { ...data, ...companions(path), [f.flag]: text } }),
    );
    expect([fromFlag.field, fromFlag.source, fromFlag.origin]).toEqual([path, 'flag', f.flag]);
    expect(fromFlag.message).toContain(`--${f.flag}`);

    const doc: Record<string, unknown> = {};
    let at = doc;
    const keys = path.split('.');
    for (const k of keys.slice(0, -1)) {
      at[k] = {};
      at = at[k] as Record<string, unknown>;
    }
    at[keys.at(-1)!] = json;
    const file = configFile(doc);
    const fromFile = refusal(() => loadConfig({ ...base, file, flags: { ...data, ...companions(path) } }));
    expect([fromFile.field, fromFile.source, fromFile.origin]).toEqual([path, 'file', file]);
    expect(fromFile.message).toContain(file);
  });

  it('validates a file value even when a higher source overrides it', () => {
    const file = configFile({ dataDir: '/d', mqttPort: 'x' });
    expect(refusal(() => loadConfig({ ...base, file, flags: { 'mqtt-port': '1' } })).source).toBe('file');
  });

  it('refuses a flag given twice or as a boolean', () => {
    expect(refusal(() => loadConfig({ ...base, flags: { data: ['/a', '/b'] } })).field).toBe('dataDir');
    expect(refusal(() => loadConfig({ ...base, flags: { data: true } })).field).toBe('dataDir');
  });

  it('refuses an empty environment variable', () => {
    const err = refusal(() => loadConfig({ ...base, env: { MEDGATE_HTTP_PORT: '' }, flags: { data: '/d' } }));
    expect(err.field).toBe('httpPort');
  });
});

describe('unknown keys', () => {
  it('refuses an unknown top-level key in the file', () => {
    const err = refusal(() => loadConfig({ ...base, file: configFile({ dataDir: '/d', mqttport: 1 }) }));
    expect(err.field).toBe('mqttport');
    expect(err.source).toBe('file');
  });

  it('refuses an unknown nested key and a wrongly shaped section', () => {
    expect(
      refusal(() => loadConfig({ ...base, file: configFile({ dataDir: '/d', limits: { skew: 1 } }) })).field,
    ).toBe('limits.skew');
    expect(refusal(() => loadConfig({ ...base, file: configFile({ dataDir: '/d', limits: 5 }) })).field).toBe(
      'limits',
    );
    expect(refusal(() => loadConfig({ ...base, file: configFile({ dataDir: '/d', tls: null }) })).field).toBe(
      'tls',
    );
    expect(refusal(() => loadConfig({ ...base, file: configFile([1, 2]) })).field).toBe('(root)');
  });

  it('refuses an unknown MEDGATE_ variable, ignores other variables and MEDGATE_DEBUG', () => {
    const err = refusal(() =>
      loadConfig({ ...base, env: { MEDGATE_MQTT_PROT: '1' }, flags: { data: '/d' } }),
    );
    expect([err.field, err.source]).toEqual(['MEDGATE_MQTT_PROT', 'env']);
    expect(
      loadConfig({ ...base, env: { PATH: '/bin', MEDGATE_DEBUG: '1' }, flags: { data: '/d' } }).mqttPort,
    ).toBe(1883);
  });

  it('refuses an unknown flag', () => {
    const err = refusal(() => loadConfig({ ...base, flags: { data: '/d', 'mqtt-prot': '1' } }));
    expect([err.field, err.source]).toEqual(['mqtt-prot', 'flag']);
  });
});

describe('config file parsing', () => {
  it.each([
    ['__proto__', '{"dataDir": "/d", "__proto__": {"mqttPort": 1}}', '__proto__'],
    ['escaped __proto__', '{"dataDir": "/d", "\\u005f_proto__": {"x": 1}}', '__proto__'],
    [
      'nested constructor',
      '{"dataDir": "/d", "limits": {"constructor": {"prototype": {"x": 1}}}}',
      'limits.constructor',
    ],
    ['prototype', '{"dataDir": "/d", "tls": {"prototype": 1}}', 'tls.prototype'],
  ])('refuses prototype poisoning (%s)', (_name, text, field) => {
    const err = refusal(() => loadConfig({ ...base, file: configFile(text, true) }));
    expect(err.field).toBe(field);
    expect((err.cause as { code?: string }).code).toBe('MG_ERR_JSON_FORBIDDEN_KEY');
    expect(({} as Record<string, unknown>).mqttPort).toBeUndefined();
  });

  it('refuses malformed JSON and a missing file, naming the file', () => {
    const bad = configFile('{"dataDir": ', true);
    const err = refusal(() => loadConfig({ ...base, file: bad }));
    expect((err.cause as { code?: string }).code).toBe('MG_ERR_JSON_MALFORMED');
    expect(err.origin).toBe(bad);
    const missing = refusal(() => loadConfig({ ...base, file: join(dir, 'absent.json') }));
    expect(missing.source).toBe('file');
    expect(missing.message).toContain('absent.json');
  });

  it('accepts a file with a UTF-8 byte order mark', () => {
    const file = configFile('\uFEFF{"dataDir": "/d"}', true);
    expect(loadConfig({ ...base, file }).dataDir).toBe('/d');
  });
});

describe('result', () => {
  it('is deeply frozen', () => {
    const config: GatewayConfig = loadConfig({
      ...base,
      flags: { data: '/d', 'tls-cert': cert, 'tls-key': key },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(Object.isFrozen(config.tls)).toBe(true);
    expect(() => {
      (config as { mqttPort: number }).mqttPort = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.limits as { skewMs: number }).skewMs = 1;
    }).toThrow(TypeError);
  });
});

describe('docs/configuration.md', () => {
  const docs = readFileSync(resolve(import.meta.dirname, '../../docs/configuration.md'), 'utf8');
  const rows = docs.split('\n').filter((line) => line.startsWith('| `'));

  it.each(CONFIG_FIELDS.map((f) => [f.path, f]))('lists %s with its env var and flag', (_path, f) => {
    const row = rows.find((r) => r.startsWith(`| \`${f.path}\` |`));
    expect(row, f.path).toBeDefined();
    expect(row).toContain(`\`${f.env}\``);
    expect(row).toContain(`\`--${f.flag}\``);
  });

  it('lists no field the schema does not have', () => {
    const listed = rows.map((r) => /^\| `([^`]+)` \|/.exec(r)?.[1]);
    expect(listed.filter((p) => !CONFIG_FIELDS.some((f) => f.path === p))).toEqual([]);
  });

  it('offers every field as a CLI option', () => {
    expect(Object.keys(CONFIG_FLAG_OPTIONS).sort()).toEqual(CONFIG_FIELDS.map((f) => f.flag).sort());
  });
});
