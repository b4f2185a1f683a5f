/**
 * A refused CONNECT: a coded MedgateError that also carries the CONNACK return code aedes
 * answers with (aedes reads `returnCode`, 2 to 5; MQTT 3.1.1 §3.2.2.3).
 *
 * The rule (docs/mqtt.md): 4 "bad user name or password" when the credentials are not valid
 * for that username now (malformed, unknown principal, wrong key or signature, stale, replayed),
 * so a stranger cannot tell an unknown id from a bad signature; 5 "not authorized" only once
 * the signature proved the key holder (revoked, pending, not enrollable) or for a ban; 3
 * "server unavailable" when the gateway cannot take the connection (stopping, full, overloaded).
 */
import { isMedgateError, MedgateError, type MedgateErrorDetails } from '../../firmware-ts/protocol/errors.js';

export const ConnackCode = Object.freeze({
  SERVER_UNAVAILABLE: 3,
  BAD_CREDENTIALS: 4,
  NOT_AUTHORIZED: 5,
} as const);

export type ConnackCode = (typeof ConnackCode)[keyof typeof ConnackCode];

export interface ConnectRefusal extends MedgateError {
  readonly returnCode: ConnackCode;
}

export function refuseConnect(
  code: string,
  message: string,
  returnCode: ConnackCode,
  details: MedgateErrorDetails = {},
): ConnectRefusal {
  return Object.assign(new MedgateError(code, message, details), { returnCode });
}

/** A coded error from a decoder or the ledger, answered with `returnCode`. */
export function asRefusal(err: unknown, returnCode: ConnackCode, fallbackCode: string): ConnectRefusal {
  if (isMedgateError(err)) {
    return refuseConnect(err.code, err.message, returnCode, {
      ...(err.field === undefined ? {} : { field: err.field }),
      cause: err,
    });
  }
  return refuseConnect(fallbackCode, (err as Error)?.message ?? String(err), returnCode, { cause: err });
}

export function isConnectRefusal(err: unknown): err is ConnectRefusal {
  return isMedgateError(err) && typeof (err as Partial<ConnectRefusal>).returnCode === 'number';
}
