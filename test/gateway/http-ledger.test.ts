/**
 * The public, read-only side of the HTTP API against a real ledger: health, readiness,
 * Prometheus metrics, chain facts, blocks, receipts and consistency proofs (each verified
 * offline with the authority key, as an auditor would), actors' nonces, proposals, policies,
 * and the router's 404 / 405.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBlock } from '../../firmware-ts/protocol/block.js';
import { fromBase64, fromHex } from '../../firmware-ts/protocol/bytes.js';
import { verifyConsistencyBundle } from '../../firmware-ts/protocol/checkpoint.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { verifyReceipt } from '../../firmware-ts/protocol/receipt.js';
import {
  addReading,
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

const HR = (v: number) => ({ code: '8867-4', v, u: '/min' });

describe('HTTP API: health, metrics, ledger', () => {
  let h: Harness;
  /** Log sizes of blocks cut in beforeAll. */
  const sizes: number[] = [];

  beforeAll(async () => {
    h = await startHarness();
    await enrolDemo(h, { 'wearable-001': 'wearable-v1', 'wearable-002': 'wearable-v1' }, ['wearable-001']);
    let seq = 0;
    for (let b = 0; b < 3; b++) {
      for (let i = 0; i < 3 + b; i++) await addReading(h, 'wearable-001', ++seq, [HR(60 + seq)]);
      await h.ledger.cutBlock();
      sizes.push(h.ledger.tip.header.log.size);
    }
  });

  afterAll(async () => {
    await h.close();
    await removeTempDirs();
  });

  it('answers liveness and readiness', async () => {
    expect(await getJson(h, '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await getJson(h, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { ledgerWritable: true, database: true } });
  });

  it('serves Prometheus metrics with fresh ledger gauges', async () => {
    h.metrics.readingsAccepted.inc(3);
    h.metrics.readingsRefused.inc({ code: 'MG_ERR_REPLAY' });
    h.metrics.connectedClients.set({ role: 'device' }, 2);
    h.metrics.verifyLatency.observe(0.0004);
    const res = await fetch(`${h.base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain(`medgate_block_height ${h.ledger.tip.header.height}`);
    expect(text).toContain(`medgate_log_size ${h.ledger.log.size}`);
    expect(text).toContain('medgate_readings_accepted_total 3');
    expect(text).toContain('medgate_readings_refused_total{code="MG_ERR_REPLAY"} 1');
    expect(text).toContain('medgate_connected_clients{role="device"} 2');
    expect(text).toContain('medgate_verify_latency_seconds_bucket{le="0.0005"} 1');
    expect(text).toContain('medgate_verify_latency_seconds_count 1');
    // Every transaction of beforeAll went through POST /v1/tx.
    expect(text).toContain('medgate_tx_submitted_total{type="device.enrol",result="ok"} 2');
    expect(text).toContain('medgate_tx_submitted_total{type="clinician.register",result="ok"} 1');
    expect(text).toContain('# TYPE medgate_tx_submitted_total counter');
  });

  it('gives chain facts: chain id, authorities, admins and threshold', async () => {
    const { status, body } = await getJson(h, '/v1/chain');
    expect(status).toBe(200);
    const chain = body as {
      chain: string;
      threshold: number;
      admins: { id: string; kid: string }[];
      authorities: { pub: string }[];
    };
    expect(chain.chain).toBe(h.chain);
    expect(chain.threshold).toBe(2);
    expect(chain.admins.map((a) => a.id)).toEqual(['alice', 'bob', 'carol']);
    expect(chain.authorities.map((a) => a.pub)).toEqual(
      h.ledger.authorities.map((p) => Buffer.from(p).toString('hex')),
    );
  });

  it('serves signed blocks with decoded headers and transactions', async () => {
    const tip = await getJson(h, '/v1/blocks/tip');
    expect(tip.status).toBe(200);
    const t = tip.body as {
      height: number;
      block: string;
      header: { height: number; log: { size: number } };
    };
    expect(t.height).toBe(h.ledger.tip.header.height);
    const verified = verifyBlock(
      fromBase64(t.block),
      { authorities: h.ledger.authorities, chain: h.chain },
      nodeBackend,
    );
    expect(verified.header.height).toBe(t.header.height);
    expect(t.header.log.size).toBe(h.ledger.log.size);

    const genesis = (await getJson(h, '/v1/blocks/0')).body as {
      txs: { type: string; genesis: { chain: string } }[];
    };
    expect(genesis.txs).toHaveLength(1);
    expect(genesis.txs[0]).toMatchObject({ type: 'genesis', genesis: { chain: h.chain } });

    const first = (await getJson(h, '/v1/blocks/1')).body as {
      txs: { type: string; actor: string; body: { dev: string; pub: string } }[];
    };
    expect(first.txs[0]).toMatchObject({
      type: 'device.enrol',
      actor: 'admin:alice',
      body: { dev: 'wearable-001' },
    });
    expect(first.txs[0]!.body.pub).toBe(Buffer.from(h.key('wearable-001').pub).toString('hex'));
  });

  it('refuses a height beyond the tip (404) and one that is not a number (400)', async () => {
    const beyond = await getJson(h, `/v1/blocks/${h.ledger.tip.header.height + 1}`);
    expect(beyond.status).toBe(404);
    expect(codeOf(beyond.body)).toBe('MG_ERR_BLOCK_NOT_FOUND');
    for (const bad of ['abc', '-1', '1e3', '99999999999999999999']) {
      const res = await getJson(h, `/v1/blocks/${bad}`);
      expect(res.status, bad).toBe(400);
      expect(codeOf(res.body)).toBe('MG_ERR_HTTP_BAD_PARAM');
    }
  });

  it('serves receipts that verify offline; the reading bytes only to who may read the device', async () => {
    const reading = (await h.readings.get('wearable-001', 5))!;
    const anon = await getJson(h, `/v1/receipts/${reading.leafHash}`);
    expect(anon.status).toBe(200);
    const verified = verifyReceipt(anon.body, h.ledger.authorities, nodeBackend);
    expect(verified.leafHash).toEqual(fromHex(reading.leafHash));
    expect((anon.body as { reading?: string }).reading).toBeUndefined();

    const admin = await getJson(h, `/v1/receipts/${reading.leafHash}`, authHeader(h, h.key('admin:alice')));
    expect((admin.body as { reading?: string }).reading).toBe(reading.cose);
    verifyReceipt(admin.body, h.ledger.authorities, nodeBackend); // reading hashes to the leaf

    const granted = await getJson(
      h,
      `/v1/receipts/${reading.leafHash}`,
      authHeader(h, h.key('clinician:dr-lee')),
    );
    expect((granted.body as { reading?: string }).reading).toBe(reading.cose);

    // By leaf index, too.
    const byIndex = await getJson(h, '/v1/receipts/4');
    expect((byIndex.body as { leafIndex: number }).leafIndex).toBe(4);
  });

  it('refuses receipts for unknown, uncheckpointed and malformed leaves, and bad tokens', async () => {
    const unknown = await getJson(h, `/v1/receipts/${'ab'.repeat(32)}`);
    expect([unknown.status, codeOf(unknown.body)]).toEqual([404, 'MG_ERR_LEAF_NOT_FOUND']);
    const pending = await addReading(h, 'wearable-001', 1000, [HR(70)]);
    const notYet = await getJson(h, `/v1/receipts/${pending.leafHash}`);
    expect([notYet.status, codeOf(notYet.body)]).toEqual([404, 'MG_ERR_LEAF_NOT_CHECKPOINTED']);
    const bad = await getJson(h, '/v1/receipts/xyz');
    expect([bad.status, codeOf(bad.body)]).toEqual([400, 'MG_ERR_HTTP_BAD_PARAM']);
    const badToken = await getJson(h, '/v1/receipts/0', 'Medgate AAAA');
    expect([badToken.status, codeOf(badToken.body)]).toEqual([401, 'MG_ERR_AUTH_BAD_TOKEN']);
  });

  it('serves consistency proofs between checkpoints that verify offline', async () => {
    const [s1, , s3] = sizes as [number, number, number];
    const { status, body } = await getJson(h, `/v1/consistency?from=${s1}&to=${s3}`);
    expect(status).toBe(200);
    const bundle = verifyConsistencyBundle(body, h.ledger.authorities, nodeBackend);
    expect([bundle.size1, bundle.size2]).toEqual([s1, s3]);

    const missing = await getJson(h, `/v1/consistency?from=${s1}`);
    expect([missing.status, codeOf(missing.body)]).toEqual([400, 'MG_ERR_HTTP_BAD_PARAM']);
    const reversed = await getJson(h, `/v1/consistency?from=${s3}&to=${s1}`);
    expect([reversed.status, codeOf(reversed.body)]).toEqual([400, 'MG_ERR_MERKLE_BAD_SIZE']);
    const notCheckpoint = await getJson(h, `/v1/consistency?from=${s1 + 1}&to=${s3}`);
    expect([notCheckpoint.status, codeOf(notCheckpoint.body)]).toEqual([404, 'MG_ERR_NOT_A_CHECKPOINT']);
  });

  it("gives an actor's last nonce (null before its first transaction)", async () => {
    const bob = await getJson(h, '/v1/actors/admin:bob');
    expect(bob.body).toMatchObject({ actor: 'admin:bob', kind: 'admin', active: true, nonce: null });
    const alice = (await getJson(h, '/v1/actors/admin%3Aalice')).body as { nonce: number };
    expect(alice.nonce).toBe(h.ledger.state.nonces.get('admin:alice'));
    const bad = await getJson(h, '/v1/actors/root:x');
    expect([bad.status, codeOf(bad.body)]).toEqual([400, 'MG_ERR_HTTP_BAD_PARAM']);
    const unknown = await getJson(h, '/v1/actors/clinician:nobody');
    expect(unknown.body).toMatchObject({ active: false, kid: null, nonce: null });
  });

  it('lists pending proposals with approvals against the threshold, and policies', async () => {
    const policy = {
      approvals: 1,
      approvers: 'all' as const,
      enrolment: 'auto' as const,
      maxWaveSize: 10,
      maxFailures: 2,
    };
    const created = await mustSubmit(
      h,
      signedTx(h, h.key('admin:carol'), 'proposal.create', {
        action: { type: 'policy.set', body: { model: 'bp-cuff-v1', policy } },
        expires: Date.now() + 3_600_000,
      }),
    );
    const list = (await getJson(h, '/v1/proposals')).body as {
      proposals: { id: string; approvals: number; required: number; action: { type: string } }[];
    };
    expect(list.proposals).toHaveLength(1);
    expect(list.proposals[0]).toMatchObject({
      id: created.txId,
      approvals: 1,
      required: 2,
      action: { type: 'policy.set' },
    });
    const one = await getJson(h, `/v1/proposals/${created.txId}`);
    expect(one.body).toMatchObject({ proposer: 'carol', status: 'open', approvedBy: ['carol'] });
    const none = await getJson(h, `/v1/proposals/${'00'.repeat(32)}`);
    expect([none.status, codeOf(none.body)]).toEqual([404, 'MG_ERR_UNKNOWN_PROPOSAL']);

    const own = await getJson(h, '/v1/policies/wearable-v1');
    expect(own.body).toMatchObject({ own: true, policy: { enrolment: 'auto', approvals: 2 } });
    const fallback = await getJson(h, '/v1/policies/bp-cuff-v1');
    expect(fallback.body).toMatchObject({ own: false, policy: { enrolment: 'approval' } });
  });

  it('answers unknown paths with 404 and wrong methods with 405 and Allow', async () => {
    const missing = await getJson(h, '/v1/nothing');
    expect([missing.status, codeOf(missing.body)]).toEqual([404, 'MG_ERR_HTTP_NOT_FOUND']);
    const wrong = await fetch(`${h.base}/v1/tx`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(codeOf(await wrong.json())).toBe('MG_ERR_HTTP_METHOD_NOT_ALLOWED');
    const badEscape = await getJson(h, '/v1/devices/%E0%A4%A');
    expect([badEscape.status, codeOf(badEscape.body)]).toEqual([400, 'MG_ERR_HTTP_BAD_PARAM']);
  });
});

describe('HTTP API: readiness failures', () => {
  it('is not ready when a check of the composition root fails, nor once the ledger is closed', async () => {
    let brokerUp = false;
    const h = await startHarness({ readiness: () => ({ broker: brokerUp }) });
    try {
      const down = await getJson(h, '/readyz');
      expect(down.status).toBe(503);
      expect(codeOf(down.body)).toBe('MG_ERR_NOT_READY');
      expect((down.body as { checks: Record<string, boolean> }).checks).toEqual({
        ledgerWritable: true,
        database: true,
        broker: false,
      });
      brokerUp = true;
      expect((await getJson(h, '/readyz')).status).toBe(200);
      await h.ledger.close();
      const closed = await getJson(h, '/readyz');
      expect(closed.status).toBe(503);
      expect((closed.body as { checks: { database: boolean } }).checks.database).toBe(false);
      expect((await getJson(h, '/healthz')).status).toBe(200);
    } finally {
      await h.close();
      await removeTempDirs();
    }
  });
});
