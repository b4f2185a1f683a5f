/**
 * The firmware module of a simulated device, on firmware-ts/agent's UpdateAgent (DESIGN §5):
 * file-backed A/B slots and agent state in the device's state directory, the retained offer on
 * `update` fed to the agent, chunks fetched over `fw/get` → `fw/data`, and every signed
 * `update.report` the agent makes published on `update/status` (queued while offline, sent in
 * order). Each report also becomes a `firmware` event; the gateway's answers to reports
 * (`status.accepted` / `status.rejected`) and refused chunk requests (`fw.rejected`) too. An
 * offer refused before it was proven authorised gets no report (the agent does not sign a
 * failure for a rollout id it has not verified): it becomes a `refused` event only.
 *
 * `--fail-selftest`: the device's self-test of a new image fails, so the agent rolls back.
 */
import { join } from 'node:path';
import { UpdateAgent, type UpdateAgentOptions } from '../../firmware-ts/agent/agent.js';
import { systemClock } from '../../firmware-ts/agent/ports.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { fwTopic, updateStatusTopic, updateTopic } from '../../firmware-ts/protocol/topics.js';
import { decodeManifestCose, decodeTx } from '../../firmware-ts/protocol/tx/sign.js';
import { decodeOffer, type TrustBundle } from '../../firmware-ts/protocol/update/index.js';
import type { AttackContext } from '../attacks/context.js';
import { deviceKey } from '../device/credentials.js';
import type { SimEventBody } from '../report/events.js';
import type { DeviceStore } from '../state/device-store.js';
import { downgradeAttack, tamperFirmwareAttack } from './attacks.js';
import { FACTORY_SEQ, factoryImage, SLOT_CAPACITY } from './factory.js';
import { FileKeyValue, FileSlots } from './file-storage.js';
import type { FirmwareLink, FirmwareModule, GatewayEvent } from './module.js';
import { FW_DATA, LinkTransport } from './transport.js';

export interface AgentFirmwareOptions {
  readonly store: DeviceStore;
  readonly bundle: TrustBundle;
  readonly failSelftest: boolean;
  readonly emit: (event: SimEventBody) => void;
}

export class AgentFirmware implements FirmwareModule {
  readonly topics: readonly string[];
  readonly transport: LinkTransport;
  readonly options: AgentFirmwareOptions;
  /** Agent options without storage and transport, for the scratch agents of the attacks. */
  readonly base: Omit<UpdateAgentOptions, 'slots' | 'kv' | 'transport' | 'report'>;
  #agent!: UpdateAgent;
  #installed = FACTORY_SEQ;
  #link: FirmwareLink | undefined;
  readonly #reports: Uint8Array[] = [];
  #sending = false;
  #latestOffer: Uint8Array | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  /** The agent signed a `failed` report while handling the current offer. */
  #failedReported = false;
  /** The last offer received, for the attacks (a genuine one to tamper with or replay). */
  lastOffer: Uint8Array | undefined;
  /** While a firmware attack runs its own requests, fw.rejected is its answer, not the agent's. */
  attacking = false;

  private constructor(options: AgentFirmwareOptions) {
    const { record } = options.store;
    this.options = options;
    this.topics = Object.freeze([updateTopic(record.id), fwTopic(record.id, FW_DATA)]);
    this.transport = new LinkTransport(record.id);
    this.base = {
      deviceId: record.id,
      model: record.model,
      signer: deviceKey(options.store.secret).signer,
      backend: nodeBackend,
      factoryBundle: options.bundle,
      factorySeq: FACTORY_SEQ,
      clock: systemClock(),
      selfTest: async () => !options.failSelftest,
    };
  }

  static async create(options: AgentFirmwareOptions): Promise<AgentFirmware> {
    const module = new AgentFirmware(options);
    const dir = join(options.store.dir, 'firmware');
    const slots = await FileSlots.open(dir, SLOT_CAPACITY, factoryImage(options.store.record.model));
    const kv = await FileKeyValue.open(join(dir, 'kv'));
    module.#agent = await UpdateAgent.create({
      ...module.base,
      slots,
      kv,
      transport: module.transport,
      report: (cose) => module.#report(cose),
    });
    module.#installed = await module.#agent.installedSeq();
    // A trial boot the previous run did not finish (killed mid-update) is finished now.
    const resumed = await module.#agent.resume();
    if (resumed !== undefined) module.#installed = resumed.seq;
    return module;
  }

  installedSeq(): number {
    return this.#installed;
  }

  attach(link: FirmwareLink): void {
    this.#link = link;
    this.transport.attach(link);
    void this.#sendReports();
  }

  detach(): void {
    this.#link = undefined;
    this.transport.detach();
  }

  onMessage(topic: string, payload: Uint8Array): void {
    if (topic === this.topics[0]) this.#offer(payload);
    else if (topic === this.topics[1]) this.transport.onData(payload);
  }

  onEvent(event: GatewayEvent): void {
    const dev = this.base.deviceId;
    const code = typeof event.code === 'string' ? event.code : undefined;
    if (event.type === 'fw.rejected') {
      if (this.attacking) return;
      this.options.emit({ event: 'firmware', dev, state: 'chunk.refused', ...(code ? { code } : {}) });
      // The gateway will not serve this image now (rollout halted, wave closed): stop waiting.
      this.transport.failAll(new Error(`chunk request refused: ${code ?? 'no code'}`));
    } else if (event.type === 'status.accepted') {
      this.options.emit({
        event: 'firmware',
        dev,
        state: 'report.recorded',
        detail: `${String(event.state)} in block ${String(event.height)}`,
      });
    } else if (event.type === 'status.rejected') {
      this.options.emit({ event: 'firmware', dev, state: 'report.refused', ...(code ? { code } : {}) });
    }
  }

  attack(name: string, ctx: AttackContext): Promise<void> {
    if (name === 'tamper-fw') return tamperFirmwareAttack(ctx, this);
    return downgradeAttack(ctx, this);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.transport.detach();
    await this.#running;
  }

  /** Offers are handled one at a time; the newest waiting one runs next (a retained offer replaces older ones). */
  #offer(bytes: Uint8Array): void {
    if (bytes.length > 0) {
      this.lastOffer = bytes;
      this.#announce(bytes);
    }
    this.#latestOffer = bytes;
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
  }

  async #run(): Promise<void> {
    while (this.#latestOffer !== undefined && !this.#closed) {
      const bytes = this.#latestOffer;
      this.#latestOffer = undefined;
      try {
        this.#failedReported = false;
        const outcome = await this.#agent.handleOffer(bytes);
        this.#installed = outcome.seq;
        const unreported = outcome.status === 'refused' && !this.#failedReported;
        if (outcome.status === 'interrupted' || outcome.status === 'deferred' || unreported) {
          this.options.emit({
            event: 'firmware',
            dev: this.base.deviceId,
            state: outcome.status,
            seq: outcome.seq,
            ...(outcome.code ? { code: outcome.code } : {}),
          });
        }
      } catch (err) {
        this.options.emit({
          event: 'firmware',
          dev: this.base.deviceId,
          state: 'error',
          detail: (err as Error).message,
        });
      }
    }
  }

  #announce(bytes: Uint8Array): void {
    try {
      const { manifest } = decodeManifestCose(decodeOffer(bytes).manifest);
      this.options.emit({
        event: 'firmware',
        dev: this.base.deviceId,
        state: 'offered',
        seq: manifest.seq,
        version: manifest.version,
      });
    } catch {
      // the agent refuses it with a code: a `refused` event, no report
    }
  }

  /** The agent signed a report: it becomes an event now and is published in order when online. */
  #report(cose: Uint8Array): void {
    try {
      const { tx } = decodeTx(cose);
      if (tx.type === 'update.report') {
        const { state, seq, error } = tx.body;
        if (state === 'failed') this.#failedReported = true;
        this.options.emit({
          event: 'firmware',
          dev: this.base.deviceId,
          state,
          seq,
          ...(error === undefined ? {} : { code: error }),
        });
      }
    } catch {
      // our own agent's bytes; nothing to report if they do not decode
    }
    this.#reports.push(cose);
    void this.#sendReports();
  }

  async #sendReports(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      while (this.#reports.length > 0 && this.#link !== undefined) {
        const next = this.#reports[0] as Uint8Array;
        try {
          await this.#link.publish(updateStatusTopic(this.base.deviceId), next);
          this.#reports.shift();
        } catch {
          return; // offline: the next session sends it
        }
      }
    } finally {
      this.#sending = false;
    }
  }
}
