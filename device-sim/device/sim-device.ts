/**
 * One simulated device: a patient behind a sensor profile, a key and a sequence counter kept in
 * the state directory, and an MQTT session to the gateway that it keeps up by itself.
 *
 * - Measuring runs on its own clock, online or not: every reading is signed at once and put in
 *   the outbox (store-and-forward, bounded, persisted). A live session drains the outbox in seq
 *   order, a window of readings in flight; a reading leaves the outbox on its PUBACK, which the
 *   gateway sends once the reading is durable or finally refused (DESIGN §3, §4). Readings not
 *   acknowledged when a session ends are published again on the next one: the gateway
 *   acknowledges an identical copy as a duplicate and stores it once.
 * - A new device self-enrols (DESIGN §3 (b)): CONNECT as `enrol` with its request and the
 *   vendor attestation, then waits on its events topic for accepted / pending / refused. A
 *   pending device retries its connect token until an admin approves it (CONNACK 5 meanwhile).
 * - Every CONNECT carries a fresh connect token; failures back off exponentially with jitter.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { eventsTopic, telemetryTopic } from '../../firmware-ts/protocol/topics.js';
import { news2Alerts } from '../../firmware-ts/protocol/vitals.js';
import type { FirmwareModule, GatewayEvent } from '../firmware/module.js';
import type { Patient } from '../physiology/patient.js';
import type { Profile } from '../physiology/profiles.js';
import type { SimEventBody } from '../report/events.js';
import type { Rng } from '../rng.js';
import type { DeviceStore } from '../state/device-store.js';
import {
  connectToken,
  type DeviceKey,
  deviceKey,
  ENROL_USERNAME,
  enrolRequest,
  signReading,
} from './credentials.js';
import { CONNACK_REASONS, ConnectError, openMqtt } from './mqtt.js';

export interface DeviceOptions {
  readonly url: string;
  readonly chain: string;
  readonly timeScale: number;
  /** Readings to make in this run (undefined: until stopped). */
  readonly readings: number | undefined;
  readonly connectTimeoutMs: number;
  /** First back-off after a failed connection; doubles up to 30 s. */
  readonly retryMs: number;
  /** Readings in flight (published, not yet acknowledged) per session. */
  readonly window: number;
  readonly emit: (event: SimEventBody) => void;
  readonly mqtt?: IClientOptions;
}

export type { GatewayEvent };

export interface DeviceStats {
  made: number;
  sent: number;
  acked: number;
  accepted: number;
  refused: number;
  late: number;
  alerts: number;
  connects: number;
}

interface Session {
  readonly client: MqttClient;
  readonly inflight: Set<number>;
  readonly closed: Promise<void>;
  ended: boolean;
}

const MAX_BACKOFF_MS = 30_000;
/** How long an enrolment session waits for the gateway's answer (the gateway closes it at 60 s). */
const ENROL_ANSWER_MS = 30_000;
/** How long `drain` waits for events once every reading is acknowledged. */
const EVENT_GRACE_MS = 2_000;

export class SimDevice {
  readonly id: string;
  readonly profile: Profile;
  readonly stats: DeviceStats = {
    made: 0,
    sent: 0,
    acked: 0,
    accepted: 0,
    refused: 0,
    late: 0,
    alerts: 0,
    connects: 0,
  };
  /** Refusal codes from the gateway, with counts. */
  readonly codes = new Map<string, number>();
  readonly key: DeviceKey;
  readonly store: DeviceStore;
  readonly firmware: FirmwareModule;
  readonly #options: DeviceOptions;
  readonly #patient: Patient;
  readonly #rng: Rng;
  #session: Session | undefined;
  #closed = false;
  #paused = false;
  #measuring = false;
  #measureTimer: NodeJS.Timeout | undefined;
  #measureDone: (() => void) | undefined;
  readonly #measured: Promise<void>;
  #highestSent = 0;
  #episode: string | undefined;
  #lastRefusal: number | undefined;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  readonly #waiters = new Set<(event: GatewayEvent) => boolean>();
  readonly #sessionWaiters = new Set<() => void>();

  constructor(
    store: DeviceStore,
    profile: Profile,
    patient: Patient,
    rng: Rng,
    firmware: FirmwareModule,
    options: DeviceOptions,
  ) {
    this.id = store.record.id;
    this.store = store;
    this.profile = profile;
    this.key = deviceKey(store.secret);
    this.firmware = firmware;
    this.#patient = patient;
    this.#rng = rng;
    this.#options = options;
    this.#measured = new Promise((resolve) => {
      this.#measureDone = resolve;
    });
  }

  get status(): string {
    return this.store.record.status;
  }

  get connected(): boolean {
    return this.#session !== undefined && !this.#session.ended;
  }

  /** Readings in the outbox (made, not yet acknowledged). */
  get buffered(): number {
    return this.store.outbox.length;
  }

  /** Resolves once this run's `--readings` are made (never without a bound until stop). */
  get measured(): Promise<void> {
    return this.#measured;
  }

  /** Starts measuring and the connection loop. */
  start(): void {
    this.#measuring = true;
    const interval = this.profile.intervalMs / this.#options.timeScale;
    // A random phase spreads the fleet's readings; slow profiles still measure soon after start.
    this.#scheduleMeasure(this.#rng.uniform(0, Math.min(interval, 1000)));
    this.#loop = this.#connectionLoop();
  }

  /** Stops making readings; what is in the outbox is still sent. */
  stopMeasuring(): void {
    this.#measuring = false;
    if (this.#measureTimer !== undefined) clearTimeout(this.#measureTimer);
    this.#measureTimer = undefined;
    this.#measureDone?.();
  }

  /**
   * Resolves once every reading made is acknowledged and its event received, or the device
   * cannot send (refused, or pending approval), or `deadline` (ms since the epoch) passes.
   */
  async drain(deadline: number): Promise<void> {
    let emptySince: number | undefined;
    while (Date.now() < deadline) {
      const status = this.store.record.status;
      // Refused, or waiting for an admin: nothing will be sent until then. A new device is
      // still enrolling and will send once that is done.
      if (status === 'refused' || (status === 'pending' && !this.connected)) return;
      if (this.store.outbox.length === 0) {
        emptySince ??= Date.now();
        // Every reading has its PUBACK; its event follows at once, unless the gateway stopped
        // between the two (then a resend was a duplicate, which has no event): wait a little.
        if (this.stats.accepted + this.stats.refused >= this.stats.sent) return;
        if (Date.now() - emptySince > EVENT_GRACE_MS) return;
      } else {
        emptySince = undefined;
      }
      await sleep(50);
    }
  }

  /** Closes the session and writes the state; idempotent. */
  async stop(): Promise<void> {
    this.stopMeasuring();
    this.#closed = true;
    this.#wake?.();
    const session = this.#session;
    if (session !== undefined && !session.ended) session.client.end(true);
    await this.#loop;
    await this.firmware.close();
    await this.store.flush();
  }

  // ---- for attacks -------------------------------------------------------------------------

  /** Resolves with the live session's client once the device is connected, or undefined at `timeoutMs`. */
  async whenConnected(timeoutMs: number): Promise<MqttClient | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.connected && Date.now() < deadline && !this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(1, deadline - Date.now()));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#sessionWaiters.add(done);
      });
    }
    return this.connected ? this.#session?.client : undefined;
  }

  /** Holds the outbox (readings keep being made) and waits until nothing is in flight. */
  async pause(timeoutMs = 10_000): Promise<void> {
    this.#paused = true;
    const deadline = Date.now() + timeoutMs;
    while ((this.#session?.inflight.size ?? 0) > 0 && Date.now() < deadline) await sleep(20);
  }

  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  /** The next gateway event that `match` accepts, or undefined after `timeoutMs`. */
  nextEvent(match: (event: GatewayEvent) => boolean, timeoutMs: number): Promise<GatewayEvent | undefined> {
    return new Promise((resolve) => {
      const waiter = (event: GatewayEvent) => {
        if (!match(event)) return false;
        clearTimeout(timer);
        resolve(event);
        return true;
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(undefined);
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Calls `listener` with every gateway event until the returned function is called. */
  watch(listener: (event: GatewayEvent) => void): () => void {
    const waiter = (event: GatewayEvent) => {
      listener(event);
      return false;
    };
    this.#waiters.add(waiter);
    return () => this.#waiters.delete(waiter);
  }

  /** Resolves when the current session ends (undefined: none). */
  sessionClosed(): Promise<void> | undefined {
    return this.#session?.closed;
  }

  // ---- measuring ---------------------------------------------------------------------------

  #scheduleMeasure(delayMs: number): void {
    if (!this.#measuring) return;
    this.#measureTimer = setTimeout(() => {
      const started = Date.now();
      this.#measure().then(
        () => {
          const interval = this.profile.intervalMs / this.#options.timeScale;
          this.#scheduleMeasure(Math.max(0, interval - (Date.now() - started)));
        },
        () => this.stopMeasuring(), // the state directory failed: stop measuring, keep sending
      );
    }, delayMs);
  }

  async #measure(): Promise<void> {
    const bound = this.#options.readings;
    if (!this.#measuring || this.store.record.status === 'refused') return this.stopMeasuring();
    if (bound !== undefined && this.stats.made >= bound) return this.stopMeasuring();
    const sample = this.#patient.step(this.profile.intervalMs / 60_000);
    if (sample.episode !== this.#episode) {
      if (this.#episode !== undefined)
        this.#options.emit({ event: 'episode', dev: this.id, name: this.#episode, phase: 'end' });
      if (sample.episode !== undefined)
        this.#options.emit({ event: 'episode', dev: this.id, name: sample.episode, phase: 'start' });
      this.#episode = sample.episode;
    }
    const seq = await this.store.nextSeq();
    const fw = this.firmware.installedSeq();
    const t = Date.now();
    const cose = signReading(this.key.signer, this.#options.chain, {
      dev: this.id,
      seq,
      t,
      obs: sample.obs,
      ...(fw === undefined ? {} : { fw }),
    });
    this.stats.made++;
    if (news2Alerts(sample.obs).length > 0) this.stats.alerts++;
    this.#options.emit({
      event: 'reading',
      dev: this.id,
      seq,
      obs: sample.obs,
      ...(sample.episode === undefined ? {} : { episode: sample.episode }),
    });
    const dropped = this.store.push({ seq, t, cose });
    if (dropped !== undefined)
      this.#options.emit({ event: 'buffer.dropped', dev: this.id, seq: dropped.seq });
    this.#pump();
    if (bound !== undefined && this.stats.made >= bound) this.stopMeasuring();
  }

  // ---- sending -----------------------------------------------------------------------------

  /** Publishes outbox readings in seq order, up to the window, on the live session. */
  #pump(): void {
    const session = this.#session;
    if (session === undefined || session.ended || this.#paused) return;
    for (const item of this.store.outbox) {
      if (session.inflight.size >= this.#options.window) return;
      if (session.inflight.has(item.seq)) continue;
      session.inflight.add(item.seq);
      if (item.seq > this.#highestSent) {
        this.#highestSent = item.seq;
        this.stats.sent++;
      }
      session.client.publish(telemetryTopic(this.id), Buffer.from(item.cose), { qos: 1 }, (err) => {
        if (session.ended) return;
        session.inflight.delete(item.seq);
        if (err) return; // the session is ending; the reading stays in the outbox
        this.stats.acked++;
        this.store.acknowledge(item.seq);
        this.#pump();
      });
    }
  }

  // ---- events ------------------------------------------------------------------------------

  #onMessage(topic: string, payload: Buffer): void {
    if (topic !== eventsTopic(this.id)) {
      this.firmware.onMessage(topic, new Uint8Array(payload));
      return;
    }
    let event: GatewayEvent;
    try {
      const value = decodeCbor(new Uint8Array(payload), { maxBytes: 4096, maxDepth: 2 });
      if (!(value instanceof Map)) return;
      event = Object.fromEntries([...value].map(([k, v]) => [String(k), v]));
    } catch {
      return; // not ours to judge; a broken event is ignored
    }
    this.#onEvent(event);
  }

  #onEvent(event: GatewayEvent): void {
    const seq = typeof event.seq === 'number' ? event.seq : undefined;
    if (event.type === 'accepted' && seq !== undefined) {
      this.stats.accepted++;
      if (event.late === true) this.stats.late++;
      this.#options.emit({
        event: 'accepted',
        dev: this.id,
        seq,
        leaf: typeof event.leaf === 'number' ? event.leaf : -1,
        ...(event.late === true ? { late: true } : {}),
        ...(typeof event.gap === 'number' ? { gap: event.gap } : {}),
      });
    } else if (event.type === 'rejected') {
      const code = typeof event.code === 'string' ? event.code : 'unknown';
      this.stats.refused++;
      this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
      this.#options.emit({
        event: 'rejected',
        dev: this.id,
        ...(seq === undefined ? {} : { seq }),
        code,
        ...(typeof event.field === 'string' ? { field: event.field } : {}),
      });
    } else if (event.type !== 'enrol') {
      this.firmware.onEvent(event);
    }
    for (const waiter of this.#waiters) if (waiter(event)) this.#waiters.delete(waiter);
  }

  // ---- connection --------------------------------------------------------------------------

  async #connectionLoop(): Promise<void> {
    let failures = 0;
    // Read through a method: the status changes across the awaits below.
    const status = () => this.store.record.status;
    while (!this.#closed && status() !== 'refused') {
      try {
        if (status() === 'new') await this.#enrol();
        else await this.#runSession();
        failures = 0;
      } catch (err) {
        failures++;
        this.#reportFailure(err);
      }
      if (this.#closed || status() === 'refused') break;
      const pending = status() === 'pending';
      const base = Math.min(MAX_BACKOFF_MS, this.#options.retryMs * 2 ** Math.min(failures, 6));
      await this.#sleep(
        pending
          ? Math.max(base, this.#options.retryMs)
          : failures === 0
            ? 0
            : base * this.#rng.uniform(0.8, 1.2),
      );
    }
  }

  #reportFailure(err: unknown): void {
    if (err instanceof ConnectError && err.returnCode !== undefined) {
      // One line per change: a pending device is refused (5) on every retry until approved.
      if (this.#lastRefusal === err.returnCode) return;
      this.#lastRefusal = err.returnCode;
      this.#options.emit({
        event: 'connect.refused',
        dev: this.id,
        connack: err.returnCode,
        reason: CONNACK_REASONS[err.returnCode] ?? 'refused',
      });
      return;
    }
    if (this.#lastRefusal === -1) return;
    this.#lastRefusal = -1;
    this.#options.emit({ event: 'unreachable', dev: this.id, error: (err as Error).message ?? String(err) });
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#wake = undefined;
        resolve();
      }
      this.#wake = done;
    });
  }

  /** Self-enrolment (DESIGN §3 (b), docs/mqtt.md "Self-enrolment"). */
  async #enrol(): Promise<void> {
    const record = this.store.record;
    const password = enrolRequest(
      this.key,
      this.#options.chain,
      this.id,
      record.model,
      this.store.attestation,
    );
    let client: MqttClient;
    try {
      client = await openMqtt(this.#options.url, {
        clientId: this.id,
        username: ENROL_USERNAME,
        password,
        connectTimeoutMs: this.#options.connectTimeoutMs,
        ...(this.#options.mqtt === undefined ? {} : { mqtt: this.#options.mqtt }),
      });
    } catch (err) {
      if (err instanceof ConnectError && err.returnCode === 5) {
        // Refused by the ledger's rules: unknown vendor, model, or an id already on the ledger
        // (this device enrolled and the answer was lost). Try the connect token from now on.
        this.#options.emit({
          event: 'enrol',
          dev: this.id,
          model: record.model,
          result: 'refused',
          connack: 5,
        });
        record.status = 'pending';
        await this.store.saveRecord();
      }
      throw err;
    }
    try {
      const answer = new Promise<GatewayEvent | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), ENROL_ANSWER_MS);
        client.on('message', (topic, payload) => {
          if (topic !== eventsTopic(this.id)) return;
          try {
            const value = decodeCbor(new Uint8Array(payload), { maxBytes: 4096, maxDepth: 2 });
            if (!(value instanceof Map) || value.get('type') !== 'enrol') return;
            clearTimeout(timer);
            resolve(Object.fromEntries([...value].map(([k, v]) => [String(k), v])));
          } catch {
            // ignore a broken event
          }
        });
        client.once('close', () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
      await client.subscribeAsync(eventsTopic(this.id), { qos: 1 });
      const event = await answer;
      if (event === undefined) throw new Error('no enrolment answer from the gateway');
      const result = event.result === 'accepted' || event.result === 'pending' ? event.result : 'refused';
      this.#options.emit({
        event: 'enrol',
        dev: this.id,
        model: record.model,
        result,
        ...(typeof event.height === 'number' ? { height: event.height } : {}),
        ...(typeof event.code === 'string' ? { code: event.code } : {}),
      });
      record.status = result === 'accepted' ? 'active' : result;
      if (result === 'refused' && typeof event.code === 'string') record.code = event.code;
      await this.store.saveRecord();
    } finally {
      client.end(true);
    }
  }

  /** One connected session: resolves when it ends. */
  async #runSession(): Promise<void> {
    const client = await openMqtt(this.#options.url, {
      clientId: this.id,
      username: this.id,
      password: connectToken(this.key, this.#options.chain, this.id),
      connectTimeoutMs: this.#options.connectTimeoutMs,
      ...(this.#options.mqtt === undefined ? {} : { mqtt: this.#options.mqtt }),
    });
    this.#lastRefusal = undefined;
    const session: Session = {
      client,
      inflight: new Set(),
      ended: false,
      closed: new Promise((resolve) => client.once('close', () => resolve())),
    };
    void session.closed.then(() => {
      session.ended = true;
    });
    if (this.store.record.status !== 'active') {
      // The admin approved it: the first accepted CONNECT is the news.
      this.store.record.status = 'active';
      await this.store.saveRecord();
    }
    client.on('message', (topic, payload) => this.#onMessage(topic, payload));
    try {
      await client.subscribeAsync([eventsTopic(this.id), ...this.firmware.topics], { qos: 1 });
    } catch (err) {
      client.end(true);
      throw err;
    }
    if (session.ended) return;
    this.#session = session;
    this.stats.connects++;
    this.#options.emit({ event: 'connected', dev: this.id, backlog: this.store.outbox.length });
    for (const wake of this.#sessionWaiters) wake();
    this.#sessionWaiters.clear();
    this.firmware.attach({
      publish: (topic, payload) =>
        new Promise((resolve, reject) => {
          if (session.ended) {
            reject(new Error('not connected'));
            return;
          }
          session.client.publish(topic, Buffer.from(payload), { qos: 1 }, (err) =>
            err ? reject(err) : resolve(),
          );
          void session.closed.then(() => reject(new Error('disconnected')));
        }),
    });
    this.#pump();
    await session.closed;
    session.ended = true;
    this.#session = undefined;
    this.firmware.detach();
    if (!this.#closed) this.#options.emit({ event: 'disconnected', dev: this.id });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
