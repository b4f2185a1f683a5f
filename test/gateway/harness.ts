/**
 * A whole gateway for tests, as `medgate gateway` runs it: `initLedger({demo: true})` (what
 * `medgate init --demo` does) in a temporary directory, then `startGateway` on 127.0.0.1 with
 * every port 0, the real telemetry pipeline (or a handler of the test's own), and a pino
 * logger whose lines are kept for assertions. Clients are real mqtt.js clients that sign
 * connect tokens with the demo keys (DIR/demo-keys/index.json).
 *
 *   const gw = await startTestGateway({ enrol: ['wearable-001'] });
 *   const dev = await gw.connect('wearable-001');           // MQTT 3.1.1, valid token
 *   await dev.publishAsync(telemetryTopic('wearable-001'), gw.reading('wearable-001', 1), { qos: 1 });
 *   expect(await gw.refusal('wearable-002')).toBe(4);       // CONNACK code of a refused CONNECT
 *   await gw.revokeDevice('wearable-001');                   // admin tx, resolves once in a block
 *   await gw.stop();                                        // graceful stop, temp dir removed
 *
 * Ledger helpers sign transactions with the demo admin `alice` (or the actor given) and submit
 * them to the running gateway's Ledger directly; they resolve once the block is written.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  type CoseSigner,
  chainAad,
  signCoseSign1,
  signerFromSecretKey,
} from '../../firmware-ts/protocol/cose.js';
import { encodeAttestation } from '../../firmware-ts/protocol/decode/attestation.js';
import { encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { encodeEnrolRequest } from '../../firmware-ts/protocol/decode/enrol.js';
import { encodeReading, type Observation } from '../../firmware-ts/protocol/decode/reading.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { decodePrivateKeyPem } from '../../firmware-ts/protocol/pem.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import type { EnvelopeType, TxBodies } from '../../firmware-ts/protocol/tx/types.js';
import type { TelemetryHandler } from '../../gateway/broker/telemetry-seam.js';
import { type GatewayConfig, type GatewayLimits, loadConfig } from '../../gateway/config.js';
import { DEMO_INDEX_FILE, DEMO_KEYS_DIR, type DemoKeyIndex, initLedger } from '../../gateway/ledger/init.js';
import type { Ledger, TxPosition } from '../../gateway/ledger/ledger.js';
import { actorNonce } from '../../gateway/ledger/state/queries.js';
import { createLogger, type Logger } from '../../gateway/log.js';
import { type RunningGateway, startGateway } from '../../gateway/server.js';

export interface TestKey {
  readonly secret: Uint8Array;
  readonly pub: Uint8Array;
  readonly kid: Uint8Array;
  readonly signer: CoseSigner;
}

export const HEART_RATE: Observation = Object.freeze({ code: '8867-4', v: 72, u: '/min' });

export interface TestGatewayOptions {
  /** Settings over the test defaults (every port 0, 2 verify threads, 200 ms blocks). */
  readonly config?: Partial<Omit<GatewayConfig, 'limits' | 'dataDir'>>;
  readonly limits?: Partial<GatewayLimits>;
  /** Replaces the telemetry pipeline. */
  readonly telemetry?: TelemetryHandler;
  /** Demo devices to enrol (admin `device.enrol`) before the test starts. Default none. */
  readonly enrol?: readonly string[];
  /** Register the demo clinician `dr-lee` first. */
  readonly clinician?: boolean;
  /** Log level of the kept lines (default info). */
  readonly logLevel?: GatewayConfig['logLevel'];
}

export interface ConnectOptions {
  readonly transport?: 'mqtt' | 'mqtts' | 'ws';
  /** Defaults: the principal id. */
  readonly clientId?: string;
  readonly username?: string;
  /** Default: a fresh connect token of the principal (see `token`). */
  readonly password?: Uint8Array;
  readonly mqtt?: IClientOptions;
}

export interface TokenOptions {
  readonly t?: number;
  readonly nonce?: Uint8Array;
  /** Default: the principal's demo key. */
  readonly key?: TestKey;
  /** Chain id the token is signed for (default the gateway's). */
  readonly chain?: string;
  /** `dev` inside the token (default the principal). */
  readonly dev?: string;
}

/** A CONNACK refusal as mqtt.js reports it. */
export class ConnectRefused extends Error {
  constructor(readonly returnCode: number) {
    super(`CONNACK ${returnCode}`);
  }
}

export function keyFromSecret(secret: Uint8Array): TestKey {
  const pub = nodeBackend.publicKey(secret);
  return { secret, pub, kid: kidOf(pub), signer: signerFromSecretKey(secret, nodeBackend) };
}

export function randomKey(): TestKey {
  return keyFromSecret(nodeBackend.generateSecretKey());
}

function randomNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}

/** Waits for `event` on `emitter`, at most `ms` (then rejects naming the event). */
export function once<T = unknown>(
  target: NodeJS.EventEmitter | MqttClient,
  event: string,
  ms = 5_000,
): Promise<T> {
  // MqttClient types its events per name; a plain EventEmitter view is enough here.
  const emitter = target as unknown as NodeJS.EventEmitter;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no '${event}' within ${ms} ms`));
    }, ms);
    const on = (value: T) => {
      clearTimeout(timer);
      resolve(value);
    };
    emitter.once(event, on);
  });
}

export interface Message {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: number;
  readonly retain: boolean;
}

/** The next message `client` receives (optionally on `topic`), at most `ms`. */
export function nextMessage(client: MqttClient, topic?: string, ms = 5_000): Promise<Message> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', on);
      reject(new Error(`no message${topic ? ` on ${topic}` : ''} within ${ms} ms`));
    }, ms);
    const on = (t: string, payload: Buffer, packet: { qos: number; retain: boolean }) => {
      if (topic !== undefined && t !== topic) return;
      clearTimeout(timer);
      client.off('message', on);
      resolve({ topic: t, payload, qos: packet.qos, retain: packet.retain });
    };
    client.on('message', on);
  });
}

export class TestGateway {
  /** Every log line, parsed. */
  readonly lines: Record<string, unknown>[] = [];
  /** Every log line as written, to check that no secret ever reaches the log. */
  rawLog = '';
  readonly clients = new Set<MqttClient>();
  readonly #keys = new Map<string, TestKey>();
  readonly #nonces = new Map<string, number>();
  gateway!: RunningGateway;

  constructor(
    readonly dir: string,
    readonly index: DemoKeyIndex,
  ) {}

  get chain(): string {
    return this.index.chain;
  }

  get ledger(): Ledger {
    return this.gateway.ledger;
  }

  /** Ports of a gateway running in another process (gateway-process.test.ts). */
  external: RunningGateway['ports'] | undefined;

  get ports(): RunningGateway['ports'] {
    return this.external ?? this.gateway.ports;
  }

  /** The logger the gateway writes to: lines are kept in `lines` and `rawLog`. */
  makeLogger(level: GatewayConfig['logLevel']): Logger {
    const sink = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        const text = chunk.toString('utf8');
        this.rawLog += text;
        for (const line of text.split('\n')) if (line !== '') this.lines.push(JSON.parse(line));
        done();
      },
    });
    return createLogger({ level, destination: sink });
  }

  async loadKeys(): Promise<void> {
    const base = join(this.dir, DEMO_KEYS_DIR);
    for (const entry of this.index.keys) {
      const pem = await readFile(join(base, entry.key), 'utf8');
      const name =
        entry.role === 'device' || entry.role === 'authority' ? entry.id : `${entry.role}:${entry.id}`;
      this.#keys.set(name, keyFromSecret(decodePrivateKeyPem(pem)));
    }
  }

  /** A demo key: `wearable-001`, `admin:alice`, `vendor:acme`, `clinician:dr-lee`. */
  key(name: string): TestKey {
    const key = this.#keys.get(name);
    if (key === undefined) throw new Error(`no demo key ${name}`);
    return key;
  }

  /** Lines logged with this message. */
  logged(msg: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.msg === msg);
  }

  url(transport: 'mqtt' | 'mqtts' | 'ws' = 'mqtt'): string {
    const port =
      transport === 'mqtt' ? this.ports.mqtt : transport === 'mqtts' ? this.ports.mqtts : this.ports.ws;
    if (port === null) throw new Error(`no ${transport} listener`);
    return transport === 'ws' ? `ws://127.0.0.1:${port}/mqtt` : `${transport}://127.0.0.1:${port}`;
  }

  /** A connect token (COSE_Sign1 bytes) for `principal`, valid now unless told otherwise. */
  token(principal: string, options: TokenOptions = {}): Uint8Array {
    const payload = encodeConnectToken({
      dev: options.dev ?? principal,
      t: options.t ?? Date.now(),
      nonce: options.nonce ?? randomNonce(),
    });
    return signCoseSign1(
      payload,
      (options.key ?? this.key(principal)).signer,
      chainAad(options.chain ?? this.chain),
    );
  }

  /** An mqtt.js client connected as `principal`; rejects with ConnectRefused on a refusal. */
  connect(principal: string, options: ConnectOptions = {}): Promise<MqttClient> {
    const password = options.password ?? this.token(principal);
    const client = mqtt.connect(this.url(options.transport), {
      protocolVersion: 4,
      clientId: options.clientId ?? principal,
      username: options.username ?? principal,
      password: Buffer.from(password),
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      rejectUnauthorized: false,
      ...options.mqtt,
    });
    this.clients.add(client);
    return new Promise((resolve, reject) => {
      const closedEarly = () => fail(new Error('closed before CONNACK'));
      const fail = (err: Error & { code?: number }) => {
        client.off('close', closedEarly);
        client.end(true);
        reject(typeof err.code === 'number' ? new ConnectRefused(err.code) : err);
      };
      client.once('connect', () => {
        client.off('error', fail);
        client.off('close', closedEarly);
        resolve(client);
      });
      client.once('error', fail);
      client.once('close', closedEarly);
    });
  }

  /** The CONNACK code a CONNECT of `principal` is refused with (throws if it is accepted). */
  async refusal(principal: string, options: ConnectOptions = {}): Promise<number> {
    try {
      const client = await this.connect(principal, options);
      client.end(true);
    } catch (err) {
      if (err instanceof ConnectRefused) return err.returnCode;
      throw err;
    }
    throw new Error(`${principal} was accepted`);
  }

  /** A reading signed by `dev`'s demo key (or `key`), as the device publishes it. */
  reading(
    dev: string,
    seq: number,
    options: { t?: number; obs?: readonly Observation[]; key?: TestKey } = {},
  ): Uint8Array {
    const payload = encodeReading({ dev, seq, t: options.t ?? Date.now(), obs: options.obs ?? [HEART_RATE] });
    return signCoseSign1(payload, (options.key ?? this.key(dev)).signer, chainAad(this.chain));
  }

  /** A self-enrolment request of `dev` with `key`, attested by the demo vendor. */
  enrolRequest(
    dev: string,
    key: TestKey,
    model: string,
    options: { t?: number; nonce?: Uint8Array; attestedDev?: string; vendorKey?: TestKey } = {},
  ): Uint8Array {
    const aad = chainAad(this.chain);
    const att = signCoseSign1(
      encodeAttestation({ dev: options.attestedDev ?? dev, pub: key.pub, model }),
      (options.vendorKey ?? this.key('vendor:acme')).signer,
      aad,
    );
    const payload = encodeEnrolRequest({
      dev,
      pub: key.pub,
      model,
      t: options.t ?? Date.now(),
      nonce: options.nonce ?? randomNonce(),
      att,
    });
    return signCoseSign1(payload, key.signer, aad);
  }

  /** Signs `type` by `actor` with its demo key (or `key`) and the actor's next nonce; submits it. */
  tx<K extends EnvelopeType>(actor: string, type: K, body: TxBodies[K], key?: TestKey): Promise<TxPosition> {
    const nonce = Math.max(this.#nonces.get(actor) ?? 0, actorNonce(this.ledger.state, actor) ?? 0) + 1;
    this.#nonces.set(actor, nonce);
    const tx = { type, chain: this.chain, actor, nonce, t: Date.now(), body };
    return this.ledger.submitTx(signTx(tx as Parameters<typeof signTx>[0], (key ?? this.key(actor)).signer));
  }

  enrolDevice(dev: string, pub?: Uint8Array, model?: string): Promise<TxPosition> {
    const entry = this.index.keys.find((k) => k.role === 'device' && k.id === dev);
    return this.tx('admin:alice', 'device.enrol', {
      dev,
      pub: pub ?? this.key(dev).pub,
      model: model ?? entry?.model ?? 'wearable-v1',
    });
  }

  revokeDevice(dev: string): Promise<TxPosition> {
    return this.tx('admin:alice', 'device.revoke', { dev });
  }

  registerClinician(id = 'dr-lee'): Promise<TxPosition> {
    return this.tx('admin:alice', 'clinician.register', { id, pub: this.key(`clinician:${id}`).pub });
  }

  grant(devs: readonly string[], clinician = 'dr-lee'): Promise<TxPosition> {
    return this.tx('admin:alice', 'access.grant', { clinician, devs });
  }

  revokeGrant(devs: readonly string[], clinician = 'dr-lee'): Promise<TxPosition> {
    return this.tx('admin:alice', 'access.revoke', { clinician, devs });
  }

  /** Ends every client, stops the gateway gracefully and removes the directory. */
  async stop(): Promise<void> {
    for (const client of this.clients) client.end(true);
    this.clients.clear();
    await this.gateway?.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The test config: loopback, every port 0, no MEDGATE_* from the environment. */
export function testConfig(dir: string, options: TestGatewayOptions = {}): GatewayConfig {
  const base = loadConfig({
    env: {},
    flags: {
      data: dir,
      'mqtt-port': '0',
      'ws-port': '0',
      'http-port': '0',
      'block-interval-ms': '200',
      'verify-threads': '2',
    },
  });
  return { ...base, ...options.config, dataDir: dir, limits: { ...base.limits, ...options.limits } };
}

/** `medgate init --demo` in a fresh directory, with its demo keys loaded; no gateway yet. */
export async function demoDataDir(): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'medgate-gw-'));
  await initLedger({ dir, demo: true });
  const index = JSON.parse(await readFile(join(dir, DEMO_KEYS_DIR, DEMO_INDEX_FILE), 'utf8')) as DemoKeyIndex;
  const gw = new TestGateway(dir, index);
  await gw.loadKeys();
  return gw;
}

/** `medgate init --demo` in a fresh directory, then a running gateway on it. */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const gw = await demoDataDir();
  const log = gw.makeLogger(options.logLevel ?? 'info');
  try {
    gw.gateway = await startGateway(testConfig(gw.dir, options), {
      log,
      ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
    });
    const setup: Promise<TxPosition>[] = [];
    for (const dev of options.enrol ?? []) setup.push(gw.enrolDevice(dev));
    if (options.clinician) setup.push(gw.registerClinician());
    await Promise.all(setup);
  } catch (err) {
    await gw.stop();
    throw err;
  }
  return gw;
}
