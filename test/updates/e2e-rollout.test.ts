/**
 * End to end (issue 5): a real gateway, the `medgate` CLI over its HTTP API, and real mqtt.js
 * devices running the real update agent (firmware-ts/agent) through test/updates/device-client.ts.
 *
 * 1. A vendor signs, an admin releases, 2 of 3 admins approve a staged rollout (waves 1, 2) to
 *    three wearables; one fails its self-test and rolls back. Wave 2 starts only after wave 1
 *    ended, every device status is on the ledger, `rollout status` shows it, and
 *    `medgate ledger verify` passes.
 * 2. The gateway itself is made to offer updates the policy did not approve (one approval only;
 *    approvals of another release): the devices refuse them and stay on their firmware.
 */

import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { UpdateErrorCode } from '../../firmware-ts/agent/index.js';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { updateTopic } from '../../firmware-ts/protocol/topics.js';
import { decodeLedgerEntry } from '../../firmware-ts/protocol/tx/entry.js';
import { encodeOffer, UPDATE_LIMITS } from '../../firmware-ts/protocol/update/index.js';
import { startTestGateway, type TestGateway } from '../gateway/harness.js';
import { medgate } from '../support/cli.js';
import { DeviceClient } from './device-client.js';
import { authorizeRollout, releaseImage } from './update-harness.js';

const W = ['wearable-001', 'wearable-002', 'wearable-003'] as const;

/** Every update.report on the chain, in order: [device, state, height]. */
async function reportsOnChain(gw: TestGateway): Promise<Array<[string, string, number]>> {
  const out: Array<[string, string, number]> = [];
  for (let height = 1; height <= gw.ledger.tip.header.height; height++) {
    for (const bytes of await gw.ledger.blockTxs(height)) {
      const entry = decodeLedgerEntry(bytes);
      if (entry.kind === 'tx' && entry.tx.type === 'update.report') {
        out.push([entry.tx.actor, entry.tx.body.state, height]);
      }
    }
  }
  return out;
}

describe('staged rollout across a small fleet, one rollback', () => {
  let gw: TestGateway;
  const fleet: DeviceClient[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ enrol: [...W], config: { blockIntervalMs: 50 } });
  });
  afterAll(async () => {
    for (const d of fleet) d.stop();
    await gw?.stop();
  });

  test('release, 2 of 3 approvals, waves 1 then 2, every status on the ledger, ledger verify passes', async () => {
    const keys = join(gw.dir, 'demo-keys');
    const api = ['--gateway', `http://127.0.0.1:${gw.ports.http}`];
    const admin = (name: string) => [...api, '--admin-key', join(keys, `admin-${name}.key`)];
    const image = join(gw.dir, 'fw-2.0.0.bin');
    const manifest = join(gw.dir, 'fw-2.0.0.manifest');
    const imageBytes = new Uint8Array(randomBytes(60_000));
    await writeFile(image, imageBytes);

    const sign = await medgate(
      'firmware',
      'sign',
      '--vendor-key',
      join(keys, 'vendor-acme.key'),
      '--image',
      image,
      '--model',
      'wearable-v1',
      '--seq',
      '2',
      '--version',
      '2.0.0',
      '--out',
      manifest,
      ...api,
    );
    expect(sign.code, sign.err).toBe(0);
    const release = await medgate('firmware', 'release', manifest, image, ...admin('alice'));
    expect(release.code, release.err).toBe(0);

    // The fleet is online before the rollout exists; wearable-003's new image fails its self-test.
    for (const dev of W) {
      fleet.push(
        await DeviceClient.start(gw, dev, {
          selfTest: async () => dev !== 'wearable-003',
        }),
      );
    }
    const propose = await medgate(
      'rollout',
      'propose',
      '--manifest',
      manifest,
      '--devices',
      W.join(','),
      '--waves',
      '1,2',
      '--max-failures',
      '2',
      '--expires',
      '+1h',
      ...admin('alice'),
      '--json',
    );
    expect(propose.code, propose.err).toBe(0);
    const rollout = JSON.parse(propose.out).rollout as string;
    expect(gw.ledger.state.rollouts.has(rollout)).toBe(false);
    const approve = await medgate('rollout', 'approve', rollout, ...admin('bob'));
    expect(approve.code, approve.err).toBe(0);

    const [w1, w2, w3] = fleet as [DeviceClient, DeviceClient, DeviceClient];
    expect(await w1.outcome('confirmed')).toMatchObject({ seq: 2 });
    expect(await w2.outcome('confirmed')).toMatchObject({ seq: 2 });
    expect(await w3.outcome('rolledBack')).toMatchObject({ seq: 1, code: UpdateErrorCode.SELF_TEST_FAILED });
    expect(await w1.agent.installedSeq()).toBe(2);
    expect(await w3.agent.installedSeq()).toBe(1);

    // Every status is on the ledger, in order; wave 2 began only after wave 1 ended.
    const reports = await reportsOnChain(gw);
    const of = (dev: string) => reports.filter(([d]) => d === dev).map(([, state]) => state);
    expect(of('wearable-001')).toEqual(['downloading', 'verified', 'installed', 'confirmed']);
    expect(of('wearable-002')).toEqual(['downloading', 'verified', 'installed', 'confirmed']);
    expect(of('wearable-003')).toEqual(['downloading', 'verified', 'installed', 'rolledBack']);
    const w1Done = reports.find(([d, s]) => d === 'wearable-001' && s === 'confirmed')![2];
    const wave2Start = Math.min(...reports.filter(([d]) => d !== 'wearable-001').map(([, , h]) => h));
    expect(wave2Start).toBeGreaterThan(w1Done);
    expect(gw.ledger.state.devices.get('wearable-002')!.firmware).toMatchObject({ seq: 2, version: '2.0.0' });
    expect(gw.ledger.state.devices.get('wearable-003')!.firmware).toMatchObject({ seq: 1 });

    const status = await medgate('rollout', 'status', rollout, ...api, '--json');
    expect(status.code, status.err).toBe(0);
    const view = JSON.parse(status.out);
    expect(view).toMatchObject({ status: 'completed', confirmed: 2, failures: 1 });
    expect(view.waves.map((w: { counts: Record<string, number> }) => w.counts)).toEqual([
      expect.objectContaining({ confirmed: 1 }),
      expect.objectContaining({ confirmed: 1, rolledBack: 1 }),
    ]);
    expect(view.devices.map((d: { id: string; state: string }) => [d.id, d.state])).toEqual([
      ['wearable-001', 'confirmed'],
      ['wearable-002', 'confirmed'],
      ['wearable-003', 'rolledBack'],
    ]);
    // The finished devices' offers were cleared.
    await gw.gateway.updates.offers.reconcile();
    expect(gw.gateway.updates.offers.retained.size).toBe(0);

    for (const d of fleet) d.stop();
    await gw.gateway.stop();
    const verify = await medgate('ledger', 'verify', '--data', gw.dir);
    expect(verify.code, verify.err).toBe(0);
    expect(verify.out).toMatch(/^ledger 'medgate-demo' verified: /);
  });
});

describe('the gateway offers updates the policy did not approve', () => {
  let gw: TestGateway;
  const fleet: DeviceClient[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ enrol: [...W], config: { blockIntervalMs: 50 } });
  });
  afterAll(async () => {
    for (const d of fleet) d.stop();
    await gw?.stop();
  });

  test('one approval only, or the approvals of another release: refused, the device keeps its firmware', async () => {
    const approved = await releaseImage(gw, { seq: 2, version: '2.0.0' });
    const unapproved = await releaseImage(gw, { seq: 3, version: '3.0.0' });
    // Approved (2 of 3) for wearable-003 only, which stays offline.
    const rollout = await authorizeRollout(gw, approved, { target: { devs: ['wearable-003'] }, waves: [1] });
    // Proposed for wearable-001 by alice alone: below the threshold, never authorised.
    const lone = await gw.tx('admin:alice', 'proposal.create', {
      action: {
        type: 'rollout.authorize',
        body: {
          manifest: sha256(unapproved.manifest),
          model: 'wearable-v1',
          target: { devs: ['wearable-001', 'wearable-002'] },
          notBefore: Date.now() - 60_000,
          expires: Date.now() + 3_600_000,
          waves: [2],
          maxFailures: 1,
        },
      },
      expires: Date.now() + 3_600_000,
    });
    const w1 = await DeviceClient.start(gw, 'wearable-001');
    const w2 = await DeviceClient.start(gw, 'wearable-002');
    fleet.push(w1, w2);

    // Forgery 1: the lone proposal, proven in its block, offered as if approved.
    const proposal = gw.ledger.state.proposals.get(toHex(lone.id))!;
    const loneProof = await gw.ledger.txProof(lone.height, proposal.cose);
    const belowThreshold = encodeOffer({
      rollout: lone.id,
      manifest: unapproved.manifest,
      proposal: proposal.cose,
      approvals: [],
      block: loneProof.block.bytes,
      txIndex: loneProof.index,
      txPath: loneProof.proof,
      latest: gw.ledger.tip.bytes,
      chunk: UPDATE_LIMITS.maxChunk,
    });
    // Forgery 2: the genuine approvals and block of the approved rollout, with the unapproved manifest.
    const real = gw.ledger.state.proposals.get(rollout)!;
    const last = real.approvals[real.approvals.length - 1]!.cose;
    const realProof = await gw.ledger.txProof(gw.ledger.state.rollouts.get(rollout)!.authorized.height, last);
    const mixAndMatch = encodeOffer({
      rollout: sha256(real.cose),
      manifest: unapproved.manifest,
      proposal: real.cose,
      approvals: real.approvals.map((a) => a.cose),
      block: realProof.block.bytes,
      txIndex: realProof.index,
      txPath: realProof.proof,
      latest: gw.ledger.tip.bytes,
      chunk: UPDATE_LIMITS.maxChunk,
    });

    const { publisher } = gw.gateway.broker;
    await publisher.publish(updateTopic('wearable-001'), belowThreshold, { qos: 1, retain: true });
    await publisher.publish(updateTopic('wearable-002'), mixAndMatch, { qos: 1, retain: true });

    expect(await w1.outcome('refused')).toMatchObject({ code: UpdateErrorCode.BELOW_THRESHOLD, seq: 1 });
    expect(await w2.outcome('refused')).toMatchObject({ code: UpdateErrorCode.MIX_AND_MATCH, seq: 1 });
    for (const d of [w1, w2]) {
      expect(await d.agent.installedSeq()).toBe(1);
      expect(await d.slots.activeSlot()).toBe('A');
      expect(d.outcomes.map((o) => o.status)).toEqual(['refused']);
      // Nothing was downloaded into the inactive slot.
      expect((await d.slots.read('B', 0, 1)).length).toBe(0);
    }
    // Refused before they were proven authorised: no device signs a 'failed' report for a rollout
    // id it has not verified (one junk offer must not count as a genuine rollout's failure).
    await w1.settled();
    await w2.settled();
    for (const d of [w1, w2]) {
      expect(d.reports).toEqual([]);
      expect(d.events.filter((e) => String(e.type).startsWith('status.'))).toEqual([]);
    }
    expect(gw.ledger.state.devices.get('wearable-001')!.firmware).toBeUndefined();
    expect(gw.ledger.state.rollouts.get(rollout)!.reports.size).toBe(0);
  });
});
