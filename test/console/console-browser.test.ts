/**
 * The web console in a real browser (issue 8): Debian's Chromium driven by playwright-core
 * against a whole gateway on loopback (startTestGateway) with demo devices publishing signed
 * readings over MQTT. Checks what a clinician and an admin see, including what a malicious
 * gateway cannot fake: a reading altered after the device signed it shows as failed.
 * Screenshots go to test-output/console/. Skipped, with a warning, when no Chromium is installed.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBlock } from '../../firmware-ts/protocol/block.js';
import { fromBase64, toBase64, toHex } from '../../firmware-ts/protocol/bytes.js';
import type { Observation } from '../../firmware-ts/protocol/decode/reading.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { TOPIC_FILTERS, telemetryTopic, verifiedTopic } from '../../firmware-ts/protocol/topics.js';
import { signManifest } from '../../firmware-ts/protocol/tx/sign.js';
import type { VerifiedReadingJson } from '../../firmware-ts/protocol/verified-reading.js';
import { DEMO_KEYS_DIR } from '../../gateway/ledger/init.js';
import { deviceOf, proposalOf } from '../../gateway/ledger/state/queries.js';
import { nextMessage, randomKey, startTestGateway, type TestGateway } from '../gateway/harness.js';
import {
  type Browser,
  buildConsole,
  CHROMIUM,
  HAVE_CHROMIUM,
  launchBrowser,
  SCREENSHOTS,
} from './browser.js';

if (!HAVE_CHROMIUM) {
  console.warn(
    `test/console: SKIPPING the browser tests of the web console: no Chromium at ${CHROMIUM}. ` +
      'Install it (apt-get install -y chromium) or set MEDGATE_CHROMIUM to a Chromium binary.',
  );
}

const HR = (v: number): Observation => ({ code: '8867-4', v, u: '/min' });
const SPO2 = (v: number): Observation => ({ code: '2708-6', v, u: '%' });

describe.skipIf(!HAVE_CHROMIUM)('web console in Chromium', () => {
  let gw: TestGateway;
  let browser: Browser;
  let base: string;
  let device: MqttClient;
  let watcher: MqttClient;
  /** The verified readings the gateway published, by seq (wearable-001). */
  const published = new Map<number, VerifiedReadingJson>();

  /** The PEM of a demo key, as the user would load it from DIR/demo-keys/. */
  async function pem(role: string, id: string): Promise<string> {
    const entry = gw.index.keys.find((k) => k.role === role && k.id === id);
    if (entry === undefined) throw new Error(`no demo key ${role} ${id}`);
    return readFile(join(gw.dir, DEMO_KEYS_DIR, entry.key), 'utf8');
  }

  async function signIn(page: Page, role: string, id: string, principal = ''): Promise<void> {
    await page.goto(`${base}/console/`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#key', await pem(role, id));
    await page.fill('#principal', principal);
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#live[data-live="live"]', { timeout: 10_000 });
  }

  /** Publishes a signed reading as the device does and returns the verified JSON the gateway published. */
  async function publish(
    dev: string,
    seq: number,
    obs: readonly Observation[],
  ): Promise<VerifiedReadingJson> {
    const next = nextMessage(watcher, verifiedTopic(dev));
    await device.publishAsync(telemetryTopic(dev), Buffer.from(gw.reading(dev, seq, { obs })), { qos: 1 });
    const json = JSON.parse((await next).payload.toString('utf8')) as VerifiedReadingJson;
    published.set(seq, json);
    return json;
  }

  beforeAll(async () => {
    await buildConsole();
    gw = await startTestGateway({ enrol: ['wearable-001', 'wearable-002'], clinician: true });
    await gw.grant(['wearable-001', 'wearable-002']);
    base = `http://127.0.0.1:${gw.ports.http}`;
    device = await gw.connect('wearable-001');
    watcher = await gw.connect('admin:carol');
    await watcher.subscribeAsync(TOPIC_FILTERS.verified, { qos: 1 });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  it('serves the console page with its modules and no errors', async () => {
    const { page, errors } = await browser.page();
    const response = await page.goto(`${base}/console/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self' 'sha256-");
    await page.waitForSelector('body[data-ready="true"]');
    await page.screenshot({ path: join(SCREENSHOTS, '01-sign-in.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('clinician: live readings appear with verified badges, alerts highlighted', async () => {
    const { page, errors } = await browser.page();
    await signIn(page, 'clinician', 'dr-lee', 'dr-lee');
    for (let seq = 1; seq <= 6; seq++) await publish('wearable-001', seq, [HR(70 + seq), SPO2(97)]);
    await publish('wearable-001', 7, [HR(72), SPO2(88)]);
    const row = (seq: number) => `tr[data-dev="wearable-001"][data-seq="${seq}"]`;
    await page.waitForSelector(`${row(7)}[data-status="verified"]`);
    expect(await page.locator('tr[data-dev="wearable-001"][data-status="verified"]').count()).toBe(7);
    expect(await page.locator('tr[data-dev="wearable-001"][data-status="failed"]').count()).toBe(0);
    // SpO2 88 % is in NEWS2's red band (≤ 91): the row and the alerts panel say so.
    expect(await page.getAttribute(row(7), 'class')).toContain('alert');
    expect(await page.textContent('#alerts')).toContain('Oxygen saturation 88 %');
    expect(await page.locator('figure.chart[data-code="8867-4"] canvas').count()).toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, '02-clinician-live.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('clinician: a reading altered after signing shows as failed and is not plotted', async () => {
    const { page, errors } = await browser.page();
    await signIn(page, 'clinician', 'dr-lee', 'clinician:dr-lee');
    await page.waitForSelector('tr[data-dev="wearable-001"][data-seq="7"]');
    const good = await publish('wearable-001', 8, [HR(80), SPO2(96)]);
    await page.waitForSelector('tr[data-dev="wearable-001"][data-seq="8"][data-status="verified"]');
    // A malicious gateway (or anything between it and the browser) publishes on the verified
    // topic: first the same reading with a higher heart rate, then one whose COSE is altered.
    const raised = { ...good, obs: [{ ...good.obs[0]!, v: 140 }, good.obs[1]!] };
    await gw.gateway.broker.publisher.publish(verifiedTopic('wearable-001'), JSON.stringify(raised));
    const other = await publish('wearable-001', 9, [HR(81), SPO2(96)]);
    const cose = fromBase64(other.cose);
    cose[cose.length - 1]! ^= 0x01;
    const forged = { ...other, seq: 10, cose: toBase64(cose) };
    await gw.gateway.broker.publisher.publish(verifiedTopic('wearable-001'), JSON.stringify(forged));

    const failed = (seq: number) =>
      page.locator(`tr[data-dev="wearable-001"][data-seq="${seq}"][data-status="failed"]`);
    await failed(10).waitFor();
    expect(await failed(8).locator('.code').textContent()).toBe('MG_ERR_VERIFIED_MISMATCH');
    expect(await failed(8).locator('td.claimed').textContent()).toContain('Heart rate 140 /min');
    expect(await failed(10).locator('.code').textContent()).toBe('MG_ERR_BAD_SIGNATURE');
    expect(
      await page.locator('tr[data-dev="wearable-001"][data-seq="8"][data-status="verified"]').count(),
    ).toBe(1);
    // Only the verified readings (30 loaded from history and live) are plotted: 1..9, never 140.
    expect(await page.getAttribute('figure.chart[data-code="8867-4"]', 'data-points')).toBe('9');
    await page.screenshot({ path: join(SCREENSHOTS, '03-clinician-tampered.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("clinician: a reading's receipt verifies against the signed block, and its FHIR Observation opens", async () => {
    const { page, errors } = await browser.page();
    await signIn(page, 'clinician', 'dr-lee', 'dr-lee');
    const row = page.locator('tr[data-dev="wearable-001"][data-seq="1"][data-status="verified"]');
    await row.locator('td.receipt button').click();
    const cell = row.locator('td.receipt[data-height]');
    await cell.waitFor();
    const receipt = await gw.ledger.receipt(published.get(1)!.leafIndex);
    const height = decodeBlock(receipt.block).header.height;
    expect(await cell.getAttribute('data-height')).toBe(String(height));
    expect(await cell.textContent()).toBe(`anchored at height ${height}`);

    await page.locator('tr[data-dev="wearable-001"][data-seq="7"] button', { hasText: 'FHIR' }).click();
    await page.waitForSelector('#fhir[open]');
    await page.locator('#fhir-json', { hasText: 'resourceType' }).waitFor();
    const bundle = JSON.parse((await page.textContent('#fhir-json'))!) as {
      resourceType: string;
      entry: unknown[];
    };
    expect(bundle.resourceType).toBe('Bundle');
    expect(JSON.stringify(bundle.entry)).toContain('2708-6');
    await page.screenshot({ path: join(SCREENSHOTS, '04-clinician-fhir.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('admin: approves a rollout proposal with a key loaded into the page, and the count rises', async () => {
    // alice releases firmware and proposes its rollout: 1 of the 2 approvals the policy needs.
    const image = new TextEncoder().encode('firmware 1.1.0 for wearable-v1');
    const manifest = signManifest(
      {
        vendor: 'acme',
        model: 'wearable-v1',
        seq: 2,
        version: '1.1.0',
        digest: sha256(image),
        size: image.length,
        created: Date.now(),
      },
      gw.key('vendor:acme').signer,
      gw.chain,
    );
    await gw.tx('admin:alice', 'firmware.release', { manifest });
    const expires = Date.now() + 3_600_000;
    const { id } = await gw.tx('admin:alice', 'proposal.create', {
      action: {
        type: 'rollout.authorize',
        body: {
          manifest: sha256(manifest),
          model: 'wearable-v1',
          target: { devs: ['wearable-001', 'wearable-002'] },
          notBefore: 0,
          expires,
          waves: [1, 1],
          maxFailures: 1,
        },
      },
      expires,
    });
    const proposal = toHex(id);

    const { page, errors } = await browser.page();
    await signIn(page, 'admin', 'bob');
    expect(await page.textContent('#whoami')).toContain('admin:bob');
    await page.click('nav.tabs button[data-tab="proposals"]');
    const card = page.locator(`article[data-proposal="${proposal}"]`);
    await card.locator('.approvals[data-approvals="1"][data-required="2"]').waitFor();
    expect(await card.locator('.cli').textContent()).toContain(`medgate rollout approve ${proposal}`);
    await page.screenshot({ path: join(SCREENSHOTS, '05-admin-proposal.png'), fullPage: true });
    await card.locator('button.approve').click();
    await page.locator(`article[data-proposal="${proposal}"][data-status="executed"]`).waitFor();
    expect(await card.locator('.approvals').getAttribute('data-approvals')).toBe('2');
    const view = proposalOf(gw.ledger.state, proposal)!;
    expect(view.proposal.status).toBe('executed');
    expect(view.proposal.approvals.map((a) => a.admin)).toEqual(['bob']);
    const rollout = page.locator(`article[data-rollout="${proposal}"]`);
    await rollout.locator('li[data-wave="1"]').waitFor();
    expect(await rollout.getAttribute('data-status')).toBe('active');
    expect(await rollout.locator('li[data-wave="0"]').textContent()).toContain('0 of 1 ended');
    await page.screenshot({ path: join(SCREENSHOTS, '06-admin-rollout.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('admin: fleet, an enrolment approved in the page, the security feed and the ledger explorer', async () => {
    // A blood-pressure cuff self-enrols; its model's policy makes it wait for an admin.
    const cuffKey = randomKey();
    const cuff = await gw.connect('enrol', {
      username: 'enrol',
      clientId: 'bp-cuff-009',
      password: gw.enrolRequest('bp-cuff-009', cuffKey, 'bp-cuff-v1'),
    });
    await pollUntil(() => deviceOf(gw.ledger.state, 'bp-cuff-009')?.status === 'pending');
    cuff.end(true);

    const { page, errors } = await browser.page();
    await signIn(page, 'admin', 'carol');
    const fleetRow = page.locator('#tab-fleet tr[data-dev="wearable-001"]');
    await fleetRow.waitFor();
    expect(await fleetRow.textContent()).toContain('ago');
    expect(await page.locator('#tab-fleet tr[data-dev="bp-cuff-009"]').textContent()).toContain('pending');
    await page.screenshot({ path: join(SCREENSHOTS, '07-admin-fleet.png'), fullPage: true });

    await page.click('nav.tabs button[data-tab="enrolments"]');
    await page.locator('#tab-enrolments tr[data-dev="bp-cuff-009"] button').click();
    await page.locator('#admin-status .badge[data-status="verified"]').waitFor();
    expect(deviceOf(gw.ledger.state, 'bp-cuff-009')?.status).toBe('active');

    // A replayed connect token is a security event: it reaches the page over MQTT.
    await page.click('nav.tabs button[data-tab="security"]');
    const token = gw.token('wearable-002');
    (await gw.connect('wearable-002', { password: token })).end(true);
    await gw.refusal('wearable-002', { password: token });
    await page.locator('#security-events li[data-code="MG_ERR_AUTH_NONCE_REUSED"]').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, '08-admin-security.png'), fullPage: true });

    await page.click('nav.tabs button[data-tab="ledger"]');
    await page.locator('#tab-ledger tr[data-height][data-status="verified"]').first().waitFor();
    const rows = page.locator('#tab-ledger tr[data-height]');
    expect(await rows.count()).toBeGreaterThanOrEqual(5);
    expect(await page.locator('#tab-ledger tr[data-height][data-status="failed"]').count()).toBe(0);
    await rows.first().click();
    await page.locator('#tab-ledger .detail h3').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, '09-admin-ledger.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});

/** Polls `check` every 50 ms, at most 5 s (bounded). */
async function pollUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met within 5 s');
}
