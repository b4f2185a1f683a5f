/** The firmware module a device gets: the update agent when a trust bundle is known, none otherwise. */
import type { TrustBundle } from '../../firmware-ts/protocol/update/index.js';
import type { SimEventBody } from '../report/events.js';
import type { DeviceStore } from '../state/device-store.js';
import { AgentFirmware } from './agent-module.js';
import { type FirmwareModule, NO_FIRMWARE } from './module.js';

export interface CreateFirmwareOptions {
  readonly store: DeviceStore;
  /** The factory trust bundle; without one the device runs no agent. */
  readonly bundle: TrustBundle | undefined;
  readonly failSelftest: boolean;
  readonly emit: (event: SimEventBody) => void;
}

export async function createFirmware(options: CreateFirmwareOptions): Promise<FirmwareModule> {
  if (options.bundle === undefined) return NO_FIRMWARE;
  return AgentFirmware.create({ ...options, bundle: options.bundle });
}
