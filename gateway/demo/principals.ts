/**
 * The demo's people and devices: demo keys read from `DIR/demo-keys/index.json`, connect
 * tokens (DESIGN §3: a COSE_Sign1 over {purpose, dev, t, nonce} with the chain id as
 * external_aad) and mqtt.js connections made with them, as a real client would.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import {
  type CoseSigner,
  chainAad,
  signCoseSign1,
  signerFromSecretKey,
} from '../../firmware-ts/protocol/cose.js';
import { encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { decodePrivateKeyPem } from '../../firmware-ts/protocol/pem.js';
import { DEMO_INDEX_FILE, DEMO_KEYS_DIR, type DemoKeyIndex } from '../ledger/init.js';

export interface Principal {
  readonly id: string;
  readonly secret: Uint8Array;
  readonly pub: Uint8Array;
  readonly signer: CoseSigner;
}

export async function readDemoIndex(dir: string): Promise<DemoKeyIndex> {
  return JSON.parse(await readFile(join(dir, DEMO_KEYS_DIR, DEMO_INDEX_FILE), 'utf8')) as DemoKeyIndex;
}

/** The key file of `role` `id` in the demo index, as a path. */
export function demoKeyPath(dir: string, index: DemoKeyIndex, role: string, id: string): string {
  const entry = index.keys.find((k) => k.role === role && k.id === id);
  if (!entry) throw new Error(`no demo key for ${role} ${id}`);
  return join(dir, DEMO_KEYS_DIR, entry.key);
}

export async function loadPrincipal(
  dir: string,
  index: DemoKeyIndex,
  role: string,
  id: string,
): Promise<Principal> {
  const secret = decodePrivateKeyPem(await readFile(demoKeyPath(dir, index, role, id), 'utf8'));
  return { id, secret, pub: nodeBackend.publicKey(secret), signer: signerFromSecretKey(secret, nodeBackend) };
}

/** A fresh connect token of `p` for the client id `principal` (a device id, `admin:…`, `clinician:…`). */
export function connectToken(p: Principal, principal: string, chain: string): Uint8Array {
  return signCoseSign1(
    encodeConnectToken({ dev: principal, t: Date.now(), nonce: randomBytes(16) }),
    p.signer,
    chainAad(chain),
  );
}

/** MQTT 3.1.1 connection with client id = username = `principal`; rejects on a refused CONNACK. */
export function connectMqtt(url: string, principal: string, password: Uint8Array): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    clientId: principal,
    username: principal,
    password: Buffer.from(password),
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}
