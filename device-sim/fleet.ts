/**
 * Runs a fleet: opens (or creates) every device in the state directory, starts them, runs the
 * attacks one after another on one enrolled wearable, waits for the bound (`--readings`,
 * `--duration`, the end of the attacks, or a signal), drains the outboxes for `--drain-ms`, stops
 * every device (state written), and returns the summary.
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TELEMETRY_ATTACKS } from './attacks/index.js';
import { attestation } from './device/credentials.js';
import { SimDevice } from './device/sim-device.js';
import { MedgateError, SimErrorCode } from './errors.js';
import { createFirmware } from './firmware/create.js';
import { NO_FIRMWARE } from './firmware/module.js';
import type { SimConfig } from './options.js';
import { Patient } from './physiology/patient.js';
import { PROFILES } from './physiology/profiles.js';
import type { Summary } from './report/events.js';
import type { Output } from './report/output.js';
import { Progress } from './report/progress.js';
import { summarize } from './report/summary.js';
import { createRng } from './rng.js';
import { loadFactory } from './setup.js';
import { DeviceStore } from './state/device-store.js';
import { openFleet } from './state/fleet-store.js';

export const CONNECT_TIMEOUT_MS = 10_000;
/** Publishes in flight per device. */
export const WINDOW = 32;

export async function runFleet(config: SimConfig, output: Output, signal?: AbortSignal): Promise<Summary> {
  const started = Date.now();
  const factory = await loadFactory(config);
  const tempState = config.state === undefined ? await mkdtemp(join(tmpdir(), 'medgate-sim-')) : undefined;
  const stateDir = config.state ?? (tempState as string);
  const devices: SimDevice[] = [];
  const progress = new Progress(output, () => devices);
  const attackResults: { attack: string; steps: number; ok: boolean }[] = [];
  output.listen((e) => {
    if (e.event !== 'attack') return;
    const row = attackResults.find((r) => r.attack === e.attack);
    if (row === undefined) attackResults.push({ attack: e.attack, steps: 1, ok: e.ok });
    else {
      row.steps++;
      row.ok &&= e.ok;
    }
  });
  try {
    const { fleet } = await openFleet(stateDir, {
      chain: factory.chain,
      seed: config.seed ?? randomBytes(4).toString('hex'),
      count: config.devices,
      profiles: config.profiles,
    });
    const seed = config.seed ?? fleet.seed;
    const rng = createRng(seed);
    const members = fleet.devices.slice(0, config.devices);
    output.emit({
      event: 'start',
      chain: factory.chain,
      gateway: config.gateway,
      state: config.state ?? '(temporary)',
      devices: members.length,
      seed,
      timeScale: config.timeScale,
      attacks: config.attacks,
    });
    let failing = config.failSelftest;
    for (const member of members) {
      const profile = PROFILES[member.profile];
      const store = await DeviceStore.open(stateDir, member.id, profile.model, config.buffer, async (pub) => {
        if (factory.vendor === undefined) {
          throw new MedgateError(
            SimErrorCode.NO_VENDOR_KEY,
            `device ${member.id} is new and needs a vendor attestation: give --data DIR or --vendor-key FILE`,
          );
        }
        return attestation(factory.vendor, factory.chain, member.id, pub, profile.model);
      });
      const deviceRng = rng.fork(member.id);
      const firmware = config.firmware
        ? await createFirmware({
            store,
            bundle: factory.bundle,
            failSelftest: failing-- > 0,
            emit: output.emit,
          })
        : NO_FIRMWARE;
      devices.push(
        new SimDevice(
          store,
          profile,
          new Patient(profile, deviceRng.fork('patient'), { episodesPerHour: config.episodesPerHour }),
          deviceRng.fork('device'),
          firmware,
          {
            url: config.gateway,
            chain: factory.chain,
            timeScale: config.timeScale,
            readings: config.readings,
            connectTimeoutMs: CONNECT_TIMEOUT_MS,
            retryMs: config.retryMs,
            window: WINDOW,
            emit: output.emit,
          },
        ),
      );
    }
    for (const d of devices) d.start();
    progress.start();

    const bounds: Promise<unknown>[] = [];
    if (config.readings !== undefined) bounds.push(Promise.all(devices.map((d) => d.measured)));
    let durationTimer: NodeJS.Timeout | undefined;
    if (config.durationMs !== undefined) {
      bounds.push(
        new Promise((resolve) => {
          durationTimer = setTimeout(resolve, config.durationMs);
        }),
      );
    }
    const aborted = new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    if (config.attacks.length > 0) {
      await Promise.race([runAttacks(config, factory.chain, devices, output), aborted]);
      if (bounds.length === 0) bounds.push(Promise.resolve());
    }
    await Promise.race([bounds.length > 0 ? Promise.race(bounds) : new Promise(() => {}), aborted]);
    clearTimeout(durationTimer);

    for (const d of devices) d.stopMeasuring();
    if (!signal?.aborted) {
      const deadline = Date.now() + config.drainMs;
      await Promise.race([Promise.all(devices.map((d) => d.drain(deadline))), aborted]);
    }
    progress.stop();
    await Promise.all(devices.map((d) => d.stop()));
    return summarize(devices, attackResults, Date.now() - started);
  } finally {
    progress.stop();
    await Promise.allSettled(devices.map((d) => d.stop()));
    if (tempState !== undefined) await rm(tempState, { recursive: true, force: true });
  }
}

async function runAttacks(
  config: SimConfig,
  chain: string,
  devices: readonly SimDevice[],
  output: Output,
): Promise<void> {
  // Attackers are enrolled wearables (they self-enrol at once in the demo policy), taken in
  // turn, so that the failures one attack earns (penalty.ts) do not ban the device of the next.
  const wearables = devices.filter((d) => d.profile.name === 'wearable');
  const attackers = wearables.length > 0 ? wearables : devices;
  let turn = 0;
  for (const attack of config.attacks) {
    const attacker = attackers[turn++ % attackers.length];
    if (attacker === undefined) return;
    const ctx = {
      attack,
      attacker,
      victim: devices.find((d) => d !== attacker)?.id ?? 'wearable-001',
      url: config.gateway,
      chain,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      emit: output.emit,
    };
    const run = TELEMETRY_ATTACKS[attack];
    if (run !== undefined) await run(ctx);
    else await attacker.firmware.attack(attack, ctx);
  }
}
