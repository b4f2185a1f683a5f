/**
 * A telemetry pipeline on a real ledger (temporary directory, test genesis, enrolled devices),
 * a real verify pool and a real reading store, with a `publish` that records every message and
 * a pino logger whose lines are kept for assertions. No MQTT: `send` calls `handle` as the
 * broker does.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, decodeCoseSign1, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { encodeReading, type Observation } from '../../firmware-ts/protocol/decode/reading.js';
import { signRotateProof } from '../../firmware-ts/protocol/tx/sign.js';
import { DEFAULT_CONFIG, type GatewayLimits } from '../../gateway/config.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { createMetrics, type Metrics } from '../../gateway/metrics.js';
import type { Penalty } from '../../gateway/telemetry/penalty.js';
import {
  createTelemetryPipeline,
  type TelemetryPipeline,
  type TelemetryVerdict,
} from '../../gateway/telemetry/pipeline.js';
import { ReadingStore } from '../../gateway/telemetry/reading-store.js';
import { VerifiedReadings } from '../../gateway/telemetry/verified-readings.js';
import { VerifyPool } from '../../gateway/verify/pool.js';
import { AUTHORITY, CHAIN, genesisDir, keyFor, TestClock, TxFactory } from '../ledger/ledger-harness.js';
import type { TestKey } from '../ledger/state-harness.js';

export { CHAIN, keyFor };

export const HEART_RATE: Observation = Object.freeze({ code: '8867-4', v: 72, u: '/min' });

export interface Published {
  readonly topic: string;
  readonly payload: Uint8Array | string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

export interface SignOptions {
  seq: number;
  t?: number;
  obs?: readonly Observation[];
  /** `dev` inside the reading (default: the signing device). */
  dev?: string;
  key?: TestKey;
  chain?: string;
  fw?: number;
}

export interface HarnessOptions {
  devices?: readonly string[];
  limits?: Partial<GatewayLimits>;
  penalty?: Penalty;
  /** A pool of its own (default: the file's shared one). */
  pool?: VerifyPool;
  /** The reading log's test seam: throw to fail a batch as a failed write would. */
  beforeWrite?: (info: { batch: number; leaves: number }) => void;
}

/** The seq inside a signed reading. */
export function seqOf(bytes: Uint8Array): number {
  return (decodeCbor(decodeCoseSign1(bytes).payload) as Map<string, number>).get('seq') as number;
}

let sharedPool: VerifyPool | undefined;

/** One verify pool for a test file (as the gateway has one); closed by `closeSharedPool`. */
export async function sharedVerifyPool(): Promise<VerifyPool> {
  sharedPool ??= await VerifyPool.create({ threads: 2 });
  return sharedPool;
}

export async function closeSharedPool(): Promise<void> {
  await sharedPool?.close();
  sharedPool = undefined;
}

export class PipelineHarness {
  readonly published: Published[] = [];
  readonly lines: Record<string, unknown>[] = [];
  /** Every raw log line, to check that no payload ever reaches the log. */
  rawLog = '';
  readonly clock = new TestClock();
  readonly tx = new TxFactory();
  readonly metrics: Metrics = createMetrics();
  readonly penalties: { principal: string; decision: string }[] = [];
  readonly limits: GatewayLimits;
  ledger!: Ledger;
  store!: ReadingStore;
  /** The store joined with the log, as the HTTP API serves readings. */
  readings!: VerifiedReadings;
  pipeline!: TelemetryPipeline;
  pool!: VerifyPool;
  /** Verdicts of every reading that was acknowledged, with the bytes. */
  readonly acknowledged: { dev: string; seq: number; bytes: Uint8Array }[] = [];

  private constructor(
    readonly dir: string,
    readonly options: HarnessOptions,
  ) {
    this.limits = { ...DEFAULT_CONFIG.limits, ...options.limits };
  }

  static async start(options: HarnessOptions = {}): Promise<PipelineHarness> {
    const h = new PipelineHarness(await genesisDir(), options);
    h.pool = options.pool ?? (await sharedVerifyPool());
    await h.open();
    for (const dev of options.devices ?? ['dev-1', 'dev-2']) await h.submit(h.tx.enrol(dev, h.clock.t));
    return h;
  }

  async open(): Promise<void> {
    this.ledger = await Ledger.open(this.dir, {
      authoritySecretKey: AUTHORITY.secret,
      blockIntervalMs: 0,
      now: this.clock.now,
      readingLog: {
        maxDelayMs: 0,
        ...(this.options.beforeWrite === undefined ? {} : { beforeWrite: this.options.beforeWrite }),
      },
    });
    this.store = await ReadingStore.open(this.dir);
    this.readings = new VerifiedReadings({
      chain: this.ledger.chain,
      store: this.store,
      log: this.ledger.log,
    });
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        const text = chunk.toString('utf8');
        this.rawLog += text;
        for (const line of text.split('\n')) if (line !== '') this.lines.push(JSON.parse(line));
        done();
      },
    });
    this.pipeline = createTelemetryPipeline({
      ledger: this.ledger,
      pool: this.pool,
      store: this.store,
      publish: async (topic, payload, opts) => {
        this.published.push({ topic, payload, qos: opts.qos, retain: opts.retain });
      },
      log: pino({ level: 'debug' }, sink),
      metrics: this.metrics,
      config: { limits: this.limits },
      now: this.clock.now,
      ...(this.options.penalty === undefined ? {} : { penalty: this.options.penalty }),
      onPenalty: (client, decision) => this.penalties.push({ principal: client.principal, decision }),
    });
    await this.pipeline.ready;
  }

  /** Closes pipeline, store and ledger (in the gateway's shutdown order), then opens them again. */
  async restart(): Promise<void> {
    await this.close();
    await this.open();
  }

  async close(): Promise<void> {
    await this.pipeline.close();
    await this.store.close();
    await this.ledger.close();
  }

  /** Submits a transaction and cuts the block that includes it. */
  async submit(tx: Uint8Array): Promise<void> {
    this.clock.advance();
    const done = this.ledger.submitTx(tx);
    await this.ledger.cutBlock();
    await done;
  }

  /** `device.rotate` of `dev` to `next`, signed by `old`; returns the rotation's block time. */
  async rotate(dev: string, old: TestKey, next: TestKey): Promise<number> {
    const proof = signRotateProof({ dev, old: old.kid, pub: next.pub }, next.signer, CHAIN);
    this.clock.advance();
    const tx = this.tx.sign(dev, 'device.rotate', { pub: next.pub, proof }, this.clock.t);
    const done = this.ledger.submitTx(tx);
    await this.ledger.cutBlock();
    await done;
    return this.clock.t;
  }

  /** A reading signed as a device would (default: its own key, this chain, t = now). */
  sign(signer: string, o: SignOptions): Uint8Array {
    const payload = encodeReading({
      dev: o.dev ?? signer,
      seq: o.seq,
      t: o.t ?? this.clock.t,
      obs: o.obs ?? [HEART_RATE],
      ...(o.fw === undefined ? {} : { fw: o.fw }),
    });
    return signCoseSign1(payload, (o.key ?? keyFor(signer)).signer, chainAad(o.chain ?? CHAIN));
  }

  /** Publishes `bytes` on `dev`'s telemetry topic as `principal` (default the device). */
  async send(
    dev: string,
    bytes: Uint8Array,
    o: { principal?: string; dup?: boolean } = {},
  ): Promise<TelemetryVerdict> {
    const verdict = await this.pipeline.handle({ principal: o.principal ?? dev, deviceId: dev }, bytes, {
      topic: `mg/v1/dev/${dev}/telemetry`,
      qos: 1,
      retain: false,
      dup: o.dup ?? false,
    });
    if (verdict !== 'refused') this.acknowledged.push({ dev, seq: seqOf(bytes), bytes });
    return verdict;
  }

  /** Waits until the pipeline's follow-up work (store, publications) is done and written. */
  async settle(): Promise<void> {
    await this.pipeline.drain();
    await this.store.flush();
  }

  /** Messages published on `topic`. */
  on(topic: string): Published[] {
    return this.published.filter((p) => p.topic === topic);
  }

  /** Device events of `dev`, decoded. */
  events(dev: string): Map<string, unknown>[] {
    return this.on(`mg/v1/dev/${dev}/events`).map(
      (p) => decodeCbor(p.payload as Uint8Array) as Map<string, unknown>,
    );
  }

  securityEvents(): Record<string, unknown>[] {
    return this.on('mg/v1/security').map((p) => JSON.parse(p.payload as string));
  }

  async refusedCount(code: string): Promise<number> {
    const { values } = await this.metrics.readingsRefused.get();
    return values.find((v) => v.labels.code === code)?.value ?? 0;
  }

  async acceptedCount(): Promise<number> {
    return (await this.metrics.readingsAccepted.get()).values[0]?.value ?? 0;
  }
}
