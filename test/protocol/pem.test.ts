/**
 * ed25519 PEM key files (DESIGN §7): RFC 8410 structures, strict refusals, and interop with
 * the real openssl CLI (skipped, with a message, where openssl is not installed).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toBase64, toHex } from '../../firmware-ts/protocol/bytes.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import {
  decodePrivateKeyPem,
  decodePublicKeyPem,
  encodePrivateKeyPem,
  encodePublicKeyPem,
} from '../../firmware-ts/protocol/pem.js';

// RFC 8410 §10.3: the example key pair, as PEM.
const RFC8410_PRIVATE = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
-----END PRIVATE KEY-----
`;
const RFC8410_PUBLIC = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----
`;
const RFC8410_SEED = 'd4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842';
const RFC8410_PUB = '19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isMedgateError(err)) return err.code;
    throw err;
  }
  return undefined;
}

describe('PEM encoding (RFC 8410, RFC 7468)', () => {
  it('reads the RFC 8410 §10.3 example keys, and the seed derives the public key', () => {
    const seed = decodePrivateKeyPem(RFC8410_PRIVATE);
    expect(toHex(seed)).toBe(RFC8410_SEED);
    expect(toHex(decodePublicKeyPem(RFC8410_PUBLIC))).toBe(RFC8410_PUB);
    expect(toHex(nobleBackend.publicKey(seed))).toBe(RFC8410_PUB);
  });

  it('writes exactly the RFC 8410 example text', () => {
    expect(encodePrivateKeyPem(fromHex(RFC8410_SEED))).toBe(RFC8410_PRIVATE);
    expect(encodePublicKeyPem(fromHex(RFC8410_PUB))).toBe(RFC8410_PUBLIC);
  });

  it('round-trips any key (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        expect(decodePrivateKeyPem(encodePrivateKeyPem(key))).toEqual(key);
        expect(decodePublicKeyPem(encodePublicKeyPem(key))).toEqual(key);
      }),
    );
  });

  it('accepts CRLF line ends and surrounding whitespace', () => {
    const crlf = `\r\n  ${RFC8410_PRIVATE.replace(/\n/g, '\r\n')}\r\n`;
    expect(toHex(decodePrivateKeyPem(crlf))).toBe(RFC8410_SEED);
  });

  it('refuses what is not an ed25519 key file with MG_ERR_BAD_KEY', () => {
    const bad: readonly (readonly [string, string])[] = [
      ['public key where a private key is expected', RFC8410_PUBLIC],
      ['empty text', ''],
      ['no END line', RFC8410_PRIVATE.replace(/-----END.*\n/, '')],
      ['mismatched labels', RFC8410_PRIVATE.replace('END PRIVATE', 'END PUBLIC')],
      ['encrypted key', RFC8410_PRIVATE.replace(/PRIVATE KEY/g, 'ENCRYPTED PRIVATE KEY')],
      ['text before the block', `key:\n${RFC8410_PRIVATE}`],
      ['two blocks', RFC8410_PRIVATE + RFC8410_PRIVATE],
      ['bad base64 character', RFC8410_PRIVATE.replace('MC4C', 'MC*C')],
      ['base64 without padding', RFC8410_PUBLIC.replace('=\n', '\n')],
      ['truncated body', RFC8410_PRIVATE.replace('VhC\n', '\n')],
      // an X25519 key (OID 1.3.101.110): same length, other algorithm
      ['X25519 key', RFC8410_PRIVATE.replace('MC4CAQAwBQYDK2VwBCIE', 'MC4CAQAwBQYDK2VuBCIE')],
      ['huge input', `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(5000)}\n-----END PRIVATE KEY-----\n`],
    ];
    for (const [name, text] of bad)
      expect(
        codeOf(() => decodePrivateKeyPem(text)),
        name,
      ).toBe('MG_ERR_BAD_KEY');
    expect(codeOf(() => decodePublicKeyPem(RFC8410_PRIVATE))).toBe('MG_ERR_BAD_KEY');
  });

  it('refuses the PKCS#8 v2 form with an attached public key (RFC 8410 §10.3, 2nd example)', () => {
    const v2 = `-----BEGIN PRIVATE KEY-----
MHICAQEwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
oB8wHQYKKoZIhvcNAQkJFDEPDA1DdXJkbGUgQ2hhaXJzgSEAGb9ECWmEzf6FQbrB
Z9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PRIVATE KEY-----
`;
    expect(codeOf(() => decodePrivateKeyPem(v2))).toBe('MG_ERR_BAD_KEY');
  });

  it('refuses a DER with one extra byte', () => {
    const der = fromBase64('MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=');
    const longer = new Uint8Array(der.length + 1);
    longer.set(der);
    const text = `-----BEGIN PUBLIC KEY-----\n${toBase64(longer)}\n-----END PUBLIC KEY-----\n`;
    expect(codeOf(() => decodePublicKeyPem(text))).toBe('MG_ERR_BAD_KEY');
  });

  it('refuses wrong argument types with MG_ERR_BAD_ARGUMENT', () => {
    expect(codeOf(() => decodePrivateKeyPem(new Uint8Array(3) as unknown as string))).toBe(
      'MG_ERR_BAD_ARGUMENT',
    );
    expect(codeOf(() => encodePrivateKeyPem(new Uint8Array(31)))).toBe('MG_ERR_BAD_ARGUMENT');
    expect(codeOf(() => encodePublicKeyPem(new Uint8Array(33)))).toBe('MG_ERR_BAD_ARGUMENT');
  });
});

function findOpenssl(): string | undefined {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return 'openssl';
  } catch {
    return undefined;
  }
}

const openssl = findOpenssl();
if (openssl === undefined) console.warn('openssl CLI not found: skipping the PEM interop tests with openssl');

describe.skipIf(openssl === undefined)('interop with the openssl CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medgate-pem-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]): string => execFileSync(openssl!, args, { encoding: 'utf8', stdio: 'pipe' });

  it('a key from `openssl genpkey -algorithm ed25519` parses; its public key equals `openssl pkey -pubout`', () => {
    const keyFile = join(dir, 'genpkey.pem');
    run(['genpkey', '-algorithm', 'ed25519', '-out', keyFile]);
    const pubText = run(['pkey', '-in', keyFile, '-pubout']);
    const seed = decodePrivateKeyPem(readFileSync(keyFile, 'utf8'));
    const pub = decodePublicKeyPem(pubText);
    expect(nobleBackend.publicKey(seed)).toEqual(pub);
    expect(nodeBackend.publicKey(seed)).toEqual(pub);
    // And we write the same text openssl wrote.
    expect(encodePublicKeyPem(pub)).toBe(pubText);
    expect(encodePrivateKeyPem(seed)).toBe(readFileSync(keyFile, 'utf8'));
  });

  it('openssl reads the PEM files we write (`openssl pkey -in`)', () => {
    const seed = fromHex(RFC8410_SEED);
    const keyFile = join(dir, 'ours.pem');
    const pubFile = join(dir, 'ours.pub.pem');
    writeFileSync(keyFile, encodePrivateKeyPem(seed));
    writeFileSync(pubFile, encodePublicKeyPem(fromHex(RFC8410_PUB)));
    expect(run(['pkey', '-in', keyFile, '-pubout'])).toBe(RFC8410_PUBLIC);
    expect(run(['pkey', '-pubin', '-in', pubFile])).toBe(RFC8410_PUBLIC);
    expect(run(['pkey', '-in', keyFile])).toBe(RFC8410_PRIVATE);
  });
});
