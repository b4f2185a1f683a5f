/**
 * The state directory (`--state DIR`): restarting the simulator with the same directory
 * continues the same fleet, with the same keys and rising sequence numbers.
 *
 *   DIR/fleet.json                 {v, chain, tag, seed, devices: [{id, profile}]}
 *   DIR/devices/{id}/device.key    the device's ed25519 key, PKCS#8 PEM, mode 0600
 *   DIR/devices/{id}/device.json   status, seq reservation, tx nonce, attestation, firmware
 *   DIR/devices/{id}/outbox.json   signed readings not yet acknowledged (store-and-forward)
 *   DIR/devices/{id}/slots/        firmware A/B slots (firmware/slots.ts)
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MedgateError, SimErrorCode } from '../errors.js';
import { isProfileName, PROFILES, type ProfileName } from '../physiology/profiles.js';
import { writeFileAtomic } from './atomic.js';
import { field, readJson } from './json.js';

export interface FleetDevice {
  readonly id: string;
  readonly profile: ProfileName;
}

export interface FleetFile {
  readonly v: 1;
  readonly chain: string;
  /** Short random tag in every device id, so that two state directories never share an id. */
  readonly tag: string;
  readonly seed: string;
  readonly devices: readonly FleetDevice[];
}

export const FLEET_FILE = 'fleet.json';

export function deviceDir(stateDir: string, id: string): string {
  return join(stateDir, 'devices', id);
}

function parseFleet(obj: Record<string, unknown>, path: string): FleetFile {
  if (obj.v !== 1) throw new MedgateError(SimErrorCode.STATE, `${path}: unknown version`, { field: 'v' });
  const devices = obj.devices;
  if (!Array.isArray(devices)) throw new MedgateError(SimErrorCode.STATE, `${path}: devices is not a list`);
  return {
    v: 1,
    chain: field<string>(obj, 'chain', 'string', path),
    tag: field<string>(obj, 'tag', 'string', path),
    seed: field<string>(obj, 'seed', 'string', path),
    devices: devices.map((d: unknown, i) => {
      const o = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
      const id = field<string>(o, 'id', 'string', `${path} devices[${i}]`);
      const profile = field<string>(o, 'profile', 'string', `${path} devices[${i}]`);
      if (!isProfileName(profile))
        throw new MedgateError(SimErrorCode.STATE, `${path}: unknown profile ${profile}`);
      return { id, profile };
    }),
  };
}

/**
 * Opens (or creates) the fleet in `stateDir` with at least `count` devices, new ones taking
 * profiles round-robin from `profiles`. A directory made for another chain is refused.
 */
export async function openFleet(
  stateDir: string,
  options: { chain: string; seed: string; count: number; profiles: readonly ProfileName[] },
): Promise<{ fleet: FleetFile; created: number }> {
  await mkdir(join(stateDir, 'devices'), { recursive: true, mode: 0o700 });
  const path = join(stateDir, FLEET_FILE);
  const existing = await readJson(path);
  let fleet: FleetFile = existing
    ? parseFleet(existing, path)
    : { v: 1, chain: options.chain, tag: randomBytes(2).toString('hex'), seed: options.seed, devices: [] };
  if (fleet.chain !== options.chain) {
    throw new MedgateError(
      SimErrorCode.STATE,
      `state directory ${stateDir} belongs to chain '${fleet.chain}', not '${options.chain}'`,
      { field: 'chain', got: options.chain, want: fleet.chain },
    );
  }
  const devices = [...fleet.devices];
  const counters = new Map<ProfileName, number>();
  for (const d of devices) counters.set(d.profile, (counters.get(d.profile) ?? 0) + 1);
  const existingCount = devices.length;
  const created = Math.max(0, options.count - existingCount);
  for (let i = 0; i < created; i++) {
    const profile = options.profiles[(existingCount + i) % options.profiles.length] as ProfileName;
    const n = (counters.get(profile) ?? 0) + 1;
    counters.set(profile, n);
    devices.push({ id: `${PROFILES[profile].idPrefix}-${fleet.tag}-${String(n).padStart(3, '0')}`, profile });
  }
  if (created > 0 || existing === undefined) {
    fleet = { ...fleet, devices };
    await writeFileAtomic(path, `${JSON.stringify(fleet, null, 2)}\n`);
  }
  return { fleet, created };
}
