/**
 * The update agent end to end on the device side (DESIGN §5): a genuine, approved update is
 * downloaded into the inactive slot, trial-booted and confirmed; a failing self-test rolls back
 * automatically; every step is a device-signed update.report.
 */
import { describe, expect, it } from 'vitest';
import { DeviceState } from '../../firmware-ts/agent/device-state.js';
import { UpdateErrorCode } from '../../firmware-ts/agent/errors.js';
import { MemorySlots } from '../../firmware-ts/agent/slots.js';
import { equalBytes, toHex } from '../../firmware-ts/protocol/bytes.js';
import { decodeTx } from '../../firmware-ts/protocol/tx/sign.js';
import {
  DEVICE,
  device,
  FACTORY_IMAGE,
  FACTORY_SEQ,
  honest,
  OLD,
  offer,
  onOldFirmware,
  release,
  SLOT_BYTES,
  T0,
} from './fixtures.js';

describe('UpdateAgent: genuine update', () => {
  it('downloads, trial-boots, confirms, and reports every step signed by the device', async () => {
    const rel = release({ seq: 2 });
    const built = offer(rel);
    const dev = await device({ image: rel.image });
    const outcome = await dev.agent.handleOffer(built.bytes);
    expect(outcome).toEqual({ status: 'confirmed', seq: 2 });

    // Runs the new image from slot B, confirmed.
    expect(await dev.slots.activeSlot()).toBe('B');
    expect(await dev.slots.bootedSlot()).toBe('B');
    expect(equalBytes(dev.slots.image('B'), rel.image)).toBe(true);
    expect(await dev.agent.installedSeq()).toBe(2);
    expect(await dev.agent.newestBlockTime()).toBe(built.latest.header.t);

    // downloading → verified → installed → confirmed, all for this rollout, signed by the device.
    const reports = dev.decoded();
    expect(reports.map((r) => r.state)).toEqual(['downloading', 'verified', 'installed', 'confirmed']);
    expect(reports.map((r) => r.seq)).toEqual([FACTORY_SEQ, FACTORY_SEQ, FACTORY_SEQ, 2]);
    for (const r of reports) {
      expect(r.actor).toBe(DEVICE);
      expect(toHex(r.rollout)).toBe(toHex(built.rollout));
      expect(r.error).toBeUndefined();
      expect(decodeTx(r.bytes).tx.chain).toBe('agent-test');
    }
    const nonces = reports.map((r) => r.nonce);
    expect([...nonces].sort((a, b) => a - b)).toEqual(nonces);
    expect(new Set(nonces).size).toBe(nonces.length);

    // The image was pulled in 16 KiB chunks, never past its size.
    expect(dev.server.requests.map((r) => [r.offset, r.len])).toEqual([
      [0, 16_384],
      [16_384, 16_384],
      [32_768, 40_000 - 32_768],
    ]);
    // Logs carry no payloads.
    expect(JSON.stringify(dev.logs)).not.toContain('manifest":{');
  });

  it('ignores the same retained offer re-delivered after the update', async () => {
    const rel = release({ seq: 2 });
    const built = offer(rel);
    const dev = await device({ image: rel.image });
    await dev.agent.handleOffer(built.bytes);
    const count = dev.reports.length;
    expect(await dev.agent.handleOffer(built.bytes)).toEqual({ status: 'ignored', seq: 2 });
    expect(dev.reports.length).toBe(count);
    // A cleared retained topic (zero-length payload) is not an offer.
    expect(await dev.agent.handleOffer(new Uint8Array(0))).toEqual({ status: 'ignored', seq: 2 });
  });

  it('accepts a rollout to the whole cohort of its model', async () => {
    const rel = release({ seq: 2 });
    const dev = await device({ image: rel.image });
    const outcome = await dev.agent.handleOffer(offer(rel, { target: { cohort: 'all' } }).bytes);
    expect(outcome.status).toBe('confirmed');
  });

  it('installs a later update over the first one (B then A)', async () => {
    const first = release({ seq: 2 });
    const second = release({ seq: 3 });
    const dev = await device({ image: first.image });
    expect((await dev.agent.handleOffer(offer(first).bytes)).status).toBe('confirmed');
    dev.server.image = second.image;
    expect((await dev.agent.handleOffer(offer(second).bytes)).status).toBe('confirmed');
    expect(await dev.slots.activeSlot()).toBe('A');
    expect(equalBytes(dev.slots.image('A'), second.image)).toBe(true);
    expect(await dev.agent.installedSeq()).toBe(3);
  });

  it('with a failing self-test, rolls back automatically and reports rolledBack', async () => {
    const rel = release({ seq: 2 });
    const built = offer(rel);
    const tested: number[] = [];
    const dev = await device({
      image: rel.image,
      selfTest: async (info) => {
        tested.push(info.seq);
        // The trial runs the new slot.
        expect(info.slot).toBe('B');
        return false;
      },
    });
    const outcome = await dev.agent.handleOffer(built.bytes);
    expect(outcome).toEqual({
      status: 'rolledBack',
      code: UpdateErrorCode.SELF_TEST_FAILED,
      seq: FACTORY_SEQ,
    });
    expect(tested).toEqual([2]);
    expect(await onOldFirmware(dev)).toEqual(OLD);
    const reports = dev.decoded();
    expect(reports.map((r) => r.state)).toEqual(['downloading', 'verified', 'installed', 'rolledBack']);
    expect(reports.at(-1)?.error).toBe('MG_ERR_UPDATE_SELF_TEST_FAILED');
    expect(reports.at(-1)?.seq).toBe(FACTORY_SEQ);
    // The rollout is over for this device: the retained offer does not start it again.
    expect((await dev.agent.handleOffer(built.bytes)).status).toBe('ignored');
  });

  it('a self-test that throws counts as a failure', async () => {
    const rel = release({ seq: 2 });
    const dev = await device({
      image: rel.image,
      selfTest: async () => {
        throw new Error('watchdog');
      },
    });
    expect((await dev.agent.handleOffer(offer(rel).bytes)).status).toBe('rolledBack');
    expect(await onOldFirmware(dev)).toEqual(OLD);
  });

  it('resume(): a trial found after a reboot is self-tested and confirmed', async () => {
    const rel = release({ seq: 2 });
    const slots = new MemorySlots(SLOT_BYTES, { slot: 'A', image: FACTORY_IMAGE });
    const dev = await device({ slots });
    // As a device port leaves it: image written, trial marked, rebooted into the trial slot.
    await slots.write('B', 0, rel.image);
    await new DeviceState(dev.kv).setTrial({
      rollout: new Uint8Array(32).fill(7),
      seq: 2,
      previousSeq: 1,
      slot: 'B',
    });
    await slots.trialBoot('B');
    expect(await dev.agent.resume()).toEqual({ status: 'confirmed', seq: 2 });
    expect(await slots.activeSlot()).toBe('B');
    expect(dev.states()).toEqual(['confirmed']);
    expect(await dev.agent.resume()).toBeUndefined();
  });

  it('resume(): back on the old slot after a reboot means rolled back', async () => {
    const dev = await device();
    await new DeviceState(dev.kv).setTrial({
      rollout: new Uint8Array(32).fill(7),
      seq: 2,
      previousSeq: 1,
      slot: 'B',
    });
    expect((await dev.agent.resume())?.status).toBe('rolledBack');
    expect(await onOldFirmware(dev)).toEqual(OLD);
    expect(dev.states()).toEqual(['rolledBack']);
  });

  it('an interrupted download resumes from the stored offset, also after a restart', async () => {
    const rel = release({ seq: 2, image: new Uint8Array(50_000).fill(3) });
    const built = offer(rel);
    let calls = 0;
    const dev = await device({
      image: rel.image,
      serve: (req, img) => {
        if (++calls === 3) throw new Error('link down');
        return honest(req, img);
      },
    });
    expect(await dev.agent.handleOffer(built.bytes)).toEqual({
      status: 'interrupted',
      code: UpdateErrorCode.INTERRUPTED,
      seq: FACTORY_SEQ,
    });
    expect(await onOldFirmware(dev)).toEqual(OLD);
    // The device restarts: a new agent over the same storage, then the retained offer again.
    const again = await device({ image: rel.image, kv: dev.kv, slots: dev.slots, clock: dev.clock });
    expect((await again.agent.handleOffer(built.bytes)).status).toBe('confirmed');
    expect(again.server.requests[0]?.offset).toBe(2 * 16_384);
    expect(equalBytes(again.slots.image('B'), rel.image)).toBe(true);
    expect([...dev.states(), ...again.states()]).toEqual([
      'downloading',
      'downloading',
      'verified',
      'installed',
      'confirmed',
    ]);
  });

  it('the newest block time is the latest signed block of the offer', async () => {
    const rel = release({ seq: 2 });
    const dev = await device({ image: rel.image });
    await dev.agent.handleOffer(offer(rel, { latest: { t: T0 + 5000 } }).bytes);
    expect(await dev.agent.newestBlockTime()).toBe(T0 + 5000);
  });
});
