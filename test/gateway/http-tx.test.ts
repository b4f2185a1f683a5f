/**
 * `POST /v1/tx`: transactions in both body forms, the state machine's refusals with their
 * statuses (400 input, 403 signer, 409 state), and hostile bodies: malformed COSE, bad JSON
 * shapes, prototype poisoning, wrong media type, oversized bodies (declared and chunked).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../../firmware-ts/protocol/bytes.js';
import { TX_MAX_BYTES } from '../../firmware-ts/protocol/tx/sign.js';
import {
  authHeader,
  codeOf,
  getJson,
  type Harness,
  nextNonce,
  postTx,
  removeTempDirs,
  signedTx,
  startHarness,
} from './http-harness.js';

/** POSTs raw bytes with a content type; returns status and parsed body. */
async function post(
  h: Harness,
  body: string | Uint8Array,
  contentType: string,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${h.base}/v1/tx`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return { status: res.status, body: await res.json() };
}

/** A chunked upload (no Content-Length) of `total` bytes through node:http. */
function chunkedPost(
  h: Harness,
  total: number,
): Promise<{ status: number; body: unknown; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${h.base}/v1/tx`,
      { method: 'POST', headers: { 'content-type': 'application/cose' } },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(text),
            connection: res.headers.connection,
          }),
        );
      },
    );
    req.on('error', reject);
    const chunk = Buffer.alloc(16 * 1024, 0x41);
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

describe('HTTP API: POST /v1/tx', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });

  afterAll(async () => {
    await h.close();
    await removeTempDirs();
  });

  it('includes a COSE transaction and answers with its position once in a block', async () => {
    const bytes = signedTx(h, h.key('admin:alice'), 'device.enrol', {
      dev: 'wearable-001',
      pub: h.key('wearable-001').pub,
      model: 'wearable-v1',
    });
    const res = await postTx(h, bytes);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { height: number; index: number; txId: string; type: string };
    expect(body).toMatchObject({ height: h.ledger.tip.header.height, index: 0, type: 'device.enrol' });
    expect(body.txId).toMatch(/^[0-9a-f]{64}$/);
    expect(h.ledger.state.devices.get('wearable-001')?.status).toBe('active');
    const device = await getJson(h, '/v1/devices/wearable-001', authHeader(h, h.key('admin:alice')));
    expect(device.body).toMatchObject({ id: 'wearable-001', status: 'active', model: 'wearable-v1' });
    const key = (device.body as { key: { pem: string; kid: string } }).key;
    expect(key.pem).toContain('-----BEGIN PUBLIC KEY-----');
    expect(key.kid).toBe(Buffer.from(h.key('wearable-001').signer.kid).toString('hex'));
  });

  it('takes the JSON form {"tx": base64} too', async () => {
    const bytes = signedTx(h, h.key('admin:bob'), 'device.enrol', {
      dev: 'wearable-002',
      pub: h.key('wearable-002').pub,
      model: 'wearable-v1',
    });
    const res = await post(h, JSON.stringify({ tx: toBase64(bytes) }), 'application/json; charset=utf-8');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ type: 'device.enrol' });
  });

  it("answers the state machine's refusals with 409, 403 and 400 by code", async () => {
    const alice = h.key('admin:alice');
    const enrol = (dev: string, nonce?: number) =>
      signedTx(
        h,
        alice,
        'device.enrol',
        { dev, pub: h.key(dev).pub, model: 'bp-cuff-v1' },
        nonce === undefined ? {} : { nonce },
      );
    const cases: [Uint8Array, number, string][] = [
      // The same device again: a conflict with the ledger.
      [
        signedTx(h, alice, 'device.enrol', {
          dev: 'wearable-001',
          pub: h.key('bp-cuff-001').pub,
          model: 'x',
        }),
        409,
        'MG_ERR_DEVICE_EXISTS',
      ],
      // A nonce at or below alice's last one.
      [enrol('bp-cuff-001', 0), 409, 'MG_ERR_TX_NONCE_STALE'],
      // A clinician may not enrol; an unknown admin is nobody.
      [
        signedTx(h, h.key('clinician:dr-lee'), 'device.enrol', {
          dev: 'bp-cuff-001',
          pub: h.key('bp-cuff-001').pub,
          model: 'm',
        }),
        403,
        'MG_ERR_ACTOR_NOT_ALLOWED',
      ],
      [
        signedTx(h, alice, 'device.revoke', { dev: 'wearable-001' }, { actor: 'admin:mallory' }),
        403,
        'MG_ERR_UNKNOWN_ACTOR',
      ],
      // bob's name on alice's signature.
      [
        signedTx(h, alice, 'device.revoke', { dev: 'wearable-001' }, { actor: 'admin:bob' }),
        403,
        'MG_ERR_COSE_KID_MISMATCH',
      ],
      [
        signedTx(h, alice, 'device.revoke', { dev: 'wearable-001' }, { chain: 'other' }),
        400,
        'MG_ERR_TX_WRONG_CHAIN',
      ],
      // Threshold actions go through a proposal.
      [
        signedTx(h, alice, 'policy.set', {
          model: 'x',
          policy: { approvals: 1, approvers: 'all', enrolment: 'auto', maxWaveSize: 1, maxFailures: 1 },
        }),
        400,
        'MG_ERR_TX_NEEDS_PROPOSAL',
      ],
    ];
    for (const [bytes, status, code] of cases) {
      const res = await postTx(h, bytes);
      const body = await res.json();
      expect([res.status, codeOf(body)], code).toEqual([status, code]);
    }
    // A replay of an included transaction.
    const once = enrol('bp-cuff-001', nextNonce());
    expect((await postTx(h, once)).status).toBe(200);
    const replay = await postTx(h, once);
    expect([replay.status, codeOf(await replay.json())]).toEqual([409, 'MG_ERR_TX_NONCE_REPLAY']);
    // A flipped signature bit.
    const tampered = enrol('glucose-001');
    tampered[tampered.length - 1]! ^= 1;
    const bad = await postTx(h, tampered);
    expect([bad.status, codeOf(await bad.json())]).toEqual([403, 'MG_ERR_BAD_SIGNATURE']);
  });

  it('refuses malformed transactions with 400 and the decoder code', async () => {
    const garbage = await post(h, new Uint8Array([1, 2, 3, 4]), 'application/cose');
    expect([garbage.status, codeOf(garbage.body)]).toEqual([400, 'MG_ERR_COSE_MALFORMED']);
    const empty = await post(h, new Uint8Array(0), 'application/cose');
    expect([empty.status, codeOf(empty.body)]).toEqual([400, 'MG_ERR_COSE_MALFORMED']);
  });

  it('refuses bad JSON bodies: malformed, wrong shape, prototype poisoning', async () => {
    const valid = toBase64(signedTx(h, h.key('admin:carol'), 'device.revoke', { dev: 'wearable-002' }));
    const cases: [string, string][] = [
      ['{"tx": ', 'MG_ERR_JSON_MALFORMED'],
      ['[]', 'MG_ERR_HTTP_BAD_BODY'],
      ['{}', 'MG_ERR_HTTP_BAD_BODY'],
      ['{"tx": 5}', 'MG_ERR_HTTP_BAD_BODY'],
      ['{"tx": "not base64!"}', 'MG_ERR_HTTP_BAD_BODY'],
      [`{"tx": "${valid}", "extra": 1}`, 'MG_ERR_HTTP_BAD_BODY'],
      [`{"tx": "${valid}", "__proto__": {"admin": true}}`, 'MG_ERR_JSON_FORBIDDEN_KEY'],
      [`{"tx": "${valid}", "\\u005f_proto__": {"admin": true}}`, 'MG_ERR_JSON_FORBIDDEN_KEY'],
      [`{"tx": "${valid}", "constructor": {"prototype": {}}}`, 'MG_ERR_JSON_FORBIDDEN_KEY'],
    ];
    for (const [text, code] of cases) {
      const res = await post(h, text, 'application/json');
      expect([res.status, codeOf(res.body)], text.slice(0, 40)).toEqual([400, code]);
    }
    // None of them reached the ledger.
    expect(h.ledger.state.devices.get('wearable-002')?.status).toBe('active');
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('refuses other media types with 415', async () => {
    const res = await post(h, 'hello', 'text/plain');
    expect([res.status, codeOf(res.body)]).toEqual([415, 'MG_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE']);
    const none = await fetch(`${h.base}/v1/tx`, { method: 'POST', body: new Uint8Array([1]) });
    expect(none.status).toBe(415);
  });

  it('refuses oversized bodies with 413, declared or chunked, and closes the connection', async () => {
    const big = new Uint8Array(TX_MAX_BYTES + 1);
    const declared = await post(h, big, 'application/cose');
    expect([declared.status, codeOf(declared.body)]).toEqual([413, 'MG_ERR_HTTP_BODY_TOO_LARGE']);
    const json = await post(h, JSON.stringify({ tx: 'A'.repeat(200 * 1024) }), 'application/json');
    expect([json.status, codeOf(json.body)]).toEqual([413, 'MG_ERR_HTTP_BODY_TOO_LARGE']);
    const chunked = await chunkedPost(h, 4 * TX_MAX_BYTES);
    expect([chunked.status, codeOf(chunked.body)]).toEqual([413, 'MG_ERR_HTTP_BODY_TOO_LARGE']);
    expect(chunked.connection).toBe('close');
    // The server still serves.
    expect((await getJson(h, '/healthz')).status).toBe(200);
  });

  it('counts submissions by type and result', async () => {
    const text = await (await fetch(`${h.base}/metrics`)).text();
    expect(text).toContain('medgate_tx_submitted_total{type="device.enrol",result="ok"} 3');
    expect(text).toContain(
      'medgate_tx_submitted_total{type="device.enrol",result="MG_ERR_TX_NONCE_REPLAY"} 1',
    );
    expect(text).toContain(
      'medgate_tx_submitted_total{type="policy.set",result="MG_ERR_TX_NEEDS_PROPOSAL"} 1',
    );
    expect(text).toContain('medgate_tx_submitted_total{type="malformed",result="MG_ERR_COSE_MALFORMED"} 2');
  });
});
