/** Attack modes (`--attack`), each a sequence of reported steps (context.ts). */
import type { AttackName } from '../options.js';
import type { AttackContext } from './context.js';
import { floodAttack } from './flood.js';
import { forgeAttack } from './forge.js';
import { malformedAttack } from './malformed.js';
import { replayAttack } from './replay.js';
import { spoofAttack } from './spoof.js';

export type { AttackContext } from './context.js';

export type AttackRunner = (ctx: AttackContext) => Promise<void>;

/** Telemetry attacks; the firmware ones (tamper-fw, downgrade) run through the device's firmware module. */
export const TELEMETRY_ATTACKS: Readonly<Partial<Record<AttackName, AttackRunner>>> = Object.freeze({
  replay: replayAttack,
  forge: forgeAttack,
  spoof: spoofAttack,
  malformed: malformedAttack,
  flood: floodAttack,
});
