/**
 * The telemetry pipeline's direct writers must produce exactly what the protocol's generic
 * encoders produce: `verifiedReadingJson` (gateway/telemetry/verified.ts) the text of
 * `verifiedReadingText(buildVerifiedReading(...))`, character for character, for every reading
 * the pipeline can accept (every catalogue code and unit, alerts, fw, late, gap) and for chain
 * ids that JSON must escape; `acceptedEvent` (refusals.ts) the bytes of `encodeCbor` of the
 * same map; `toBeSigned1Fast` (gateway/verify/sig-structure.ts) the bytes of `toBeSigned1`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCbor, encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, decodeCoseSign1, signCoseSign1, toBeSigned1 } from '../../firmware-ts/protocol/cose.js';
import { decodeProfileSign1 } from '../../firmware-ts/protocol/cose-profile.js';
import {
  MAX_TIME_MS,
  READING_CBOR_LIMITS,
  READING_LIMITS,
} from '../../firmware-ts/protocol/decode/limits.js';
import {
  decodeReading,
  encodeReading,
  type Observation,
  type Reading,
} from '../../firmware-ts/protocol/decode/reading.js';
import { decodeReadingFast } from '../../firmware-ts/protocol/decode/reading-fast.js';
import { DEVICE_ID_PATTERN } from '../../firmware-ts/protocol/ids.js';
import { leafHash } from '../../firmware-ts/protocol/merkle/index.js';
import { parseVerifiedReading, verifiedReadingText } from '../../firmware-ts/protocol/verified-reading.js';
import { VITAL_SIGNS } from '../../firmware-ts/protocol/vitals.js';
import { isoTime } from '../../gateway/telemetry/iso-time.js';
import { acceptedEvent, TelemetryEventType } from '../../gateway/telemetry/refusals.js';
import {
  buildVerifiedReading,
  type VerifiedInput,
  verifiedReadingJson,
} from '../../gateway/telemetry/verified.js';
import { toBeSigned1Fast } from '../../gateway/verify/sig-structure.js';
import { CHAIN, keyFor } from '../ledger/ledger-harness.js';
import { propertyRuns } from '../support/runs.js';

const T = 1_700_000_000_000;

/** Every (code, unit) of the catalogue with its plausible range. */
const UNITS = Object.values(VITAL_SIGNS).flatMap((vital) =>
  Object.entries(vital.units).map(([u, spec]) => ({ code: vital.code, u, range: spec.plausible })),
);

const observation: fc.Arbitrary<Observation> = fc
  .record({
    pick: fc.nat(UNITS.length - 1),
    frac: fc.double({ min: 0, max: 1, noNaN: true }),
    int: fc.boolean(),
  })
  .map(({ pick, frac, int }) => {
    const { code, u, range } = UNITS[pick]!;
    const raw = range[0] + frac * (range[1] - range[0]);
    return { code, u, v: int ? Math.round(raw) : raw };
  });

function input(reading: Reading, extra: Partial<VerifiedInput> = {}, chain = CHAIN): VerifiedInput {
  const bytes = signCoseSign1(encodeReading(reading), keyFor('dev-1').signer, chainAad(chain));
  return {
    chain,
    msg: decodeCoseSign1(bytes),
    reading,
    leaf: { index: 41, leafHash: leafHash(bytes) },
    received: T + 180,
    late: false,
    ...extra,
  };
}

const same = (i: VerifiedInput) =>
  expect(verifiedReadingJson(i)).toBe(verifiedReadingText(buildVerifiedReading(i)));

describe('verifiedReadingJson', () => {
  it('writes the protocol text for a plain reading, and it parses back', () => {
    const i = input({ dev: 'dev-1', seq: 1, t: T, obs: [{ code: '8867-4', v: 72, u: '/min' }] });
    same(i);
    const parsed = parseVerifiedReading(verifiedReadingJson(i));
    expect(parsed.seq).toBe(1);
    expect(parsed.cose).toEqual(i.msg.bytes);
  });

  it('writes alerts, fw, late and gap as the protocol does', () => {
    const reading: Reading = {
      dev: 'dev-1',
      seq: 42,
      t: T,
      obs: [
        { code: '2708-6', v: 89, u: '%' },
        { code: '8310-5', v: 36.6, u: 'Cel' },
        { code: '8867-4', v: 140, u: '/min' },
      ],
      fw: 7,
    };
    const i = input(reading, { late: true, gap: 2 });
    same(i);
    expect(JSON.parse(verifiedReadingJson(i)).alerts).toHaveLength(2);
    same(input(reading, { gap: 0 }));
  });

  it('escapes chain ids as JSON.stringify does', () => {
    for (const chain of ['a"b\\c', 'ünïcödé-☃', 'tab\there', 'x\u2028y']) {
      same(input({ dev: 'dev-1', seq: 3, t: T, obs: [{ code: '8867-4', v: 60, u: '/min' }] }, {}, chain));
    }
  });

  it('agrees with the protocol text on random readings (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.record({
          dev: fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/).filter((d) => DEVICE_ID_PATTERN.test(d)),
          seq: fc.nat(READING_LIMITS.maxSeq),
          t: fc.integer({ min: 0, max: MAX_TIME_MS }),
          obs: fc.array(observation, { minLength: 1, maxLength: 16 }),
          fw: fc.option(fc.nat(), { nil: undefined }),
          late: fc.boolean(),
          gap: fc.option(fc.nat(), { nil: undefined }),
          received: fc.nat(),
          index: fc.nat(),
        }),
        (r) => {
          const reading: Reading = {
            dev: r.dev,
            seq: r.seq,
            t: r.t,
            obs: r.obs,
            ...(r.fw === undefined ? {} : { fw: r.fw }),
          };
          const i = input(reading, { late: r.late, gap: r.gap, received: r.received });
          same({ ...i, leaf: { ...i.leaf, index: r.index } });
        },
      ),
      { numRuns: propertyRuns(100) },
    );
  });
});

/** Integers around every CBOR length boundary (RFC 8949 §3.1), and random ones. */
const uint = fc.oneof(
  fc.constantFrom(0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
  fc.nat(),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);

describe('acceptedEvent', () => {
  it('writes the bytes encodeCbor writes for the same map (fast-check)', () => {
    fc.assert(
      fc.property(uint, uint, fc.boolean(), fc.option(uint, { nil: undefined }), (seq, leaf, late, gap) => {
        const expected = encodeCbor({
          type: TelemetryEventType.accepted,
          seq,
          leaf,
          ...(late ? { late: true } : {}),
          ...(gap === undefined ? {} : { gap }),
        });
        expect(acceptedEvent({ seq, leaf, late, ...(gap === undefined ? {} : { gap }) })).toEqual(expected);
      }),
      { numRuns: propertyRuns(500) },
    );
  });

  it('refuses what is not a CBOR unsigned integer', () => {
    expect(() => acceptedEvent({ seq: -1, leaf: 0 })).toThrow(RangeError);
    expect(() => acceptedEvent({ seq: 1.5, leaf: 0 })).toThrow(RangeError);
  });
});

describe('toBeSigned1Fast', () => {
  it('writes the bytes toBeSigned1 writes (fast-check)', () => {
    const bytes = (max: number) => fc.uint8Array({ maxLength: max });
    fc.assert(
      fc.property(
        bytes(30),
        bytes(300),
        fc.oneof({ weight: 9, arbitrary: bytes(40) }, { weight: 1, arbitrary: bytes(70_000) }),
        (prot, aad, payload) => {
          expect(toBeSigned1Fast(prot, aad, payload)).toEqual(toBeSigned1(prot, aad, payload));
        },
      ),
      { numRuns: propertyRuns(200) },
    );
  });
});

describe('decodeProfileSign1', () => {
  const reading = (seq: number, obs: Observation[]) =>
    signCoseSign1(encodeReading({ dev: 'dev-1', seq, t: T, obs }), keyFor('dev-1').signer, chainAad(CHAIN));

  it('decodes what the device library signs, as the strict decoder does', () => {
    for (const obsCount of [1, 2, 16]) {
      const bytes = reading(
        7,
        Array.from({ length: obsCount }, () => ({ code: '8867-4', v: 72.5, u: '/min' })),
      );
      const fast = decodeProfileSign1(bytes);
      expect(fast).toBeDefined();
      expect(fast).toEqual(decodeCoseSign1(bytes));
    }
  });

  it('returns nothing the strict decoder would refuse or read otherwise (fast-check, mutations)', () => {
    const base = [
      reading(1, [{ code: '8867-4', v: 60, u: '/min' }]),
      reading(
        2,
        Array.from({ length: 16 }, () => ({ code: '8310-5', v: 36.6, u: 'Cel' })),
      ),
    ];
    // Payload lengths at the bstr head boundaries: 23/24 and 255/256 bytes.
    const framed = (payloadLength: number, head: number[]) =>
      Uint8Array.from([
        0xd2,
        0x84,
        0x55,
        ...base[0]!.subarray(3, 24),
        0xa0,
        ...head,
        ...new Uint8Array(payloadLength),
        0x58,
        0x40,
        ...new Uint8Array(64),
      ]);
    const edges = [
      framed(23, [0x57]),
      framed(23, [0x58, 23]),
      framed(24, [0x58, 24]),
      framed(255, [0x58, 255]),
      framed(255, [0x59, 0, 255]),
      framed(256, [0x59, 1, 0]),
    ];
    const mutation = fc.record({
      message: fc.nat(base.length + edges.length - 1),
      at: fc.nat(),
      kind: fc.constantFrom('flip', 'set', 'cut', 'insert', 'none'),
      value: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(mutation, ({ message, at, kind, value }) => {
        const original = [...base, ...edges][message]!;
        const i = at % original.length;
        let bytes = Uint8Array.from(original);
        if (kind === 'flip') bytes[i]! ^= 1 << (value & 7);
        if (kind === 'set') bytes[i] = value;
        if (kind === 'cut') bytes = bytes.subarray(0, i);
        if (kind === 'insert')
          bytes = Uint8Array.from([...bytes.subarray(0, i), value, ...bytes.subarray(i)]);
        const fast = decodeProfileSign1(bytes);
        if (fast === undefined) return;
        expect(fast).toEqual(decodeCoseSign1(bytes));
      }),
      { numRuns: propertyRuns(1000) },
    );
    // The shortest-form rule: 23 bytes under a one-byte length head is not accepted here.
    expect(decodeProfileSign1(edges[1]!)).toBeUndefined();
    expect(decodeProfileSign1(edges[4]!)).toBeUndefined();
    expect(decodeProfileSign1(edges[5]!)).toEqual(decodeCoseSign1(edges[5]!));
  });
});

describe('isoTime', () => {
  it('writes what Date#toISOString writes (fast-check, calendar edges)', () => {
    const edges = [
      0,
      1,
      951_782_400_000, // 2000-02-29
      951_868_799_999,
      4_107_542_400_000, // 2100-03-01 (2100 is not a leap year)
      4_107_455_999_999,
      MAX_TIME_MS,
      253_402_300_799_999,
      253_402_300_800_000, // year 10000: toISOString's own format
      -1,
    ];
    for (const t of edges) expect(isoTime(t)).toBe(new Date(t).toISOString());
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (t) => {
        expect(isoTime(t)).toBe(new Date(t).toISOString());
      }),
      { numRuns: propertyRuns(2000) },
    );
  });
});

describe('decodeReadingFast', () => {
  const strict = (bytes: Uint8Array) => {
    try {
      return decodeReading(decodeCbor(bytes, READING_CBOR_LIMITS));
    } catch {
      return undefined;
    }
  };
  /** A reading's payload with `v` of the first observation written as `vHead`. */
  const withValue = (vHead: number[]) => {
    const bytes = encodeReading({ dev: 'dev-1', seq: 5, t: T, obs: [{ code: '8867-4', v: 0, u: '/min' }] });
    let at = 0;
    while (!(bytes[at] === 0x61 && bytes[at + 1] === 0x76)) at++;
    at += 2; // after the "v" key
    return Uint8Array.from([...bytes.subarray(0, at), ...vHead, ...bytes.subarray(at + 1)]);
  };

  it('decodes what encodeReading writes, as the strict decoder does', () => {
    for (const r of [
      { dev: 'dev-1', seq: 0, t: 0, obs: [{ code: '8867-4', v: 72, u: '/min' }] },
      {
        dev: 'a'.repeat(64),
        seq: Number.MAX_SAFE_INTEGER,
        t: MAX_TIME_MS,
        obs: [{ code: '8310-5', v: -0.5, u: 'Cel' }],
        fw: 0xffff_ffff,
      },
      {
        dev: 'x.y_z-1',
        seq: 300,
        t: T,
        obs: Array.from({ length: 16 }, (_, i) => ({ code: '2708-6', v: i * 1.1 - 3, u: '%' })),
      },
    ] as Reading[]) {
      const bytes = encodeReading(r);
      expect(decodeReadingFast(bytes)).toBeDefined();
      expect(decodeReadingFast(bytes)).toEqual(strict(bytes));
      expect(Object.isFrozen(decodeReadingFast(bytes)!.obs)).toBe(true);
    }
  });

  it('reads every number form as the strict decoder does, and leaves the rest to it', () => {
    // [head, decoded by both]: the fast path reads every form the strict decoder reads here.
    const heads: [number[], boolean][] = [
      [[0x18, 24], true],
      [[0x38, 99], true], // -100
      [[0x20], true], // -1
      [[0xf9, 0x3c, 0x00], true], // 1.0 as a half
      [[0xf9, 0x80, 0x00], true], // -0
      [[0xf9, 0x00, 0x01], true], // smallest half subnormal
      [[0xfa, 0x41, 0x20, 0x00, 0x00], true], // 10.0 as a single
      [[0xfb, 0x40, 0x24, 0, 0, 0, 0, 0, 0], true], // 10.0 as a double
      [[0x3b, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe], true], // -(2^53 - 1)
      [[0xf9, 0x7c, 0x00], false], // Infinity
      [[0xfb, 0x43, 0x40, 0, 0, 0, 0, 0, 0], false], // 2^53
      [[0x18, 3], false], // not the shortest form
      [[0x1b, 0, 0x20, 0, 0, 0, 0, 0, 0], false], // 2^53
      [[0xf5], false], // true
    ];
    for (const [head, valid] of heads) {
      const bytes = withValue(head);
      expect(strict(bytes) !== undefined, head.join(',')).toBe(valid);
      expect(decodeReadingFast(bytes), head.join(',')).toEqual(strict(bytes));
    }
    expect(decodeReadingFast(withValue([0xf9, 0x3c, 0x00]))?.obs[0]?.v).toBe(1);
    expect(Object.is(decodeReadingFast(withValue([0xf9, 0x80, 0x00]))?.obs[0]?.v, -0)).toBe(true);
  });

  it('returns nothing the strict decoder would refuse or read otherwise (fast-check, mutations)', () => {
    const base = [
      encodeReading({ dev: 'dev-1', seq: 1, t: T, obs: [{ code: '8867-4', v: 60, u: '/min' }] }),
      encodeReading({
        dev: 'd',
        seq: 70_000,
        t: T,
        obs: [
          { code: '8310-5', v: 36.6, u: 'Cel' },
          { code: '2708-6', v: 97, u: '%' },
        ],
        fw: 3,
      }),
      encodeReading({ dev: 'dev-2', seq: 2 ** 40, t: 1, obs: [{ code: '8480-6', v: -1e-7, u: 'mm[Hg]' }] }),
    ];
    const mutation = fc.record({
      message: fc.nat(base.length - 1),
      at: fc.nat(),
      kind: fc.constantFrom('flip', 'set', 'cut', 'insert'),
      value: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(mutation, ({ message, at, kind, value }) => {
        const original = base[message]!;
        const i = at % original.length;
        let bytes = Uint8Array.from(original);
        if (kind === 'flip') bytes[i]! ^= 1 << (value & 7);
        if (kind === 'set') bytes[i] = value;
        if (kind === 'cut') bytes = bytes.subarray(0, i);
        if (kind === 'insert')
          bytes = Uint8Array.from([...bytes.subarray(0, i), value, ...bytes.subarray(i)]);
        const fast = decodeReadingFast(bytes);
        if (fast !== undefined) expect(fast).toEqual(strict(bytes));
      }),
      { numRuns: propertyRuns(2000) },
    );
  });
});
