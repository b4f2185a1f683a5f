/**
 * The trust bundle on the device (DESIGN §2, TUF root rotation): replaced only by a bundle with a
 * higher seq, for the same chain, signed by at least the threshold of distinct CURRENT admins.
 */
import { describe, expect, it } from 'vitest';
import { DeviceState } from '../../firmware-ts/agent/device-state.js';
import { UpdateErrorCode } from '../../firmware-ts/agent/errors.js';
import { MemoryKeyValue } from '../../firmware-ts/agent/slots.js';
import { TrustStore } from '../../firmware-ts/agent/trust.js';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { encodeBundle, signBundle, type TrustBundle } from '../../firmware-ts/protocol/update/index.js';
import {
  CHAIN,
  device,
  factoryBundle,
  keys,
  OLD,
  OTHER_CHAIN,
  offer,
  onOldFirmware,
  release,
} from './fixtures.js';

async function store(kv = new MemoryKeyValue()): Promise<TrustStore> {
  return TrustStore.open(new DeviceState(kv), factoryBundle(), nobleBackend);
}

function next(changes: Partial<TrustBundle> = {}): TrustBundle {
  return { ...factoryBundle(), seq: 1, ...changes };
}

describe('trust bundle replacement', () => {
  it('accepts a bundle signed by the threshold of current admins, and persists it', async () => {
    const kv = new MemoryKeyValue();
    const trust = await store(kv);
    const bundle = next({
      admins: [...factoryBundle().admins, { id: 'dave', pub: keys.dave.pub }],
      threshold: 3,
    });
    const accepted = await trust.replace(signBundle(bundle, [keys.alice.signer, keys.carol.signer], CHAIN));
    expect(accepted.seq).toBe(1);
    expect(trust.current().threshold).toBe(3);
    // After a restart, the replaced bundle is in force.
    const reopened = await store(kv);
    expect(reopened.current().admins.map((a) => a.id)).toEqual(['alice', 'bob', 'carol', 'dave']);
  });

  it('refuses a bundle signed by fewer than the threshold', async () => {
    const trust = await store();
    await expect(trust.replace(signBundle(next(), [keys.alice.signer], CHAIN))).rejects.toMatchObject({
      code: UpdateErrorCode.BUNDLE_THRESHOLD,
    });
    expect(trust.current().seq).toBe(0);
  });

  it('one admin signing twice counts once', async () => {
    const trust = await store();
    await expect(
      trust.replace(signBundle(next(), [keys.alice.signer, keys.alice.signer], CHAIN)),
    ).rejects.toMatchObject({ code: UpdateErrorCode.BUNDLE_THRESHOLD });
  });

  it('keys that are not current admins do not count, even those the new bundle adds', async () => {
    const trust = await store();
    // The new bundle makes mallory and dave the admins and is signed by them.
    const hostile = next({
      admins: [
        { id: 'mallory', pub: keys.mallory.pub },
        { id: 'dave', pub: keys.dave.pub },
      ],
    });
    await expect(
      trust.replace(signBundle(hostile, [keys.mallory.signer, keys.dave.signer, keys.alice.signer], CHAIN)),
    ).rejects.toMatchObject({ code: UpdateErrorCode.BUNDLE_THRESHOLD });
    expect(trust.current().admins.map((a) => a.id)).toEqual(['alice', 'bob', 'carol']);
  });

  it('a signature over other bytes or for another chain does not count', async () => {
    const trust = await store();
    const bundleBytes = encodeBundle(next());
    const otherBytes = encodeBundle(next({ seq: 2 }));
    const sigs = [
      signCoseSign1(otherBytes, keys.alice.signer, chainAad(CHAIN)), // other bundle
      signCoseSign1(bundleBytes, keys.bob.signer, chainAad(OTHER_CHAIN)), // other chain
      signCoseSign1(bundleBytes, keys.carol.signer, chainAad(CHAIN)), // good
    ];
    const replacement = encodeCbor(
      new Map<string, unknown>([
        ['bundle', bundleBytes],
        ['sigs', sigs],
      ]),
    );
    await expect(trust.replace(replacement)).rejects.toMatchObject({
      code: UpdateErrorCode.BUNDLE_THRESHOLD,
    });
  });

  it('refuses a seq that does not rise, and another chain', async () => {
    const trust = await store();
    const signers = [keys.alice.signer, keys.bob.signer];
    await expect(trust.replace(signBundle(next({ seq: 0 }), signers, CHAIN))).rejects.toMatchObject({
      code: UpdateErrorCode.BUNDLE_SEQ,
    });
    await expect(
      trust.replace(signBundle(next({ chain: OTHER_CHAIN }), signers, CHAIN)),
    ).rejects.toMatchObject({
      code: UpdateErrorCode.BUNDLE_CHAIN,
    });
    await trust.replace(signBundle(next({ seq: 5 }), signers, CHAIN));
    await expect(trust.replace(signBundle(next({ seq: 5 }), signers, CHAIN))).rejects.toMatchObject({
      code: UpdateErrorCode.BUNDLE_SEQ,
    });
  });

  it('the next replacement needs the threshold of the admins now in force', async () => {
    const trust = await store();
    const rotated = next({
      admins: [
        { id: 'dave', pub: keys.dave.pub },
        { id: 'mallory', pub: keys.mallory.pub },
      ],
    });
    await trust.replace(signBundle(rotated, [keys.alice.signer, keys.bob.signer], CHAIN));
    // The old admins no longer can...
    await expect(
      trust.replace(signBundle(next({ seq: 2 }), [keys.alice.signer, keys.bob.signer], CHAIN)),
    ).rejects.toMatchObject({ code: UpdateErrorCode.BUNDLE_THRESHOLD });
    // ...the new ones can.
    await trust.replace(signBundle(next({ seq: 2 }), [keys.dave.signer, keys.mallory.signer], CHAIN));
    expect(trust.current().seq).toBe(2);
  });

  it('refuses malformed replacements with the decoders’ codes', async () => {
    const trust = await store();
    await expect(trust.replace(new Uint8Array([0xa0, 0x00]))).rejects.toMatchObject({
      code: ProtocolErrorCode.CBOR_TRAILING_BYTES,
    });
    await expect(trust.replace(encodeCbor(new Map([['bundle', new Uint8Array(3)]])))).rejects.toMatchObject({
      code: ProtocolErrorCode.MISSING_FIELD,
    });
  });

  it('a stored bundle of another chain is ignored in favour of the factory bundle', async () => {
    const kv = new MemoryKeyValue();
    await new DeviceState(kv).setBundleBytes(encodeBundle(next({ chain: OTHER_CHAIN, seq: 9 })));
    expect((await store(kv)).current().chain).toBe(CHAIN);
  });
});

describe('trust bundle and updates', () => {
  it('after a rotation, approvals by the new admins count and by the old ones do not', async () => {
    const rel = release();
    const rotated = next({
      admins: [
        { id: 'dave', pub: keys.dave.pub },
        { id: 'mallory', pub: keys.mallory.pub },
      ],
    });
    const dev = await device({ image: rel.image });
    await dev.agent.replaceBundle(signBundle(rotated, [keys.alice.signer, keys.bob.signer], CHAIN));
    const byOld = await dev.agent.handleOffer(offer(rel).bytes);
    expect(byOld.code).toBe(UpdateErrorCode.BELOW_THRESHOLD);
    expect(await onOldFirmware(dev)).toEqual(OLD);
    const byNew = await dev.agent.handleOffer(
      offer(rel, { proposer: keys.dave, approvers: [keys.mallory] }).bytes,
    );
    expect(byNew.status).toBe('confirmed');
  });

  it('a bundle not signed by the threshold leaves updates judged by the old bundle', async () => {
    const rel = release();
    const dev = await device({ image: rel.image });
    // Mallory tries to make herself the only admin with threshold 1.
    const hostile = next({ admins: [{ id: 'mallory', pub: keys.mallory.pub }], threshold: 1 });
    await expect(
      dev.agent.replaceBundle(signBundle(hostile, [keys.mallory.signer], CHAIN)),
    ).rejects.toMatchObject({
      code: UpdateErrorCode.BUNDLE_THRESHOLD,
    });
    const outcome = await dev.agent.handleOffer(offer(rel, { proposer: keys.mallory, approvers: [] }).bytes);
    expect(outcome.code).toBe(UpdateErrorCode.BELOW_THRESHOLD);
    expect(await onOldFirmware(dev)).toEqual(OLD);
  });
});
