/**
 * The whole gateway killed at random moments (issue 7 "Long fault runs"; DESIGN §4: "an
 * acknowledged reading is never lost", "a crash at any instant leaves a ledger that opens,
 * verifies, and has every acknowledged leaf").
 *
 * `medgate gateway` runs as a child process on a `medgate init --demo` directory; the five demo
 * devices (enrolled by the demo admin) stream signed readings at QoS 1 (sim-device.ts: resend
 * what was not acknowledged, then continue above it). The child is killed with SIGKILL at a
 * random moment of each run: usually while the devices stream, sometimes while it is still
 * starting (opening the ledger, catching the reading store up). After the last restart the
 * devices finish, and then:
 *   - every reading a device saw acknowledged has a receipt from GET /v1/receipts/{leafHash}
 *     that verifies offline with the authority key alone;
 *   - no (device, seq) is in the reading log twice;
 *   - SIGTERM stops the gateway with exit 0 and `medgate ledger verify` passes.
 *
 * MEDGATE_FAULT_KILLS sets the number of kills (default 3; `npm run test:faults` runs 50).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { decodeCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { READING_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import { decodeReading } from '../../firmware-ts/protocol/decode/reading.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { leafHash } from '../../firmware-ts/protocol/merkle/index.js';
import { decodePublicKeyPem } from '../../firmware-ts/protocol/pem.js';
import { verifyReceipt } from '../../firmware-ts/protocol/receipt.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { demoDataDir, type TestGateway } from '../gateway/harness.js';
import { enrolDevices } from './enrol.js';
import {
  FAULT_KILLS,
  FAULT_SCALE,
  GatewayChild,
  getJson,
  metric,
  runMedgate,
  sleep,
  VERBOSE,
} from './gateway-child.js';
import { SimDevice } from './sim-device.js';

const DEMO_DEVICES = ['wearable-001', 'wearable-002', 'wearable-003', 'bp-cuff-001', 'glucose-001'];

function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/** Runs `work` on `items` with at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

describe(`gateway process: SIGKILL at random moments (${FAULT_KILLS} kills)`, () => {
  let gw: TestGateway;
  let devices: SimDevice[];
  let current: GatewayChild | undefined;

  beforeAll(async () => {
    gw = await demoDataDir();
    await enrolDevices(
      gw,
      DEMO_DEVICES.map((dev) => ({ dev, pub: gw.key(dev).pub })),
    );
    devices = DEMO_DEVICES.map(
      (dev) =>
        new SimDevice(
          dev,
          { reading: (seq) => gw.reading(dev, seq), token: () => gw.token(dev) },
          {
            window: 4,
            paceMs: Math.max(2, Math.round(10 / FAULT_SCALE)),
          },
        ),
    );
  });
  afterAll(async () => {
    for (const d of devices ?? []) d.detach();
    await current?.kill();
    await gw?.stop();
  });

  /** Starts the gateway and attaches every device; returns the child once all are connected. */
  async function startAndAttach(): Promise<{ child: GatewayChild; attached: boolean }> {
    const child = new GatewayChild(gw.dir);
    current = child;
    let port: number;
    try {
      port = (await child.listening).mqtt;
    } catch {
      return { child, attached: false };
    }
    const url = `mqtt://127.0.0.1:${port}`;
    const attached = await Promise.all(devices.map((d) => d.attach(url, () => child.alive)));
    return { child, attached: attached.every(Boolean) };
  }

  it('keeps every acknowledged reading, once, with a valid receipt, and the ledger verifies', {
    timeout: 60_000 + FAULT_KILLS * 20_000,
  }, async () => {
    const started = Date.now();
    const mark = (what: string) => VERBOSE && console.log(`${what} at ${Date.now() - started} ms`);
    let startupKills = 0;
    for (let run = 0; run < FAULT_KILLS; run++) {
      const ackedBefore = devices.reduce((n, d) => n + d.acked.length, 0);
      let child: GatewayChild;
      // One run in five kills the gateway while it starts (ledger open, store recovery).
      if (Math.random() < 0.2) {
        child = new GatewayChild(gw.dir);
        current = child;
        await sleep(randomInt(0, 1200));
        startupKills++;
      } else {
        ({ child } = await startAndAttach());
        for (const d of devices) d.produce(true);
        await sleep(randomInt(50, 1000));
      }
      await child.kill();
      for (const d of devices) d.detach();
      if (VERBOSE) {
        const acked = devices.reduce((n, d) => n + d.acked.length, 0);
        console.log(
          `run ${run}: +${acked - ackedBefore} acked, ${devices.reduce((n, d) => n + d.pending.size, 0)} pending`,
        );
      }
    }

    mark('kills done');
    // The last run: the devices reconnect, resend, stream a little more, then finish.
    const { child, attached } = await startAndAttach();
    expect(attached, child.stderr.slice(-4000)).toBe(true);
    const { http } = await child.listening;
    for (const d of devices) d.produce(true);
    await sleep(500);
    for (const d of devices) d.produce(false);
    for (let i = 0; i < 200 && devices.some((d) => d.pending.size > 0); i++) await sleep(50);
    for (const d of devices) {
      expect(d.pending.size, `${d.id} has unacknowledged readings`).toBe(0);
      expect(d.rejected, `${d.id} got rejected events`).toEqual([]);
      // Seqs rose strictly and resumed above the last acknowledged one after every restart.
      const seqs = d.acked.map((a) => a.seq).sort((a, b) => a - b);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs.at(-1)).toBe(seqs.length); // 1..n, none skipped: unacked ones were resent
    }
    const acked = devices.flatMap((d) => d.acked);
    expect(acked.length).toBeGreaterThan(0);

    mark('devices finished');
    // Wait for a block whose checkpoint covers the whole log.
    let logSize = -1;
    for (let i = 0; i < 100; i++) {
      logSize = await metric(http, 'medgate_log_size');
      const tip = (await getJson(http, '/v1/blocks/tip')).body as { header: { log: { size: number } } };
      if (tip.header.log.size === logSize) break;
      await sleep(100);
    }
    expect(logSize).toBeGreaterThanOrEqual(acked.length);

    mark('block covers the log');
    // Every acknowledged reading: a receipt that verifies offline with the authority key.
    const authority = decodePublicKeyPem(await readFile(join(gw.dir, 'authority.pub'), 'utf8'));
    const failures: string[] = [];
    await eachLimited(acked, 8, async ({ bytes }) => {
      const hash = leafHash(bytes);
      const { status, body } = await getJson(http, `/v1/receipts/${toHex(hash)}`);
      if (status !== 200) {
        failures.push(`${toHex(hash)}: HTTP ${status} ${JSON.stringify(body)}`);
        return;
      }
      const receipt = verifyReceipt(body, [authority], nodeBackend);
      if (toHex(receipt.leafHash) !== toHex(hash) || receipt.chain !== gw.chain) failures.push(toHex(hash));
    });
    expect(failures.slice(0, 5), `${failures.length} receipts missing or wrong`).toEqual([]);

    mark('receipts checked');
    expect(await child.stop(), child.stderr.slice(-4000)).toBe(0);
    current = undefined;

    // No (device, seq) twice in the log.
    const ledger = await Ledger.open(gw.dir, { readOnly: true });
    const seen = new Set<string>();
    const duplicates: string[] = [];
    try {
      for (let index = 0; index < ledger.log.size; index++) {
        const { leafData } = await ledger.log.leaf(index);
        const reading = decodeReading(
          decodeCbor(decodeCoseSign1(leafData as Uint8Array).payload, READING_CBOR_LIMITS),
        );
        const key = `${reading.dev}/${reading.seq}`;
        if (seen.has(key)) duplicates.push(key);
        seen.add(key);
      }
      expect(ledger.tip.header.log.size).toBe(ledger.log.size);
    } finally {
      await ledger.close();
    }
    expect(duplicates).toEqual([]);
    expect(seen.size).toBeGreaterThanOrEqual(acked.length);

    mark('log checked');
    const verify = runMedgate('ledger', 'verify', '--data', gw.dir);
    expect(verify.stderr).toBe('');
    expect(verify.status).toBe(0);

    mark('ledger verified');
    const resent = devices.reduce((n, d) => n + d.resent, 0);
    const summary = `gateway-kill: ${FAULT_KILLS} kills (${startupKills} during startup), ${acked.length} readings acknowledged, ${resent} resent after restarts, log ${seen.size} leaves, ${Math.round((Date.now() - started) / 1000)} s`;
    if (VERBOSE || FAULT_KILLS > 3) console.log(summary);
  });
});
