/**
 * A device's readings over HTTP, as a clinician's system uses them: history pages from the
 * real reading store, each reading re-verified with the device key the API serves; FHIR R4
 * Bundles whose Provenance carries the device's signature; and the access rules (token,
 * grant on the ledger) on every route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, fromHex } from '../../firmware-ts/protocol/bytes.js';
import { chainAad, decodeCoseSign1, verifyCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import {
  decodeVerifiedReading,
  type VerifiedReadingJson,
  verifyVerifiedReading,
} from '../../firmware-ts/protocol/verified-reading.js';
import type { Bundle, Observation, Provenance } from '../../gateway/fhir/resources.js';
import {
  addReading,
  authHeader,
  codeOf,
  enrolDemo,
  getJson,
  type Harness,
  removeTempDirs,
  startHarness,
} from './http-harness.js';

const HR = (v: number) => ({ code: '8867-4', v, u: '/min' });
const SPO2 = (v: number) => ({ code: '2708-6', v, u: '%' });

describe('HTTP API: readings and FHIR', () => {
  let h: Harness;
  let lee: () => string;
  let alice: () => string;

  beforeAll(async () => {
    h = await startHarness();
    await enrolDemo(
      h,
      {
        'wearable-001': 'wearable-v1',
        'wearable-002': 'wearable-v1',
        'bp-cuff-001': 'bp-cuff-v1',
        'glucose-001': 'glucose-v1',
      },
      ['wearable-001', 'bp-cuff-001', 'glucose-001'],
    );
    lee = () => authHeader(h, h.key('clinician:dr-lee'));
    alice = () => authHeader(h, h.key('admin:alice'));
    for (let seq = 0; seq < 5; seq++) await addReading(h, 'wearable-001', seq, [HR(70 + seq), SPO2(97)]);
    await addReading(h, 'wearable-002', 1, [HR(80)]);
    await addReading(h, 'bp-cuff-001', 1, [
      { code: '8480-6', v: 128, u: 'mm[Hg]' },
      HR(72),
      { code: '8462-4', v: 84, u: 'mm[Hg]' },
    ]);
    await addReading(h, 'glucose-001', 7, [{ code: '2339-0', v: 50, u: 'mg/dL' }]);
    await h.ledger.cutBlock();
  });

  afterAll(async () => {
    await h.close();
    await removeTempDirs();
  });

  it('gives a granted clinician the history, which verifies with the key the API serves', async () => {
    const { status, body } = await getJson(h, '/v1/devices/wearable-001/readings', lee());
    expect(status).toBe(200);
    const readings = (body as { readings: VerifiedReadingJson[] }).readings;
    expect(readings.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    const device = (await getJson(h, '/v1/devices/wearable-001', lee())).body as { key: { pub: string } };
    for (const r of readings) {
      const signed = verifyVerifiedReading(decodeVerifiedReading(r), fromHex(device.key.pub), nodeBackend);
      expect(signed.seq).toBe(r.seq);
    }
  });

  it('pages by afterSeq and limit, with the next afterSeq', async () => {
    const first = (await getJson(h, '/v1/devices/wearable-001/readings?limit=2', lee())).body as {
      readings: VerifiedReadingJson[];
      next?: number;
    };
    expect(first.readings.map((r) => r.seq)).toEqual([0, 1]);
    expect(first.next).toBe(1);
    const second = (
      await getJson(h, `/v1/devices/wearable-001/readings?afterSeq=${first.next}&limit=2`, lee())
    ).body as { readings: VerifiedReadingJson[]; next?: number };
    expect(second.readings.map((r) => r.seq)).toEqual([2, 3]);
    const last = (await getJson(h, '/v1/devices/wearable-001/readings?afterSeq=3&limit=2', lee())).body as {
      readings: VerifiedReadingJson[];
      next?: number;
    };
    expect(last.readings.map((r) => r.seq)).toEqual([4]);
    expect(last.next).toBeUndefined();
    for (const bad of ['limit=0', 'limit=1001', 'afterSeq=-1', 'afterSeq=x']) {
      const res = await getJson(h, `/v1/devices/wearable-001/readings?${bad}`, lee());
      expect([res.status, codeOf(res.body)], bad).toEqual([400, 'MG_ERR_HTTP_BAD_PARAM']);
    }
  });

  it('serves one reading by seq, 404 for a seq it does not hold', async () => {
    const one = await getJson(h, '/v1/devices/wearable-001/readings/3', lee());
    expect(one.status).toBe(200);
    expect((one.body as VerifiedReadingJson).obs[0]).toEqual({
      code: '8867-4',
      display: 'Heart rate',
      v: 73,
      u: '/min',
    });
    const missing = await getJson(h, '/v1/devices/wearable-001/readings/99', lee());
    expect([missing.status, codeOf(missing.body)]).toEqual([404, 'MG_ERR_READING_NOT_FOUND']);
  });

  it('refuses every reading route without a token, or without a grant', async () => {
    const routes = ['readings', 'readings/1', 'readings/1/fhir', 'observations'];
    for (const route of routes) {
      const anon = await getJson(h, `/v1/devices/wearable-002/${route}`);
      expect([anon.status, codeOf(anon.body)], route).toEqual([401, 'MG_ERR_AUTH_REQUIRED']);
      const noGrant = await getJson(h, `/v1/devices/wearable-002/${route}`, lee());
      expect([noGrant.status, codeOf(noGrant.body)], route).toEqual([403, 'MG_ERR_AUTH_NO_GRANT']);
      // Admins read every device.
      expect((await getJson(h, `/v1/devices/wearable-002/${route}`, alice())).status, route).toBe(200);
    }
    const badId = await getJson(h, '/v1/devices/enrol/readings', lee());
    expect([badId.status, codeOf(badId.body)]).toEqual([400, 'MG_ERR_HTTP_BAD_PARAM']);
  });

  it('maps a blood pressure reading to one panel, plus its heart rate, with a signed Provenance', async () => {
    const res = await fetch(`${h.base}/v1/devices/bp-cuff-001/readings/1/fhir?patient=pat-42`, {
      headers: { authorization: lee() },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
    const bundle = (await res.json()) as Bundle;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    const resources = bundle.entry.map((e) => e.resource);
    expect(resources.map((r) => r.resourceType)).toEqual(['Observation', 'Observation', 'Provenance']);
    const [bp, hr] = resources as [Observation, Observation];
    expect(bp.code.coding[0]).toMatchObject({ system: 'http://loinc.org', code: '85354-9' });
    expect(bp.valueQuantity).toBeUndefined();
    expect(bp.component?.map((c) => [c.code.coding[0]?.code, c.valueQuantity.value])).toEqual([
      ['8480-6', 128],
      ['8462-4', 84],
    ]);
    expect(bp.subject).toEqual({ reference: 'Patient/pat-42' });
    expect(bp.meta?.profile).toContain('http://hl7.org/fhir/StructureDefinition/bp');
    expect(hr.valueQuantity).toEqual({
      value: 72,
      unit: 'beats/minute',
      system: 'http://unitsofmeasure.org',
      code: '/min',
    });
    for (const e of bundle.entry) expect(e.fullUrl).toBe(`urn:uuid:${e.resource.id}`);

    // The Provenance carries the device's own signature: verify it with the ledger's key.
    const provenance = resources[2] as Provenance;
    expect(provenance.target.map((t) => t.reference)).toEqual([`urn:uuid:${bp.id}`, `urn:uuid:${hr.id}`]);
    const sig = provenance.signature[0]!;
    expect(sig.sigFormat).toBe('application/cose');
    verifyCoseSign1(
      decodeCoseSign1(fromBase64(sig.data)),
      h.key('bp-cuff-001').pub,
      chainAad(h.chain),
      nodeBackend,
    );
  });

  it('maps glucose outside vital signs, and omits the subject when no patient is given', async () => {
    const bundle = (await getJson(h, '/v1/devices/glucose-001/readings/7/fhir', lee())).body as Bundle;
    const glucose = bundle.entry[0]!.resource as Observation;
    expect(glucose.category.map((c) => c.coding[0]?.code)).toEqual(['laboratory', 'phd']);
    expect(glucose.subject).toBeUndefined();
    expect(glucose.meta).toBeUndefined();
    expect(glucose.device).toMatchObject({ reference: 'Device/glucose-001' });
    const bad = await getJson(h, '/v1/devices/glucose-001/readings/7/fhir?patient=a_b', lee());
    expect([bad.status, codeOf(bad.body)]).toEqual([400, 'MG_ERR_HTTP_BAD_PARAM']);
  });

  it('serves Observations as a searchset Bundle with paging links', async () => {
    const res = await getJson(h, '/v1/devices/wearable-001/observations?limit=2&patient=pat-7', lee());
    expect(res.status).toBe(200);
    const bundle = res.body as Bundle;
    expect(bundle.type).toBe('searchset');
    // Two readings × (HR + SpO2) as matches, one Provenance each as includes.
    expect(bundle.entry.map((e) => e.search?.mode)).toEqual([
      'match',
      'match',
      'include',
      'match',
      'match',
      'include',
    ]);
    expect(bundle.link).toEqual([
      { relation: 'self', url: '/v1/devices/wearable-001/observations?limit=2&patient=pat-7' },
      { relation: 'next', url: '/v1/devices/wearable-001/observations?afterSeq=1&limit=2&patient=pat-7' },
    ]);
    const next = (await getJson(h, bundle.link![1]!.url, lee())).body as Bundle;
    const effective = next.entry
      .map((e) => e.resource)
      .filter((r): r is Observation => r.resourceType === 'Observation')
      .map((o) => o.subject?.reference);
    expect(effective).toEqual(['Patient/pat-7', 'Patient/pat-7', 'Patient/pat-7', 'Patient/pat-7']);
  });
});

describe('HTTP API: no reading store', () => {
  it('answers the reading routes with 503 and a code', async () => {
    const h = await startHarness({ store: false });
    try {
      await enrolDemo(h, { 'wearable-001': 'wearable-v1' }, ['wearable-001']);
      const res = await getJson(
        h,
        '/v1/devices/wearable-001/readings',
        authHeader(h, h.key('clinician:dr-lee')),
      );
      expect([res.status, codeOf(res.body)]).toEqual([503, 'MG_ERR_READINGS_UNAVAILABLE']);
    } finally {
      await h.close();
      await removeTempDirs();
    }
  });
});
