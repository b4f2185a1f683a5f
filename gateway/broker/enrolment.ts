/**
 * Self-enrolment over MQTT (DESIGN §3 (b)). The device connects with username `enrol`, client
 * id = its device id, and as password its enrolment request: a COSE_Sign1 by its new key over
 * `{"purpose": "enrol", "dev", "pub", "model", "t", "nonce", "att"}`, `att` being the vendor's
 * COSE_Sign1 over `{"dev", "pub", "model"}`.
 *
 * Before CONNACK the gateway checks what it can (request and key, the request's signature with
 * the `pub` inside, the attestation by a vendor registered for that model, the device id not
 * yet on the ledger, time window, nonce) and submits the request bytes to the ledger; the
 * state machine applies the model's enrolment policy (auto: active, approval: pending). A
 * refusal at any of these steps is a refused CONNECT (docs/mqtt.md lists the codes), so a
 * stranger can never take over the client id of a live device.
 *
 * Accepted, the connection is an enrolment session: it may only subscribe to its own events
 * topic. The result is published there, QoS 1, once the request is in a block AND the session
 * has subscribed, whichever comes last, so the device receives it whatever the order:
 * `{"type": "enrol", "dev", "result": "accepted" | "pending" | "refused", "height"?, "code"?}`.
 * The device then disconnects and, once active, connects with a connect token. An enrolment
 * session is closed by the gateway after ENROL_SESSION_MS.
 */
import type { Client, Subscription } from 'aedes';
import { equalBytes, toHex } from '../../firmware-ts/protocol/bytes.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { type CoseSign1, decodeCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { decodeEnrolRequest, type EnrolRequest } from '../../firmware-ts/protocol/decode/enrol.js';
import { TOKEN_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import { assertValidPublicKey } from '../../firmware-ts/protocol/ed25519/policy.js';
import { isMedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { eventsTopic } from '../../firmware-ts/protocol/topics.js';
import { decodeAttestationCose } from '../../firmware-ts/protocol/tx/entry.js';
import { GatewayErrorCode } from '../errors.js';
import type { TxPosition } from '../ledger/ledger.js';
import { StateErrorCode } from '../ledger/state/errors.js';
import type { Logger } from '../log.js';
import { principalLogger } from '../log.js';
import {
  type CredentialDeps,
  checkWindow,
  claimNonce,
  MAX_ENROL_REQUEST_BYTES,
  verifySignature,
} from './credentials.js';
import type { GatewayPublisher } from './publisher.js';
import { asRefusal, ConnackCode, refuseConnect } from './refusal.js';
import type { Session } from './sessions.js';

/** How long an enrolment session may stay connected. */
export const ENROL_SESSION_MS = 60_000;

export type EnrolResult = 'accepted' | 'pending' | 'refused';

export interface EnrolEvent {
  readonly type: 'enrol';
  readonly dev: string;
  readonly result: EnrolResult;
  /** Height of the block that holds the request (accepted, pending). */
  readonly height?: number;
  /** Why it was refused (refused). */
  readonly code?: string;
}

export interface EnrolmentDeps {
  readonly credentials: CredentialDeps;
  /** The ledger's submitTx: rejects at once for a refusal, resolves once in a block. */
  readonly submit: (bytes: Uint8Array) => Promise<TxPosition>;
  /** Publishes on the device's events topic (GatewayPublisher.deviceEvent). */
  readonly deviceEvent: GatewayPublisher['deviceEvent'];
  readonly log: Logger;
  readonly sessionMs?: number;
}

interface Pending {
  readonly dev: string;
  readonly log: Logger;
  result: EnrolEvent | undefined;
  subscribed: boolean;
  sent: boolean;
  timer: NodeJS.Timeout | undefined;
}

const G = GatewayErrorCode;
const S = StateErrorCode;
const { BAD_CREDENTIALS, NOT_AUTHORIZED, SERVER_UNAVAILABLE } = ConnackCode;

function decodeRequest(password: Uint8Array): { cose: CoseSign1; request: EnrolRequest } {
  try {
    if (password.length > MAX_ENROL_REQUEST_BYTES) throw new RangeError('too long');
    const cose = decodeCoseSign1(password, MAX_ENROL_REQUEST_BYTES);
    return { cose, request: decodeEnrolRequest(decodeCbor(cose.payload, TOKEN_CBOR_LIMITS)) };
  } catch (err) {
    const why = isMedgateError(err) ? ` (${err.code})` : '';
    throw refuseConnect(G.AUTH_BAD_TOKEN, `the password is not an enrolment request${why}`, BAD_CREDENTIALS, {
      cause: err,
    });
  }
}

export class Enrolment {
  readonly #deps: EnrolmentDeps;
  readonly #pending = new WeakMap<Client, Pending>();

  constructor(deps: EnrolmentDeps) {
    this.#deps = deps;
  }

  /** Checks and submits the request of `client`; resolves with its enrolment session. */
  async admit(client: Client, password: Uint8Array, remote: string): Promise<Session> {
    const { credentials } = this.#deps;
    const { cose, request } = decodeRequest(password);
    if (request.dev !== client.id) {
      throw refuseConnect(
        G.AUTH_ID_MISMATCH,
        'the client id is not the dev of the request',
        BAD_CREDENTIALS,
        {
          field: 'dev',
        },
      );
    }
    try {
      assertValidPublicKey(request.pub);
    } catch (err) {
      throw asRefusal(err, BAD_CREDENTIALS, ProtocolErrorCode.BAD_KEY);
    }
    if (!equalBytes(cose.kid, kidOf(request.pub))) {
      throw refuseConnect(
        ProtocolErrorCode.COSE_KID_MISMATCH,
        'the request is not signed by its pub',
        BAD_CREDENTIALS,
      );
    }
    await verifySignature(credentials, cose, request.pub);
    await this.#checkAttestation(request);
    if (credentials.state().devices.has(request.dev)) {
      throw refuseConnect(S.DEVICE_EXISTS, `device ${request.dev} is already on the ledger`, NOT_AUTHORIZED);
    }
    checkWindow(credentials, request.t);
    claimNonce(credentials, `enrol:${request.dev}:${toHex(request.nonce)}`, request.t);

    const log = principalLogger(this.#deps.log, request.dev, remote).child({ enrol: true });
    const pending: Pending = {
      dev: request.dev,
      log,
      result: undefined,
      subscribed: false,
      sent: false,
      timer: undefined,
    };
    await this.#submit(client, pending, password);
    log.info({ model: request.model }, 'enrolment request submitted');
    pending.timer = setTimeout(() => client.close(), this.#deps.sessionMs ?? ENROL_SESSION_MS);
    pending.timer.unref();
    this.#pending.set(client, pending);
    return {
      principal: { role: 'device', id: request.dev },
      id: request.dev,
      kind: 'enrol',
      kid: toHex(cose.kid),
      remote,
      log,
    };
  }

  /** aedes `subscribe` event: the session's events subscription is in place. */
  onSubscribe(client: Client, subscriptions: readonly Subscription[]): void {
    const pending = this.#pending.get(client);
    if (pending === undefined) return;
    const topic = eventsTopic(pending.dev);
    // aedes reports a refused filter with qos 128 (SUBACK failure, MQTT 3.1.1 §3.9.3).
    if (subscriptions.some((s) => s.topic === topic && (s.qos as number) !== 128)) {
      pending.subscribed = true;
      this.#maybeSend(pending);
    }
  }

  /** aedes `clientDisconnect` event. */
  onDisconnect(client: Client): void {
    const pending = this.#pending.get(client);
    if (pending?.timer !== undefined) clearTimeout(pending.timer);
    this.#pending.delete(client);
  }

  /** The attestation: a registered vendor for the model, its signature, the same dev/pub/model. */
  async #checkAttestation(request: EnrolRequest): Promise<void> {
    const { credentials } = this.#deps;
    let att: ReturnType<typeof decodeAttestationCose>;
    try {
      att = decodeAttestationCose(request.att);
    } catch (err) {
      throw asRefusal(err, BAD_CREDENTIALS, G.AUTH_BAD_TOKEN);
    }
    const state = credentials.state();
    const holder = state.kids.get(toHex(att.cose.kid));
    const vendor = holder?.startsWith('vendor:')
      ? state.vendors.get(holder.slice('vendor:'.length))
      : undefined;
    if (vendor === undefined) {
      throw refuseConnect(
        S.UNKNOWN_VENDOR,
        'the attestation is not signed by a registered vendor',
        NOT_AUTHORIZED,
        {
          field: 'att',
        },
      );
    }
    if (!vendor.models.includes(request.model)) {
      throw refuseConnect(
        S.VENDOR_MODEL,
        `vendor ${vendor.id} may not attest model ${request.model}`,
        NOT_AUTHORIZED,
        {
          field: 'model',
        },
      );
    }
    await verifySignature(credentials, att.cose, vendor.pub);
    const a = att.attestation;
    if (a.dev !== request.dev || a.model !== request.model || !equalBytes(a.pub, request.pub)) {
      throw refuseConnect(
        S.ATTESTATION_MISMATCH,
        'the attestation names another device, key or model',
        BAD_CREDENTIALS,
        {
          field: 'att',
        },
      );
    }
  }

  /**
   * Submits a copy of the request. The ledger refuses at once (the state machine checks every
   * submission against the speculative state) or resolves once the request is in a block,
   * never within the same turn of the event loop: one setImmediate tells the two apart.
   */
  async #submit(client: Client, pending: Pending, password: Uint8Array): Promise<void> {
    let atOnce: unknown;
    let admitted = false;
    this.#deps.submit(Uint8Array.from(password)).then(
      (position) => {
        const device = this.#deps.credentials.state().devices.get(pending.dev);
        const result: EnrolResult = device?.status === 'active' ? 'accepted' : 'pending';
        pending.log.info({ result, height: position.height }, 'enrolment request included');
        this.#settle(client, pending, { type: 'enrol', dev: pending.dev, result, height: position.height });
      },
      (err: unknown) => {
        if (!admitted) {
          atOnce = err;
          return;
        }
        const code = isMedgateError(err) ? err.code : G.LEDGER_WRITE_FAILED;
        pending.log.warn({ code }, 'enrolment request refused at the block cut');
        this.#settle(client, pending, { type: 'enrol', dev: pending.dev, result: 'refused', code });
      },
    );
    await new Promise((resolve) => setImmediate(resolve));
    admitted = atOnce === undefined;
    if (atOnce !== undefined) {
      const busy =
        isMedgateError(atOnce) && (atOnce.code === G.TX_POOL_FULL || atOnce.code === G.LEDGER_CLOSED);
      throw asRefusal(atOnce, busy ? SERVER_UNAVAILABLE : NOT_AUTHORIZED, G.LEDGER_WRITE_FAILED);
    }
  }

  #settle(client: Client, pending: Pending, result: EnrolEvent): void {
    pending.result = result;
    if (client.closed) return;
    this.#maybeSend(pending);
  }

  #maybeSend(pending: Pending): void {
    if (pending.sent || pending.result === undefined || !pending.subscribed) return;
    pending.sent = true;
    this.#deps
      .deviceEvent(pending.dev, { ...pending.result })
      .catch((err: unknown) => pending.log.warn({ err }, 'enrolment result not delivered'));
  }
}
