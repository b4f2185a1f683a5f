/**
 * The gateway as a person meets it: `startGateway` on loopback over the ledger of the previous
 * chapter, a clinician granted access over the HTTP API, a wearable streaming signed readings
 * over MQTT (each PUBACK means the reading is durably in the log), the clinician re-verifying
 * every reading herself, attacks refused by code, and a receipt fetched over HTTP and checked
 * offline. The demo plays the device with the protocol library and mqtt.js, as a device
 * maker's firmware would.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, signCoseSign1, signerFromSecretKey } from '../../firmware-ts/protocol/cose.js';
import { encodeReading, type Observation } from '../../firmware-ts/protocol/decode/reading.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { decodePublicKeyPem } from '../../firmware-ts/protocol/pem.js';
import { decodeReceipt, verifyReceipt } from '../../firmware-ts/protocol/receipt.js';
import { eventsTopic, telemetryTopic, verifiedTopic } from '../../firmware-ts/protocol/topics.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import type { Tx } from '../../firmware-ts/protocol/tx/types.js';
import {
  parseVerifiedReading,
  type VerifiedReading,
  verifyVerifiedReading,
} from '../../firmware-ts/protocol/verified-reading.js';
import { loadConfig } from '../config.js';
import { AUTHORITY_PUB_FILE } from '../ledger/ledger.js';
import { createLogger } from '../log.js';
import { type RunningGateway, startGateway } from '../server.js';
import { check, type Narrator } from './narrator.js';
import { connectMqtt, connectToken, loadPrincipal, type Principal, readDemoIndex } from './principals.js';

const DEVICE = 'wearable-002';
const READINGS = 20;
/** Seq whose SpO2 falls into the NEWS2 red band (≤ 91 %), to show an alert reaching the clinician. */
const DETERIORATION = 14;

/** Runs the gateway chapter on the ledger in `dir` (created by the ledger chapter). */
export async function gatewayStory(narrator: Narrator, dir: string): Promise<void> {
  const index = await readDemoIndex(dir);
  const load = (role: string, id: string) => loadPrincipal(dir, index, role, id);
  const chain = index.chain;
  const aad = chainAad(chain);
  const admin = await load('admin', 'bob');
  const clinician = await load('clinician', 'dr-lee');
  const device = await load('device', DEVICE);
  const token = (p: Principal, principal: string) => connectToken(p, principal, chain);
  const reading = (seq: number, obs: readonly Observation[], signer = device.signer) =>
    signCoseSign1(encodeReading({ dev: DEVICE, seq, t: Date.now(), obs }), signer, aad);

  let gateway: RunningGateway | undefined;
  const clients: MqttClient[] = [];
  const delivered: VerifiedReading[] = [];
  let mqttUrl = '';
  let httpUrl = '';
  let nonce = 0;

  const submit = async (tx: Omit<Tx, 'chain' | 'actor' | 'nonce' | 't'>): Promise<number> => {
    const bytes = signTx(
      { ...tx, chain, actor: `admin:${admin.id}`, nonce: ++nonce, t: Date.now() } as Tx,
      admin.signer,
    );
    const res = await fetch(`${httpUrl}/v1/tx`, {
      method: 'POST',
      headers: { 'content-type': 'application/cose' },
      body: bytes,
    });
    const json = (await res.json()) as { height?: number; error?: { code: string; message: string } };
    if (!res.ok) throw new Error(`${json.error?.code}: ${json.error?.message}`);
    return json.height ?? -1;
  };

  try {
    await narrator.step(
      'The gateway starts on loopback: MQTT, WebSocket and HTTP on free ports.',
      async () => {
        const config = loadConfig({
          env: {},
          flags: {
            data: dir,
            'mqtt-port': '0',
            'ws-port': '0',
            'http-port': '0',
            'block-interval-ms': '200',
          },
        });
        gateway = await startGateway(config, { log: createLogger({ level: 'silent' }) });
        mqttUrl = `mqtt://127.0.0.1:${gateway.ports.mqtt}`;
        httpUrl = `http://127.0.0.1:${gateway.ports.http}`;
        const health = await fetch(`${httpUrl}/healthz`);
        check(health.ok, 'GET /healthz answers 200');
        return [
          `mqtt ${gateway.ports.mqtt}, ws ${gateway.ports.ws}, http ${gateway.ports.http}; chain "${gateway.chain}"`,
        ];
      },
    );

    await narrator.step(
      `Admin ${admin.id} enrols ${DEVICE}, registers dr-lee and grants her access, over POST /v1/tx.`,
      async () => {
        const h1 = await submit({
          type: 'device.enrol',
          body: { dev: DEVICE, pub: device.pub, model: 'wearable-v1' },
        });
        const h2 = await submit({
          type: 'clinician.register',
          body: { id: clinician.id, pub: clinician.pub },
        });
        const h3 = await submit({ type: 'access.grant', body: { clinician: clinician.id, devs: [DEVICE] } });
        return [`three transactions, each signed by ${admin.id}'s own key, in blocks ${h1}, ${h2}, ${h3}`];
      },
    );

    await narrator.step('Dr Lee connects with her signed token and subscribes to the wearable.', async () => {
      const client = await connectMqtt(
        mqttUrl,
        `clinician:${clinician.id}`,
        token(clinician, `clinician:${clinician.id}`),
      );
      clients.push(client);
      client.on('message', (topic, payload) => {
        if (topic === verifiedTopic(DEVICE)) delivered.push(parseVerifiedReading(new Uint8Array(payload)));
      });
      await client.subscribeAsync(verifiedTopic(DEVICE), { qos: 1 });
      return [`subscribed to ${verifiedTopic(DEVICE)}`];
    });

    await narrator.step(
      `${DEVICE} streams ${READINGS} signed readings at QoS 1; each PUBACK means "on disk".`,
      async () => {
        const client = await connectMqtt(mqttUrl, DEVICE, token(device, DEVICE));
        clients.push(client);
        for (let seq = 1; seq <= READINGS; seq++) {
          const spo2 = seq === DETERIORATION ? 89 : 96 + (seq % 3);
          await client.publishAsync(
            telemetryTopic(DEVICE),
            Buffer.from(
              reading(seq, [
                { code: '8867-4', v: 68 + (seq % 7), u: '/min' },
                { code: '2708-6', v: spo2, u: '%' },
              ]),
            ),
            { qos: 1 },
          );
        }
        const size = gateway?.ledger.log.size ?? 0;
        return [`${READINGS} PUBACKs; the reading log now holds ${size} leaves`];
      },
    );

    await narrator.step('Dr Lee receives every reading and checks each signature herself.', async () => {
      const deadline = Date.now() + 5_000;
      while (delivered.length < READINGS && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      check(
        delivered.length === READINGS,
        `${READINGS} verified readings delivered (got ${delivered.length})`,
      );
      // She trusts the device key on the ledger, not the gateway's word: noble, in her own process.
      for (const r of delivered) verifyVerifiedReading(r, device.pub, nobleBackend);
      const alerted = delivered.filter((r) => r.alerts !== undefined);
      check(
        alerted.length === 1 && alerted[0]?.seq === DETERIORATION,
        'one NEWS2 red-band alert, on the deteriorating reading',
      );
      const show = (r: VerifiedReading) =>
        `seq ${String(r.seq).padStart(2)}  ${r.obs.map((o) => `${o.display} ${o.v} ${o.u}`).join(', ')}  leaf #${r.leafIndex}${r.alerts ? `  ALERT ${r.alerts.map((a) => `${a.display} ${a.direction}`).join('; ')}` : ''}`;
      return [
        ...delivered.slice(0, 2).map(show),
        '…',
        show(alerted[0] as VerifiedReading),
        `all ${READINGS} signatures verified by the clinician with the device's ledger key`,
      ];
    });

    await narrator.step('Attacks are refused with stable codes, and the device is told why.', async () => {
      const client = clients[1] as MqttClient;
      const events: Record<string, unknown>[] = [];
      client.on('message', (topic, payload) => {
        if (topic === eventsTopic(DEVICE))
          events.push(Object.fromEntries(decodeCbor(new Uint8Array(payload)) as Map<string, unknown>));
      });
      await client.subscribeAsync(eventsTopic(DEVICE), { qos: 1 });
      const forger = signerFromSecretKey(nodeBackend.generateSecretKey(), nodeBackend);
      await client.publishAsync(
        telemetryTopic(DEVICE),
        Buffer.from(reading(5, [{ code: '8867-4', v: 180, u: '/min' }])),
        { qos: 1 },
      );
      await client.publishAsync(
        telemetryTopic(DEVICE),
        Buffer.from(reading(READINGS + 1, [{ code: '8867-4', v: 70, u: '/min' }], forger)),
        { qos: 1 },
      );
      const deadline = Date.now() + 5_000;
      while (events.filter((e) => e.type === 'rejected').length < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      const codes = events.filter((e) => e.type === 'rejected').map((e) => String(e.code));
      check(codes.length === 2, `two refusals reported to the device (got ${codes.join(', ')})`);
      let stranger = 'accepted';
      try {
        const c = await connectMqtt(mqttUrl, 'wearable-999', token(device, 'wearable-999'));
        c.end(true);
      } catch (err) {
        stranger = `CONNACK ${(err as { code?: number }).code ?? '?'}`;
      }
      check(stranger !== 'accepted', 'an unknown device is refused at CONNECT');
      return [
        `old seq 5 with new values (replay)      → ${codes[0]}`,
        `reading signed by a stranger's key      → ${codes[1]}`,
        `unknown device wearable-999 connecting → ${stranger}`,
      ];
    });

    await narrator.step(
      'A receipt fetched over HTTP verifies offline with authority.pub alone.',
      async () => {
        await new Promise((r) => setTimeout(r, 500)); // one block interval and a bit: the checkpoint covers the leaf
        const r = delivered[DETERIORATION - 1] as VerifiedReading;
        const res = await fetch(`${httpUrl}/v1/receipts/${toHex(r.leafHash)}`);
        check(res.ok, `GET /v1/receipts answers ${res.status}`);
        const authority = decodePublicKeyPem(await readFile(join(dir, AUTHORITY_PUB_FILE), 'utf8'));
        const verified = verifyReceipt(decodeReceipt(await res.json()), [authority], nobleBackend);
        return [
          `seq ${r.seq} (the alert) is leaf #${verified.leafIndex} under the checkpoint signed in block ${verified.signedBlock.header.height}`,
        ];
      },
    );

    await narrator.step(
      'The gateway stops gracefully: in-flight readings finish, a last block is cut.',
      async () => {
        for (const c of clients.splice(0)) await c.endAsync();
        await gateway?.stop();
        gateway = undefined;
        return ['listeners closed, log flushed, database closed'];
      },
    );
  } finally {
    for (const c of clients) c.end(true);
    await gateway?.stop();
  }
}
