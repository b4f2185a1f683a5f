/**
 * Clinician and admin tokens on the HTTP API: every refusal with its code and status, one
 * token per request, roles and access grants; and the nonce cache on its own.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../../firmware-ts/protocol/bytes.js';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { encodeReading } from '../../firmware-ts/protocol/decode/reading.js';
import {
  authHeader,
  codeOf,
  enrolDemo,
  getJson,
  type Harness,
  mustSubmit,
  removeTempDirs,
  signedTx,
  startHarness,
} from './http-harness.js';

describe('HTTP API: tokens', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ skewMs: 60_000 });
    await enrolDemo(h, { 'wearable-001': 'wearable-v1', 'wearable-002': 'wearable-v1' }, ['wearable-001']);
  });

  afterAll(async () => {
    await h.close();
    await removeTempDirs();
  });

  const expectRefusal = async (
    auth: string | undefined,
    status: number,
    code: string,
    path = '/v1/devices',
  ) => {
    const res = await getJson(h, path, auth);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(codeOf(res.body)).toBe(code);
    return res;
  };

  it('lets an admin list devices with a fresh token', async () => {
    const { status, body } = await getJson(h, '/v1/devices', authHeader(h, h.key('admin:bob')));
    expect(status).toBe(200);
    expect((body as { devices: { id: string }[] }).devices.map((d) => d.id)).toEqual([
      'wearable-001',
      'wearable-002',
    ]);
  });

  it('refuses a missing header or another scheme with 401 and WWW-Authenticate', async () => {
    const res = await expectRefusal(undefined, 401, 'MG_ERR_AUTH_REQUIRED');
    expect(res.headers.get('www-authenticate')).toBe('Medgate');
    await expectRefusal('Bearer abc', 401, 'MG_ERR_AUTH_REQUIRED');
    await expectRefusal('Medgate', 401, 'MG_ERR_AUTH_BAD_TOKEN');
  });

  it('refuses tokens that are not connect tokens', async () => {
    await expectRefusal('Medgate !!!', 401, 'MG_ERR_AUTH_BAD_TOKEN');
    await expectRefusal(`Medgate ${toBase64(randomBytes(80))}`, 401, 'MG_ERR_AUTH_BAD_TOKEN');
    await expectRefusal(`Medgate ${'A'.repeat(4000)}`, 401, 'MG_ERR_AUTH_BAD_TOKEN');
    // A validly signed COSE_Sign1 of something else (a reading) is not a token.
    const reading = signCoseSign1(
      encodeReading({
        dev: 'wearable-001',
        seq: 1,
        t: Date.now(),
        obs: [{ code: '8867-4', v: 60, u: '/min' }],
      }),
      h.key('wearable-001').signer,
      chainAad(h.chain),
    );
    await expectRefusal(`Medgate ${toBase64(reading)}`, 401, 'MG_ERR_AUTH_BAD_TOKEN');
    // Devices use MQTT, not the HTTP API.
    await expectRefusal(authHeader(h, h.key('wearable-001')), 401, 'MG_ERR_AUTH_BAD_TOKEN');
  });

  it('refuses principals that are not on the ledger', async () => {
    await expectRefusal(
      authHeader(h, h.key('clinician:dr-lee'), { dev: 'clinician:nobody' }),
      401,
      'MG_ERR_AUTH_UNKNOWN_PRINCIPAL',
    );
    await expectRefusal(
      authHeader(h, h.key('admin:alice'), { dev: 'admin:mallory' }),
      401,
      'MG_ERR_AUTH_UNKNOWN_PRINCIPAL',
    );
  });

  it('refuses a token signed by another key or for another chain', async () => {
    // bob's key claiming to be alice: the kid names bob's key.
    await expectRefusal(
      authHeader(h, h.key('admin:bob'), { dev: 'admin:alice' }),
      401,
      'MG_ERR_COSE_KID_MISMATCH',
    );
    await expectRefusal(
      authHeader(h, h.key('admin:alice'), { chain: 'other-chain' }),
      401,
      'MG_ERR_BAD_SIGNATURE',
    );
  });

  it('refuses a token outside the time window, and a replayed one', async () => {
    const alice = h.key('admin:alice');
    await expectRefusal(authHeader(h, alice, { t: Date.now() - 120_000 }), 401, 'MG_ERR_AUTH_TOKEN_EXPIRED');
    await expectRefusal(authHeader(h, alice, { t: Date.now() + 120_000 }), 401, 'MG_ERR_AUTH_TOKEN_EXPIRED');
    const once = authHeader(h, alice);
    expect((await getJson(h, '/v1/devices', once)).status).toBe(200);
    await expectRefusal(once, 401, 'MG_ERR_AUTH_NONCE_REUSED');
  });

  it('keeps admin routes from clinicians and readings from clinicians without a grant', async () => {
    const lee = h.key('clinician:dr-lee');
    await expectRefusal(authHeader(h, lee), 403, 'MG_ERR_AUTH_FORBIDDEN');
    expect((await getJson(h, '/v1/devices/wearable-001', authHeader(h, lee))).status).toBe(200);
    await expectRefusal(authHeader(h, lee), 403, 'MG_ERR_AUTH_NO_GRANT', '/v1/devices/wearable-002');
    await expectRefusal(authHeader(h, lee), 403, 'MG_ERR_AUTH_NO_GRANT', '/v1/devices/wearable-002/readings');
    // An unknown device looks the same to a clinician (no grant), and is a 404 to an admin.
    await expectRefusal(authHeader(h, lee), 403, 'MG_ERR_AUTH_NO_GRANT', '/v1/devices/ghost');
    await expectRefusal(
      authHeader(h, h.key('admin:alice')),
      404,
      'MG_ERR_UNKNOWN_DEVICE',
      '/v1/devices/ghost',
    );
  });

  it('takes a grant away once it is revoked on the ledger', async () => {
    const lee = h.key('clinician:dr-lee');
    await mustSubmit(
      h,
      signedTx(h, h.key('admin:alice'), 'access.grant', { clinician: 'dr-lee', devs: ['wearable-002'] }),
    );
    expect((await getJson(h, '/v1/devices/wearable-002', authHeader(h, lee))).status).toBe(200);
    await mustSubmit(
      h,
      signedTx(h, h.key('admin:alice'), 'access.revoke', { clinician: 'dr-lee', devs: ['wearable-002'] }),
    );
    await expectRefusal(authHeader(h, lee), 403, 'MG_ERR_AUTH_NO_GRANT', '/v1/devices/wearable-002');
  });
});

describe('HTTP API: nonce cache bound', () => {
  it('refuses new tokens with 503 when the cache is full of unexpired nonces', async () => {
    // loadConfig refuses sizes below 1,000; the server itself takes any bound, so a small one fills fast.
    const h = await startHarness({ nonceCacheSize: 3 });
    try {
      const alice = h.key('admin:alice');
      for (let i = 0; i < 3; i++) expect((await getJson(h, '/v1/chain', undefined)).status).toBe(200);
      for (let i = 0; i < 3; i++)
        expect((await getJson(h, '/v1/devices', authHeader(h, alice))).status).toBe(200);
      const full = await getJson(h, '/v1/devices', authHeader(h, alice));
      expect([full.status, codeOf(full.body)]).toEqual([503, 'MG_ERR_AUTH_NONCE_CACHE_FULL']);
    } finally {
      await h.close();
      await removeTempDirs();
    }
  });
});
