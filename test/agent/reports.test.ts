/**
 * A device signs a `failed` report only for a rollout it has verified. The ledger counts a failed
 * report towards the rollout's maxFailures and takes it as the device's last word on that
 * rollout, so a junk offer that names a genuine rollout id must not produce one: it is refused,
 * logged and returned with its code, and the genuine rollout still installs.
 */
import { describe, expect, it } from 'vitest';
import { UpdateErrorCode } from '../../firmware-ts/agent/errors.js';
import { equalBytes } from '../../firmware-ts/protocol/bytes.js';
import { encodeOffer } from '../../firmware-ts/protocol/update/index.js';
import { DAY, device, FACTORY_SEQ, keys, OLD, offer, onOldFirmware, release, T0 } from './fixtures.js';

describe('failure reports name only verified rollouts', () => {
  it('junk offers naming a real rollout id are refused without a report; the rollout then installs', async () => {
    const rel = release();
    const genuine = offer(rel);
    const unapproved = release({ seq: 3 }); // vendor-signed, never approved
    const junk: [string, Uint8Array][] = [
      // The genuine proposal and approvals in a block the authority never signed.
      [
        UpdateErrorCode.BAD_BLOCK,
        offer(rel, {
          proposalTx: genuine.proposal,
          approvals: genuine.approvals,
          block: { signer: keys.mallory },
        }).bytes,
      ],
      // The genuine proposal, its approval dropped: below threshold.
      [UpdateErrorCode.BELOW_THRESHOLD, offer(rel, { proposalTx: genuine.proposal, approvals: [] }).bytes],
      // Every genuine part, with another manifest.
      [UpdateErrorCode.MIX_AND_MATCH, encodeOffer({ ...genuine.offer, manifest: unapproved.cose })],
      // Another proposal's parts under the genuine rollout id.
      [
        UpdateErrorCode.MIX_AND_MATCH,
        offer(rel, { rollout: genuine.rollout, target: { cohort: 'all' } }).bytes,
      ],
    ];
    const dev = await device({ image: rel.image });
    for (const [code, bytes] of junk) {
      expect(equalBytes(bytes, genuine.bytes)).toBe(false);
      expect(await dev.agent.handleOffer(bytes), code).toEqual({ status: 'refused', code, seq: FACTORY_SEQ });
      expect(dev.reports, code).toEqual([]);
      expect(await onOldFirmware(dev)).toEqual(OLD);
    }
    // Each refusal was logged with its code, as not authorised.
    const refusals = dev.logs.filter((l) => l.message === 'update offer refused');
    expect(refusals.map((l) => [l.fields?.code, l.fields?.authorised])).toEqual(
      junk.map(([code]) => [code, false]),
    );
    // The junk did not end the genuine rollout on this device.
    expect(await dev.agent.handleOffer(genuine.bytes)).toEqual({ status: 'confirmed', seq: 2 });
    const reports = dev.decoded();
    expect(reports.map((r) => r.state)).toEqual(['downloading', 'verified', 'installed', 'confirmed']);
    for (const r of reports) expect(equalBytes(r.rollout, genuine.rollout)).toBe(true);
  });

  it('a refusal after the offer was proven authorised is reported, naming the rollout', async () => {
    const rel = release();
    const expired = offer(rel, { expires: T0 + 2 * DAY, latest: { t: T0 + 3 * DAY } });
    const dev = await device({ image: rel.image });
    expect((await dev.agent.handleOffer(expired.bytes)).code).toBe(UpdateErrorCode.EXPIRED);
    const [report, ...rest] = dev.decoded();
    expect(rest).toEqual([]);
    expect(report).toMatchObject({ state: 'failed', error: UpdateErrorCode.EXPIRED, seq: FACTORY_SEQ });
    expect(equalBytes(report!.rollout, expired.rollout)).toBe(true);
  });
});
