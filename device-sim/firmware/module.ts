/**
 * The seam between a simulated device and its firmware update agent. The device owns the MQTT
 * session; the firmware module owns everything about updates: it names the topics it needs
 * (the retained offer on `update`, chunks on `fw/data`), gets their messages, and publishes
 * through the link while a session is up (chunk requests on `fw/get`, signed status reports
 * on `update/status`).
 */
import type { AttackContext } from '../attacks/context.js';
import { report } from '../attacks/context.js';

/** A device event from the gateway (CBOR map on the events topic) as a plain object. */
export type GatewayEvent = Readonly<Record<string, unknown>>;

/** What a live session offers the firmware module. */
export interface FirmwareLink {
  /** Publishes at QoS 1; resolves on PUBACK, rejects if the session ends first. */
  publish(topic: string, payload: Uint8Array): Promise<void>;
}

export interface FirmwareModule {
  /** Firmware sequence number the device runs now (readings carry it as `fw`). */
  installedSeq(): number | undefined;
  /** Topics to subscribe to (QoS 1) on every session. */
  readonly topics: readonly string[];
  /** A session is up. */
  attach(link: FirmwareLink): void;
  /** The session ended. */
  detach(): void;
  /** A message on one of `topics`. */
  onMessage(topic: string, payload: Uint8Array): void;
  /** A gateway event that is not about a reading (`fw.rejected`, `status.accepted`, ...). */
  onEvent(event: GatewayEvent): void;
  /** Runs a firmware attack mode (`tamper-fw`, `downgrade`) with this device as the attacker. */
  attack(name: string, ctx: AttackContext): Promise<void>;
  /** Stops timers and downloads; state stays on disk. */
  close(): Promise<void>;
}

/** A device without an update agent (`--no-firmware`). */
export const NO_FIRMWARE: FirmwareModule = Object.freeze({
  installedSeq: () => undefined,
  topics: Object.freeze([]) as readonly string[],
  attach: () => {},
  detach: () => {},
  onMessage: () => {},
  onEvent: () => {},
  attack: async (name: string, ctx: AttackContext) => {
    report(ctx, `${name} needs the firmware agent`, 'an agent with a trust bundle', {
      answer: 'no firmware agent (--no-firmware, or no --data to build the trust bundle from)',
      ok: false,
    });
  },
  close: async () => {},
});
