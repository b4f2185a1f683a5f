/**
 * The device's update agent (DESIGN §5). It takes an offer, runs the checks of check-offer.ts,
 * downloads into the inactive A/B slot, re-hashes the slot, trial-boots, runs the injected
 * self-test, and confirms or rolls back. Every step is reported as a device-signed
 * `update.report` (downloading → verified → installed → confirmed | rolledBack, or failed with
 * the refusal's code) through the injected `report` callback. On every refusal the device stays
 * on the firmware it runs: only a confirmed trial changes the active slot and the installed seq.
 *
 * A `failed` report is signed only once the offer is proven authorised (check-offer.ts steps 1,
 * 2, 6, 7: the rollout id is one the admins approved for this device). The ledger counts a failed
 * report towards the rollout's maxFailures and as the device's final word on it, so a refusal
 * before that point (a junk offer naming a real rollout id) is logged and returned, not reported.
 *
 * What is persisted, and when: the newest block time only from authority-signed blocks, download
 * progress only for an offer that passed every check, the installed seq only after a confirmed
 * trial. Nothing an unverified offer says (a huge seq, a far-future time) is ever stored, so it
 * cannot block a later genuine update (fast-forward).
 */

import { verifyBlock } from '../protocol/block.js';
import { equalBytes, toHex } from '../protocol/bytes.js';
import type { CoseSigner } from '../protocol/cose.js';
import type { Ed25519Backend } from '../protocol/ed25519/types.js';
import { isMedgateError, type MedgateError } from '../protocol/errors.js';
import { sha256 } from '../protocol/hash.js';
import type { UpdateState } from '../protocol/tx/types.js';
import { decodeOffer, type TrustBundle } from '../protocol/update/index.js';
import { type CheckedOffer, checkOffer } from './check-offer.js';
import { DeviceState, type Trial } from './device-state.js';
import {
  type ChunkTransport,
  DEFAULT_DOWNLOAD_LIMITS,
  type DownloadLimits,
  download,
  hashSlot,
} from './download.js';
import { UpdateErrorCode, updateError } from './errors.js';
import { type Clock, type LogFn, silentLog } from './ports.js';
import { signReport } from './report.js';
import { type KeyValueStore, otherSlot, type SlotId, type SlotStorage } from './slots.js';
import { TrustStore } from './trust.js';

export interface SelfTestInfo {
  readonly slot: SlotId;
  readonly seq: number;
  readonly rollout: Uint8Array;
}

export interface UpdateAgentOptions {
  readonly deviceId: string;
  readonly model: string;
  /** The device's own key: signs its reports. */
  readonly signer: CoseSigner;
  /** Verifies blocks, manifests, approvals and bundles (noble on a device). */
  readonly backend: Ed25519Backend;
  /** The bundle provisioned at manufacture (buildFactoryBundle). */
  readonly factoryBundle: TrustBundle;
  /** Seq of the factory image: the installed seq until the first confirmed update. */
  readonly factorySeq: number;
  readonly slots: SlotStorage;
  readonly kv: KeyValueStore;
  readonly transport: ChunkTransport;
  readonly clock: Clock;
  /** Runs in the trial boot; true keeps the new image. A throw counts as a failure. */
  readonly selfTest: (info: SelfTestInfo) => Promise<boolean>;
  /** Publishes a signed report (COSE bytes) on `update/status`. A throw is logged, not fatal. */
  readonly report: (cose: Uint8Array) => void | Promise<void>;
  readonly log?: LogFn;
  readonly limits?: Partial<DownloadLimits>;
}

export type OfferStatus =
  /** The new image runs and is confirmed. */
  | 'confirmed'
  /** The new image failed its self-test; the device runs the old one. */
  | 'rolledBack'
  /** A check, the download or the install refused the update; the device runs the old image. */
  | 'refused'
  /** The transport dropped; the next offer resumes from the stored offset. */
  | 'interrupted'
  /** Not started yet (notBefore); the offer may be tried again later. */
  | 'deferred'
  /** Nothing to do: a cleared offer, one already finished or refused, or an update in progress. */
  | 'ignored';

export interface OfferOutcome {
  readonly status: OfferStatus;
  /** The refusal's code for refused / interrupted / deferred / rolledBack (and BUSY when ignored). */
  readonly code?: string;
  /** The firmware seq the device runs afterwards. */
  readonly seq: number;
}

/** Offers refused as a whole are remembered by hash, so a retained offer re-delivered is not re-reported. */
const MAX_REMEMBERED = 32;

export class UpdateAgent {
  private readonly state: DeviceState;
  private readonly log: LogFn;
  private readonly limits: DownloadLimits;
  private readonly refused = new Set<string>();
  private busy = false;

  private constructor(
    private readonly options: UpdateAgentOptions,
    state: DeviceState,
    private readonly trust: TrustStore,
  ) {
    this.state = state;
    this.log = options.log ?? silentLog;
    this.limits = Object.freeze({ ...DEFAULT_DOWNLOAD_LIMITS, ...options.limits });
  }

  static async create(options: UpdateAgentOptions): Promise<UpdateAgent> {
    const state = new DeviceState(options.kv);
    const trust = await TrustStore.open(state, options.factoryBundle, options.backend);
    return new UpdateAgent(options, state, trust);
  }

  bundle(): TrustBundle {
    return this.trust.current();
  }

  installedSeq(): Promise<number> {
    return this.state.installedSeq(this.options.factorySeq);
  }

  newestBlockTime(): Promise<number> {
    return this.state.newestBlockTime();
  }

  /** Installs a trust-bundle replacement signed by the threshold of the current admins. */
  replaceBundle(replacement: Uint8Array): Promise<TrustBundle> {
    return this.trust.replace(replacement);
  }

  /** A signed block seen outside an offer: advances the newest block time if it verifies. */
  async observeBlock(bytes: Uint8Array): Promise<number> {
    const bundle = this.trust.current();
    const block = verifyBlock(
      bytes,
      { authorities: bundle.authorities, chain: bundle.chain },
      this.options.backend,
    );
    return this.state.advanceBlockTime(block.header.t);
  }

  /** Handles the payload of the retained `update` topic. */
  async handleOffer(bytes: Uint8Array): Promise<OfferOutcome> {
    if (this.busy) return { status: 'ignored', code: UpdateErrorCode.BUSY, seq: await this.installedSeq() };
    this.busy = true;
    try {
      return await this.run(bytes);
    } finally {
      this.busy = false;
    }
  }

  /**
   * After a (re)boot: finishes a trial that was under way. On a device port `trialBoot` resets
   * into the new slot and this runs its self-test; back on the old slot means the bootloader
   * already fell back, which is a rollback.
   */
  async resume(): Promise<OfferOutcome | undefined> {
    const trial = await this.state.trial();
    if (trial === undefined) return undefined;
    if ((await this.options.slots.bootedSlot()) === trial.slot) return this.finishTrial(trial);
    return this.rollBack(trial, 'the device came back on its previous slot');
  }

  private async run(bytes: Uint8Array): Promise<OfferOutcome> {
    const installed = await this.installedSeq();
    if (bytes.length === 0) return { status: 'ignored', seq: installed }; // a cleared offer
    // A trial boot not yet finished by resume(): the slot an update would erase is the one
    // booted, and its rollout is still open. Nothing may start until the trial ends.
    if ((await this.state.trial()) !== undefined) {
      return { status: 'ignored', code: UpdateErrorCode.BUSY, seq: installed };
    }
    const key = toHex(sha256(bytes));
    if (this.refused.has(key)) return { status: 'ignored', seq: installed };
    let offer: ReturnType<typeof decodeOffer>;
    try {
      offer = decodeOffer(bytes);
    } catch (err) {
      if (!isMedgateError(err)) throw err;
      this.remember(key);
      this.log('warn', 'update offer malformed', { code: err.code, field: err.field });
      return { status: 'refused', code: err.code, seq: installed };
    }
    if (await this.state.isDone(offer.rollout)) return { status: 'ignored', seq: installed };

    const bundle = this.trust.current();
    let seen: number | undefined;
    let authorised = false;
    let checked: CheckedOffer;
    try {
      checked = checkOffer(offer, {
        bundle,
        deviceId: this.options.deviceId,
        model: this.options.model,
        installedSeq: installed,
        newestBlockTime: await this.state.newestBlockTime(),
        backend: this.options.backend,
        onBlockTime: (t) => {
          seen = t;
        },
        onAuthorised: () => {
          authorised = true;
        },
      });
    } catch (err) {
      if (!isMedgateError(err)) throw err;
      if (seen !== undefined) await this.state.advanceBlockTime(seen);
      const rollout = toHex(offer.rollout).slice(0, 16);
      if (err.code === UpdateErrorCode.NOT_YET) {
        this.log('info', 'update not started yet', { rollout, code: err.code });
        return { status: 'deferred', code: err.code, seq: installed };
      }
      this.remember(key);
      this.log('warn', 'update offer refused', { rollout, code: err.code, field: err.field, authorised });
      // Unproven rollout id: reporting it would let a junk offer fail a genuine rollout.
      if (authorised) await this.send(offer.rollout, 'failed', installed, err.code);
      return { status: 'refused', code: err.code, seq: installed };
    }
    await this.state.advanceBlockTime(checked.newestBlockTime);
    return this.install(checked, installed);
  }

  private async install(checked: CheckedOffer, installed: number): Promise<OfferOutcome> {
    const { rollout, manifest } = checked;
    const { slots } = this.options;
    const slot = otherSlot(await slots.activeSlot());
    const fields = { rollout: toHex(rollout).slice(0, 16), seq: manifest.seq, size: manifest.size };
    try {
      if (manifest.size > slots.capacity()) {
        throw updateError(UpdateErrorCode.TOO_LARGE, 'the image is larger than a slot', {
          field: 'manifest.size',
          got: manifest.size,
          want: slots.capacity(),
        });
      }
      this.log('info', 'update download started', fields);
      await this.send(rollout, 'downloading', installed);
      await download({ rollout, manifest, slot, chunk: checked.offer.chunk }, await this.state.progress(), {
        transport: this.options.transport,
        slots,
        state: this.state,
        clock: this.options.clock,
        log: this.log,
        limits: this.limits,
      });
      await this.send(rollout, 'verified', installed);
      const trial: Trial = { rollout, seq: manifest.seq, previousSeq: installed, slot };
      await this.state.setTrial(trial);
      await this.state.clearProgress();
      await this.send(rollout, 'installed', installed);
      // Image swapped after the check: the bytes that boot must be the bytes verified.
      const onSlot = await hashSlot(slots, slot, manifest.size);
      if (onSlot === undefined || !equalBytes(onSlot, manifest.digest)) {
        await this.state.clearTrial();
        throw updateError(UpdateErrorCode.SLOT_MISMATCH, 'the slot no longer holds the verified image', {
          field: 'slot',
        });
      }
      await slots.trialBoot(slot);
      return await this.finishTrial(trial);
    } catch (err) {
      if (!isMedgateError(err)) throw err;
      if (err.code === UpdateErrorCode.INTERRUPTED) {
        this.log('info', 'update download interrupted', { ...fields, code: err.code });
        return { status: 'interrupted', code: err.code, seq: installed };
      }
      return this.fail(rollout, installed, err);
    }
  }

  private async fail(rollout: Uint8Array, installed: number, err: MedgateError): Promise<OfferOutcome> {
    // A failure after the trial was marked (the trial boot itself refused, say) drops the trial:
    // left behind, it would hold every later offer as BUSY until the next reboot.
    if ((await this.state.trial()) !== undefined) {
      await this.options.slots.rollback();
      await this.state.clearTrial();
    }
    await this.state.clearProgress();
    await this.state.markDone(rollout);
    this.log('warn', 'update failed', {
      rollout: toHex(rollout).slice(0, 16),
      code: err.code,
      field: err.field,
    });
    await this.send(rollout, 'failed', installed, err.code);
    return { status: 'refused', code: err.code, seq: installed };
  }

  private async finishTrial(trial: Trial): Promise<OfferOutcome> {
    let ok = false;
    try {
      ok = await this.options.selfTest({ slot: trial.slot, seq: trial.seq, rollout: trial.rollout });
    } catch (err) {
      this.log('warn', 'update self-test threw', { name: err instanceof Error ? err.name : typeof err });
    }
    if (!ok) return this.rollBack(trial, 'the self-test failed');
    await this.options.slots.confirm();
    await this.state.setInstalledSeq(trial.seq);
    await this.state.clearTrial();
    await this.state.markDone(trial.rollout);
    this.log('info', 'update confirmed', { rollout: toHex(trial.rollout).slice(0, 16), seq: trial.seq });
    await this.send(trial.rollout, 'confirmed', trial.seq);
    return { status: 'confirmed', seq: trial.seq };
  }

  private async rollBack(trial: Trial, why: string): Promise<OfferOutcome> {
    await this.options.slots.rollback();
    await this.state.clearTrial();
    await this.state.markDone(trial.rollout);
    const code = UpdateErrorCode.SELF_TEST_FAILED;
    this.log('warn', 'update rolled back', { rollout: toHex(trial.rollout).slice(0, 16), code, why });
    await this.send(trial.rollout, 'rolledBack', trial.previousSeq, code);
    return { status: 'rolledBack', code, seq: trial.previousSeq };
  }

  /** Signs and hands over one report; a failing publisher never stops the update. */
  private async send(rollout: Uint8Array, state: UpdateState, seq: number, error?: string): Promise<void> {
    const { deviceId, signer, clock } = this.options;
    const now = clock.now();
    const body = error === undefined ? { rollout, state, seq } : { rollout, state, seq, error };
    const cose = signReport(
      { deviceId, chain: this.trust.current().chain, signer },
      body,
      await this.state.nextNonce(now),
      now,
    );
    try {
      await this.options.report(cose);
    } catch (err) {
      this.log('warn', 'update report not sent', {
        state,
        name: err instanceof Error ? err.name : typeof err,
      });
    }
  }

  private remember(key: string): void {
    if (this.refused.size >= MAX_REMEMBERED) this.refused.clear();
    this.refused.add(key);
  }
}
