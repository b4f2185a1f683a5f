/**
 * What the simulator reports, one event per line with `--json` (the demo and scripts read
 * these). Every event has `event` (its kind) and `t` (ms since the Unix epoch); device events
 * have `dev`. The shapes are part of the simulator's interface: add fields, never rename.
 */
import type { Observation } from '../../firmware-ts/protocol/decode/reading.js';

export type SimEvent =
  | {
      readonly event: 'start';
      readonly chain: string;
      readonly gateway: string;
      readonly state: string;
      readonly devices: number;
      readonly seed: string;
      readonly timeScale: number;
      readonly attacks: readonly string[];
    }
  /** Self-enrolment answer (the gateway's `enrol` event), or a refused enrolment CONNECT. */
  | {
      readonly event: 'enrol';
      readonly dev: string;
      readonly model: string;
      readonly result: 'accepted' | 'pending' | 'refused';
      readonly height?: number;
      readonly code?: string;
      readonly connack?: number;
    }
  | { readonly event: 'connected'; readonly dev: string; readonly backlog: number }
  | { readonly event: 'disconnected'; readonly dev: string }
  /** CONNACK refusal: 3 server unavailable, 4 bad credentials, 5 not authorized (pending, revoked, banned). */
  | {
      readonly event: 'connect.refused';
      readonly dev: string;
      readonly connack: number;
      readonly reason: string;
    }
  | { readonly event: 'unreachable'; readonly dev: string; readonly error: string }
  /** A reading made and signed by the device (`episode` while its patient deteriorates). */
  | {
      readonly event: 'reading';
      readonly dev: string;
      readonly seq: number;
      readonly obs: readonly Observation[];
      readonly episode?: string;
    }
  /** The gateway's `accepted` device event: durable in the reading log at `leaf`. */
  | {
      readonly event: 'accepted';
      readonly dev: string;
      readonly seq: number;
      readonly leaf: number;
      readonly late?: boolean;
      readonly gap?: number;
    }
  /** The gateway's `rejected` device event with its MG_ERR code. */
  | {
      readonly event: 'rejected';
      readonly dev: string;
      readonly seq?: number;
      readonly code: string;
      readonly field?: string;
    }
  | {
      readonly event: 'episode';
      readonly dev: string;
      readonly name: string;
      readonly phase: 'start' | 'end';
    }
  /** The outbox was full: the oldest unsent reading was dropped. */
  | { readonly event: 'buffer.dropped'; readonly dev: string; readonly seq: number }
  /** Firmware agent progress: offer seen, downloading, installed, rolled back, refused (with code). */
  | {
      readonly event: 'firmware';
      readonly dev: string;
      readonly state: string;
      readonly seq?: number;
      readonly version?: string;
      readonly code?: string;
      readonly detail?: string;
    }
  /** One step of an attack: what was sent, the refusal expected, what the gateway (or device) answered. */
  | {
      readonly event: 'attack';
      readonly attack: string;
      readonly dev: string;
      readonly step: string;
      readonly expect: string;
      readonly answer: string;
      readonly ok: boolean;
    }
  | ({ readonly event: 'summary' } & Summary);

export interface DeviceSummary {
  readonly dev: string;
  readonly profile: string;
  readonly model: string;
  readonly status: string;
  readonly fw: number | null;
  readonly made: number;
  readonly sent: number;
  readonly acked: number;
  readonly accepted: number;
  readonly refused: number;
  readonly late: number;
  readonly buffered: number;
  readonly dropped: number;
  readonly alerts: number;
}

export interface Summary {
  readonly elapsedMs: number;
  readonly devices: readonly DeviceSummary[];
  readonly totals: {
    readonly devices: number;
    readonly connected: number;
    readonly made: number;
    readonly sent: number;
    readonly acked: number;
    readonly accepted: number;
    readonly refused: number;
    readonly late: number;
    readonly buffered: number;
    readonly dropped: number;
    readonly alerts: number;
  };
  /** Refusal codes the gateway sent, with counts. */
  readonly codes: Readonly<Record<string, number>>;
  readonly attacks: readonly { readonly attack: string; readonly steps: number; readonly ok: boolean }[];
  readonly ok: boolean;
}

type Body<E> = E extends unknown ? Omit<E, 't'> : never;
export type SimEventBody = Body<SimEvent>;
export type Emit = (event: SimEvent) => void;
