/**
 * The ledger's state machine (DESIGN §4): one pure, deterministic function holds every rule.
 * `apply(state, entryBytes, ctx)` returns the next state and its effects, or throws a coded
 * MedgateError and the given state is untouched. No clock, no randomness, no I/O: time and
 * height come from the including block (`ctx`), signatures are checked with the injected
 * ed25519 backend (node:crypto in the gateway, noble in a browser: the same strict policy).
 *
 * Checks of every transaction, in order: structure (decoders), not a threshold action,
 * chain id, actor kind allowed for the type, actor known (and active for devices), signature
 * by the actor's current key, signer's time not ahead of the block, nonce above the actor's
 * last; then the type's own rules (rules-*.ts).
 */
import { abytes, toHex } from '../../../firmware-ts/protocol/bytes.js';
import { type CoseSign1, chainAad, verifyCoseSign1 } from '../../../firmware-ts/protocol/cose.js';
import type { Ed25519Backend } from '../../../firmware-ts/protocol/ed25519/types.js';
import { MedgateError, ProtocolErrorCode } from '../../../firmware-ts/protocol/errors.js';
import { type ActorKind, type ActorRef, parseActor } from '../../../firmware-ts/protocol/tx/actor.js';
import { decodeLedgerEntry } from '../../../firmware-ts/protocol/tx/entry.js';
import {
  ACTION_TYPES,
  type EnvelopeType,
  SELF_ENROL_TYPE,
  type Tx,
  type TxType,
} from '../../../firmware-ts/protocol/tx/types.js';
import {
  checkedKid,
  type Draft,
  freeze,
  type Rule,
  type RuleEnv,
  type RuleTable,
  STATE_LIMITS,
} from './common.js';
import type { Effect } from './effects.js';
import { refuse, StateErrorCode } from './errors.js';
import { accessRules } from './rules-access.js';
import { applySelfEnrol, deviceRules } from './rules-devices.js';
import { firmwareRules } from './rules-firmware.js';
import { governanceRules } from './rules-governance.js';
import type { Stamp, State } from './state.js';

export interface ApplyContext {
  /** Time of the including block, ms since the Unix epoch. */
  readonly time: number;
  /** Height of the including block. */
  readonly height: number;
}

export interface ApplyResult {
  readonly state: State;
  readonly effects: readonly Effect[];
  /** The entry's type (`device.enrol.self` for a device's own enrolment request). */
  readonly type: EnvelopeType | typeof SELF_ENROL_TYPE;
  /** Who signed it: the actor, or the enrolling device's id. */
  readonly actor: string;
}

export interface StateMachine {
  readonly backend: Ed25519Backend;
  /** Applies one ledger entry (COSE bytes). Pure: throws a coded MedgateError on refusal. */
  apply(state: State, entry: Uint8Array, ctx: ApplyContext): ApplyResult;
}

const RULES: RuleTable = { ...deviceRules, ...accessRules, ...governanceRules, ...firmwareRules };

/** Which kinds of actor may sign each type (DESIGN §1: who does what). */
const SIGNERS: { readonly [K in TxType]: readonly ActorKind[] } = freeze({
  'device.enrol': ['admin'],
  'device.approve': ['admin'],
  'device.revoke': ['admin'],
  'device.rotate': ['device'],
  'clinician.register': ['admin'],
  'access.grant': ['admin'],
  'access.revoke': ['admin', 'clinician'],
  'firmware.release': ['admin', 'vendor'],
  'proposal.create': ['admin'],
  'proposal.approve': ['admin'],
  'rollout.halt': ['admin'],
  'update.report': ['device'],
});

const THRESHOLD_ACTIONS: ReadonlySet<string> = new Set(ACTION_TYPES);

function checkContext(state: State, ctx: ApplyContext): Stamp {
  const { time, height } = ctx ?? {};
  if (!Number.isSafeInteger(time) || !Number.isSafeInteger(height) || time < 0 || height < 0) {
    throw new MedgateError(
      ProtocolErrorCode.BAD_ARGUMENT,
      'ctx.time and ctx.height must be non-negative integers',
      {
        field: 'ctx',
      },
    );
  }
  // Blocks only move forward: a caller replaying out of order would get a different state.
  if (height < state.height || time < state.time) {
    throw refuse(StateErrorCode.BAD_CONTEXT, 'block height and time must not go backwards', {
      field: 'ctx',
      got: { height, time },
      want: { height: state.height, time: state.time },
    });
  }
  return freeze({ height, time });
}

function checkNotFuture(t: number, at: Stamp, field: string): void {
  if (t > at.time + STATE_LIMITS.maxFutureSkewMs) {
    throw refuse(StateErrorCode.FROM_FUTURE, 'signed further ahead of the block time than allowed', {
      field,
      got: t,
      want: at.time + STATE_LIMITS.maxFutureSkewMs,
    });
  }
}

/** The key an actor signs with now; refuses unknown actors and devices that may not act. */
function actorKey(state: State, actor: ActorRef): Uint8Array {
  const unknown = (): never => {
    throw refuse(StateErrorCode.UNKNOWN_ACTOR, `no ${actor.kind} ${actor.id} on the ledger`, {
      field: 'actor',
    });
  };
  switch (actor.kind) {
    case 'admin':
      return (state.admins.get(actor.id) ?? unknown()).pub;
    case 'vendor':
      return (state.vendors.get(actor.id) ?? unknown()).pub;
    case 'clinician':
      return (state.clinicians.get(actor.id) ?? unknown()).pub;
    default: {
      const device = state.devices.get(actor.id);
      if (device === undefined) return unknown();
      if (device.status === 'revoked') {
        throw refuse(StateErrorCode.DEVICE_REVOKED, `device ${actor.id} is revoked`, { field: 'actor' });
      }
      if (device.status !== 'active') {
        throw refuse(StateErrorCode.DEVICE_NOT_ACTIVE, `device ${actor.id} is ${device.status}`, {
          field: 'actor',
        });
      }
      return device.keys[device.keys.length - 1]!.pub;
    }
  }
}

/** Per-actor replay protection: nonces rise strictly; gaps are allowed (offline signers). */
function checkNonce(state: State, tx: Tx): void {
  const last = state.nonces.get(tx.actor);
  if (last === undefined || tx.nonce > last) return;
  const code = tx.nonce === last ? StateErrorCode.NONCE_REPLAY : StateErrorCode.NONCE_STALE;
  throw refuse(code, `nonce must be above ${last}`, { field: 'nonce', got: tx.nonce, want: last + 1 });
}

/** Keys whose enrolment check passed, remembered per machine (the subgroup check costs ms in JS). */
const KEY_MEMO_SIZE = 4096;

export function createStateMachine(options: { readonly backend: Ed25519Backend }): StateMachine {
  const backend = options.backend;
  // A pure function's results: the gateway applies an entry at admission and again in its block.
  const passed = new Map<string, string>();
  const checkKey = (pub: Uint8Array): string => {
    const id = toHex(pub);
    let kid = passed.get(id);
    if (kid === undefined) {
      kid = checkedKid(pub);
      if (passed.size >= KEY_MEMO_SIZE) passed.delete(passed.keys().next().value as string);
      passed.set(id, kid);
    }
    return kid;
  };
  let aadChain = '';
  let aadBytes: Uint8Array = new Uint8Array(0);
  const aadOf = (chain: string): Uint8Array => {
    if (chain !== aadChain) {
      aadBytes = chainAad(chain);
      aadChain = chain;
    }
    return aadBytes;
  };

  function applyTx(env: RuleEnv, state: State, tx: Tx, cose: CoseSign1): void {
    if (THRESHOLD_ACTIONS.has(tx.type)) {
      throw refuse(StateErrorCode.NEEDS_PROPOSAL, `${tx.type} is applied only through an approved proposal`, {
        field: 'type',
      });
    }
    const type = tx.type as TxType;
    if (tx.chain !== state.chain) {
      throw refuse(StateErrorCode.WRONG_CHAIN, 'the transaction was signed for another chain', {
        field: 'chain',
        got: tx.chain,
        want: state.chain,
      });
    }
    const actor = parseActor(tx.actor);
    if (!SIGNERS[type].includes(actor.kind)) {
      throw refuse(StateErrorCode.ACTOR_NOT_ALLOWED, `a ${actor.kind} may not sign ${type}`, {
        field: 'actor',
        got: actor.kind,
        want: SIGNERS[type],
      });
    }
    verifyCoseSign1(cose, actorKey(state, actor), aadOf(state.chain), backend);
    checkNotFuture(tx.t, env.at, 't');
    checkNonce(state, tx);
    (RULES[type] as Rule<TxType>)({ ...env, tx: tx as Extract<Tx, { type: TxType }>, actor, cose });
    env.d.nonces = env.d.nonces.set(tx.actor, tx.nonce);
  }

  function apply(state: State, input: Uint8Array, ctx: ApplyContext): ApplyResult {
    const at = checkContext(state, ctx);
    // Our own plain copy: the state keeps COSE bytes (proposals, approvals), and a caller that
    // reuses its buffer (or passes a Node Buffer, whose slice() is a view) must not reach them.
    const entry = decodeLedgerEntry(new Uint8Array(abytes(input, undefined, 'entry')));
    const d: Draft = { ...state, height: at.height, time: at.time };
    const effects: Effect[] = [];
    const env: RuleEnv = { d, at, backend, effects, checkKey };
    if (entry.kind === 'enrol') {
      checkNotFuture(entry.request.t, at, 't');
      applySelfEnrol(env, entry.request, entry.cose);
      return freeze({
        state: freeze(d),
        effects: freeze(effects),
        type: SELF_ENROL_TYPE,
        actor: entry.request.dev,
      });
    }
    applyTx(env, state, entry.tx, entry.cose);
    return freeze({ state: freeze(d), effects: freeze(effects), type: entry.tx.type, actor: entry.tx.actor });
  }

  return freeze({ backend, apply });
}
