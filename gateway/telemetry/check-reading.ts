/**
 * Steps 1 to 5 of the telemetry pipeline (issue 4), everything that needs no other reading:
 * size limit → strict COSE_Sign1 decode → kid → the device's key on the ledger → signature
 * on the verify pool → reading decoded and checked. Readings of one device pass through here
 * in parallel; the seq rules come after (seq-tracker.ts).
 *
 * Which key verifies a reading (DESIGN §3, §4; docs/telemetry.md):
 * - the device must be on the ledger and active (pending: MG_ERR_DEVICE_NOT_ACTIVE; revoked:
 *   MG_ERR_DEVICE_REVOKED, whatever key signed; revocation ends every key of the device);
 * - the kid must name one of the device's keys, current or past (a kid of another principal
 *   is spoofing, MG_ERR_READING_SPOOFED; a kid of nobody, MG_ERR_UNKNOWN_KID);
 * - a key the device rotated away from verifies only readings whose `t` is before the
 *   rotation's block time (MG_ERR_KEY_ROTATED otherwise). Together with the backlog age
 *   limit, an old key stops being usable `backlogMaxAgeMs` after the rotation.
 */
import { type CoseSign1, decodeCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { decodeReadingPayload, type Reading } from '../../firmware-ts/protocol/decode/reading.js';
import { isMedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { checkObservations } from '../../firmware-ts/protocol/vitals.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import { StateErrorCode } from '../ledger/state/errors.js';
import { deviceOf, keyAt } from '../ledger/state/queries.js';
import type { KeyEpoch, State } from '../ledger/state/state.js';
import type { VerifyJob } from '../verify/pool.js';
import { sigStructureFast } from '../verify/sig-structure.js';
import { hexOf } from './hex.js';

export interface CheckDeps {
  /** The ledger state now (revocations and rotations take effect with their block). */
  readonly state: () => State;
  /** external_aad: the chain id's UTF-8 bytes. */
  readonly aad: Uint8Array;
  /** The verify pool. Its rejections (overload, crash, closed) propagate: no verdict. */
  readonly verify: (job: VerifyJob) => Promise<boolean>;
  readonly maxPayloadBytes: number;
}

export interface CheckedReading {
  readonly msg: CoseSign1;
  readonly reading: Reading;
  readonly key: KeyEpoch;
  /** `msg.kid` in lowercase hex. */
  readonly kid: string;
}

/** A refusal, with what was learned before it (for events: seq; for security events: kid). */
export interface Refusal {
  readonly error: MedgateError;
  readonly seq?: number;
  readonly kid?: string;
}

export type CheckResult =
  | { readonly ok: true; readonly value: CheckedReading }
  | { readonly ok: false; readonly refusal: Refusal };

function refused(error: unknown, extra: { seq?: number; kid?: string } = {}): CheckResult {
  if (!isMedgateError(error)) throw error; // a bug, not a refusal
  return { ok: false, refusal: { error, ...extra } };
}

/** The device's key named by `kid`, or the refusal that the kid earns. */
function keyOf(state: State, deviceId: string, kid: string): KeyEpoch | MedgateError {
  const device = deviceOf(state, deviceId);
  if (device === undefined) {
    return new MedgateError(StateErrorCode.UNKNOWN_DEVICE, `device ${deviceId} is not on the ledger`, {
      field: 'dev',
    });
  }
  if (device.status === 'revoked') {
    return new MedgateError(StateErrorCode.DEVICE_REVOKED, `device ${deviceId} is revoked`, { field: 'dev' });
  }
  if (device.status !== 'active') {
    return new MedgateError(StateErrorCode.DEVICE_NOT_ACTIVE, `device ${deviceId} awaits approval`, {
      field: 'dev',
      got: device.status,
    });
  }
  const key = keyAt(state, deviceId, kid);
  if (key !== undefined) return key;
  const holder = state.kids.get(kid);
  if (holder !== undefined) {
    return new MedgateError(
      GatewayErrorCode.READING_SPOOFED,
      'the reading is signed with the key of another principal',
      {
        field: 'kid',
      },
    );
  }
  return new MedgateError(GatewayErrorCode.UNKNOWN_KID, 'the kid names no key on the ledger', {
    field: 'kid',
  });
}

/** Steps 1 to 5 for a reading published on `deviceId`'s telemetry topic. */
export async function checkReading(
  deps: CheckDeps,
  deviceId: string,
  payload: Uint8Array,
): Promise<CheckResult> {
  // 1. Size, before any parsing.
  if (payload.length > deps.maxPayloadBytes) {
    return refused(
      new MedgateError(
        GatewayErrorCode.READING_TOO_LARGE,
        `reading of ${payload.length} bytes is too large`,
        {
          got: payload.length,
          want: deps.maxPayloadBytes,
        },
      ),
    );
  }
  // 2. Strict COSE_Sign1 in medgate's profile.
  let msg: CoseSign1;
  try {
    msg = decodeCoseSign1(payload, deps.maxPayloadBytes);
  } catch (err) {
    return refused(err);
  }
  // 3. kid → the device's key on the ledger.
  const kid = hexOf(msg.kid);
  const key = keyOf(deps.state(), deviceId, kid);
  if (key instanceof MedgateError) return refused(key, { kid });
  // 4. Signature (RFC 9052 §4.4 Sig_structure with the chain id as external_aad).
  const valid = await deps.verify({
    publicKey: key.pub,
    message: sigStructureFast(msg, deps.aad),
    signature: msg.signature,
  });
  if (!valid) {
    return refused(
      new MedgateError(ProtocolErrorCode.BAD_SIGNATURE, 'the reading signature does not verify', {
        field: 'signature',
      }),
      { kid },
    );
  }
  // 5. The signed reading: structure, whose it is, which key may sign it, what it measures.
  let reading: Reading;
  try {
    reading = decodeReadingPayload(msg.payload);
  } catch (err) {
    return refused(err, { kid });
  }
  const seq = reading.seq;
  if (reading.dev !== deviceId) {
    return refused(
      new MedgateError(
        GatewayErrorCode.READING_SPOOFED,
        `a reading of another device was published as ${deviceId}`,
        {
          field: 'dev',
        },
      ),
      { seq, kid },
    );
  }
  if (key.until !== undefined && reading.t >= key.until.time) {
    return refused(
      new MedgateError(
        GatewayErrorCode.KEY_ROTATED,
        'the reading is signed with a key rotated out before its time',
        {
          field: 'kid',
          got: reading.t,
          want: `< ${key.until.time}`,
        },
      ),
      { seq, kid },
    );
  }
  try {
    checkObservations(reading.obs);
  } catch (err) {
    return refused(err, { seq, kid });
  }
  return { ok: true, value: { msg, reading, key, kid } };
}
