/**
 * The telemetry pipeline (issue 4; DESIGN §3, §4): what the broker calls for every publish on
 * `mg/v1/dev/{id}/telemetry`, before it writes the PUBACK.
 *
 *   1-5  size, COSE, kid → key, signature on the pool, reading checks   (check-reading.ts;
 *        in parallel, readings of one device included)
 *   6    seq / replay / time rules (seq-tracker.ts), in arrival order per device (lanes.ts)
 *   7    durable append to the reading log → `handle` resolves 'accepted' (the broker acks)
 *   8    verified reading JSON to `mg/v1/verified/{id}` and the reading store; an `accepted`
 *        event to the device
 *
 * `handle` resolves 'refused' for a reading that is final (a coded event on the device's
 * events topic, a security event when refusals.ts says so, a log line without the payload)
 * and rejects only when the gateway could not decide (verify pool overloaded or closed,
 * ledger write failed or closed, pipeline closing): nothing was logged and the broker must not
 * acknowledge, so the device redelivers. The pipeline holds no state the ledger and the
 * reading store do not (DESIGN §8): its per-device seq memory is rebuilt from them.
 */
import type { Logger } from 'pino';
import { equalBytes } from '../../firmware-ts/protocol/bytes.js';
import { chainAad } from '../../firmware-ts/protocol/cose.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { eventsTopic, SECURITY_TOPIC, verifiedTopic } from '../../firmware-ts/protocol/topics.js';
import type {
  PublishInfo,
  TelemetryClient,
  TelemetryHandler,
  TelemetryVerdict,
} from '../broker/telemetry-seam.js';
import type { GatewayConfig } from '../config.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import { leafHashFast } from '../ledger/frontier.js';
import type { ReadingLog } from '../ledger/reading-log.js';
import type { LeafInput, LeafPosition } from '../ledger/sequencer.js';
import type { State } from '../ledger/state/state.js';
import type { Metrics } from '../metrics.js';
import type { VerifyJob } from '../verify/pool.js';
import { type CheckDeps, type CheckedReading, checkReading, type Refusal } from './check-reading.js';
import { Lanes, type Turn } from './lanes.js';
import { Penalty, type PenaltyDecision } from './penalty.js';
import type { ReadingStore } from './reading-store.js';
import { recoverReadings } from './recovery.js';
import { acceptedEvent, isSecurityRefusal, readingSecurityEvent, rejectedEvent } from './refusals.js';
import { SeqTracker } from './seq-tracker.js';
import { verifiedReadingJson } from './verified.js';

export type { TelemetryClient, TelemetryHandler, TelemetryVerdict } from '../broker/telemetry-seam.js';

export type PublishFn = (
  topic: string,
  payload: Uint8Array | string,
  opts: { qos: 0 | 1 | 2; retain: boolean },
) => Promise<void>;

/** What the pipeline uses of the Ledger (the Ledger itself in the gateway). */
export interface PipelineLedger {
  readonly chain: string;
  readonly state: State;
  readonly log: Pick<ReadingLog, 'indexOf' | 'leaf' | 'size' | 'prunedBefore'>;
  appendReading(input: LeafInput): Promise<LeafPosition>;
}

export interface TelemetryPipelineDeps {
  readonly ledger: PipelineLedger;
  readonly pool: { verify(job: VerifyJob): Promise<boolean> };
  readonly store: ReadingStore;
  readonly publish: PublishFn;
  readonly log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  readonly metrics?: Pick<Metrics, 'readingsAccepted' | 'readingsRefused' | 'verifyLatency'>;
  readonly config: Pick<GatewayConfig, 'limits'>;
  readonly now?: () => number;
  /** Shared failure scores; default one made from `config.limits`. */
  readonly penalty?: Penalty;
  /** Told when a refusal leaves a client slowed or banned; the broker acts on it. */
  readonly onPenalty?: (client: TelemetryClient, decision: Exclude<PenaltyDecision, 'ok'>) => void;
  /** Devices whose seq state stays in memory (default 100,000). */
  readonly maxTrackedDevices?: number;
  /**
   * Whether the publishing client listens on `topic` now (the broker knows its subscriptions).
   * An accepted event (QoS 0, not retained, readable by the device alone) is not published to
   * a device that does not listen. Default: always published.
   */
  readonly listening?: (client: TelemetryClient, topic: string) => boolean;
}

export interface TelemetryPipeline extends TelemetryHandler {
  /** Settles once the reading store has caught up with the reading log (recovery.ts). */
  readonly ready: Promise<void>;
  readonly penalty: Penalty;
  /** Resolves once every reading in flight and its follow-up work (store, publications) settled. */
  drain(): Promise<void>;
  /**
   * Refuses new readings (handle rejects MG_ERR_TELEMETRY_CLOSED), waits for those in flight
   * and their stores and publications. Does not close the store, the ledger or the pool.
   */
  close(): Promise<void>;
}

export function createTelemetryPipeline(deps: TelemetryPipelineDeps): TelemetryPipeline {
  return new Pipeline(deps);
}

class Pipeline implements TelemetryPipeline {
  readonly ready: Promise<void>;
  readonly penalty: Penalty;
  readonly #deps: TelemetryPipelineDeps;
  readonly #now: () => number;
  readonly #checks: CheckDeps;
  readonly #lanes = new Lanes();
  readonly #tracker: SeqTracker;
  /** Handles and follow-up work (stores, publications) not yet settled. */
  #busy = 0;
  /** Wake-ups of drain() callers, run when `#busy` drops to 0. */
  #idle: (() => void)[] = [];
  /** Set once `ready` resolved: handles then skip awaiting it. */
  #ready = false;
  #closing: Promise<void> | undefined;

  constructor(deps: TelemetryPipelineDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#checks = {
      state: () => deps.ledger.state,
      aad: chainAad(deps.ledger.chain),
      verify: (job) => deps.pool.verify(job),
      maxPayloadBytes: deps.config.limits.maxPayloadBytes,
    };
    this.penalty =
      deps.penalty ??
      new Penalty({
        failuresBeforeSlowdown: deps.config.limits.failuresBeforeSlowdown,
        banMs: deps.config.limits.banMs,
        now: this.#now,
      });
    const log = deps.ledger.log;
    this.#tracker = new SeqTracker(
      {
        head: (dev) => deps.store.head(dev),
        logged: async (dev, seq) => {
          const index = await log.indexOf(dev, seq);
          return index === undefined ? undefined : (await log.leaf(index)).leafHash;
        },
      },
      deps.maxTrackedDevices === undefined ? {} : { maxDevices: deps.maxTrackedDevices },
    );
    this.ready = this.#recover();
    this.ready.then(
      () => {
        this.#ready = true;
      },
      () => {},
    );
    // Every handle() rejects with this error too (no reading is acknowledged meanwhile).
    this.ready.catch((err: unknown) => deps.log.error({ err }, 'reading store recovery failed'));
  }

  handle(client: TelemetryClient, payload: Uint8Array, packet: PublishInfo): Promise<TelemetryVerdict> {
    if (this.#closing !== undefined) {
      return Promise.reject(
        new MedgateError(GatewayErrorCode.TELEMETRY_CLOSED, 'the telemetry pipeline is closing'),
      );
    }
    // The turn is taken now, synchronously: arrival order is the device's order.
    const turn = this.#lanes.enter(client.deviceId);
    this.#busy++;
    return this.#handle(client, payload, packet, turn);
  }

  async #handle(
    client: TelemetryClient,
    payload: Uint8Array,
    packet: PublishInfo,
    turn: Turn,
  ): Promise<TelemetryVerdict> {
    try {
      return await this.#decide(client, payload, packet, turn);
    } finally {
      turn.end();
      this.#settled();
    }
  }

  async #decide(
    client: TelemetryClient,
    payload: Uint8Array,
    packet: PublishInfo,
    turn: Turn,
  ): Promise<TelemetryVerdict> {
    const deps = this.#deps;
    if (!this.#ready) await this.ready;
    const dev = client.deviceId;
    // Our own copy: the ledger keeps the bytes after this call returns.
    const bytes = new Uint8Array(payload);
    const started = performance.now();
    const checked = await checkReading(this.#checks, dev, bytes);
    deps.metrics?.verifyLatency.observe((performance.now() - started) / 1000);
    if (!checked.ok) {
      turn.end();
      return this.#refuse(client, checked.refusal);
    }
    const { reading } = checked.value;
    const hash = leafHashFast(bytes);

    // 6. Seq rules, after every earlier reading of this device was decided.
    if (!turn.clear) await turn.wait;
    const decision =
      this.#tracker.decideNow(dev, reading.seq, hash) ?? (await this.#tracker.decide(dev, reading.seq, hash));
    if (decision.kind === 'replay') {
      turn.end();
      const error = new MedgateError(
        GatewayErrorCode.REPLAY,
        `seq ${reading.seq} is not above the last, ${decision.last}`,
        { field: 'seq', got: reading.seq, want: `> ${decision.last}` },
      );
      return this.#refuse(client, { error, seq: reading.seq, kid: checked.value.kid });
    }
    if (decision.kind === 'duplicate') {
      turn.end();
      // Acknowledge only what is durable: wait for the original's append if it is in flight.
      if (decision.pending !== undefined) await decision.pending;
      deps.log.debug({ deviceId: dev, seq: reading.seq, dup: packet.dup }, 'duplicate reading');
      return 'duplicate';
    }
    const now = this.#now();
    const timing = this.#timeRule(reading.t, now);
    if (timing instanceof MedgateError) {
      turn.end();
      return this.#refuse(client, { error: timing, seq: reading.seq, kid: checked.value.kid });
    }
    // 7. Durable append, submitted in decision order. The next reading of the device may be
    // decided while this one is written: the tracker knows it is in flight.
    // The leaf hash goes along: the log need not hash the bytes a second time.
    const append = deps.ledger.appendReading({
      leafData: bytes,
      deviceId: dev,
      seq: reading.seq,
      leafHash: hash,
    });
    this.#tracker.accepted(dev, reading.seq, hash, append);
    turn.end();
    return this.#logged(client, checked.value, hash, append, now, timing.late, decision.gap);
  }

  /** Waits for the durable append, then acknowledges; a leaf the log already had is judged by its bytes. */
  async #logged(
    client: TelemetryClient,
    checked: CheckedReading,
    hash: Uint8Array,
    append: Promise<LeafPosition>,
    received: number,
    late: boolean,
    gap: number | undefined,
  ): Promise<TelemetryVerdict> {
    const deps = this.#deps;
    const { reading } = checked;
    let leaf: LeafPosition;
    try {
      leaf = await append;
    } catch (err) {
      if (!isMedgateError(err, GatewayErrorCode.DUPLICATE_LEAF)) throw err;
      // The log had it although the tracker did not (a store behind the log): the same test.
      const index = await deps.ledger.log.indexOf(reading.dev, reading.seq);
      if (index !== undefined && equalBytes((await deps.ledger.log.leaf(index)).leafHash, hash))
        return 'duplicate';
      return this.#refuse(client, {
        error: new MedgateError(
          GatewayErrorCode.REPLAY,
          `seq ${reading.seq} is already logged with other bytes`,
          {
            field: 'seq',
            got: reading.seq,
          },
        ),
        seq: reading.seq,
        kid: checked.kid,
      });
    }
    deps.metrics?.readingsAccepted.inc();
    this.#afterAccept(client, checked, leaf, received, late, gap);
    return 'accepted';
  }

  /** DESIGN §3: `t` within the skew window, or store-and-forward backlog (seq rose) up to its age limit. */
  #timeRule(t: number, now: number): { late: boolean } | MedgateError {
    const { skewMs, backlogMaxAgeMs } = this.#deps.config.limits;
    if (t > now + skewMs) {
      return new MedgateError(GatewayErrorCode.CLOCK_SKEW, 'the reading time is ahead of the gateway clock', {
        field: 't',
        got: t,
        want: `<= ${now + skewMs}`,
      });
    }
    const age = now - t;
    if (age > backlogMaxAgeMs) {
      return new MedgateError(
        GatewayErrorCode.READING_TOO_OLD,
        'the reading is older than the backlog limit',
        {
          field: 't',
          got: t,
          want: `>= ${now - backlogMaxAgeMs}`,
        },
      );
    }
    return { late: age > skewMs };
  }

  /** 8. Clinicians, the store and the device hear of it after the acknowledgement. */
  #afterAccept(
    client: TelemetryClient,
    checked: CheckedReading,
    leaf: LeafPosition,
    received: number,
    late: boolean,
    gap?: number,
  ): void {
    const deps = this.#deps;
    const { reading } = checked;
    const dev = reading.dev;
    // For clinicians subscribed now; the store keeps only where the bytes are and what was decided.
    const json = Buffer.from(
      verifiedReadingJson({
        chain: deps.ledger.chain,
        msg: checked.msg,
        reading,
        leaf,
        received,
        late,
        gap,
        kidHex: checked.kid,
      }),
      'utf8',
    );
    if (gap !== undefined) deps.log.info({ deviceId: dev, seq: reading.seq, gap }, 'reading gap');
    this.#background(
      () =>
        deps.store.put({
          deviceId: dev,
          seq: reading.seq,
          leafIndex: leaf.index,
          leafHash: leaf.leafHash,
          received,
          late,
          gap,
        }),
      'reading store write failed',
      dev,
    );
    this.#background(
      () => deps.publish(verifiedTopic(dev), json, { qos: 1, retain: false }),
      'verified publish failed',
      dev,
    );
    const events = eventsTopic(dev);
    if (deps.listening?.(client, events) ?? true) {
      this.#background(
        () =>
          deps.publish(
            events,
            acceptedEvent({
              seq: reading.seq,
              leaf: leaf.index,
              late,
              ...(gap === undefined ? {} : { gap }),
            }),
            { qos: 0, retain: false },
          ),
        'event publish failed',
        dev,
      );
    }
  }

  #refuse(client: TelemetryClient, refusal: Refusal): TelemetryVerdict {
    const deps = this.#deps;
    const { error, seq, kid } = refusal;
    const dev = client.deviceId;
    const code = error.code;
    const security = isSecurityRefusal(code);
    deps.metrics?.readingsRefused.inc({ code });
    // A field path may hold a map key from the wire: bounded, like everything else logged.
    const field = error.field?.slice(0, 64);
    const line = {
      deviceId: dev,
      principal: client.principal,
      code,
      ...(seq === undefined ? {} : { seq }),
      ...(field === undefined ? {} : { field }),
    };
    if (security) deps.log.warn(line, 'reading refused (security)');
    else deps.log.info(line, 'reading refused');
    this.#background(
      () =>
        deps.publish(
          eventsTopic(dev),
          rejectedEvent({
            code,
            ...(seq === undefined ? {} : { seq }),
            ...(field === undefined ? {} : { field }),
          }),
          { qos: 1, retain: false },
        ),
      'event publish failed',
      dev,
    );
    if (security) {
      const event = readingSecurityEvent({
        code,
        principal: client.principal,
        dev,
        seq,
        kid,
        field,
        t: this.#now(),
      });
      this.#background(
        () => deps.publish(SECURITY_TOPIC, JSON.stringify(event), { qos: 1, retain: false }),
        'security publish failed',
        dev,
      );
    }
    const decision = this.penalty.onRefusal(client.principal);
    if (decision !== 'ok') {
      deps.log.warn({ principal: client.principal, decision }, 'client penalised for failing readings');
      deps.onPenalty?.(client, decision);
    }
    return 'refused';
  }

  async #recover(): Promise<void> {
    const deps = this.#deps;
    const result = await recoverReadings({
      chain: deps.ledger.chain,
      log: deps.ledger.log,
      store: deps.store,
      publish: deps.publish,
      now: this.#now,
      skewMs: deps.config.limits.skewMs,
      onError: (leafIndex, err) => deps.log.warn({ leafIndex, err }, 'reading not recovered into the store'),
    });
    if (result.recovered > 0) {
      deps.log.info(result, 'reading store caught up with the reading log');
    }
  }

  /** Work after the verdict: its failure is logged, never the reading's outcome. */
  #background(work: () => Promise<unknown>, message: string, deviceId: string): void {
    let started: Promise<unknown>;
    try {
      started = work();
    } catch (err) {
      started = Promise.reject(err);
    }
    this.#busy++;
    started.then(
      () => this.#settled(),
      (err: unknown) => {
        this.#settled();
        this.#deps.log.error({ deviceId, err }, message);
      },
    );
  }

  /** One handle or follow-up settled. */
  #settled(): void {
    if (--this.#busy === 0 && this.#idle.length > 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const wake of idle) wake();
    }
  }

  async drain(): Promise<void> {
    await this.ready.catch(() => {});
    // Work started by work in flight (a publish after an accept) counts meanwhile.
    while (this.#busy > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  close(): Promise<void> {
    this.#closing ??= this.drain();
    return this.#closing;
  }
}
