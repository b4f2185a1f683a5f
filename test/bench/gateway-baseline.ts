/**
 * The two baselines of the gateway benchmark (issue 4, test/bench/gateway.ts), run as a child
 * process so that, like the gateway, the broker has a main thread of its own:
 *
 *   plain  aedes with its defaults: every CONNECT and every publish allowed, nothing verified
 *   naive  aedes whose `authorizePublish` decodes the COSE_Sign1 and verifies it with node:crypto
 *          on the main thread (the device's key from a map, no ledger, no log, no seq rules)
 *
 * Neither routes telemetry anywhere (no subscribers), and both acknowledge QoS 1 after
 * `authorizePublish` calls back, as the gateway does. Once listening on 127.0.0.1 it writes one
 * line, `{"event":"listening","mqtt":PORT}`; SIGTERM closes it.
 *
 *   node --import tsx test/bench/gateway-baseline.ts plain
 *   node --import tsx test/bench/gateway-baseline.ts naive KEYS.json   ({chain, keys: {dev: pubHex}})
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';
import { fromHex } from '../../firmware-ts/protocol/bytes.js';
import { chainAad, decodeCoseSign1, verifyCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';

export type BaselineMode = 'plain' | 'naive';

/** What the naive broker knows of the devices: the chain (COSE external_aad) and each public key. */
export interface BaselineKeys {
  readonly chain: string;
  readonly keys: Readonly<Record<string, string>>;
}

/** `mg/v1/dev/{id}/telemetry` → id (DESIGN §3); undefined for any other topic. */
function telemetryDevice(topic: string): string | undefined {
  const parts = topic.split('/');
  return parts.length === 5 &&
    parts[0] === 'mg' &&
    parts[1] === 'v1' &&
    parts[2] === 'dev' &&
    parts[4] === 'telemetry'
    ? parts[3]
    : undefined;
}

function naiveOptions(file: BaselineKeys): AedesOptions {
  const aad = chainAad(file.chain);
  const keys = new Map(Object.entries(file.keys).map(([dev, hex]) => [dev, fromHex(hex, dev)]));
  return {
    authorizePublish: (_client, packet, callback) => {
      const key = keys.get(telemetryDevice(packet.topic) ?? '');
      if (key === undefined) {
        callback(new Error('unknown device'));
        return;
      }
      try {
        verifyCoseSign1(decodeCoseSign1(packet.payload as Buffer), key, aad, nodeBackend);
        callback(null);
      } catch (err) {
        callback(err as Error);
      }
    },
  };
}

async function main(mode: string | undefined, keysFile: string | undefined): Promise<void> {
  if (mode !== 'plain' && mode !== 'naive') throw new Error(`mode ${mode}: want plain or naive`);
  if (mode === 'naive' && keysFile === undefined) throw new Error('naive needs a keys file');
  const options =
    mode === 'naive' ? naiveOptions(JSON.parse(await readFile(keysFile!, 'utf8')) as BaselineKeys) : {};
  const broker = await Aedes.createBroker(options);
  // TCP_NODELAY as the gateway's listener sets it (gateway/broker/listeners.ts): the three brokers
  // differ in what they do with a publish, not in how their sockets send.
  const server = createServer({ noDelay: true }, broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.stdout.write(`${JSON.stringify({ event: 'listening', mqtt: address.port })}\n`);
  process.once('SIGTERM', () => {
    server.close();
    broker.close(() => process.exit(0));
  });
}

await main(process.argv[2], process.argv[3]);
