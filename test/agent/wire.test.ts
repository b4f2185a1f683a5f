/**
 * The update wire format v1 (firmware-ts/protocol/update): round trips, and strict bounded
 * decoders that refuse with coded errors. The factory bundle derives from a genesis config.
 */
import { describe, expect, it } from 'vitest';
import { concatBytes } from '../../firmware-ts/protocol/bytes.js';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import {
  buildFactoryBundle,
  completingTx,
  decodeBundle,
  decodeBundleReplacement,
  decodeChunk,
  decodeChunkRequest,
  decodeGenesisTrust,
  decodeOffer,
  encodeBundle,
  encodeChunk,
  encodeChunkRequest,
  encodeOffer,
  signBundle,
  UPDATE_LIMITS,
} from '../../firmware-ts/protocol/update/index.js';
import { encodeGenesis, type GenesisConfig } from '../../gateway/ledger/genesis.js';
import { CHAIN, factoryBundle, genesis, keys, offer, release } from './fixtures.js';

const digest = new Uint8Array(32).fill(1);

describe('offer', () => {
  it('round-trips, and names the completing transaction', () => {
    const built = offer(release());
    const decoded = decodeOffer(built.bytes);
    expect(encodeOffer(decoded)).toEqual(built.bytes);
    expect(completingTx(decoded)).toEqual(built.approvals.at(-1));
    expect(completingTx({ proposal: built.proposal, approvals: [] })).toEqual(built.proposal);
  });

  it('refuses bad versions, missing and unknown fields, oversized parts', () => {
    const built = offer(release());
    const base = new Map<string, unknown>([
      ['v', 1],
      ['rollout', built.offer.rollout],
      ['manifest', built.offer.manifest],
      ['proposal', built.offer.proposal],
      ['approvals', [...built.offer.approvals]],
      ['block', built.offer.block],
      ['txIndex', built.offer.txIndex],
      ['txPath', [...built.offer.txPath]],
      ['latest', built.offer.latest],
      ['chunk', 16_384],
    ]);
    const variant = (key: string, value: unknown) => {
      const map = new Map(base);
      if (value === undefined) map.delete(key);
      else map.set(key, value);
      return encodeCbor(map);
    };
    const cases: [Uint8Array, string][] = [
      [variant('v', 2), ProtocolErrorCode.BAD_FIELD],
      [variant('rollout', new Uint8Array(31)), ProtocolErrorCode.BAD_FIELD],
      [variant('block', undefined), ProtocolErrorCode.MISSING_FIELD],
      [variant('extra', 1), ProtocolErrorCode.UNKNOWN_FIELD],
      [variant('chunk', 16_385), ProtocolErrorCode.BAD_FIELD],
      [variant('chunk', 0), ProtocolErrorCode.BAD_FIELD],
      [variant('txPath', new Array(17).fill(digest)), ProtocolErrorCode.BAD_FIELD],
      [variant('txPath', [new Uint8Array(33)]), ProtocolErrorCode.BAD_FIELD],
      [
        variant('approvals', [new Uint8Array(UPDATE_LIMITS.maxApprovalBytes + 1)]),
        ProtocolErrorCode.BAD_FIELD,
      ],
      [variant('approvals', new Array(65).fill(new Uint8Array(1))), ProtocolErrorCode.CBOR_TOO_LARGE],
      [variant('manifest', new Uint8Array(UPDATE_LIMITS.maxManifestBytes + 1)), ProtocolErrorCode.BAD_FIELD],
      [concatBytes(built.bytes, Uint8Array.of(0)), ProtocolErrorCode.CBOR_TRAILING_BYTES],
      [encodeCbor([1, 2]), ProtocolErrorCode.BAD_FIELD],
    ];
    for (const [bytes, code] of cases)
      expect(() => decodeOffer(bytes)).toThrow(expect.objectContaining({ code }));
  });

  it('the encoder refuses what the decoder would', () => {
    const built = offer(release());
    expect(() => encodeOffer({ ...built.offer, chunk: 0 })).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.BAD_ARGUMENT, field: 'chunk' }),
    );
  });
});

describe('chunk request and chunk', () => {
  it('round-trip', () => {
    const req = { digest, offset: 32_768, len: 16_384 };
    expect(decodeChunkRequest(encodeChunkRequest(req))).toEqual(req);
    const chunk = { digest, offset: 5, data: new Uint8Array(100).fill(9) };
    expect(decodeChunk(encodeChunk(chunk))).toEqual(chunk);
  });

  it('refuse lengths outside 1..16384 and unknown fields', () => {
    const req = (len: number) =>
      encodeCbor(
        new Map<string, unknown>([
          ['digest', digest],
          ['offset', 0],
          ['len', len],
        ]),
      );
    expect(() => decodeChunkRequest(req(0))).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.BAD_FIELD }),
    );
    expect(() => decodeChunkRequest(req(16_385))).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.BAD_FIELD }),
    );
    const big = encodeCbor(
      new Map<string, unknown>([
        ['digest', digest],
        ['offset', 0],
        ['data', new Uint8Array(16_385)],
      ]),
    );
    expect(() => decodeChunk(big)).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.CBOR_TOO_LARGE }),
    );
    const empty = encodeCbor(
      new Map<string, unknown>([
        ['digest', digest],
        ['offset', 0],
        ['data', new Uint8Array(0)],
      ]),
    );
    expect(() => decodeChunk(empty)).toThrow(expect.objectContaining({ code: ProtocolErrorCode.BAD_FIELD }));
    const extra = encodeCbor(
      new Map<string, unknown>([
        ['digest', digest],
        ['offset', 0],
        ['x', 1],
      ]),
    );
    expect(() => decodeChunkRequest(extra)).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.UNKNOWN_FIELD }),
    );
  });
});

describe('trust bundle', () => {
  it('derives the factory bundle from a genesis config (the gateway’s own encoding)', () => {
    const config: GenesisConfig = {
      ...genesis,
      policies: [
        {
          model: '*',
          policy: { approvals: 2, approvers: 'all', enrolment: 'approval', maxWaveSize: 10, maxFailures: 2 },
        },
      ],
    };
    const fromBytes = buildFactoryBundle(decodeGenesisTrust(encodeGenesis(config)));
    const fromConfig = buildFactoryBundle(config);
    expect(encodeBundle(fromBytes)).toEqual(encodeBundle(fromConfig));
    expect(fromBytes).toMatchObject({ chain: CHAIN, seq: 0, threshold: 2 });
    expect(fromBytes.admins.map((a) => a.id)).toEqual(['alice', 'bob', 'carol']);
    expect(decodeBundle(encodeBundle(fromBytes))).toEqual(fromBytes);
  });

  it('refuses duplicate ids, a key in two roles and an unreachable threshold', () => {
    const b = factoryBundle();
    const bad = [
      { ...b, admins: [...b.admins, { id: 'alice', pub: keys.dave.pub }] },
      { ...b, admins: [...b.admins, { id: 'dave', pub: keys.alice.pub }] },
      { ...b, vendors: [{ id: 'acme', pub: keys.authority.pub, models: ['m'] }] },
      { ...b, threshold: 4 },
    ];
    for (const bundle of bad) {
      expect(() => encodeBundle(bundle)).toThrow(
        expect.objectContaining({ code: ProtocolErrorCode.BAD_ARGUMENT }),
      );
    }
  });

  it('a replacement carries the bundle bytes and one COSE_Sign1 per admin', () => {
    const bundle = { ...factoryBundle(), seq: 3 };
    const decoded = decodeBundleReplacement(signBundle(bundle, [keys.alice.signer, keys.bob.signer], CHAIN));
    expect(decoded.bundle).toEqual(bundle);
    expect(decoded.bundleBytes).toEqual(encodeBundle(bundle));
    expect(decoded.sigs.length).toBe(2);
    expect(() => signBundle(bundle, [], CHAIN)).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.BAD_ARGUMENT }),
    );
  });

  it('a replacement whose bundle is malformed names the field inside it', () => {
    const bytes = encodeCbor(
      new Map<string, unknown>([
        ['bundle', encodeCbor(new Map([['v', 1]]))],
        ['sigs', [new Uint8Array(1)]],
      ]),
    );
    expect(() => decodeBundleReplacement(bytes)).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.MISSING_FIELD, field: 'bundle.chain' }),
    );
  });
});
