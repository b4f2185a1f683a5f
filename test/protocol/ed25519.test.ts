/**
 * ed25519 backends (noble, node) against public vectors, against each other, and against the
 * crafted signatures on which the raw libraries disagree (the reason for policy.ts).
 */
import { createPublicKey, verify as opensslVerify } from 'node:crypto';
import * as ed from '@noble/ed25519';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from '../../firmware-ts/protocol/bytes.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import {
  assertValidPublicKey,
  ED25519_L,
  ED25519_P,
  isSmallOrderEncoding,
  signatureEncodingOk,
} from '../../firmware-ts/protocol/ed25519/policy.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { encodePublicKeyDer } from '../../firmware-ts/protocol/pem.js';
import rfc8032 from '../vectors/ed25519-rfc8032.json' with { type: 'json' };
import wycheproof from '../vectors/ed25519-wycheproof.json' with { type: 'json' };

const BACKENDS: readonly Ed25519Backend[] = [nobleBackend, nodeBackend];

function numberToLE(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}

function leToNumber(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(isMedgateError(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true);
}

/** Every 32-byte encoding (canonical or not, both sign bits) of the 8 small-order points. */
function smallOrderEncodings(): Uint8Array[] {
  const ys = [0n, 1n, ED25519_P - 1n];
  const order8 = ed.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
  ys.push(order8.y, ED25519_P - order8.y);
  const out: Uint8Array[] = [];
  for (const y of ys) {
    for (const written of [y, y + ED25519_P]) {
      if (written >= 2n ** 255n) continue;
      for (const sign of [0, 0x80]) {
        const enc = numberToLE(written);
        enc[31] = (enc[31] as number) | sign;
        out.push(enc);
      }
    }
  }
  return out;
}

describe('RFC 8032 §7.1 vectors', () => {
  for (const backend of BACKENDS) {
    it.each(rfc8032.map((v, i) => [i + 1, v] as const))(`${backend.name}: test %i`, (_i, v) => {
      const secretKey = fromHex(v.priv);
      const message = fromHex(v.msg);
      expect(toHex(backend.publicKey(secretKey))).toBe(v.pub);
      expect(toHex(backend.sign(message, secretKey))).toBe(v.sig);
      expect(backend.verify(fromHex(v.sig), message, fromHex(v.pub))).toBe(true);
    });
  }
});

describe('Wycheproof EdDSA verification vectors', () => {
  const cases = wycheproof.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, pk: g.publicKey.pk })));

  it('carries the 150 cases, valid and invalid', () => {
    expect(cases.length).toBe(150);
    expect(cases.filter((c) => c.result === 'valid').length).toBeGreaterThan(10);
    expect(cases.filter((c) => c.result === 'invalid').length).toBeGreaterThan(50);
  });

  for (const backend of BACKENDS) {
    it(`${backend.name}: accepts every valid case and rejects every invalid one`, () => {
      const wrong: number[] = [];
      for (const c of cases) {
        const ok = backend.verify(fromHex(c.sig), fromHex(c.msg), fromHex(c.pk));
        if (ok !== (c.result === 'valid')) wrong.push(c.tcId);
      }
      expect(wrong).toEqual([]);
    });
  }
});

describe('backends agree (fast-check)', () => {
  const seed = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const message = fc.uint8Array({ maxLength: 300 });

  it('same public key, same signature, each verifies the other', () => {
    fc.assert(
      fc.property(seed, message, (sk, msg) => {
        const pub = nobleBackend.publicKey(sk);
        expect(nodeBackend.publicKey(sk)).toEqual(pub);
        const sig = nobleBackend.sign(msg, sk);
        expect(nodeBackend.sign(msg, sk)).toEqual(sig);
        expect(nobleBackend.verify(sig, msg, pub)).toBe(true);
        expect(nodeBackend.verify(sig, msg, pub)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('a flipped bit in signature, message or key: both reject', () => {
    fc.assert(
      fc.property(seed, message, fc.nat(), fc.constantFrom('sig', 'msg', 'pub'), (sk, msg, bit, where) => {
        const pub = nodeBackend.publicKey(sk);
        const sig = nodeBackend.sign(msg, sk);
        const target =
          where === 'sig' ? sig.slice() : where === 'pub' ? pub.slice() : concatBytes(msg, Uint8Array.of(0));
        const index = bit % (target.length * 8);
        target[index >> 3] = (target[index >> 3] as number) ^ (1 << (index & 7));
        const args: [Uint8Array, Uint8Array, Uint8Array] =
          where === 'sig' ? [target, msg, pub] : where === 'pub' ? [sig, msg, target] : [sig, target, pub];
        expect(nobleBackend.verify(...args)).toBe(false);
        expect(nodeBackend.verify(...args)).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it('S + L (malleated signature): both reject', () => {
    fc.assert(
      fc.property(seed, message, (sk, msg) => {
        const pub = nobleBackend.publicKey(sk);
        const sig = nobleBackend.sign(msg, sk);
        const malleated = concatBytes(
          sig.subarray(0, 32),
          numberToLE(leToNumber(sig.subarray(32)) + ED25519_L),
        );
        expect(nobleBackend.verify(malleated, msg, pub)).toBe(false);
        expect(nodeBackend.verify(malleated, msg, pub)).toBe(false);
      }),
      { numRuns: 30 },
    );
  });

  it('random signatures and keys of any length: same answer', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 60, maxLength: 68 }),
        message,
        fc.uint8Array({ minLength: 30, maxLength: 34 }),
        (sig, msg, pub) => {
          expect(nodeBackend.verify(sig, msg, pub)).toBe(nobleBackend.verify(sig, msg, pub));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('small-order keys with any signature: both reject', () => {
    const keys = smallOrderEncodings();
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        message,
        (pub, sig, msg) => {
          expect(nobleBackend.verify(sig, msg, pub)).toBe(false);
          expect(nodeBackend.verify(sig, msg, pub)).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('crafted signatures where the raw libraries disagree', () => {
  const torsion8 = ed.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
  const a = 0x1234567890abcdef1234567890abcdef1234567890abcdefn % ED25519_L;
  const A = ed.Point.BASE.multiply(a);

  function challenge(r: Uint8Array, pub: Uint8Array, msg: Uint8Array): bigint {
    return leToNumber(ed.hash(concatBytes(r, pub, msg))) % ED25519_L;
  }

  /** Raw OpenSSL, without medgate's policy. */
  function rawOpenssl(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
    const key = createPublicKey({ key: Buffer.from(encodePublicKeyDer(pub)), format: 'der', type: 'spki' });
    return opensslVerify(null, msg, key, sig);
  }
  const rawNobleStrict = (sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean =>
    ed.verify(sig, msg, pub, { zip215: false });

  /** A message whose challenge k makes `pred` true (bounded search). */
  function messageWhere(pred: (msg: Uint8Array) => boolean): Uint8Array {
    for (let i = 0; i < 1000; i++) {
      const msg = utf8(`medgate crafted ${i}`);
      if (pred(msg)) return msg;
    }
    throw new Error('no message found');
  }

  it('key with a torsion component, honest-looking signature: noble cofactored accepts, OpenSSL rejects', () => {
    const pub = A.add(torsion8).toBytes();
    const r = 987654321n;
    const R = ed.Point.BASE.multiply(r).toBytes();
    const msg = messageWhere((m) => challenge(R, pub, m) % 8n !== 0n);
    const sig = concatBytes(R, numberToLE((r + challenge(R, pub, msg) * a) % ED25519_L));
    expect(rawNobleStrict(sig, msg, pub)).toBe(true);
    expect(rawOpenssl(sig, msg, pub)).toBe(false);
    expect(nobleBackend.verify(sig, msg, pub)).toBe(false);
    expect(nodeBackend.verify(sig, msg, pub)).toBe(false);
    expectCode(() => assertValidPublicKey(pub), 'MG_ERR_BAD_KEY');
  });

  it('R with a torsion component: noble cofactored accepts, OpenSSL rejects, both backends reject', () => {
    const pub = A.toBytes();
    const r = 123456789n;
    const R = ed.Point.BASE.multiply(r).add(torsion8).toBytes();
    const msg = utf8('mixed-order R');
    const sig = concatBytes(R, numberToLE((r + challenge(R, pub, msg) * a) % ED25519_L));
    expect(rawNobleStrict(sig, msg, pub)).toBe(true);
    expect(rawOpenssl(sig, msg, pub)).toBe(false);
    expect(nobleBackend.verify(sig, msg, pub)).toBe(false);
    expect(nodeBackend.verify(sig, msg, pub)).toBe(false);
  });

  it('small-order key, identity R, S = 0: OpenSSL accepts a signature made without any secret', () => {
    const pub = torsion8.toBytes();
    const R = ed.Point.ZERO.toBytes();
    const msg = messageWhere((m) => challenge(R, pub, m) % 8n === 0n);
    const sig = concatBytes(R, new Uint8Array(32));
    expect(rawOpenssl(sig, msg, pub)).toBe(true);
    expect(rawNobleStrict(sig, msg, pub)).toBe(false);
    expect(nobleBackend.verify(sig, msg, pub)).toBe(false);
    expect(nodeBackend.verify(sig, msg, pub)).toBe(false);
  });

  it('small-order key, forgery with an ordinary-looking R: OpenSSL accepts, both backends reject', () => {
    // Pick S, guess j, set R = S·B - j·T; it verifies when k = H(R || T || M) ≡ j (mod 8).
    const pub = torsion8.toBytes();
    const S = 424242n;
    let forged: { sig: Uint8Array; msg: Uint8Array } | undefined;
    for (let i = 0; i < 1000 && forged === undefined; i++) {
      const j = BigInt(i % 8);
      const R = ed.Point.BASE.multiply(S).subtract(torsion8.multiply(j, false)).toBytes();
      const msg = utf8(`forged ${i}`);
      if (challenge(R, pub, msg) % 8n === j) forged = { sig: concatBytes(R, numberToLE(S)), msg };
    }
    expect(forged).toBeDefined();
    const { sig, msg } = forged!;
    expect(rawOpenssl(sig, msg, pub)).toBe(true);
    expect(nobleBackend.verify(sig, msg, pub)).toBe(false);
    expect(nodeBackend.verify(sig, msg, pub)).toBe(false);
  });

  it('torsion added to A and R at random (fast-check): both backends give the same answer', () => {
    let accepted = 0;
    // Half the runs leave A (or R) torsion-free, so that accepting runs occur too.
    const torsionMultiple = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 7 }));
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: ED25519_L - 1n }),
        fc.bigInt({ min: 1n, max: ED25519_L - 1n }),
        torsionMultiple,
        torsionMultiple,
        fc.uint8Array({ maxLength: 40 }),
        (secret, r, tA, tR, msg) => {
          const pub = ed.Point.BASE.multiply(secret)
            .add(torsion8.multiply(BigInt(tA), false))
            .toBytes();
          const R = ed.Point.BASE.multiply(r)
            .add(torsion8.multiply(BigInt(tR), false))
            .toBytes();
          const sig = concatBytes(R, numberToLE((r + challenge(R, pub, msg) * secret) % ED25519_L));
          const answer = nobleBackend.verify(sig, msg, pub);
          expect(nodeBackend.verify(sig, msg, pub)).toBe(answer);
          if (answer) accepted++;
        },
      ),
      { numRuns: 80 },
    );
    expect(accepted).toBeGreaterThan(0); // runs with tA = tR = 0 at least
  });

  it('non-canonical encoding (y + p) of a small-order key: OpenSSL accepts, both backends reject', () => {
    const pub = numberToLE(ED25519_P); // y = 0 written as p: a point of order 4
    const R = ed.Point.ZERO.toBytes();
    const msg = messageWhere((m) => challenge(R, pub, m) % 4n === 0n);
    const sig = concatBytes(R, new Uint8Array(32));
    expect(rawOpenssl(sig, msg, pub)).toBe(true);
    expect(nobleBackend.verify(sig, msg, pub)).toBe(false);
    expect(nodeBackend.verify(sig, msg, pub)).toBe(false);
  });

  it('a valid signature whose R is a small-order point is refused by both (libsodium policy)', () => {
    // S·B = k·A with R = identity: only the key holder can make it; RFC 8032 alone would accept.
    const pub = A.toBytes();
    const R = ed.Point.ZERO.toBytes();
    const msg = utf8('identity R');
    const sig = concatBytes(R, numberToLE((challenge(R, pub, msg) * a) % ED25519_L));
    expect(rawOpenssl(sig, msg, pub)).toBe(true);
    expect(nobleBackend.verify(sig, msg, pub)).toBe(false);
    expect(nodeBackend.verify(sig, msg, pub)).toBe(false);
  });
});

describe('policy byte checks against a bigint reference written from RFC 8032', () => {
  const order8Y = ed.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05').y;
  const smallY = new Set([0n, 1n, ED25519_P - 1n, order8Y, ED25519_P - order8Y]);
  const yOf = (enc: Uint8Array) => leToNumber(enc) & (2n ** 255n - 1n);
  const refSmallOrder = (enc: Uint8Array) => smallY.has(yOf(enc) % ED25519_P);
  const refSignatureOk = (sig: Uint8Array) => {
    const r = sig.subarray(0, 32);
    return leToNumber(sig.subarray(32)) < ED25519_L && yOf(r) < ED25519_P && !refSmallOrder(r);
  };
  // Random encodings rarely hit a boundary, so half are built next to one: L, p, y + p, 2^255.
  const near = [ED25519_L, ED25519_P, ED25519_P + 1n, 2n ** 255n - 1n, 2n ** 256n - 1n, 1n, order8Y, 0n];
  const encoding = fc.oneof(
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc
      .tuple(fc.constantFrom(...near), fc.integer({ min: -2, max: 2 }), fc.boolean())
      .map(([base, delta, sign]) => {
        const n = base + BigInt(delta);
        const enc = numberToLE(n < 0n || n >= 2n ** 256n ? base : n);
        if (sign) enc[31] = (enc[31] as number) ^ 0x80;
        return enc;
      }),
  );

  it('isSmallOrderEncoding equals y mod p in the small-order set', () => {
    fc.assert(
      fc.property(encoding, (enc) => {
        expect(isSmallOrderEncoding(enc)).toBe(refSmallOrder(enc));
      }),
      { numRuns: 2000 },
    );
  });

  it('signatureEncodingOk equals S < L, y(R) < p, R not small order', () => {
    fc.assert(
      fc.property(encoding, encoding, (r, s) => {
        const sig = concatBytes(r, s);
        expect(signatureEncodingOk(sig)).toBe(refSignatureOk(sig));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('assertValidPublicKey (enrolment)', () => {
  it('accepts real keys and returns them', () => {
    for (const v of rfc8032) expect(assertValidPublicKey(fromHex(v.pub))).toEqual(fromHex(v.pub));
  });

  it('refuses the 8 small-order points in all 14 encodings with MG_ERR_SMALL_ORDER_KEY', () => {
    const encodings = smallOrderEncodings();
    expect(encodings.length).toBe(14); // 8 canonical, 2 with y + p (y = 0, 1), both sign bits
    const distinctPoints = new Set<string>();
    for (const enc of encodings) {
      expectCode(() => assertValidPublicKey(enc), 'MG_ERR_SMALL_ORDER_KEY');
      const point = ed.Point.fromBytes(enc, true); // lenient decoding, to check our list
      expect(point.isSmallOrder()).toBe(true);
      distinctPoints.add(point.toHex());
    }
    expect(distinctPoints.size).toBe(8);
  });

  it('refuses bad lengths, non-canonical encodings and points off the curve with MG_ERR_BAD_KEY', () => {
    expectCode(() => assertValidPublicKey(new Uint8Array(31)), 'MG_ERR_BAD_KEY');
    expectCode(() => assertValidPublicKey(new Uint8Array(33)), 'MG_ERR_BAD_KEY');
    // y = 2^255 - 1 >= p (non-canonical; reduces to y = 18).
    expectCode(() => assertValidPublicKey(numberToLE(2n ** 255n - 1n)), 'MG_ERR_BAD_KEY');
    // y = 2 is not the y of any curve point.
    expect(() => ed.Point.fromBytes(numberToLE(2n))).toThrow();
    expectCode(() => assertValidPublicKey(numberToLE(2n)), 'MG_ERR_BAD_KEY');
  });

  it('refuses a non-Uint8Array with MG_ERR_BAD_ARGUMENT', () => {
    expectCode(() => assertValidPublicKey('00' as unknown as Uint8Array), 'MG_ERR_BAD_ARGUMENT');
  });
});

describe('backend argument handling', () => {
  for (const backend of BACKENDS) {
    it(`${backend.name}: verify is false for wrong lengths, throws BAD_ARGUMENT only for non-bytes`, () => {
      const sk = fromHex(rfc8032[0]!.priv);
      const pub = backend.publicKey(sk);
      const sig = backend.sign(new Uint8Array(0), sk);
      expect(backend.verify(sig.subarray(0, 63), new Uint8Array(0), pub)).toBe(false);
      expect(backend.verify(concatBytes(sig, Uint8Array.of(0)), new Uint8Array(0), pub)).toBe(false);
      expect(backend.verify(sig, new Uint8Array(0), pub.subarray(0, 31))).toBe(false);
      expectCode(
        () => backend.verify([...sig] as unknown as Uint8Array, new Uint8Array(0), pub),
        'MG_ERR_BAD_ARGUMENT',
      );
      expectCode(() => backend.verify(sig, 'x' as unknown as Uint8Array, pub), 'MG_ERR_BAD_ARGUMENT');
      expectCode(
        () => backend.verify(sig, new Uint8Array(0), null as unknown as Uint8Array),
        'MG_ERR_BAD_ARGUMENT',
      );
      expectCode(() => backend.sign(new Uint8Array(0), new Uint8Array(31)), 'MG_ERR_BAD_ARGUMENT');
      expectCode(() => backend.publicKey(new Uint8Array(64)), 'MG_ERR_BAD_ARGUMENT');
    });

    it(`${backend.name}: generateSecretKey gives distinct 32-byte keys that sign`, () => {
      const a = backend.generateSecretKey();
      const b = backend.generateSecretKey();
      expect(a.length).toBe(32);
      expect(a).not.toEqual(b);
      const msg = utf8('hello');
      expect(nobleBackend.verify(backend.sign(msg, a), msg, backend.publicKey(a))).toBe(true);
    });
  }

  it('node: a secret key array rewritten in place signs with its new contents', () => {
    const sk = fromHex(rfc8032[0]!.priv);
    const msg = utf8('m');
    expect(toHex(nodeBackend.sign(new Uint8Array(0), sk))).toBe(rfc8032[0]!.sig);
    sk.set(fromHex(rfc8032[1]!.priv));
    expect(toHex(nodeBackend.publicKey(sk))).toBe(rfc8032[1]!.pub);
    expect(nodeBackend.sign(msg, sk)).toEqual(nobleBackend.sign(msg, fromHex(rfc8032[1]!.priv)));
  });
});

describe('kid (DESIGN §3)', () => {
  it('is the first 16 bytes of SHA-256 of the public key', () => {
    const pub = fromHex(rfc8032[0]!.pub);
    const kid = kidOf(pub);
    expect(kid.length).toBe(16);
    expect(kid).toEqual(sha256(pub).subarray(0, 16));
    expect(kidOf(fromHex(rfc8032[1]!.pub))).not.toEqual(kid);
  });

  it('matches SHA-256 from node:crypto for an RFC 8032 key (independent check)', async () => {
    const { createHash } = await import('node:crypto');
    const pub = fromHex(rfc8032[2]!.pub);
    expect(toHex(kidOf(pub))).toBe(createHash('sha256').update(pub).digest('hex').slice(0, 32));
  });

  it('refuses keys that are not 32 bytes', () => {
    expectCode(() => kidOf(new Uint8Array(31)), 'MG_ERR_BAD_ARGUMENT');
  });
});
