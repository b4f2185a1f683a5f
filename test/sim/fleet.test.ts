/**
 * device-sim against a real gateway (test/gateway/harness.ts), over MQTT only: self-enrolment
 * with a vendor attestation, signed readings accepted, the `--json` event shapes, a restart
 * that continues the same fleet, a pending device that buffers until an admin approves it, and
 * store-and-forward across a gateway restart (backlog accepted and marked late).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../../gateway/server.js';
import { startTestGateway, type TestGateway, testConfig } from '../gateway/harness.js';
import { ofType, sim, startSim, until } from './support.js';

let gw: TestGateway;
let state: string;

beforeAll(async () => {
  gw = await startTestGateway({ limits: { skewMs: 1000, backlogMaxAgeMs: 60_000 } });
  state = await mkdtemp(join(tmpdir(), 'medgate-sim-fleet-'));
});
afterAll(async () => {
  await gw?.stop();
  await rm(state, { recursive: true, force: true });
});

describe('device-sim fleet against a gateway', () => {
  const wearState = () => join(state, 'wear');

  it('self-enrols, streams signed readings the gateway accepts, and prints JSON events', async () => {
    const { code, events, err } = await sim(
      gw,
      '--state',
      wearState(),
      '--devices',
      '2',
      '--profile',
      'wearable',
      '--readings',
      '4',
      '--time-scale',
      '50',
    );
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const start = events[0];
    expect(start).toMatchObject({ event: 'start', chain: gw.chain, devices: 2, timeScale: 50 });
    expect(typeof start?.t).toBe('number');
    const enrols = ofType(events, 'enrol');
    expect(enrols).toHaveLength(2);
    for (const e of enrols) {
      expect(e).toMatchObject({ result: 'accepted', model: 'wearable-v1' });
      expect(typeof e.height).toBe('number');
      expect(gw.ledger.state.devices.get(String(e.dev))?.status).toBe('active');
    }
    const readings = ofType(events, 'reading');
    expect(readings).toHaveLength(8);
    expect(readings[0]).toMatchObject({ dev: expect.any(String), seq: expect.any(Number) });
    expect(((readings[0]?.obs ?? []) as { code: string }[]).map((o) => o.code)).toEqual([
      '8867-4',
      '2708-6',
      '9279-1',
      '8310-5',
    ]);
    const accepted = ofType(events, 'accepted');
    expect(accepted).toHaveLength(8);
    for (const a of accepted)
      expect(a).toMatchObject({ dev: expect.any(String), seq: expect.any(Number), leaf: expect.any(Number) });
    expect(ofType(events, 'rejected')).toEqual([]);
    for (const dev of new Set(accepted.map((a) => String(a.dev)))) {
      for (let seq = 1; seq <= 4; seq++) expect(await gw.ledger.log.indexOf(dev, seq)).toBeTypeOf('number');
    }
    const summary = events.at(-1);
    expect(summary?.event).toBe('summary');
    expect(summary).toMatchObject({
      ok: true,
      totals: { devices: 2, connected: 2, made: 8, sent: 8, acked: 8, accepted: 8, refused: 0, buffered: 0 },
      codes: {},
      attacks: [],
    });
    expect(
      ((summary?.devices ?? []) as { fw: number; status: string }[]).map((d) => [d.status, d.fw]),
    ).toEqual([
      ['active', 1],
      ['active', 1],
    ]);
  });

  it('continues the same fleet from its state directory: same ids, no new enrolment, seq rising', async () => {
    const { code, events } = await sim(
      gw,
      '--state',
      wearState(),
      '--devices',
      '2',
      '--readings',
      '3',
      '--time-scale',
      '50',
    );
    expect(code).toBe(0);
    expect(ofType(events, 'enrol')).toEqual([]);
    const accepted = ofType(events, 'accepted');
    expect(accepted).toHaveLength(6);
    expect(accepted.map((a) => a.seq as number).sort()).toEqual([5, 5, 6, 6, 7, 7]);
    expect(ofType(events, 'rejected')).toEqual([]);
    expect(new Set(accepted.map((a) => a.dev)).size).toBe(2);
  });

  it('a device waiting for approval buffers its readings and sends them once approved', async () => {
    const run = startSim(gw, [
      '--state',
      join(state, 'bp'),
      '--devices',
      '1',
      '--profile',
      'bp-cuff',
      '--readings',
      '6',
      '--time-scale',
      '600',
      '--drain-ms',
      '15000',
    ]);
    await until('the pending enrolment', () => ofType(run.events, 'enrol').length > 0);
    const enrol = ofType(run.events, 'enrol')[0];
    expect(enrol).toMatchObject({ result: 'pending', model: 'bp-cuff-v1' });
    await until('a refused CONNECT', () => ofType(run.events, 'connect.refused').length > 0);
    expect(ofType(run.events, 'connect.refused')[0]).toMatchObject({ connack: 5 });
    await gw.tx('admin:alice', 'device.approve', { dev: String(enrol?.dev) });
    expect(await run.done).toBe(0);
    const connected = ofType(run.events, 'connected');
    expect(connected.length).toBeGreaterThan(0);
    expect(connected[0]?.backlog).toBeGreaterThan(0);
    expect(ofType(run.events, 'accepted').map((a) => a.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(run.events.at(-1)).toMatchObject({
      event: 'summary',
      totals: { made: 6, accepted: 6, buffered: 0 },
    });
  });

  it('store-and-forward: readings made while the gateway is down are sent after its restart, marked late', async () => {
    const before = gw.ledger.log.size;
    const run = startSim(gw, [
      '--state',
      join(state, 'saf'),
      '--devices',
      '1',
      '--profile',
      'wearable',
      '--no-firmware',
      '--time-scale',
      '5',
      '--duration',
      '5',
      '--drain-ms',
      '15000',
    ]);
    await until('accepted readings', () => ofType(run.events, 'accepted').length >= 3);
    const port = gw.ports.mqtt;
    await gw.gateway.stop();
    await until('the disconnect', () => ofType(run.events, 'disconnected').length > 0);
    const made = () => ofType(run.events, 'reading').length;
    const atStop = made();
    await until('readings made offline, older than the skew window', () => made() >= atStop + 8, 10_000);
    await new Promise((r) => setTimeout(r, 1200));
    gw.gateway = await startGateway(
      testConfig(gw.dir, { config: { mqttPort: port }, limits: { skewMs: 1000, backlogMaxAgeMs: 60_000 } }),
      {
        log: gw.makeLogger('warn'),
      },
    );
    expect(await run.done).toBe(0);
    const again = ofType(run.events, 'connected').at(-1);
    expect(again?.backlog).toBeGreaterThan(0);
    const late = ofType(run.events, 'accepted').filter((a) => a.late === true);
    expect(late.length).toBeGreaterThan(0);
    expect(ofType(run.events, 'rejected')).toEqual([]);
    const summary = run.events.at(-1) as unknown as { totals: { made: number; buffered: number } };
    expect(summary.totals.buffered).toBe(0);
    // Every reading the device made is in the reading log exactly once.
    expect(gw.ledger.log.size - before).toBe(summary.totals.made);
  });
});
