/**
 * Random payloads through the MQTT telemetry path of a real gateway (issue 7 "Fuzzing"):
 * an enrolled device, connected with a valid token, publishes fuzzed payloads at QoS 1 on its
 * own telemetry topic: random bytes, edits of a valid signed reading, payloads that are valid
 * COSE signed by the device's own key over mutated readings (they pass the signature and reach
 * the reading decoder, the vital-sign checks and the seq rules), signatures by another key, and
 * payloads just over the size limit. Before them one valid reading with a very high seq is
 * accepted, so that any mutated reading that decodes is at best a replay.
 *
 * Afterwards: every payload got its PUBACK and exactly one `rejected` event with a code from the
 * code enums, the device was never disconnected, nothing was logged at error level, the reading
 * log, the tip and the state are as before, and the gateway still accepts a valid reading.
 *
 * The device's failure score is forgiven between batches (as an admin would lift a penalty):
 * the penalty itself is tested in test/gateway; here every payload must reach the decoders.
 */
import fc from 'fast-check';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { equalBytes } from '../../firmware-ts/protocol/bytes.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, decodeCoseSign1, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { READING_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import { decodeReading } from '../../firmware-ts/protocol/decode/reading.js';
import { eventsTopic, telemetryTopic } from '../../firmware-ts/protocol/topics.js';
import { encodeState } from '../../gateway/ledger/state/encode.js';
import { randomKey, startTestGateway, type TestGateway } from '../gateway/harness.js';
import {
  ALL_CODES,
  applyByteEdits,
  applyTreeEdits,
  byteEdits,
  fuzzRuns,
  treeEdits,
  tryEncode,
} from './fuzz-support.js';

const DEV = 'wearable-001';
const ANCHOR_SEQ = 2 ** 40;
const MAX_PAYLOAD = 4096;
const RUNS = fuzzRuns(1500);
const WINDOW = 64;
const BATCH = 500;

describe(`fuzz: random payloads on a device's telemetry topic (${RUNS} publishes)`, () => {
  let gw: TestGateway;
  let device: MqttClient;
  const events: Map<string, unknown>[] = [];
  let closed = 0;

  beforeAll(async () => {
    gw = await startTestGateway({
      enrol: [DEV],
      limits: { maxPayloadBytes: MAX_PAYLOAD, failuresBeforeSlowdown: 1000 },
    });
    device = await gw.connect(DEV);
    device.on('close', () => closed++);
    device.on('message', (_topic, payload) => {
      events.push(decodeCbor(new Uint8Array(payload)) as Map<string, unknown>);
    });
    await device.subscribeAsync(eventsTopic(DEV), { qos: 1 });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('refuses each with a coded event and changes nothing; the gateway still serves', {
    timeout: 60_000 + RUNS * 10,
  }, async () => {
    const aad = chainAad(gw.chain);
    const anchor = gw.reading(DEV, ANCHOR_SEQ);
    await device.publishAsync(telemetryTopic(DEV), Buffer.from(anchor), { qos: 1 });
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(events.shift()?.get('type')).toBe('accepted');

    const ledger = gw.ledger;
    // The anchor's block first: afterwards no block may be cut (nothing changes).
    for (let i = 0; i < 100 && ledger.tip.header.log.size < ledger.log.size; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const before = {
      size: ledger.log.size,
      height: ledger.tip.header.height,
      state: encodeState(ledger.state),
    };
    const readingTree = decodeCbor(decodeCoseSign1(anchor).payload);
    const stranger = randomKey();

    /** A signed mutated reading, unless it would be a valid reading above the anchor. */
    const resigned = (edits: Parameters<typeof applyTreeEdits>[1], key = gw.key(DEV)) => {
      const payload = tryEncode(applyTreeEdits(readingTree, edits));
      if (payload === undefined) return new Uint8Array([0xa0]);
      try {
        if (decodeReading(decodeCbor(payload, READING_CBOR_LIMITS)).seq > ANCHOR_SEQ)
          return new Uint8Array([0xf6]);
      } catch {
        // does not decode: the gateway must say why
      }
      return signCoseSign1(payload, key.signer, aad);
    };
    const payload: fc.Arbitrary<Uint8Array> = fc.oneof(
      fc.uint8Array({ maxLength: 2048 }),
      byteEdits.map((edits) => applyByteEdits(anchor, edits)),
      { weight: 3, arbitrary: treeEdits().map((edits) => resigned(edits)) },
      treeEdits().map((edits) => resigned(edits, stranger)),
      fc.integer({ min: 1, max: 900 }).map((extra) => new Uint8Array(MAX_PAYLOAD + extra).fill(0xa1)),
    );
    const payloads = fc.sample(payload, { numRuns: RUNS });
    const duplicates = payloads.filter((p) => equalBytes(p, anchor)).length;

    let acked = 0;
    for (let start = 0; start < payloads.length; start += BATCH) {
      gw.gateway.pipeline?.penalty.forgive(DEV);
      const batch = payloads.slice(start, start + BATCH);
      let next = 0;
      const worker = async () => {
        while (next < batch.length) {
          await device.publishAsync(telemetryTopic(DEV), Buffer.from(batch[next++] as Uint8Array), {
            qos: 1,
          });
          acked++;
        }
      };
      await Promise.all(Array.from({ length: WINDOW }, worker));
    }
    expect(acked).toBe(payloads.length);
    const want = payloads.length - duplicates;
    for (let i = 0; i < 250 && events.length < want; i++) await new Promise((r) => setTimeout(r, 20));

    expect(closed, 'the device was disconnected').toBe(0);
    expect(events).toHaveLength(want);
    const codes = new Map<string, number>();
    for (const event of events) {
      expect(event.get('type')).toBe('rejected');
      const code = String(event.get('code'));
      expect(ALL_CODES.has(code), code).toBe(true);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    // The payloads reached every layer: CBOR/COSE, signature, reading decoder, seq rules.
    expect([...codes.keys()]).toEqual(
      expect.arrayContaining([
        'MG_ERR_COSE_MALFORMED',
        'MG_ERR_BAD_SIGNATURE',
        'MG_ERR_REPLAY',
        'MG_ERR_READING_TOO_LARGE',
      ]),
    );
    expect(gw.lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(ledger.log.size).toBe(before.size);
    expect(ledger.tip.header.height).toBe(before.height);
    expect(encodeState(ledger.state)).toEqual(before.state);
    if (process.env.MEDGATE_FUZZ_RUNS !== undefined || process.env.MEDGATE_FUZZ_VERBOSE !== undefined) {
      console.log(
        `telemetry fuzz: ${payloads.length} publishes, codes ${JSON.stringify(Object.fromEntries(codes))}`,
      );
    }

    // Still serving.
    events.length = 0;
    await device.publishAsync(telemetryTopic(DEV), Buffer.from(gw.reading(DEV, ANCHOR_SEQ + 1)), { qos: 1 });
    expect(ledger.log.size).toBe(before.size + 1);
  });
});
