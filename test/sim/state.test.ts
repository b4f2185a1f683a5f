/**
 * device-sim state directory: keys and seqs survive a restart (graceful or not), the outbox is
 * persisted and bounded, and a directory made for another chain is refused.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimErrorCode } from '../../device-sim/errors.js';
import { FileSlots } from '../../device-sim/firmware/file-storage.js';
import { DeviceStore, SEQ_RESERVATION } from '../../device-sim/state/device-store.js';
import { openFleet } from '../../device-sim/state/fleet-store.js';
import { equalBytes } from '../../firmware-ts/protocol/bytes.js';

let dir: string;
const attest = async (pub: Uint8Array) => Uint8Array.of(0xd2, ...pub.slice(0, 4));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medgate-sim-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('device-sim state directory', () => {
  it('keeps the key, the attestation and the seq across a graceful restart', async () => {
    const a = await DeviceStore.open(dir, 'dev-1', 'wearable-v1', 10, attest);
    expect(a.record.status).toBe('new');
    expect([await a.nextSeq(), await a.nextSeq(), await a.nextSeq()]).toEqual([1, 2, 3]);
    await a.flush();
    const b = await DeviceStore.open(dir, 'dev-1', 'wearable-v1', 10, async () => {
      throw new Error('an existing device is never attested again');
    });
    expect(equalBytes(b.secret, a.secret)).toBe(true);
    expect(equalBytes(b.attestation, a.attestation)).toBe(true);
    expect(await b.nextSeq()).toBe(4);
    const pem = await readFile(join(dir, 'devices', 'dev-1', 'device.key'), 'utf8');
    expect(pem).toContain('BEGIN PRIVATE KEY');
  });

  it('never reuses a seq after a crash: it resumes at the durable reservation', async () => {
    const a = await DeviceStore.open(dir, 'dev-2', 'wearable-v1', 10, attest);
    const used: number[] = [];
    for (let i = 0; i < 5; i++) used.push(await a.nextSeq());
    // No flush: the process "dies" here, after its last write landed; the seq on disk may lag.
    await a.idle();
    const b = await DeviceStore.open(dir, 'dev-2', 'wearable-v1', 10, attest);
    const next = await b.nextSeq();
    expect(next).toBeGreaterThan(Math.max(...used));
    expect(next).toBe(SEQ_RESERVATION + 1);
  });

  it('persists the outbox, drops the oldest beyond its bound, and forgets acknowledged readings', async () => {
    const a = await DeviceStore.open(dir, 'dev-3', 'wearable-v1', 3, attest);
    const dropped = [];
    for (let seq = 1; seq <= 5; seq++) dropped.push(a.push({ seq, t: 1000 + seq, cose: Uint8Array.of(seq) }));
    expect(dropped.map((d) => d?.seq)).toEqual([undefined, undefined, undefined, 1, 2]);
    a.acknowledge(4);
    await a.flush();
    const b = await DeviceStore.open(dir, 'dev-3', 'wearable-v1', 3, attest);
    expect(b.outbox.map((i) => [i.seq, i.t, [...i.cose]])).toEqual([
      [3, 1003, [3]],
      [5, 1005, [5]],
    ]);
  });

  it('creates a fleet once, extends it, and refuses a directory of another chain', async () => {
    const first = await openFleet(dir, {
      chain: 'c1',
      seed: 's',
      count: 4,
      profiles: ['wearable', 'bp-cuff'],
    });
    expect(first.created).toBe(4);
    expect(first.fleet.devices.map((d) => d.profile)).toEqual(['wearable', 'bp-cuff', 'wearable', 'bp-cuff']);
    const again = await openFleet(dir, { chain: 'c1', seed: 'other', count: 5, profiles: ['glucose'] });
    expect(again.created).toBe(1);
    expect(again.fleet.seed).toBe('s');
    expect(again.fleet.devices.slice(0, 4)).toEqual(first.fleet.devices);
    expect(again.fleet.devices[4]?.profile).toBe('glucose');
    await expect(
      openFleet(dir, { chain: 'c2', seed: 's', count: 1, profiles: ['wearable'] }),
    ).rejects.toMatchObject({
      code: SimErrorCode.STATE,
    });
  });

  it('refuses a damaged record with MG_ERR_SIM_STATE', async () => {
    const a = await DeviceStore.open(dir, 'dev-4', 'wearable-v1', 3, attest);
    await a.flush();
    await writeFile(join(dir, 'devices', 'dev-4', 'device.json'), '{"v":1,"id":"dev-4"');
    await expect(DeviceStore.open(dir, 'dev-4', 'wearable-v1', 3, attest)).rejects.toMatchObject({
      code: SimErrorCode.STATE,
    });
  });

  it('keeps A/B slots on disk: a confirmed trial is the active slot after reopening', async () => {
    const slotsDir = join(dir, 'slots');
    const a = await FileSlots.open(slotsDir, 1024, Uint8Array.of(1, 2, 3));
    expect(await a.read('A', 0, 10)).toEqual(Uint8Array.of(1, 2, 3));
    await expect(a.write('A', 0, Uint8Array.of(9))).rejects.toMatchObject({ code: 'MG_ERR_BAD_ARGUMENT' });
    await a.erase('B');
    await a.write('B', 0, Uint8Array.of(7, 7));
    await a.trialBoot('B');
    await a.confirm();
    const b = await FileSlots.open(slotsDir, 1024, Uint8Array.of(0));
    expect(await b.activeSlot()).toBe('B');
    expect(await b.read('B', 0, 10)).toEqual(Uint8Array.of(7, 7));
    expect(await b.read('A', 0, 10)).toEqual(Uint8Array.of(1, 2, 3));
  });
});
