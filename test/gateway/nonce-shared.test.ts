/**
 * One connect token, one use (DESIGN §3), whichever protocol it is shown on: the gateway's
 * MQTT front end and its HTTP API share one nonce cache (gateway/server.ts), so a token that
 * opened an MQTT session is refused by the HTTP API, and a token that served an HTTP request
 * is refused as an MQTT password.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../../firmware-ts/protocol/bytes.js';
import { startTestGateway, type TestGateway } from './harness.js';

const ADMIN = 'admin:alice';

describe('connect-token nonces shared by MQTT and HTTP', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ logLevel: 'warn' });
  });

  afterAll(async () => {
    await gw?.stop();
  });

  const http = (token: Uint8Array) =>
    fetch(`http://127.0.0.1:${gw.ports.http}/v1/devices`, {
      headers: { authorization: `Medgate ${toBase64(token)}` },
    });
  const codeOf = async (res: Response) => ((await res.json()) as { error?: { code?: string } }).error?.code;

  it('refuses on HTTP a token that opened an MQTT session', async () => {
    const token = gw.token(ADMIN);
    const client = await gw.connect(ADMIN, { password: token });
    client.end(true);
    const res = await http(token);
    expect(res.status).toBe(401);
    expect(await codeOf(res)).toBe('MG_ERR_AUTH_NONCE_REUSED');
    // A fresh token still works: the refusal is the nonce's, not the principal's.
    expect((await http(gw.token(ADMIN))).status).toBe(200);
  });

  it('refuses on MQTT a token that served an HTTP request', async () => {
    const token = gw.token(ADMIN);
    expect((await http(token)).status).toBe(200);
    // CONNACK 4: bad user name or password (the nonce was already used).
    expect(await gw.refusal(ADMIN, { password: token })).toBe(4);
    const client = await gw.connect(ADMIN);
    client.end(true);
  });
});
