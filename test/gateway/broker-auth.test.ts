/**
 * `authenticate` against a real gateway with real mqtt.js clients (DESIGN §3 "Connect"):
 * accepted principals, every refusal with its CONNACK code and MG_ERR code in the log, never
 * the token in the log, and the slowdown/ban of a client that keeps failing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { toBase64, toHex } from '../../firmware-ts/protocol/bytes.js';
import { SECURITY_TOPIC } from '../../firmware-ts/protocol/topics.js';
import { signRotateProof } from '../../firmware-ts/protocol/tx/sign.js';
import { DEFAULT_CONFIG } from '../../gateway/config.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { nextMessage, randomKey, startTestGateway, type TestGateway } from './harness.js';

const G = GatewayErrorCode;

/** The code of the newest 'connect refused' line for `principal`. */
function refusedCode(gw: TestGateway, principal: string): unknown {
  return gw
    .logged('connect refused')
    .filter((l) => l.principal === principal)
    .at(-1)?.code;
}

describe('connect tokens', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    // High thresholds: this file's refusals must not slow or ban the loopback address.
    gw = await startTestGateway({
      enrol: ['wearable-001', 'wearable-002', 'wearable-003', 'glucose-001'],
      clinician: true,
      limits: { failuresBeforeSlowdown: 1000 },
    });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  test('an enrolled device connects with a valid token', async () => {
    const client = await gw.connect('wearable-001');
    expect(client.connected).toBe(true);
    const line = gw.logged('connected').find((l) => l.principal === 'wearable-001');
    expect(line).toMatchObject({ role: 'device', kind: 'principal', remote: '127.0.0.1' });
    client.end(true);
  });

  test('an admin and a clinician connect', async () => {
    const admin = await gw.connect('admin:bob');
    const clinician = await gw.connect('clinician:dr-lee');
    expect(admin.connected && clinician.connected).toBe(true);
    admin.end(true);
    clinician.end(true);
  });

  test('an unknown device: CONNACK 4, MG_ERR_AUTH_UNKNOWN_PRINCIPAL', async () => {
    expect(await gw.refusal('bp-cuff-001')).toBe(4);
    expect(refusedCode(gw, 'bp-cuff-001')).toBe(G.AUTH_UNKNOWN_PRINCIPAL);
  });

  test('an unregistered clinician: CONNACK 4', async () => {
    const key = randomKey();
    expect(await gw.refusal('clinician:mallory', { password: gw.token('clinician:mallory', { key }) })).toBe(
      4,
    );
    expect(refusedCode(gw, 'clinician:mallory')).toBe(G.AUTH_UNKNOWN_PRINCIPAL);
  });

  test('a forged signature: CONNACK 4, MG_ERR_BAD_SIGNATURE, and a security event', async () => {
    const admin = await gw.connect('admin:alice');
    await admin.subscribeAsync(SECURITY_TOPIC, { qos: 1 });
    const event = nextMessage(admin);
    const token = gw.token('wearable-002');
    token[token.length - 1]! ^= 0x01; // last byte of the signature
    expect(await gw.refusal('wearable-002', { password: token })).toBe(4);
    expect(refusedCode(gw, 'wearable-002')).toBe('MG_ERR_BAD_SIGNATURE');
    const security = JSON.parse((await event).payload.toString());
    expect(security).toMatchObject({
      type: 'connect.refused',
      code: 'MG_ERR_BAD_SIGNATURE',
      principal: 'wearable-002',
    });
    admin.end(true);
  });

  test('a token signed with another key: CONNACK 4', async () => {
    expect(
      await gw.refusal('wearable-002', { password: gw.token('wearable-002', { key: randomKey() }) }),
    ).toBe(4);
    expect(refusedCode(gw, 'wearable-002')).toBe('MG_ERR_COSE_KID_MISMATCH');
  });

  test('a token signed for another chain: CONNACK 4, MG_ERR_BAD_SIGNATURE', async () => {
    expect(
      await gw.refusal('wearable-002', { password: gw.token('wearable-002', { chain: 'other-chain' }) }),
    ).toBe(4);
    expect(refusedCode(gw, 'wearable-002')).toBe('MG_ERR_BAD_SIGNATURE');
  });

  test.each([
    ['expired', -1],
    ['from the future', +1],
  ])('a token %s: CONNACK 4, MG_ERR_AUTH_TOKEN_EXPIRED', async (_name, sign) => {
    const t = Date.now() + sign * (DEFAULT_CONFIG.limits.skewMs + 60_000);
    expect(await gw.refusal('wearable-002', { password: gw.token('wearable-002', { t }) })).toBe(4);
    expect(refusedCode(gw, 'wearable-002')).toBe(G.AUTH_TOKEN_EXPIRED);
  });

  test('a replayed token (nonce seen): CONNACK 4, MG_ERR_AUTH_NONCE_REUSED', async () => {
    const token = gw.token('wearable-003');
    const first = await gw.connect('wearable-003', { password: token });
    first.end(true);
    expect(await gw.refusal('wearable-003', { password: token })).toBe(4);
    expect(refusedCode(gw, 'wearable-003')).toBe(G.AUTH_NONCE_REUSED);
  });

  test('client id, username and token principal must be one id: CONNACK 4, MG_ERR_AUTH_ID_MISMATCH', async () => {
    // Client id differs from the username.
    expect(await gw.refusal('wearable-002', { clientId: 'wearable-003' })).toBe(4);
    // Username and client id agree, the token names another device.
    const other = gw.token('wearable-003');
    expect(await gw.refusal('wearable-002', { password: other })).toBe(4);
    expect(refusedCode(gw, 'wearable-002')).toBe(G.AUTH_ID_MISMATCH);
  });

  test('no password, or one that is no token: CONNACK 4', async () => {
    expect(await gw.refusal('wearable-002', { password: new Uint8Array(0) })).toBe(4);
    expect(refusedCode(gw, 'wearable-002')).toBe(G.AUTH_REQUIRED);
    expect(await gw.refusal('wearable-002', { password: new TextEncoder().encode('hunter2') })).toBe(4);
    expect(refusedCode(gw, 'wearable-002')).toBe(G.AUTH_BAD_TOKEN);
  });

  test('a pending device (self-enrolled, waiting for approval): CONNACK 5, MG_ERR_DEVICE_NOT_ACTIVE', async () => {
    const key = randomKey();
    // bp-cuff-v1 falls under the demo's default policy: enrolment needs an admin's approval.
    await gw.ledger.submitTx(gw.enrolRequest('cuff-pending', key, 'bp-cuff-v1'));
    expect(gw.ledger.state.devices.get('cuff-pending')?.status).toBe('pending');
    expect(await gw.refusal('cuff-pending', { password: gw.token('cuff-pending', { key }) })).toBe(5);
    expect(refusedCode(gw, 'cuff-pending')).toBe('MG_ERR_DEVICE_NOT_ACTIVE');
  });

  test('a revoked device: CONNACK 5 (only a key holder learns it), MG_ERR_DEVICE_REVOKED', async () => {
    await gw.revokeDevice('glucose-001');
    expect(await gw.refusal('glucose-001')).toBe(5);
    expect(refusedCode(gw, 'glucose-001')).toBe('MG_ERR_DEVICE_REVOKED');
    // The same id with a stranger's key learns nothing beyond "bad credentials".
    expect(await gw.refusal('glucose-001', { password: gw.token('glucose-001', { key: randomKey() }) })).toBe(
      4,
    );
  });

  test('a key the device rotated away from: CONNACK 4, MG_ERR_KEY_ROTATED; the new key connects', async () => {
    const old = gw.key('wearable-002');
    const next = randomKey();
    const proof = signRotateProof(
      { dev: 'wearable-002', old: old.kid, pub: next.pub },
      next.signer,
      gw.chain,
    );
    await gw.tx('wearable-002', 'device.rotate', { pub: next.pub, proof }, old);
    expect(await gw.refusal('wearable-002')).toBe(4);
    expect(refusedCode(gw, 'wearable-002')).toBe(G.KEY_ROTATED);
    const client = await gw.connect('wearable-002', { password: gw.token('wearable-002', { key: next }) });
    client.end(true);
  });

  test('the log names code, principal and address, and never holds a token or key', async () => {
    const token = gw.token('wearable-003', { chain: 'other-chain' });
    expect(await gw.refusal('wearable-003', { password: token })).toBe(4);
    const line = gw.logged('connect refused').at(-1);
    expect(line).toMatchObject({
      code: 'MG_ERR_BAD_SIGNATURE',
      principal: 'wearable-003',
      remote: '127.0.0.1',
      returnCode: 4,
    });
    for (const secret of [token, gw.key('wearable-003').secret, gw.key('wearable-003').pub]) {
      expect(gw.rawLog).not.toContain(toHex(secret));
      expect(gw.rawLog).not.toContain(toBase64(secret));
      expect(gw.rawLog).not.toContain(Buffer.from(secret).toString('latin1'));
    }
  });
});

describe('a client that keeps failing', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      enrol: ['wearable-001', 'wearable-002'],
      limits: { failuresBeforeSlowdown: 2, banMs: 60_000 },
    });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  test('is slowed, then banned for banMs (CONNACK 5, MG_ERR_AUTH_BANNED) even with a valid token', async () => {
    const bad = () => gw.token('wearable-001', { key: randomKey() });
    const codes: number[] = [];
    // The score leaks (one failure forgiven per 10 s), so the ban comes at the 4th or 5th failure.
    for (let i = 0; i < 8 && codes.at(-1) !== 5; i++) {
      codes.push(await gw.refusal('wearable-001', { password: bad() }));
      if (i === 2) {
        // Past the threshold: slowed (the next CONNACK waits delayMs), not banned yet.
        expect(gw.gateway.broker.penalty.status('wearable-001')).toBe('slow');
        expect(gw.gateway.broker.penalty.delayMs('wearable-001')).toBeGreaterThan(0);
      }
    }
    expect(codes.slice(0, 4)).toEqual([4, 4, 4, 4]);
    expect(codes.at(-1)).toBe(5);
    expect(refusedCode(gw, 'wearable-001')).toBe(G.AUTH_BANNED);
    expect(await gw.refusal('wearable-001')).toBe(5);
    expect(refusedCode(gw, 'wearable-001')).toBe(G.AUTH_BANNED);
    // Another principal from the same address is not affected (the address threshold is 10x).
    const other = await gw.connect('wearable-002');
    other.end(true);
  });
});
