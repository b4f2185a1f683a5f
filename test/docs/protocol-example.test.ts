/**
 * docs/protocol.md's worked example cannot drift: the doc must hold exactly the block that the
 * real encoders make today (regenerate with `npx tsx test/docs/protocol-example.ts --write`),
 * and the bytes in it must verify and decode as a device maker would check them.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../firmware-ts/protocol/bytes.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, decodeCoseSign1, sigStructure, verifyCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { decodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { READING_CBOR_LIMITS, TOKEN_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import { decodeReading } from '../../firmware-ts/protocol/decode/reading.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import {
  EXAMPLE_CHAIN,
  EXAMPLE_PUBLIC_KEY,
  EXAMPLE_READING,
  exampleBytes,
  exampleInDoc,
  protocolExample,
} from './protocol-example.js';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/protocol.md'), 'utf8');
const b = exampleBytes();

/** Hex as the doc prints it: lines of 64 digits joined back together. */
function docHex(bytes: Uint8Array): string {
  const hex = toHex(bytes);
  return hex.match(/.{1,64}/g)?.join('\n') ?? '';
}

describe('docs/protocol.md worked example', () => {
  it('holds exactly the generated block (run protocol-example.ts --write after a protocol change)', () => {
    expect(exampleInDoc(doc)).toBe(protocolExample());
  });

  it.each([
    ['kid', b.kid],
    ['reading CBOR', b.reading],
    ['Sig_structure', b.sigStructure],
    ['COSE_Sign1 of the reading', b.readingCose],
    ['connect token COSE_Sign1', b.tokenCose],
  ])('shows the %s hex', (_name, bytes) => {
    expect(doc).toContain(bytes.length <= 32 ? toHex(bytes) : docHex(bytes));
  });

  it('uses the RFC 8032 test 1 key, and its kid is SHA-256(pub)[0..16]', () => {
    expect(toHex(b.pub)).toBe(EXAMPLE_PUBLIC_KEY);
    expect(b.kid).toEqual(sha256(b.pub).slice(0, 16));
    expect(toHex(b.protectedBytes)).toBe(`a201270450${toHex(b.kid)}`);
  });

  it('is a COSE_Sign1 that both backends verify with the chain id as external_aad, and no other', () => {
    const msg = decodeCoseSign1(b.readingCose);
    expect(sigStructure(msg, chainAad(EXAMPLE_CHAIN))).toEqual(b.sigStructure);
    for (const backend of [nodeBackend, nobleBackend]) {
      expect(() => verifyCoseSign1(msg, b.pub, chainAad(EXAMPLE_CHAIN), backend)).not.toThrow();
      expect(() => verifyCoseSign1(msg, b.pub, chainAad('another-chain'), backend)).toThrow(
        expect.objectContaining({ code: 'MG_ERR_BAD_SIGNATURE' }),
      );
    }
    expect(decodeReading(decodeCbor(msg.payload, READING_CBOR_LIMITS))).toEqual(EXAMPLE_READING);
  });

  it('has a connect token that decodes and verifies', () => {
    const msg = decodeCoseSign1(b.tokenCose);
    verifyCoseSign1(msg, b.pub, chainAad(EXAMPLE_CHAIN), nodeBackend);
    const token = decodeConnectToken(decodeCbor(msg.payload, TOKEN_CBOR_LIMITS));
    expect(token.dev).toBe('wearable-001');
    expect(token.nonce).toEqual(fromHex('000102030405060708090a0b0c0d0e0f'));
  });
});
