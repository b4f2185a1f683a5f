/**
 * The console's checks and helpers that run in the browser, here under Node: reading, receipt
 * and block verification (verify.ts), the binary MQTT password (mqtt-password.ts), approvals
 * signed in the page (tx.ts) and formatting.
 */
import { describe, expect, it } from 'vitest';
import { type BlockHeader, signBlock, txRootOf } from '../../firmware-ts/protocol/block.js';
import { toBase64, toHex, utf8 } from '../../firmware-ts/protocol/bytes.js';
import {
  chainAad,
  signCoseSign1,
  signerFromSecretKey,
  verifyCoseSign1,
} from '../../firmware-ts/protocol/cose.js';
import { encodeReading, type Observation } from '../../firmware-ts/protocol/decode/reading.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { leafHash } from '../../firmware-ts/protocol/merkle/index.js';
import { encodeReceipt } from '../../firmware-ts/protocol/receipt.js';
import { decodeTx } from '../../firmware-ts/protocol/tx/sign.js';
import {
  encodeVerifiedReading,
  type VerifiedReadingJson,
} from '../../firmware-ts/protocol/verified-reading.js';
import { ago, plainJson, shortHex } from '../../gateway/console/format.js';
import { passwordPlaceholder, patchPassword } from '../../gateway/console/mqtt-password.js';
import { approveCommand, approveDeviceTx, approveProposalTx, nextNonce } from '../../gateway/console/tx.js';
import { checkBlock, checkReading, checkReceipt } from '../../gateway/console/verify.js';

const CHAIN = 'console-test';

function keyPair() {
  const secret = nobleBackend.generateSecretKey();
  const pub = nobleBackend.publicKey(secret);
  return { pub, kid: toHex(kidOf(pub)), signer: signerFromSecretKey(secret, nobleBackend) };
}

const device = keyPair();
const authority = keyPair();
const keys = [{ kid: device.kid, pub: toHex(device.pub) }];

function verifiedJson(seq: number, obs: readonly Observation[], signer = device): VerifiedReadingJson {
  const t = 1_700_000_000_000 + seq;
  const cose = signCoseSign1(encodeReading({ dev: 'dev-1', seq, t, obs }), signer.signer, chainAad(CHAIN));
  return encodeVerifiedReading({
    chain: CHAIN,
    dev: 'dev-1',
    seq,
    t,
    received: t + 5,
    obs: obs.map((o) => ({ ...o, display: 'x' })),
    leafIndex: seq,
    leafHash: leafHash(cose),
    kid: kidOf(signer.pub),
    cose,
  });
}

describe('checkReading', () => {
  const good = verifiedJson(1, [{ code: '2708-6', v: 88, u: '%' }]);

  it('verifies a genuine reading from text, bytes or parsed JSON, and recomputes its alerts', () => {
    for (const input of [JSON.stringify(good), utf8(JSON.stringify(good)), good]) {
      const check = checkReading(input, keys, CHAIN);
      expect(check.status).toBe('verified');
      if (check.status !== 'verified') return;
      expect(check.signed.obs).toEqual([{ code: '2708-6', v: 88, u: '%' }]);
      // The JSON carries no alerts; the page finds SpO2 88 % in NEWS2's red band itself.
      expect(check.alerts.map((a) => [a.code, a.direction, a.source])).toEqual([['2708-6', 'low', 'NEWS2']]);
      expect(check.retiredKey).toBe(false);
    }
  });

  it.each([
    [
      'a value raised after signing',
      { ...good, obs: [{ ...good.obs[0]!, v: 97 }] },
      'MG_ERR_VERIFIED_MISMATCH',
    ],
    ['another seq than signed', { ...good, seq: 2 }, 'MG_ERR_VERIFIED_MISMATCH'],
    ['another chain', { ...good, chain: 'other-chain' }, 'MG_ERR_CHAIN_MISMATCH'],
    ['an unknown kid', { ...good, kid: '00'.repeat(16) }, 'MG_ERR_UNKNOWN_KID'],
    ['an extra field', { ...good, extra: 1 }, 'MG_ERR_UNKNOWN_FIELD'],
  ])('fails %s', (_name, json, code) => {
    const check = checkReading(json, keys, CHAIN);
    expect(check.status).toBe('failed');
    if (check.status === 'failed') expect(check.failure.code).toBe(code);
  });

  it('fails a COSE whose signature byte was flipped, and text that is not JSON', () => {
    const bytes = Uint8Array.from(Buffer.from(good.cose, 'base64'));
    bytes[bytes.length - 1]! ^= 1;
    const forged = checkReading({ ...good, cose: toBase64(bytes) }, keys, CHAIN);
    expect(forged.status === 'failed' && forged.failure.code).toBe('MG_ERR_BAD_SIGNATURE');
    const junk = checkReading('{not json', keys, CHAIN);
    expect(junk.status === 'failed' && junk.failure.code).toBe('MG_ERR_BAD_FIELD');
    expect(junk.reading).toBeUndefined();
  });

  it('fails a reading signed by a key of another device, and flags a retired key of this one', () => {
    const other = keyPair();
    const spoofed = checkReading(verifiedJson(3, [{ code: '8867-4', v: 70, u: '/min' }], other), keys, CHAIN);
    expect(spoofed.status === 'failed' && spoofed.failure.code).toBe('MG_ERR_UNKNOWN_KID');
    const retired = checkReading(good, [{ ...keys[0]!, until: { height: 9 } }], CHAIN);
    expect(retired.status === 'verified' && retired.retiredKey).toBe(true);
  });
});

describe('checkReceipt and checkBlock', () => {
  const reading = verifiedJson(0, [{ code: '8867-4', v: 70, u: '/min' }]);
  const cose = Uint8Array.from(Buffer.from(reading.cose, 'base64'));
  const txs = [utf8('tx one'), utf8('tx two')];
  const header = (over: Partial<BlockHeader> = {}): BlockHeader => ({
    v: 1,
    chain: CHAIN,
    height: 5,
    prev: new Uint8Array(32).fill(7),
    t: 1_700_000_000_000,
    txRoot: txRootOf(txs),
    txCount: txs.length,
    // A one-leaf log: its root is the leaf hash and the inclusion proof is empty (RFC 9162 §2.1.3).
    log: { size: 1, root: leafHash(cose) },
    ...over,
  });
  const block = signBlock(header(), authority.signer);
  const receipt = encodeReceipt({
    chain: CHAIN,
    leafIndex: 0,
    leafHash: leafHash(cose),
    treeSize: 1,
    proof: [],
    block: block.bytes,
  });

  it('verifies a receipt of this reading: anchored at the block height', () => {
    expect(checkReceipt(receipt, cose, 0, [authority.pub], CHAIN)).toMatchObject({
      status: 'verified',
      height: 5,
      treeSize: 1,
      block: toHex(block.hash),
    });
  });

  it('fails a receipt of another reading, of another authority, or for another chain', () => {
    const other = Uint8Array.from(
      Buffer.from(verifiedJson(1, [{ code: '8867-4', v: 71, u: '/min' }]).cose, 'base64'),
    );
    const code = (r: ReturnType<typeof checkReceipt>) =>
      r.status === 'failed' ? r.failure.code : 'verified';
    expect(code(checkReceipt(receipt, other, 0, [authority.pub], CHAIN))).toBe('MG_ERR_RECEIPT_OTHER_LEAF');
    expect(code(checkReceipt(receipt, cose, 1, [authority.pub], CHAIN))).toBe('MG_ERR_RECEIPT_OTHER_LEAF');
    expect(code(checkReceipt(receipt, cose, 0, [keyPair().pub], CHAIN))).toBe('MG_ERR_UNKNOWN_AUTHORITY');
    expect(code(checkReceipt(receipt, cose, 0, [authority.pub], 'other-chain'))).toBe(
      'MG_ERR_CHAIN_MISMATCH',
    );
  });

  const served = (over: Partial<{ height: number; txs: Uint8Array[]; bytes: Uint8Array }> = {}) => ({
    height: over.height ?? 5,
    block: toBase64(over.bytes ?? block.bytes),
    txs: (over.txs ?? txs).map((t) => ({ bytes: toBase64(t) })),
  });

  it('verifies a block: signature, height, txRoot and the link to the block before', () => {
    const check = checkBlock(served(), [authority.pub], CHAIN, new Uint8Array(32).fill(7));
    expect(check.status).toBe('verified');
    expect(check.status === 'verified' && check.txs).toEqual(txs);
  });

  it.each([
    ['a transaction left out', served({ txs: [txs[0]!] }), undefined, 'MG_ERR_CHAIN_TX_MISMATCH'],
    [
      'a transaction altered',
      served({ txs: [txs[0]!, utf8('tx 2wo')] }),
      undefined,
      'MG_ERR_CHAIN_TX_MISMATCH',
    ],
    ['another height than asked', served({ height: 6 }), undefined, 'MG_ERR_CHAIN_BROKEN_LINK'],
    ['a prev that is not the block before', served(), new Uint8Array(32), 'MG_ERR_CHAIN_BROKEN_LINK'],
    [
      'a block of an unknown authority',
      served({ bytes: signBlock(header(), keyPair().signer).bytes }),
      undefined,
      'MG_ERR_UNKNOWN_AUTHORITY',
    ],
  ])('fails %s', (_name, json, prev, code) => {
    const check = checkBlock(json, [authority.pub], CHAIN, prev);
    expect(check.status === 'failed' && check.failure.code).toBe(code);
  });
});

describe('binary MQTT password', () => {
  /** An MQTT 3.1.1 CONNECT (§3.1) with username and password, as mqtt.js writes it. */
  function connectFrame(user: string, password: string): Uint8Array {
    const str = (s: string) => [s.length >> 8, s.length & 0xff, ...Array.from(s, (c) => c.charCodeAt(0))];
    const rest = [...str('MQTT'), 4, 0xc2, 0, 60, ...str(user), ...str(user), ...str(password)];
    return Uint8Array.from([0x10, rest.length, ...rest]);
  }
  const token = Uint8Array.from({ length: 96 }, (_, i) => (i * 37) & 0xff);

  it('swaps the placeholder for the token bytes, and only in a frame that carries it', () => {
    const placeholder = passwordPlaceholder(new Uint8Array(token.length).fill(200));
    expect(placeholder).toMatch(/^[A-Za-z]{96}$/);
    const frame = connectFrame('clinician:dr-lee', placeholder);
    const patched = patchPassword(frame, placeholder, token)!;
    expect(patched.length).toBe(frame.length);
    expect(patched.subarray(patched.length - token.length)).toEqual(token);
    expect(patched.subarray(0, frame.length - token.length)).toEqual(
      frame.subarray(0, frame.length - token.length),
    );
    expect(frame.subarray(frame.length - token.length)).not.toEqual(token); // the input is left as it was
    expect(patchPassword(Uint8Array.from([0x30, 2, 0, 0]), placeholder, token)).toBeUndefined();
    expect(() => patchPassword(frame, placeholder.slice(1), token)).toThrow(RangeError);
  });
});

describe('approvals signed in the page', () => {
  const admin = keyPair();
  const who = { chain: CHAIN, actor: 'admin:bob', signer: admin.signer };

  it('signs proposal.approve and device.approve that decode and verify with the admin key', () => {
    const id = 'ab'.repeat(32);
    const bytes = approveProposalTx(who, id, 42, 1_700_000_000_000);
    const { tx, cose } = decodeTx(bytes);
    expect(tx).toMatchObject({ type: 'proposal.approve', chain: CHAIN, actor: 'admin:bob', nonce: 42 });
    expect(toHex((tx.body as { proposal: Uint8Array }).proposal)).toBe(id);
    expect(() => verifyCoseSign1(cose, admin.pub, chainAad(CHAIN), nobleBackend)).not.toThrow();
    expect(decodeTx(approveDeviceTx(who, 'bp-cuff-009', 43, 1)).tx).toMatchObject({
      type: 'device.approve',
      body: { dev: 'bp-cuff-009' },
    });
  });

  it('picks nonces above the ledger and the clock, as the CLI does', () => {
    expect(nextNonce(null, 1_000)).toBe(1_000);
    expect(nextNonce(5_000, 1_000)).toBe(5_001);
    expect(nextNonce(5_000, 9_000.7)).toBe(9_000);
    expect(approveCommand('ab'.repeat(32), 'policy.set', 'http://gw:8080')).toBe(
      `medgate proposal approve ${'ab'.repeat(32)} --gateway http://gw:8080 --admin-key ADMIN.key`,
    );
    expect(approveCommand('cd'.repeat(32), 'rollout.authorize', 'http://gw:8080')).toBe(
      `medgate rollout approve ${'cd'.repeat(32)} --gateway http://gw:8080 --admin-key ADMIN.key`,
    );
  });
});

describe('format', () => {
  it('shortens, ages and plains values for display', () => {
    expect(shortHex('0123456789abcdef')).toBe('0123456789ab…');
    expect(shortHex('0123')).toBe('0123');
    expect(ago(10_000, 15_400)).toBe('5 s ago');
    expect(ago(0, 7_200_000)).toBe('2 h ago');
    expect(ago(20_000, 10_000)).toBe('0 s ago');
    expect(
      plainJson(
        new Map<string, unknown>([
          ['a', Uint8Array.from([1, 255])],
          ['b', [new Map([['c', 1]])]],
        ]),
      ),
    ).toEqual({
      a: '01ff',
      b: [{ c: 1 }],
    });
  });
});
