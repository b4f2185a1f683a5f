/**
 * `medgate gateway` as a real process (DESIGN §7, issue 4 "Graceful stop"): it prints one
 * JSON `listening` line on stdout and logs on stderr; a device self-enrols, connects and
 * publishes; SIGTERM stops it with exit 0 after a last block that covers the acknowledged
 * reading; `medgate ledger verify` then passes on the directory.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventsTopic, telemetryTopic } from '../../firmware-ts/protocol/topics.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { demoDataDir, nextMessage, type TestGateway } from './harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = ['--import', 'tsx', 'gateway/cli/bin.ts'];

/** The environment without MEDGATE_* (the child reads its settings from flags only). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('MEDGATE_')));
}

describe('medgate gateway (child process)', () => {
  let gw: TestGateway;
  let child: ChildProcessWithoutNullStreams | undefined;
  const stdout: string[] = [];
  let stderr = '';

  beforeAll(async () => {
    gw = await demoDataDir();
  });
  afterAll(async () => {
    for (const client of gw.clients) client.end(true);
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    await gw.stop();
  });

  test('starts, serves a device, stops on SIGTERM with exit 0, and the ledger verifies', async () => {
    child = spawn(
      process.execPath,
      [
        ...BIN,
        'gateway',
        '--data',
        gw.dir,
        '--mqtt-port',
        '0',
        '--ws-port',
        '0',
        '--http-port',
        '0',
        '--block-interval-ms',
        '200',
        '--verify-threads',
        '1',
      ],
      { cwd: ROOT, env: cleanEnv() },
    );
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => stdout.push(line));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const first = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      child!.once('exit', (code) => reject(new Error(`exited ${code} before listening:\n${stderr}`)));
    });

    const listening = JSON.parse(first);
    expect(listening).toMatchObject({
      event: 'listening',
      mqtt: expect.any(Number),
      mqtts: null,
      ws: expect.any(Number),
      http: expect.any(Number),
      chain: gw.chain,
    });
    gw.external = { mqtt: listening.mqtt, mqtts: null, ws: listening.ws, http: listening.http };

    // wearable-v1 self-enrols (auto policy), then connects with its token and publishes.
    const key = gw.key('wearable-001');
    const session = await gw.connect('enrol', {
      username: 'enrol',
      clientId: 'wearable-001',
      password: gw.enrolRequest('wearable-001', key, 'wearable-v1'),
    });
    const result = nextMessage(session, eventsTopic('wearable-001'));
    await session.subscribeAsync(eventsTopic('wearable-001'), { qos: 1 });
    await result;
    session.end(true);
    const device = await gw.connect('wearable-001');
    await device.publishAsync(telemetryTopic('wearable-001'), Buffer.from(gw.reading('wearable-001', 1)), {
      qos: 1,
    });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toEqual([first]); // one line on stdout, nothing else
    const logLines = stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(logLines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['gateway listening', 'gateway stopping', 'gateway stopped']),
    );

    // The last block covers the acknowledged reading; the whole chain verifies.
    const ledger = await Ledger.open(gw.dir, { readOnly: true });
    try {
      expect(ledger.log.size).toBe(1);
      expect(ledger.tip.header.log.size).toBe(1);
      expect(ledger.state.devices.get('wearable-001')?.status).toBe('active');
    } finally {
      await ledger.close();
    }
    const verify = spawnSync(process.execPath, [...BIN, 'ledger', 'verify', '--data', gw.dir], {
      cwd: ROOT,
      env: cleanEnv(),
      encoding: 'utf8',
    });
    expect(verify.stderr).toBe('');
    expect(verify.status).toBe(0);
  });

  test('a bad flag value is bad usage: exit 2 with the coded error on stderr, nothing on stdout', () => {
    const run = spawnSync(process.execPath, [...BIN, 'gateway', '--data', gw.dir, '--mqtt-port', 'many'], {
      cwd: ROOT,
      env: cleanEnv(),
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/MG_ERR_CONFIG: mqttPort \(from flag --mqtt-port\)/);
  });
});
