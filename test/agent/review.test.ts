/**
 * Findings of the adversarial review of the update agent (TUF / Uptane / SUIT view), each as an
 * attack that must fail: an offer delivered while a trial boot is pending must not touch the
 * trial slot or end its rollout, and a padded offer must not cost more signature checks than
 * the bundle has admins; a failed install must not leave a trial that blocks later updates.
 */
import { describe, expect, it } from 'vitest';
import { checkOffer } from '../../firmware-ts/agent/check-offer.js';
import { DeviceState } from '../../firmware-ts/agent/device-state.js';
import { UpdateErrorCode } from '../../firmware-ts/agent/errors.js';
import { MemorySlots } from '../../firmware-ts/agent/slots.js';
import { equalBytes } from '../../firmware-ts/protocol/bytes.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import { MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { txId } from '../../firmware-ts/protocol/tx/sign.js';
import { UPDATE_LIMITS } from '../../firmware-ts/protocol/update/index.js';
import {
  approval,
  DEVICE,
  device,
  FACTORY_IMAGE,
  FACTORY_SEQ,
  factoryBundle,
  keys,
  MODEL,
  OLD,
  offer,
  onOldFirmware,
  proposal,
  release,
  SLOT_BYTES,
} from './fixtures.js';

describe('an offer while a trial boot is pending (before resume())', () => {
  it('is ignored as BUSY: the booted trial slot is not erased, its rollout not ended, nothing reported', async () => {
    const rel = release({ seq: 2 });
    const built = offer(rel);
    const slots = new MemorySlots(SLOT_BYTES, { slot: 'A', image: FACTORY_IMAGE });
    const dev = await device({ slots, image: rel.image });
    // As a device port leaves it: image written, trial marked, rebooted into the trial slot,
    // and the retained offer of the same rollout delivered before the port called resume().
    await slots.write('B', 0, rel.image);
    await new DeviceState(dev.kv).setTrial({ rollout: built.rollout, seq: 2, previousSeq: 1, slot: 'B' });
    await slots.trialBoot('B');

    expect(await dev.agent.handleOffer(built.bytes)).toEqual({
      status: 'ignored',
      code: UpdateErrorCode.BUSY,
      seq: FACTORY_SEQ,
    });
    // A newer genuine rollout must wait for the trial too: its download would erase slot B.
    const newer = release({ seq: 3 });
    dev.server.image = newer.image;
    expect((await dev.agent.handleOffer(offer(newer).bytes)).code).toBe(UpdateErrorCode.BUSY);
    expect(dev.reports).toEqual([]);
    expect(dev.server.requests).toEqual([]);
    expect(equalBytes(slots.image('B'), rel.image)).toBe(true);

    // The trial then finishes normally, and the same retained offer is done.
    expect(await dev.agent.resume()).toEqual({ status: 'confirmed', seq: 2 });
    expect(dev.states()).toEqual(['confirmed']);
    expect((await dev.agent.handleOffer(built.bytes)).status).toBe('ignored');
  });
});

/** nobleBackend that counts signature verifications. */
function counting(): { backend: Ed25519Backend; verifies: () => number } {
  let n = 0;
  const backend: Ed25519Backend = {
    ...nobleBackend,
    verify: (signature, message, publicKey) => {
      n++;
      return nobleBackend.verify(signature, message, publicKey);
    },
  };
  return { backend, verifies: () => n };
}

describe('verification work of one offer', () => {
  const bundle = factoryBundle();
  // Two blocks, one manifest, then at most one signature per admin of the bundle.
  const bound = 2 + 1 + bundle.admins.length;
  const ctx = (backend: Ed25519Backend) => ({
    bundle,
    deviceId: DEVICE,
    model: MODEL,
    installedSeq: FACTORY_SEQ,
    newestBlockTime: 0,
    backend,
  });

  it('repeating one admin’s valid approval up to the offer limit costs one verification', () => {
    const rel = release();
    const prop = proposal(rel);
    const bob = approval(keys.bob, txId(prop));
    const approvals = Array.from({ length: UPDATE_LIMITS.maxApprovals }, () => bob);
    const built = offer(rel, { proposalTx: prop, approvals });
    const { backend, verifies } = counting();
    expect(checkOffer(built.offer, ctx(backend)).approvers).toEqual(['alice', 'bob']);
    expect(verifies()).toBeLessThanOrEqual(bound);
  });

  it('bad signatures under one admin’s name are checked once, not once per copy', () => {
    const rel = release();
    const prop = proposal(rel);
    const id = txId(prop);
    const genuine = approval(keys.carol, id);
    const forged = genuine.slice();
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1; // last signature byte
    const approvals = [
      ...Array.from({ length: UPDATE_LIMITS.maxApprovals - 1 }, () => forged),
      approval(keys.bob, id),
    ];
    const { backend, verifies } = counting();
    const built = offer(rel, { proposalTx: prop, approvals });
    expect(checkOffer(built.offer, ctx(backend)).approvers).toEqual(['alice', 'bob']);
    expect(verifies()).toBeLessThanOrEqual(bound);
  });
});

describe('a failed install leaves no trial behind', () => {
  it('a trial boot the slots refuse ends the update, and the next offer is not held as BUSY', async () => {
    let refuse = true;
    class FlakySlots extends MemorySlots {
      override async trialBoot(slot: 'A' | 'B'): Promise<void> {
        if (refuse) {
          refuse = false;
          throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'bootloader refused', { field: 'slot' });
        }
        return super.trialBoot(slot);
      }
    }
    const slots = new FlakySlots(SLOT_BYTES, { slot: 'A', image: FACTORY_IMAGE });
    const first = release({ seq: 2 });
    const dev = await device({ slots, image: first.image });
    expect(await dev.agent.handleOffer(offer(first).bytes)).toEqual({
      status: 'refused',
      code: ProtocolErrorCode.BAD_ARGUMENT,
      seq: FACTORY_SEQ,
    });
    expect(await new DeviceState(dev.kv).trial()).toBeUndefined();
    expect(await onOldFirmware(dev)).toEqual(OLD);

    const next = release({ seq: 3 });
    dev.server.image = next.image;
    expect(await dev.agent.handleOffer(offer(next).bytes)).toEqual({ status: 'confirmed', seq: 3 });
  });
});
