/**
 * Every update attack of DESIGN §5 / REFERENCE "Update attacks" (TUF, Uptane, SUIT RFC 9124),
 * with real signed objects: each is refused with its own code and the device stays on its old
 * firmware (active and booted slot A, factory image, installed seq unchanged). A refusal is
 * reported in a device-signed `failed` report only once the offer was proven authorised
 * (`failed`); before that (`refused`) the rollout id it names is unproven and nothing is reported.
 */
import { describe, expect, it } from 'vitest';
import { UpdateErrorCode } from '../../firmware-ts/agent/errors.js';
import { concatBytes, utf8 } from '../../firmware-ts/protocol/bytes.js';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { encodeManifest } from '../../firmware-ts/protocol/tx/manifest.js';
import { txId } from '../../firmware-ts/protocol/tx/sign.js';
import { encodeChunk, encodeOffer, signBundle } from '../../firmware-ts/protocol/update/index.js';
import {
  approval,
  block,
  DAY,
  type Device,
  type DeviceOptions,
  device,
  FACTORY_SEQ,
  FakeClock,
  factoryBundle,
  honest,
  image,
  keys,
  OLD,
  OTHER_CHAIN,
  offer,
  onOldFirmware,
  proposal,
  release,
  T0,
  tx,
} from './fixtures.js';

/** Runs `bytes` through a fresh device and checks the refusal, its report (or none) and the old firmware. */
async function refusedWith(
  bytes: Uint8Array,
  code: string,
  o: DeviceOptions,
  reported: boolean,
): Promise<Device> {
  const dev = await device(o);
  const seq = o.factorySeq ?? FACTORY_SEQ;
  const outcome = await dev.agent.handleOffer(bytes);
  expect(outcome).toEqual({ status: 'refused', code, seq });
  expect(await onOldFirmware(dev)).toEqual({ ...OLD, seq });
  if (reported) {
    const last = dev.decoded().at(-1);
    expect(last?.state).toBe('failed');
    expect(last?.error).toBe(code);
    expect(last?.seq).toBe(seq);
  } else {
    expect(dev.reports).toEqual([]);
  }
  return dev;
}

/** Refused before the offer was proven authorised: no report (its rollout id is unproven). */
function refused(bytes: Uint8Array, code: string, o: DeviceOptions = {}): Promise<Device> {
  return refusedWith(bytes, code, o, false);
}

/** Refused after the offer was proven authorised: a `failed` report names the rollout. */
function failed(bytes: Uint8Array, code: string, o: DeviceOptions = {}): Promise<Device> {
  return refusedWith(bytes, code, o, true);
}

describe('arbitrary software', () => {
  it('refuses a manifest signed by a key that is not the vendor’s', async () => {
    const rel = release({ signer: keys.rogue }); // claims vendor acme
    await refused(offer(rel).bytes, UpdateErrorCode.UNTRUSTED_VENDOR, { image: rel.image });
  });

  it('refuses a manifest of a vendor that is not in the trust bundle', async () => {
    const rel = release({ vendorId: 'rogue', signer: keys.rogue });
    await refused(offer(rel).bytes, UpdateErrorCode.UNTRUSTED_VENDOR, { image: rel.image });
  });

  it('refuses a manifest of a bundle vendor for a model it may not sign', async () => {
    const rel = release({ model: 'glucose-v1' });
    await refused(offer(rel).bytes, UpdateErrorCode.UNTRUSTED_VENDOR, { image: rel.image });
  });

  it('refuses a manifest the vendor signed for another chain', async () => {
    const rel = release({ chain: OTHER_CHAIN });
    await refused(offer(rel).bytes, UpdateErrorCode.UNTRUSTED_VENDOR, { image: rel.image });
  });

  it('single-server compromise: the gateway alone (authority key, no admin) cannot install', async () => {
    const rel = release();
    // The gateway proposes and approves with its own key under admin names: nothing counts.
    const prop = proposal(rel, { proposer: { ...keys.authority, id: 'alice' } });
    const forged = tx(
      { ...keys.authority, id: 'bob' },
      { type: 'proposal.approve', body: { proposal: txId(prop) } },
    );
    const built = offer(rel, { proposalTx: prop, approvals: [forged] });
    await refused(built.bytes, UpdateErrorCode.BELOW_THRESHOLD, { image: rel.image });
  });
});

describe('rollback', () => {
  it('refuses a seq below the installed one', async () => {
    const rel = release({ seq: 3 });
    await refused(offer(rel).bytes, UpdateErrorCode.ROLLBACK, { image: rel.image, factorySeq: 5 });
  });

  it('refuses the installed seq again with its own code', async () => {
    const rel = release({ seq: 5 });
    await refused(offer(rel).bytes, UpdateErrorCode.ALREADY_INSTALLED, { image: rel.image, factorySeq: 5 });
  });

  it('refuses an older release after a newer one was installed', async () => {
    const newer = release({ seq: 4 });
    const older = release({ seq: 3 });
    const dev = await device({ image: newer.image });
    expect((await dev.agent.handleOffer(offer(newer).bytes)).status).toBe('confirmed');
    dev.server.image = older.image;
    const outcome = await dev.agent.handleOffer(offer(older).bytes);
    expect(outcome).toEqual({ status: 'refused', code: UpdateErrorCode.ROLLBACK, seq: 4 });
    expect(await dev.agent.installedSeq()).toBe(4);
    expect(await dev.slots.activeSlot()).toBe('B');
  });
});

describe('fast-forward', () => {
  it('an unapproved manifest with a huge seq changes nothing; the genuine update still installs', async () => {
    const huge = release({ seq: 2 ** 40 });
    const dev = await device({ image: huge.image });
    const outcome = await dev.agent.handleOffer(offer(huge, { approvers: [] }).bytes);
    expect(outcome.code).toBe(UpdateErrorCode.BELOW_THRESHOLD);
    expect(await onOldFirmware(dev)).toEqual(OLD);

    // A forged block carrying a huge seq and a far-future time changes nothing either.
    const forged = offer(huge, { block: { signer: keys.mallory, t: T0 + 1000 * DAY } });
    expect((await dev.agent.handleOffer(forged.bytes)).code).toBe(UpdateErrorCode.BAD_BLOCK);
    expect(await dev.agent.newestBlockTime()).toBe(T0 + 1000);

    const genuine = release({ seq: 2 });
    dev.server.image = genuine.image;
    expect(await dev.agent.handleOffer(offer(genuine).bytes)).toEqual({ status: 'confirmed', seq: 2 });
  });
});

describe('indefinite freeze', () => {
  it('refuses a rollout that expired before the newest signed block in the offer', async () => {
    const rel = release();
    const built = offer(rel, { expires: T0 + 2 * DAY, latest: { t: T0 + 3 * DAY } });
    const dev = await failed(built.bytes, UpdateErrorCode.EXPIRED, { image: rel.image });
    // The authority-signed latest block moved the device's time forward.
    expect(await dev.agent.newestBlockTime()).toBe(T0 + 3 * DAY);
  });

  it('a replayed stale offer cannot move time back: expiry is judged against the newest time seen', async () => {
    const rel = release();
    const stale = offer(rel, { expires: T0 + 2 * DAY }); // its blocks are at T0, T0 + 1 s
    const dev = await device({ image: rel.image });
    // The device saw a newer signed block (for example with another offer).
    expect(await dev.agent.observeBlock(block([], { t: T0 + 10 * DAY }).bytes)).toBe(T0 + 10 * DAY);
    const outcome = await dev.agent.handleOffer(stale.bytes);
    expect(outcome.code).toBe(UpdateErrorCode.EXPIRED);
    expect(await dev.agent.newestBlockTime()).toBe(T0 + 10 * DAY);
    expect(await onOldFirmware(dev)).toEqual(OLD);
  });

  it('only authority-signed blocks advance the time', async () => {
    const dev = await device();
    await expect(
      dev.agent.observeBlock(block([], { t: T0 + 50 * DAY, signer: keys.mallory }).bytes),
    ).rejects.toMatchObject({
      code: ProtocolErrorCode.UNKNOWN_AUTHORITY,
    });
    await expect(
      dev.agent.observeBlock(block([], { t: T0 + 50 * DAY, chain: OTHER_CHAIN }).bytes),
    ).rejects.toMatchObject({
      code: ProtocolErrorCode.CHAIN_MISMATCH,
    });
    expect(await dev.agent.newestBlockTime()).toBe(0);
    expect(await dev.agent.observeBlock(block([], { t: T0 }).bytes)).toBe(T0);
    expect(await dev.agent.observeBlock(block([], { t: T0 - DAY }).bytes)).toBe(T0);
    expect(await dev.agent.newestBlockTime()).toBe(T0);
  });

  it('refuses an approval recorded after its proposal expired', async () => {
    const rel = release();
    const built = offer(rel, { proposalExpires: T0 - 1 });
    await failed(built.bytes, UpdateErrorCode.EXPIRED, { image: rel.image });
  });

  it('defers (without a report or a record) a rollout whose notBefore is still ahead', async () => {
    const rel = release();
    const dev = await device({ image: rel.image });
    const early = offer(rel, { notBefore: T0 + DAY });
    expect(await dev.agent.handleOffer(early.bytes)).toEqual({
      status: 'deferred',
      code: UpdateErrorCode.NOT_YET,
      seq: FACTORY_SEQ,
    });
    expect(dev.reports).toEqual([]);
    // Later, with the ledger past notBefore, the same rollout goes through.
    const later = offer(rel, {
      proposalTx: early.proposal,
      approvals: early.approvals,
      latest: { t: T0 + 2 * DAY },
    });
    expect((await dev.agent.handleOffer(later.bytes)).status).toBe('confirmed');
  });
});

describe('endless data', () => {
  it('refuses the first chunk that would cross the signed size and writes nothing beyond it', async () => {
    const rel = release({ image: image(20_000) });
    const endless = image(1 << 20, 5);
    const built = offer(rel);
    const dev = await failed(built.bytes, UpdateErrorCode.TOO_LARGE, {
      image: rel.image,
      // The server ignores `len` and streams 16 KiB per request, forever.
      serve: (req) =>
        encodeChunk({
          digest: req.digest,
          offset: req.offset,
          data: endless.slice(req.offset, req.offset + 16_384),
        }),
    });
    expect(dev.server.requests.length).toBe(2);
    expect(dev.slots.image('B').length).toBe(16_384);
    expect(dev.states()).toEqual(['downloading', 'failed']);
  });

  it('refuses a manifest announcing more than a slot holds before downloading anything', async () => {
    const rel = release({ image: image(200_000) });
    const dev = await failed(offer(rel).bytes, UpdateErrorCode.TOO_LARGE, { image: rel.image });
    expect(dev.server.requests).toEqual([]);
  });
});

describe('trailing data', () => {
  it('in the image stream: one byte after the image is refused', async () => {
    const rel = release({ image: image(20_000) });
    const dev = await failed(offer(rel).bytes, UpdateErrorCode.TOO_LARGE, {
      image: rel.image,
      serve: (req, img) => {
        const data = img.slice(req.offset, req.offset + req.len);
        const last = req.offset + req.len === img.length;
        return encodeChunk({
          digest: req.digest,
          offset: req.offset,
          data: last ? concatBytes(data, Uint8Array.of(0)) : data,
        });
      },
    });
    expect(dev.slots.image('B').length).toBe(16_384);
  });

  it('inside the signed manifest: a vendor-signed payload with bytes after the map', async () => {
    const rel = release();
    const payload = concatBytes(encodeCbor(encodeManifest(rel.manifest)), Uint8Array.of(0x00));
    const cose = signCoseSign1(payload, keys.acme.signer, chainAad('agent-test'));
    const built = offer({ ...rel, cose, id: sha256(cose) }, { manifest: cose });
    await refused(built.bytes, ProtocolErrorCode.CBOR_TRAILING_BYTES, { image: rel.image });
  });

  it('after the manifest COSE_Sign1', async () => {
    const rel = release();
    const cose = concatBytes(rel.cose, Uint8Array.of(0x00));
    await refused(offer(rel, { manifest: cose }).bytes, ProtocolErrorCode.COSE_MALFORMED, {
      image: rel.image,
    });
  });

  it('after the offer itself (nothing to report: no rollout is trusted)', async () => {
    const rel = release();
    const bytes = concatBytes(offer(rel).bytes, Uint8Array.of(0x00));
    await refused(bytes, ProtocolErrorCode.CBOR_TRAILING_BYTES, { image: rel.image });
  });

  it('an unknown field in the offer', async () => {
    const rel = release();
    const built = offer(rel);
    const map = new Map<string, unknown>([
      ['v', 1],
      ['rollout', built.offer.rollout],
      ['manifest', built.offer.manifest],
      ['proposal', built.offer.proposal],
      ['approvals', [...built.offer.approvals]],
      ['block', built.offer.block],
      ['txIndex', built.offer.txIndex],
      ['txPath', [...built.offer.txPath]],
      ['latest', built.offer.latest],
      ['chunk', built.offer.chunk],
      ['seq', 2 ** 40],
    ]);
    await refused(encodeCbor(map), ProtocolErrorCode.UNKNOWN_FIELD, { image: rel.image });
  });
});

describe('slow retrieval', () => {
  it('refuses a chunk that never comes, at the per-chunk deadline of the fake clock', async () => {
    const rel = release();
    const clock = new FakeClock();
    const dev = await failed(offer(rel).bytes, UpdateErrorCode.TIMEOUT, {
      image: rel.image,
      clock,
      limits: { chunkTimeoutMs: 30_000, totalTimeoutMs: 600_000 },
      serve: (req, img) => {
        if (req.offset === 0) return honest(req, img);
        clock.advance(30_000);
        return new Promise<Uint8Array>(() => {}); // never answers
      },
    });
    // The device gave up at the deadline, on the second chunk, and stays on its old image.
    expect(dev.server.requests.length).toBe(2);
    expect(dev.clock.pending()).toBe(0);
  });

  it('refuses a trickle that keeps every chunk in time but never finishes in time', async () => {
    const rel = release();
    const clock = new FakeClock();
    const dev = await failed(offer(rel).bytes, UpdateErrorCode.TIMEOUT, {
      image: rel.image,
      clock,
      limits: { chunkTimeoutMs: 30_000, totalTimeoutMs: 10 * 60_000 },
      serve: (req, img) => {
        clock.advance(20_000); // just inside the per-chunk deadline
        return encodeChunk({
          digest: req.digest,
          offset: req.offset,
          data: img.slice(req.offset, req.offset + 16),
        });
      },
    });
    // 10 minutes at 20 s a chunk: 30 chunks of 16 bytes, then the overall deadline.
    expect(dev.server.requests.length).toBe(30);
    expect(dev.decoded().at(-1)?.error).toBe('MG_ERR_UPDATE_TIMEOUT');
  });
});

describe('mix-and-match', () => {
  it('refuses approvals of another proposal (another manifest digest)', async () => {
    const rel = release({ seq: 2 });
    const other = release({ seq: 3 });
    const otherProposal = proposal(other);
    const built = offer(rel, { approvals: [approval(keys.bob, txId(otherProposal))] });
    await refused(built.bytes, UpdateErrorCode.MIX_AND_MATCH, { image: rel.image });
  });

  it('refuses a manifest of another release than the one the rollout authorises', async () => {
    const authorised = release({ seq: 2 });
    const other = release({ seq: 3 }); // genuine, signed by the vendor, never approved
    const built = offer(authorised, { manifest: other.cose });
    await refused(built.bytes, UpdateErrorCode.MIX_AND_MATCH, { image: other.image });
  });

  it('refuses a rollout id that is not the proposal’s', async () => {
    const rel = release();
    await refused(offer(rel, { rollout: sha256(utf8('x')) }).bytes, UpdateErrorCode.MIX_AND_MATCH, {
      image: rel.image,
    });
  });

  it('refuses a rollout whose model differs from the manifest’s', async () => {
    const rel = release();
    await refused(offer(rel, { model: 'bp-cuff-v1' }).bytes, UpdateErrorCode.MIX_AND_MATCH, {
      image: rel.image,
    });
  });
});

describe('wrong model', () => {
  it('refuses a vendor-signed, approved image for another device class', async () => {
    const rel = release({ model: 'bp-cuff-v1' });
    await refused(offer(rel).bytes, UpdateErrorCode.WRONG_MODEL, { image: rel.image });
  });

  it('refuses a rollout that does not target this device', async () => {
    const rel = release();
    await refused(offer(rel, { target: { devs: ['wearable-002'] } }).bytes, UpdateErrorCode.NOT_TARGETED, {
      image: rel.image,
    });
  });
});

describe('approvals below threshold', () => {
  it('one admin counted twice counts once', async () => {
    const rel = release();
    await refused(offer(rel, { approvers: [keys.alice] }).bytes, UpdateErrorCode.BELOW_THRESHOLD, {
      image: rel.image,
    });
    await refused(
      offer(rel, { approvers: [keys.alice, keys.alice] }).bytes,
      UpdateErrorCode.BELOW_THRESHOLD,
      {
        image: rel.image,
      },
    );
  });

  it('an admin removed from the bundle before the approval does not count', async () => {
    const rel = release();
    const built = offer(rel, { approvers: [keys.carol] }); // alice + carol
    // With the factory bundle, alice + carol are 2 of 3: the control case installs.
    const control = await device({ image: rel.image });
    expect((await control.agent.handleOffer(built.bytes)).status).toBe('confirmed');

    // alice and bob remove carol with a signed bundle replacement.
    const current = factoryBundle();
    const next = { ...current, seq: 1, admins: current.admins.filter((a) => a.id !== 'carol') };
    const dev = await device({ image: rel.image });
    await dev.agent.replaceBundle(signBundle(next, [keys.alice.signer, keys.bob.signer], 'agent-test'));
    expect(dev.agent.bundle().admins.map((a) => a.id)).toEqual(['alice', 'bob']);
    const outcome = await dev.agent.handleOffer(built.bytes);
    expect(outcome.code).toBe(UpdateErrorCode.BELOW_THRESHOLD);
    expect(await onOldFirmware(dev)).toEqual(OLD);
  });

  it('a key that is not in the bundle does not count', async () => {
    const rel = release();
    // An admin id the bundle does not know.
    await refused(offer(rel, { approvers: [keys.mallory] }).bytes, UpdateErrorCode.BELOW_THRESHOLD, {
      image: rel.image,
    });
    // A known admin's name, signed with another key.
    const prop = proposal(rel);
    const impostor = tx(
      { ...keys.mallory, id: 'bob' },
      { type: 'proposal.approve', body: { proposal: txId(prop) } },
    );
    await refused(
      offer(rel, { proposalTx: prop, approvals: [impostor] }).bytes,
      UpdateErrorCode.BELOW_THRESHOLD,
      {
        image: rel.image,
      },
    );
  });

  it('refuses an offer whose proposal is not a rollout.authorize', async () => {
    const rel = release();
    const prop = tx(keys.alice, {
      type: 'proposal.create',
      body: { action: { type: 'governance.set', body: { threshold: 1 } }, expires: T0 + DAY },
    });
    await refused(offer(rel, { proposalTx: prop }).bytes, UpdateErrorCode.BAD_OFFER, { image: rel.image });
  });
});

describe('image swapped after the check', () => {
  it('re-hashes the slot before the trial boot and refuses bytes that changed', async () => {
    const rel = release();
    const dev = await failed(offer(rel).bytes, UpdateErrorCode.SLOT_MISMATCH, {
      image: rel.image,
      onReport: (report, d) => {
        // Between the check and the boot, the slot is overwritten.
        if (report.state === 'installed') d.slots.tamper('B', 100, Uint8Array.of(0xde, 0xad));
      },
    });
    expect(dev.states()).toEqual(['downloading', 'verified', 'installed', 'failed']);
  });

  it('refuses an image whose bytes do not have the manifest digest', async () => {
    const rel = release();
    const swapped = image(rel.image.length, 77);
    await failed(offer(rel).bytes, UpdateErrorCode.BAD_DIGEST, { image: swapped });
  });

  it('refuses a chunk for another digest or offset', async () => {
    const rel = release();
    await failed(offer(rel).bytes, UpdateErrorCode.BAD_CHUNK, {
      image: rel.image,
      serve: (req, img) =>
        encodeChunk({
          digest: sha256(req.digest),
          offset: req.offset,
          data: img.slice(req.offset, req.offset + req.len),
        }),
    });
    await failed(offer(rel).bytes, UpdateErrorCode.BAD_CHUNK, {
      image: rel.image,
      serve: (req, img) =>
        encodeChunk({
          digest: req.digest,
          offset: req.offset + 1,
          data: img.slice(req.offset, req.offset + req.len),
        }),
    });
  });
});

describe('forged block, wrong chain, no inclusion', () => {
  it('refuses a block not signed by a bundle authority', async () => {
    const rel = release();
    await refused(offer(rel, { block: { signer: keys.mallory } }).bytes, UpdateErrorCode.BAD_BLOCK, {
      image: rel.image,
    });
  });

  it('refuses a forged latest block', async () => {
    const rel = release();
    await refused(
      offer(rel, { latest: { signer: keys.mallory, t: T0 + DAY } }).bytes,
      UpdateErrorCode.BAD_BLOCK,
      {
        image: rel.image,
      },
    );
  });

  it('refuses a block the authority signed for another chain', async () => {
    const rel = release();
    await refused(offer(rel, { block: { chain: OTHER_CHAIN } }).bytes, UpdateErrorCode.WRONG_CHAIN, {
      image: rel.image,
    });
  });

  it('refuses transactions signed for another chain', async () => {
    const rel = release();
    await refused(offer(rel, { chain: OTHER_CHAIN }).bytes, UpdateErrorCode.WRONG_CHAIN, {
      image: rel.image,
    });
  });

  it('refuses an approving transaction that is not in the block', async () => {
    const rel = release();
    await refused(offer(rel, { badPath: true }).bytes, UpdateErrorCode.NOT_IN_BLOCK, { image: rel.image });
    // A genuine block, but another block's transactions.
    const built = offer(rel);
    const swapped = encodeOffer({
      ...built.offer,
      block: block([approval(keys.bob, sha256(utf8('y')))]).bytes,
    });
    await refused(swapped, UpdateErrorCode.NOT_IN_BLOCK, { image: rel.image });
  });
});
