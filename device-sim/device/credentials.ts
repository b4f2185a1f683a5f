/**
 * What a device signs to talk to the gateway (DESIGN §3): connect tokens (a fresh nonce for
 * every CONNECT, so a reconnect never reuses one), the self-enrolment request carrying the
 * vendor attestation, and readings. All with the chain id as external_aad.
 */
import { randomBytes } from 'node:crypto';
import {
  type CoseSigner,
  chainAad,
  signCoseSign1,
  signerFromSecretKey,
} from '../../firmware-ts/protocol/cose.js';
import { encodeAttestation } from '../../firmware-ts/protocol/decode/attestation.js';
import { encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { encodeEnrolRequest } from '../../firmware-ts/protocol/decode/enrol.js';
import { NONCE_BYTES } from '../../firmware-ts/protocol/decode/limits.js';
import { encodeReading, type Reading } from '../../firmware-ts/protocol/decode/reading.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';

/** MQTT username of a self-enrolment CONNECT (DESIGN §3 (b); a reserved device id). */
export const ENROL_USERNAME = 'enrol';

export interface DeviceKey {
  readonly secret: Uint8Array;
  readonly pub: Uint8Array;
  readonly signer: CoseSigner;
}

export function deviceKey(secret: Uint8Array): DeviceKey {
  return { secret, pub: nodeBackend.publicKey(secret), signer: signerFromSecretKey(secret, nodeBackend) };
}

const nonce = (): Uint8Array => new Uint8Array(randomBytes(NONCE_BYTES));

/** The vendor's attestation over `{dev, pub, model}` (made at manufacture). */
export function attestation(
  vendor: CoseSigner,
  chain: string,
  dev: string,
  pub: Uint8Array,
  model: string,
): Uint8Array {
  return signCoseSign1(encodeAttestation({ dev, pub, model }), vendor, chainAad(chain));
}

/** MQTT password for `dev`: a connect token signed now with a fresh nonce. */
export function connectToken(key: DeviceKey, chain: string, dev: string, t = Date.now()): Uint8Array {
  return signCoseSign1(encodeConnectToken({ dev, t, nonce: nonce() }), key.signer, chainAad(chain));
}

/** MQTT password of a self-enrolment CONNECT (username `enrol`). */
export function enrolRequest(
  key: DeviceKey,
  chain: string,
  dev: string,
  model: string,
  att: Uint8Array,
  t = Date.now(),
): Uint8Array {
  const payload = encodeEnrolRequest({ dev, pub: key.pub, model, t, nonce: nonce(), att });
  return signCoseSign1(payload, key.signer, chainAad(chain));
}

/** A reading's COSE_Sign1 bytes. */
export function signReading(signer: CoseSigner, chain: string, reading: Reading): Uint8Array {
  return signCoseSign1(encodeReading(reading), signer, chainAad(chain));
}
