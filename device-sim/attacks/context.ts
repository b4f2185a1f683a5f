/**
 * What every attack mode shares: the attacking device (a genuine, enrolled member of the
 * fleet, as a compromised or buggy device would be), a victim id, and helpers that publish
 * one crafted message and wait for the gateway's coded answer on the attacker's events topic.
 * Each step is reported as an `attack` event: what was sent, what refusal the design requires,
 * what the gateway answered, and whether the two match.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import type { CoseSigner } from '../../firmware-ts/protocol/cose.js';
import { telemetryTopic } from '../../firmware-ts/protocol/topics.js';
import type { GatewayEvent, SimDevice } from '../device/sim-device.js';
import type { SimEventBody } from '../report/events.js';

export interface AttackContext {
  readonly attack: string;
  readonly attacker: SimDevice;
  /** Another device's id (spoofing targets it). */
  readonly victim: string;
  readonly url: string;
  readonly chain: string;
  readonly connectTimeoutMs: number;
  readonly mqtt?: IClientOptions;
  readonly emit: (event: SimEventBody) => void;
}

/** How long to wait for the gateway's event after a PUBACK. */
export const ANSWER_MS = 5_000;

export interface StepResult {
  readonly answer: string;
  readonly ok: boolean;
}

export function report(ctx: AttackContext, step: string, expect: string, result: StepResult): boolean {
  ctx.emit({
    event: 'attack',
    attack: ctx.attack,
    dev: ctx.attacker.id,
    step,
    expect,
    answer: result.answer,
    ok: result.ok,
  });
  return result.ok;
}

export function describeEvent(event: GatewayEvent | undefined): string {
  if (event === undefined) return 'no event';
  if (event.type === 'rejected')
    return `rejected ${String(event.code)}${typeof event.field === 'string' ? ` (${event.field})` : ''}`;
  if (event.type === 'accepted') return `accepted (leaf ${String(event.leaf)})`;
  return `${String(event.type)} event`;
}

const isReadingEvent = (e: GatewayEvent) => e.type === 'accepted' || e.type === 'rejected';

/**
 * Publishes `payload` on `topic` (default: the attacker's telemetry topic) at QoS 1 and returns
 * the next reading event (undefined if none came within ANSWER_MS), or 'closed' if the gateway
 * closed the connection instead of acknowledging.
 */
export async function publishForAnswer(
  ctx: AttackContext,
  client: MqttClient,
  payload: Uint8Array,
  topic = telemetryTopic(ctx.attacker.id),
  waitMs = ANSWER_MS,
): Promise<GatewayEvent | 'closed' | undefined> {
  const answer = ctx.attacker.nextEvent(isReadingEvent, waitMs);
  const closed = ctx.attacker.sessionClosed() ?? Promise.resolve();
  const acked = new Promise<'acked' | 'closed'>((resolve) => {
    client.publish(topic, Buffer.from(payload), { qos: 1 }, (err) => resolve(err ? 'closed' : 'acked'));
    void closed.then(() => resolve('closed'));
  });
  if ((await acked) === 'closed') return 'closed';
  return answer;
}

/** The reading's expected refusal, checked against the event the gateway sent. */
export function expectCode(event: GatewayEvent | 'closed' | undefined, codes: readonly string[]): StepResult {
  if (event === 'closed') return { answer: 'connection closed without PUBACK', ok: false };
  return {
    answer: describeEvent(event),
    ok: event?.type === 'rejected' && codes.includes(String(event.code)),
  };
}

/** A signer that claims `kid` but signs with another key: a forged signature. */
export function forger(kid: Uint8Array, sign: (message: Uint8Array) => Uint8Array): CoseSigner {
  return { kid, sign };
}

/** Runs `body` with the attacker connected and its own stream held, so answers are not mixed up. */
export async function withAttacker(
  ctx: AttackContext,
  body: (client: MqttClient) => Promise<void>,
): Promise<void> {
  const client = await ctx.attacker.whenConnected(30_000);
  if (client === undefined) {
    report(ctx, 'connect the attacking device', 'a live session', {
      answer: `not connected (${ctx.attacker.status})`,
      ok: false,
    });
    return;
  }
  await ctx.attacker.pause();
  try {
    await body(client);
  } finally {
    ctx.attacker.resume();
  }
}
