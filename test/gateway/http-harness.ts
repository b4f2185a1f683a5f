/**
 * A real ledger (`init --demo` keys, blocks cut as soon as one transaction waits) behind the
 * real HTTP API on 127.0.0.1 with an ephemeral port, plus what the tests need around it:
 * the demo keys as signers, connect tokens, signed transactions, and signed readings appended
 * to the reading log and stored in the real reading store, as the telemetry pipeline does.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { toBase64 } from '../../firmware-ts/protocol/bytes.js';
import {
  type CoseSigner,
  chainAad,
  signCoseSign1,
  signerFromSecretKey,
} from '../../firmware-ts/protocol/cose.js';
import { encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { encodeReading, type Observation } from '../../firmware-ts/protocol/decode/reading.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { decodePrivateKeyPem } from '../../firmware-ts/protocol/pem.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import type { EnvelopeType, Tx, TxBodies } from '../../firmware-ts/protocol/tx/types.js';
import {
  encodeVerifiedReading,
  type VerifiedReadingJson,
} from '../../firmware-ts/protocol/verified-reading.js';
import { news2Alerts, vitalSign } from '../../firmware-ts/protocol/vitals.js';
import { DEFAULT_CONFIG } from '../../gateway/config.js';
import { createHttpServer, type HttpServer } from '../../gateway/http/server.js';
import { DEMO_INDEX_FILE, DEMO_KEYS_DIR, type DemoKeyIndex, initLedger } from '../../gateway/ledger/init.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { createMetrics, type Metrics } from '../../gateway/metrics.js';
import { ReadingStore } from '../../gateway/telemetry/reading-store.js';
import { VerifiedReadings } from '../../gateway/telemetry/verified-readings.js';
import { tempDir } from '../ledger/ledger-harness.js';

export { removeTempDirs } from '../ledger/ledger-harness.js';

export interface DemoKey {
  readonly role: string;
  readonly id: string;
  readonly secret: Uint8Array;
  readonly pub: Uint8Array;
  readonly signer: CoseSigner;
  /** The actor string: `admin:alice`, `clinician:dr-lee`, or a device id. */
  readonly actor: string;
}

export interface HarnessOptions {
  /** Without a reading store the reading routes answer 503. Default true. */
  readonly store?: boolean;
  readonly nonceCacheSize?: number;
  readonly skewMs?: number;
  readonly readiness?: () => Record<string, boolean>;
}

export interface Harness {
  readonly dir: string;
  readonly ledger: Ledger;
  readonly http: HttpServer;
  readonly base: string;
  readonly metrics: Metrics;
  readonly store: ReadingStore;
  /** The store joined with the log: what the HTTP API serves. */
  readonly readings: VerifiedReadings;
  readonly chain: string;
  readonly keys: ReadonlyMap<string, DemoKey>;
  key(actor: string): DemoKey;
  close(): Promise<void>;
}

let nonceCounter = 0;
/** Nonces rise across every actor and harness of the run (the ledger wants them rising per actor). */
export function nextNonce(): number {
  nonceCounter += 1;
  return nonceCounter;
}

export async function loadDemoKeys(dir: string): Promise<{ chain: string; keys: Map<string, DemoKey> }> {
  const keyDir = join(dir, DEMO_KEYS_DIR);
  const index = JSON.parse(await readFile(join(keyDir, DEMO_INDEX_FILE), 'utf8')) as DemoKeyIndex;
  const keys = new Map<string, DemoKey>();
  for (const entry of index.keys) {
    const secret = decodePrivateKeyPem(await readFile(join(keyDir, entry.key), 'utf8'));
    const actor = entry.role === 'device' ? entry.id : `${entry.role}:${entry.id}`;
    keys.set(actor, {
      role: entry.role,
      id: entry.id,
      secret,
      pub: nodeBackend.publicKey(secret),
      signer: signerFromSecretKey(secret, nodeBackend),
      actor,
    });
  }
  return { chain: index.chain, keys };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await tempDir('medgate-http-');
  await initLedger({ dir, demo: true });
  const { chain, keys } = await loadDemoKeys(dir);
  // Blocks are cut as soon as one transaction waits: submissions resolve without timers.
  const ledger = await Ledger.open(dir, { blockIntervalMs: 0, maxTxPerBlock: 1 });
  const metrics = createMetrics();
  const store = await ReadingStore.open(dir);
  const readings = new VerifiedReadings({ chain, store, log: ledger.log });
  const http = createHttpServer({
    ledger,
    ...(options.store === false ? {} : { store: readings }),
    metrics,
    config: {
      limits: {
        ...DEFAULT_CONFIG.limits,
        ...(options.nonceCacheSize === undefined ? {} : { nonceCacheSize: options.nonceCacheSize }),
        ...(options.skewMs === undefined ? {} : { skewMs: options.skewMs }),
      },
    },
    log: pino({ level: 'silent' }),
    ...(options.readiness === undefined ? {} : { readiness: options.readiness }),
  });
  const port = await http.listen(0, '127.0.0.1');
  return {
    dir,
    ledger,
    http,
    base: `http://127.0.0.1:${port}`,
    metrics,
    store,
    readings,
    chain,
    keys,
    key(actor) {
      const k = keys.get(actor);
      if (k === undefined) throw new Error(`no demo key ${actor}`);
      return k;
    },
    async close() {
      await http.close(1000);
      await store.close();
      await ledger.close();
    },
  };
}

/** `Authorization` header value: a fresh connect token of `key` (or of `as`, signed by `key`). */
export function authHeader(
  h: Pick<Harness, 'chain'>,
  key: DemoKey,
  overrides: { dev?: string; t?: number; nonce?: Uint8Array; chain?: string } = {},
): string {
  const payload = encodeConnectToken({
    dev: overrides.dev ?? key.actor,
    t: overrides.t ?? Date.now(),
    nonce: overrides.nonce ?? new Uint8Array(randomBytes(16)),
  });
  return `Medgate ${toBase64(signCoseSign1(payload, key.signer, chainAad(overrides.chain ?? h.chain)))}`;
}

/** A transaction of `key`'s actor, signed. */
export function signedTx<K extends EnvelopeType>(
  h: Pick<Harness, 'chain'>,
  key: DemoKey,
  type: K,
  body: TxBodies[K],
  overrides: { nonce?: number; chain?: string; actor?: string } = {},
): Uint8Array {
  const tx = {
    type,
    chain: overrides.chain ?? h.chain,
    actor: overrides.actor ?? key.actor,
    nonce: overrides.nonce ?? nextNonce(),
    t: Date.now(),
    body,
  } as Tx;
  return signTx(tx, key.signer);
}

/** POSTs a transaction as application/cose. */
export function postTx(h: Pick<Harness, 'base'>, bytes: Uint8Array): Promise<Response> {
  return fetch(`${h.base}/v1/tx`, {
    method: 'POST',
    headers: { 'content-type': 'application/cose' },
    body: bytes,
  });
}

/** Submits a transaction and fails the test unless the gateway includes it. */
export async function mustSubmit(
  h: Pick<Harness, 'base'>,
  bytes: Uint8Array,
): Promise<{ height: number; txId: string }> {
  const res = await postTx(h, bytes);
  const body = (await res.json()) as { height: number; txId: string; error?: unknown };
  if (res.status !== 200) throw new Error(`tx refused: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/**
 * Signs a reading with the device's key, appends it to the reading log and stores its entry
 * in the reading store, as the telemetry pipeline does; returns the verified reading JSON.
 */
export async function addReading(
  h: Harness,
  dev: string,
  seq: number,
  obs: Observation[],
  t = Date.now(),
): Promise<VerifiedReadingJson> {
  const device = h.key(dev);
  const cose = signCoseSign1(encodeReading({ dev, seq, t, obs }), device.signer, chainAad(h.chain));
  const position = await h.ledger.appendReading({ leafData: cose, deviceId: dev, seq });
  const received = Date.now();
  const alerts = news2Alerts(obs);
  const json = encodeVerifiedReading({
    chain: h.chain,
    dev,
    seq,
    t,
    received,
    obs: obs.map((o) => ({ ...o, display: vitalSign(o.code)?.display ?? o.code })),
    ...(alerts.length === 0 ? {} : { alerts }),
    leafIndex: position.index,
    leafHash: position.leafHash,
    kid: device.signer.kid,
    cose,
  });
  await h.store.put({
    deviceId: dev,
    seq,
    leafIndex: position.index,
    leafHash: position.leafHash,
    received,
    late: false,
  });
  return json;
}

/** Enrols the demo devices, registers dr-lee and grants dr-lee the listed devices. */
export async function enrolDemo(
  h: Harness,
  devices: Record<string, string>,
  grants: string[],
): Promise<void> {
  const alice = h.key('admin:alice');
  for (const [dev, model] of Object.entries(devices)) {
    await mustSubmit(h, signedTx(h, alice, 'device.enrol', { dev, pub: h.key(dev).pub, model }));
  }
  await mustSubmit(
    h,
    signedTx(h, alice, 'clinician.register', { id: 'dr-lee', pub: h.key('clinician:dr-lee').pub }),
  );
  if (grants.length > 0) {
    await mustSubmit(h, signedTx(h, alice, 'access.grant', { clinician: 'dr-lee', devs: grants }));
  }
}

export interface ApiError {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
}

/** Fetches and returns status and parsed JSON body. */
export async function getJson(
  h: Pick<Harness, 'base'>,
  path: string,
  auth?: string,
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(`${h.base}${path}`, auth === undefined ? {} : { headers: { authorization: auth } });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

/** The error code of an error response. */
export function codeOf(body: unknown): string | undefined {
  return (body as ApiError | undefined)?.error?.code;
}
