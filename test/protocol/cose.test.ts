/**
 * COSE_Sign1 (RFC 9052) in medgate's profile: the cose-wg example byte for byte, round trips on
 * both ed25519 backends, every refusal with its code, and interop with an independent library.
 *
 * Interop library: @ldclabs/cose-ts (MIT, 1.5.0, May 2026), a devDependency. Chosen because it
 * implements COSE_Sign1 with Ed25519 independently of our stack (its own COSE code, @noble/curves
 * for ed25519, cborg 4 for CBOR), is maintained, and installs as pure JavaScript with no install
 * script. Passed over: cose-js 0.9 (no EdDSA); cose-kit and @auth0/cose (cbor-x, whose optional
 * cbor-extract installs prebuilt native binaries). cose-ts can put kid in the protected header,
 * so both directions are checked in medgate's own profile. Its one flaw, extensionless ESM
 * imports, is handled by the loader hook below.
 */
import { register } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from '../../firmware-ts/protocol/bytes.js';
import { CborTag, encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import {
  type CoseSign1,
  chainAad,
  decodeCoseSign1,
  decodeCoseSign1Generic,
  signCoseSign1,
  signCoseSign1Generic,
  signerFromSecretKey,
  sigStructure,
  toBeSigned1,
  verifyCoseSign1,
} from '../../firmware-ts/protocol/cose.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import example from '../vectors/cose-eddsa-sig-01.json' with { type: 'json' };

// cose-ts 1.5.0 publishes ESM whose relative imports lack the `.js` that Node requires
// (`import ... from './header'`); vitest loads node_modules natively, so this hook adds the
// extension, only for relative imports made from inside that package.
register(
  `data:text/javascript,${encodeURIComponent(`
    export async function resolve(specifier, context, next) {
      const inside = context.parentURL?.includes('/node_modules/@ldclabs/cose-ts/dist/');
      if (inside && specifier.startsWith('.') && !specifier.endsWith('.js')) return next(specifier + '.js', context);
      return next(specifier, context);
    }`)}`,
);
// The parts of cose-ts used here. Its .d.ts files have the same extensionless imports, so
// TypeScript cannot see inherited members (Header.setParam); these shapes say what we call.
interface TheirHeader {
  setParam(label: number, value: number | Uint8Array): TheirHeader;
  getInt(label: number): number;
  getBytes(label: number): Uint8Array;
}
interface TheirKey {
  kid: Uint8Array;
}
interface TheirSign1 {
  readonly payload: Uint8Array;
  readonly protected: TheirHeader | null;
  toBytes(key: TheirKey, externalData?: Uint8Array): Uint8Array;
}
const { Header } = (await import('@ldclabs/cose-ts/header')) as unknown as { Header: new () => TheirHeader };
const { Ed25519Key } = (await import('@ldclabs/cose-ts/ed25519')) as unknown as {
  Ed25519Key: { fromPublic(pub: Uint8Array): TheirKey; fromSecret(secret: Uint8Array): TheirKey };
};
const { Sign1Message } = (await import('@ldclabs/cose-ts/sign1')) as unknown as {
  Sign1Message: {
    new (payload: Uint8Array, protectedHeader?: TheirHeader, unprotected?: TheirHeader): TheirSign1;
    fromBytes(key: TheirKey, coseData: Uint8Array, externalData?: Uint8Array): TheirSign1;
    withTag(coseData: Uint8Array): Uint8Array;
  };
};

const BACKENDS: readonly Ed25519Backend[] = [nobleBackend, nodeBackend];
const CHAIN = chainAad('medgate-test-chain');
const OTHER_CHAIN = chainAad('medgate-other-chain');
const SECRET = fromHex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'); // RFC 8032 test 2
const PUBLIC = fromHex('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
const OTHER_SECRET = fromHex('c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7'); // test 3
const OTHER_PUBLIC = fromHex('fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025');
const PAYLOAD = encodeCbor(
  new Map<string, unknown>([
    ['dev', 'pump-7'],
    ['seq', 42],
  ]),
);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isMedgateError(err)) return err.code;
    throw err;
  }
  return undefined;
}

function causeCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    return isMedgateError(cause) ? cause.code : undefined;
  }
  return undefined;
}

/** A tagged COSE_Sign1 from raw parts, for hostile inputs. */
function raw(
  protectedBytes: unknown,
  unprotected: unknown,
  payload: unknown,
  signature: unknown,
): Uint8Array {
  return encodeCbor(new CborTag(18, [protectedBytes, unprotected, payload, signature]));
}

const KID = kidOf(PUBLIC);
const GOOD_PROTECTED = encodeCbor(
  new Map<number, unknown>([
    [1, -8],
    [4, KID],
  ]),
);
const SIG64 = new Uint8Array(64);

describe('cose-wg Examples eddsa-sig-01 (RFC 8032 test-1 key, empty aad)', () => {
  const d = fromHex(example.input.sign0.key.d_hex);
  const x = fromHex(example.input.sign0.key.x_hex);
  const payload = utf8(example.input.plaintext);
  const parts = {
    protectedHeader: new Map<number, unknown>([
      [1, -8],
      [3, 0],
    ]),
    unprotectedHeader: new Map<number, unknown>([[4, utf8(example.input.sign0.unprotected.kid)]]),
    payload,
  };

  for (const backend of BACKENDS) {
    it(`${backend.name}: reproduces ToBeSigned and the output byte for byte`, () => {
      let tbs: Uint8Array | undefined;
      const out = signCoseSign1Generic(
        parts,
        (toBeSigned) => {
          tbs = toBeSigned;
          return backend.sign(toBeSigned, d);
        },
        new Uint8Array(0),
      );
      expect(toHex(tbs!).toUpperCase()).toBe(example.intermediates.ToBeSign_hex);
      expect(toHex(out).toUpperCase()).toBe(example.output.cbor);
    });

    it(`${backend.name}: the example's signature verifies through the generic decoder`, () => {
      const msg = decodeCoseSign1Generic(fromHex(example.output.cbor));
      expect(msg.tagged).toBe(true);
      expect(msg.protectedHeader).toEqual(parts.protectedHeader);
      expect(msg.unprotectedHeader).toEqual(parts.unprotectedHeader);
      expect(msg.payload).toEqual(payload);
      const tbs = toBeSigned1(msg.protectedBytes, new Uint8Array(0), msg.payload);
      expect(backend.verify(msg.signature, tbs, x)).toBe(true);
    });
  }

  it('the strict profile decoder refuses its headers with MG_ERR_COSE_BAD_HEADER', () => {
    expect(codeOf(() => decodeCoseSign1(fromHex(example.output.cbor)))).toBe('MG_ERR_COSE_BAD_HEADER');
  });
});

describe('medgate profile round trip', () => {
  for (const signing of BACKENDS) {
    for (const verifying of BACKENDS) {
      it(`signed with ${signing.name}, verified with ${verifying.name}`, () => {
        const signer = signerFromSecretKey(SECRET, signing);
        expect(signer.kid).toEqual(kidOf(PUBLIC));
        const bytes = signCoseSign1(PAYLOAD, signer, CHAIN);
        expect(bytes[0]).toBe(0xd2); // tag 18
        const msg = decodeCoseSign1(bytes);
        expect(msg.bytes).toEqual(bytes);
        expect(msg.kid).toEqual(KID);
        expect(msg.payload).toEqual(PAYLOAD);
        expect(msg.protectedBytes).toEqual(GOOD_PROTECTED);
        expect(toHex(msg.protectedBytes)).toBe(`a201270450${toHex(KID)}`);
        expect(sigStructure(msg, CHAIN)).toEqual(encodeCbor(['Signature1', GOOD_PROTECTED, CHAIN, PAYLOAD]));
        expect(() => verifyCoseSign1(msg, PUBLIC, CHAIN, verifying)).not.toThrow();
      });
    }
  }

  it('is deterministic: both backends write the same bytes', () => {
    const a = signCoseSign1(PAYLOAD, signerFromSecretKey(SECRET, nobleBackend), CHAIN);
    const b = signCoseSign1(PAYLOAD, signerFromSecretKey(SECRET, nodeBackend), CHAIN);
    expect(a).toEqual(b);
  });

  it('any payload round-trips (fast-check)', () => {
    const signer = signerFromSecretKey(SECRET, nodeBackend);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (payload) => {
        const msg = decodeCoseSign1(signCoseSign1(payload, signer, CHAIN));
        expect(msg.payload).toEqual(payload);
        verifyCoseSign1(msg, PUBLIC, CHAIN, nodeBackend);
      }),
      { numRuns: 100 },
    );
  });

  it('the signer keeps its own copy of the secret key', () => {
    const secret = SECRET.slice();
    const signer = signerFromSecretKey(secret, nodeBackend);
    secret.fill(0);
    verifyCoseSign1(decodeCoseSign1(signCoseSign1(PAYLOAD, signer, CHAIN)), PUBLIC, CHAIN, nodeBackend);
  });
});

describe('verification failures', () => {
  const bytes = signCoseSign1(PAYLOAD, signerFromSecretKey(SECRET, nobleBackend), CHAIN);
  const msg = decodeCoseSign1(bytes);

  for (const backend of BACKENDS) {
    it(`${backend.name}: another chain id (external_aad) → MG_ERR_BAD_SIGNATURE`, () => {
      expect(codeOf(() => verifyCoseSign1(msg, PUBLIC, OTHER_CHAIN, backend))).toBe('MG_ERR_BAD_SIGNATURE');
      expect(codeOf(() => verifyCoseSign1(msg, PUBLIC, new Uint8Array(0), backend))).toBe(
        'MG_ERR_BAD_SIGNATURE',
      );
    });

    it(`${backend.name}: altered payload → MG_ERR_BAD_SIGNATURE`, () => {
      const tampered = bytes.slice();
      const at = tampered.length - 64 - 2 - 3; // a byte inside the payload
      tampered[at] = (tampered[at] as number) ^ 1;
      const altered = decodeCoseSign1(tampered);
      expect(altered.payload).not.toEqual(PAYLOAD);
      expect(codeOf(() => verifyCoseSign1(altered, PUBLIC, CHAIN, backend))).toBe('MG_ERR_BAD_SIGNATURE');
    });

    it(`${backend.name}: altered signature → MG_ERR_BAD_SIGNATURE`, () => {
      for (const at of [0, 31, 32, 63]) {
        const signature = msg.signature.slice();
        signature[at] = (signature[at] as number) ^ 0x40;
        const altered: CoseSign1 = { ...msg, signature };
        expect(codeOf(() => verifyCoseSign1(altered, PUBLIC, CHAIN, backend))).toBe('MG_ERR_BAD_SIGNATURE');
      }
    });

    it(`${backend.name}: altered protected header (kid swapped to another key's) → MG_ERR_BAD_SIGNATURE`, () => {
      const otherKid = kidOf(OTHER_PUBLIC);
      const protectedBytes = encodeCbor(
        new Map<number, unknown>([
          [1, -8],
          [4, otherKid],
        ]),
      );
      const altered = decodeCoseSign1(raw(protectedBytes, new Map(), msg.payload, msg.signature));
      expect(codeOf(() => verifyCoseSign1(altered, OTHER_PUBLIC, CHAIN, backend))).toBe(
        'MG_ERR_BAD_SIGNATURE',
      );
    });

    it(`${backend.name}: verified with a key the kid does not name → MG_ERR_COSE_KID_MISMATCH`, () => {
      expect(codeOf(() => verifyCoseSign1(msg, OTHER_PUBLIC, CHAIN, backend))).toBe(
        'MG_ERR_COSE_KID_MISMATCH',
      );
    });
  }

  it('a message signed by another key under our kid → MG_ERR_BAD_SIGNATURE', () => {
    const forger = { kid: KID, sign: (tbs: Uint8Array) => nodeBackend.sign(tbs, OTHER_SECRET) };
    const forged = decodeCoseSign1(signCoseSign1(PAYLOAD, forger, CHAIN));
    expect(codeOf(() => verifyCoseSign1(forged, PUBLIC, CHAIN, nodeBackend))).toBe('MG_ERR_BAD_SIGNATURE');
  });
});

describe('strict profile decoder refusals', () => {
  const cases: readonly (readonly [string, Uint8Array, string])[] = [
    ['not CBOR', Uint8Array.of(0xff, 0x00), 'MG_ERR_COSE_MALFORMED'],
    ['empty input', new Uint8Array(0), 'MG_ERR_COSE_MALFORMED'],
    ['untagged', encodeCbor([GOOD_PROTECTED, new Map(), PAYLOAD, SIG64]), 'MG_ERR_COSE_MALFORMED'],
    [
      'tag 17 (COSE_Mac0)',
      encodeCbor(new CborTag(17, [GOOD_PROTECTED, new Map(), PAYLOAD, SIG64])),
      'MG_ERR_COSE_MALFORMED',
    ],
    [
      'three items',
      encodeCbor(new CborTag(18, [GOOD_PROTECTED, new Map(), PAYLOAD])),
      'MG_ERR_COSE_MALFORMED',
    ],
    ['not an array', encodeCbor(new CborTag(18, new Map([[1, 2]]))), 'MG_ERR_COSE_MALFORMED'],
    ['protected not bytes', raw(new Map(), new Map(), PAYLOAD, SIG64), 'MG_ERR_COSE_MALFORMED'],
    ['unprotected not a map', raw(GOOD_PROTECTED, [], PAYLOAD, SIG64), 'MG_ERR_COSE_MALFORMED'],
    ['detached payload (nil)', raw(GOOD_PROTECTED, new Map(), null, SIG64), 'MG_ERR_COSE_MALFORMED'],
    ['payload as text', raw(GOOD_PROTECTED, new Map(), 'reading', SIG64), 'MG_ERR_COSE_MALFORMED'],
    [
      'signature of 63 bytes',
      raw(GOOD_PROTECTED, new Map(), PAYLOAD, new Uint8Array(63)),
      'MG_ERR_COSE_MALFORMED',
    ],
    ['signature as text', raw(GOOD_PROTECTED, new Map(), PAYLOAD, 'sig'), 'MG_ERR_COSE_MALFORMED'],
    [
      'trailing byte',
      concatBytes(raw(GOOD_PROTECTED, new Map(), PAYLOAD, SIG64), Uint8Array.of(0)),
      'MG_ERR_COSE_MALFORMED',
    ],
    [
      'protected not CBOR',
      raw(Uint8Array.of(0xa2, 0x01), new Map(), PAYLOAD, SIG64),
      'MG_ERR_COSE_MALFORMED',
    ],
    ['protected an array', raw(encodeCbor([1, -8]), new Map(), PAYLOAD, SIG64), 'MG_ERR_COSE_MALFORMED'],
    [
      'alg ES256 (-7)',
      raw(
        encodeCbor(
          new Map<number, unknown>([
            [1, -7],
            [4, KID],
          ]),
        ),
        new Map(),
        PAYLOAD,
        SIG64,
      ),
      'MG_ERR_COSE_BAD_ALGORITHM',
    ],
    [
      'alg as text "EdDSA"',
      raw(
        encodeCbor(
          new Map<number, unknown>([
            [1, 'EdDSA'],
            [4, KID],
          ]),
        ),
        new Map(),
        PAYLOAD,
        SIG64,
      ),
      'MG_ERR_COSE_BAD_ALGORITHM',
    ],
    [
      'alg missing',
      raw(encodeCbor(new Map([[4, KID]])), new Map(), PAYLOAD, SIG64),
      'MG_ERR_COSE_BAD_ALGORITHM',
    ],
    [
      'empty protected header',
      raw(new Uint8Array(0), new Map(), PAYLOAD, SIG64),
      'MG_ERR_COSE_BAD_ALGORITHM',
    ],
    [
      'alg only in the unprotected header',
      raw(encodeCbor(new Map([[4, KID]])), new Map([[1, -8]]), PAYLOAD, SIG64),
      'MG_ERR_COSE_BAD_ALGORITHM',
    ],
    ['kid missing', raw(encodeCbor(new Map([[1, -8]])), new Map(), PAYLOAD, SIG64), 'MG_ERR_COSE_BAD_HEADER'],
    [
      'kid of 15 bytes',
      raw(
        encodeCbor(
          new Map<number, unknown>([
            [1, -8],
            [4, KID.subarray(1)],
          ]),
        ),
        new Map(),
        PAYLOAD,
        SIG64,
      ),
      'MG_ERR_COSE_BAD_HEADER',
    ],
    [
      'kid as text',
      raw(
        encodeCbor(
          new Map<number, unknown>([
            [1, -8],
            [4, 'device-7'],
          ]),
        ),
        new Map(),
        PAYLOAD,
        SIG64,
      ),
      'MG_ERR_COSE_BAD_HEADER',
    ],
    [
      'extra protected label (content type)',
      raw(
        encodeCbor(
          new Map<number, unknown>([
            [1, -8],
            [3, 0],
            [4, KID],
          ]),
        ),
        new Map(),
        PAYLOAD,
        SIG64,
      ),
      'MG_ERR_COSE_BAD_HEADER',
    ],
    [
      'extra protected text label',
      raw(
        encodeCbor(
          new Map<number | string, unknown>([
            [1, -8],
            [4, KID],
            ['x', 1],
          ]),
        ),
        new Map(),
        PAYLOAD,
        SIG64,
      ),
      'MG_ERR_COSE_BAD_HEADER',
    ],
    [
      'protected keys out of order',
      raw(
        concatBytes(Uint8Array.of(0xa2, 0x04, 0x50), KID, Uint8Array.of(0x01, 0x27)),
        new Map(),
        PAYLOAD,
        SIG64,
      ),
      'MG_ERR_COSE_BAD_HEADER',
    ],
    [
      'kid in the unprotected header too',
      raw(GOOD_PROTECTED, new Map([[4, KID]]), PAYLOAD, SIG64),
      'MG_ERR_COSE_BAD_HEADER',
    ],
  ];

  it.each(cases)('%s → %s', (_name, bytes, code) => {
    expect(codeOf(() => decodeCoseSign1(bytes))).toBe(code);
  });

  it('over maxBytes → MG_ERR_COSE_MALFORMED caused by MG_ERR_CBOR_TOO_LARGE', () => {
    const bytes = signCoseSign1(new Uint8Array(300), signerFromSecretKey(SECRET, nodeBackend), CHAIN);
    expect(decodeCoseSign1(bytes, bytes.length).payload.length).toBe(300);
    expect(codeOf(() => decodeCoseSign1(bytes, bytes.length - 1))).toBe('MG_ERR_COSE_MALFORMED');
    expect(causeCode(() => decodeCoseSign1(bytes, bytes.length - 1))).toBe('MG_ERR_CBOR_TOO_LARGE');
  });

  it('another tag inside → MG_ERR_COSE_MALFORMED caused by MG_ERR_CBOR_UNSUPPORTED', () => {
    expect(causeCode(() => decodeCoseSign1(encodeCbor(new CborTag(17, []))))).toBe('MG_ERR_CBOR_UNSUPPORTED');
  });

  it('junk of any shape is refused with a coded COSE error, never anything else (fast-check)', () => {
    const good = signCoseSign1(PAYLOAD, signerFromSecretKey(SECRET, nodeBackend), CHAIN);
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
        const b = good.slice();
        b[at] = (b[at] as number) ^ x;
        return b;
      }),
      fc.nat(good.length - 1).map((n) => good.slice(0, n)),
    );
    fc.assert(
      fc.property(junk, (bytes) => {
        let code: string | undefined;
        try {
          const msg = decodeCoseSign1(bytes);
          verifyCoseSign1(msg, PUBLIC, CHAIN, nodeBackend);
        } catch (err) {
          expect(isMedgateError(err)).toBe(true);
          code = (err as { code: string }).code;
        }
        // Every junk input differs from the good message, so none may pass.
        expect(code).toMatch(/^MG_ERR_(COSE_|BAD_SIGNATURE)/);
      }),
      { numRuns: 300 },
    );
  });
});

describe('chainAad', () => {
  it('is the UTF-8 of the chain id', () => {
    expect(chainAad('hôpital-7')).toEqual(utf8('hôpital-7'));
  });

  it('refuses empty, non-string and ill-formed ids with MG_ERR_BAD_ARGUMENT', () => {
    expect(codeOf(() => chainAad(''))).toBe('MG_ERR_BAD_ARGUMENT');
    expect(codeOf(() => chainAad('chain\ud800'))).toBe('MG_ERR_BAD_ARGUMENT');
    expect(codeOf(() => chainAad(7 as unknown as string))).toBe('MG_ERR_BAD_ARGUMENT');
  });
});

describe('interop with @ldclabs/cose-ts', () => {
  it('cose-ts verifies what we sign (our profile, aad = chain id), on both backends', () => {
    for (const backend of BACKENDS) {
      const bytes = signCoseSign1(PAYLOAD, signerFromSecretKey(SECRET, backend), CHAIN);
      const theirs = Sign1Message.fromBytes(Ed25519Key.fromPublic(PUBLIC), bytes, CHAIN);
      expect(theirs.payload).toEqual(PAYLOAD);
      expect(theirs.protected?.getInt(1)).toBe(-8);
      expect(theirs.protected?.getBytes(4)).toEqual(KID);
      // And it refuses our message under another chain id.
      expect(() => Sign1Message.fromBytes(Ed25519Key.fromPublic(PUBLIC), bytes, OTHER_CHAIN)).toThrow(
        /signature mismatch/,
      );
    }
  });

  it("we decode strictly and verify what cose-ts signs with our profile's headers", () => {
    const header = new Header().setParam(1, -8).setParam(4, KID);
    const theirs = Sign1Message.withTag(
      new Sign1Message(PAYLOAD, header, new Header()).toBytes(Ed25519Key.fromSecret(SECRET), CHAIN),
    );
    const msg = decodeCoseSign1(theirs);
    expect(msg.payload).toEqual(PAYLOAD);
    for (const backend of BACKENDS) {
      expect(() => verifyCoseSign1(msg, PUBLIC, CHAIN, backend)).not.toThrow();
      expect(codeOf(() => verifyCoseSign1(msg, PUBLIC, OTHER_CHAIN, backend))).toBe('MG_ERR_BAD_SIGNATURE');
    }
    // Same key, same content, deterministic ed25519: byte-identical to ours.
    expect(theirs).toEqual(signCoseSign1(PAYLOAD, signerFromSecretKey(SECRET, nodeBackend), CHAIN));
  });

  it('cose-ts default headers (kid unprotected) go through the generic path only', () => {
    const key = Ed25519Key.fromSecret(SECRET);
    key.kid = KID; // (fromSecret's kid argument would CBOR-encode it first)
    const theirs = Sign1Message.withTag(new Sign1Message(PAYLOAD).toBytes(key, CHAIN));
    expect(codeOf(() => decodeCoseSign1(theirs))).toBe('MG_ERR_COSE_BAD_HEADER');
    const msg = decodeCoseSign1Generic(theirs);
    expect(msg.protectedHeader.get(1)).toBe(-8);
    expect(msg.unprotectedHeader.get(4)).toEqual(KID);
    const tbs = toBeSigned1(msg.protectedBytes, CHAIN, msg.payload);
    for (const backend of BACKENDS) expect(backend.verify(msg.signature, tbs, PUBLIC)).toBe(true);
  });
});
