/**
 * The MQTT front end (DESIGN §3, issue 4): an aedes 1.x broker whose every hook is ours and
 * denies by default (aedes' own defaults allow everything). One file per hook:
 * authenticate.ts, authorize-publish.ts, authorize-subscribe.ts, authorize-forward.ts; the
 * rules themselves are in acl.ts. The broker holds no state the ledger does not (DESIGN §8):
 * sessions and nonce caches are rebuilt by reconnecting clients.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type Client, type ConnectPacket } from 'aedes';
import { chainAad } from '../../firmware-ts/protocol/cose.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { PRINCIPAL_MAX_LENGTH } from '../../firmware-ts/protocol/ids.js';
import type { GatewayLimits } from '../config.js';
import { GatewayErrorCode } from '../errors.js';
import type { Ledger, ProducedBlock } from '../ledger/ledger.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { Penalty } from '../telemetry/penalty.js';
import type { VerifyJob } from '../verify/pool.js';
import { isIngressTopic } from './acl.js';
import { ADDRESS_THRESHOLD_FACTOR, createAuthenticate } from './authenticate.js';
import { createAuthorizeForward } from './authorize-forward.js';
import { createAuthorizePublish } from './authorize-publish.js';
import { createAuthorizeSubscribe } from './authorize-subscribe.js';
import { loggableId, remoteAddress } from './client-info.js';
import type { CredentialDeps } from './credentials.js';
import { Enrolment } from './enrolment.js';
import { Inflight } from './inflight.js';
import { createGatewayEmitter, type OfflineMatcher, skipIngressOfflineLookups } from './mq.js';
import { NonceCache } from './nonce-cache.js';
import { limitPacketSize, PACKET_OVERHEAD_BYTES } from './packet-limit.js';
import { createPublisher, type GatewayPublisher, type SecurityEvent } from './publisher.js';
import { createRevocation } from './revocation.js';
import { Sessions } from './sessions.js';
import type { IngressHandlers } from './telemetry-seam.js';

/** aedes settings that are not in the gateway config; why each differs from aedes' default. */
export const BROKER_SETTINGS = Object.freeze({
  /** A socket that sends no CONNECT is dropped after this (aedes: 30 s). */
  connectTimeoutMs: 10_000,
  /** A subscriber whose socket does not drain is cut off after this (aedes: 60 s). */
  drainTimeoutMs: 30_000,
  /** v1 topics have at most 9 levels (`mg/v1/dev/{id}/fw/` + 4); aedes allows 100. */
  maxTopicLevels: 16,
});

export interface GatewayBrokerDeps {
  readonly ledger: Pick<Ledger, 'state' | 'chain' | 'submitTx'>;
  /** Signature verification: the gateway's one VerifyPool. */
  readonly verify: (job: VerifyJob) => Promise<boolean>;
  readonly handlers: IngressHandlers;
  readonly limits: GatewayLimits;
  readonly log: Logger;
  readonly metrics?: Metrics;
  /** Failure scores of principals, shared with the telemetry pipeline; default a new one from limits. */
  readonly penalty?: Penalty;
  readonly now?: () => number;
  /** Connect-token nonces seen; the composition root shares it with the HTTP API. Default a new one from limits. */
  readonly nonces?: NonceCache;
}

export interface GatewayBroker {
  readonly aedes: Aedes;
  readonly sessions: Sessions;
  readonly publisher: GatewayPublisher;
  /** Failure scores of principals (authentication, forbidden publishes, and the pipeline's refusals). */
  readonly penalty: Penalty;
  /** Connection handler for every listener (TCP, TLS, WebSocket streams). */
  readonly handle: (conn: Duplex, req?: IncomingMessage) => void;
  /** Ledger onBlock listener: live revocation. */
  readonly onBlock: (produced: ProducedBlock) => void;
  /** Closes the connection of a principal, if it has one (a ban, an admin's decision). */
  disconnect(principalId: string, code: string): boolean;
  /** Device publishes being handled now. */
  readonly inflight: number;
  /** From now on, CONNECTs get CONNACK 3 and device publishes are not taken. */
  beginStop(): void;
  /** Resolves once no publish is being handled (true), or after `timeoutMs` (false). */
  drain(timeoutMs: number): Promise<boolean>;
  /** Disconnects every client and closes aedes. */
  close(): Promise<void>;
}

export async function createGatewayBroker(deps: GatewayBrokerDeps): Promise<GatewayBroker> {
  const { ledger, limits, log } = deps;
  const now = deps.now ?? Date.now;
  const state = () => ledger.state;
  let stopping = false;
  const sessions = new Sessions(deps.metrics);
  const penaltyOptions = { failuresBeforeSlowdown: limits.failuresBeforeSlowdown, banMs: limits.banMs, now };
  const penalty = deps.penalty ?? new Penalty(penaltyOptions);
  const addressPenalty = new Penalty({
    ...penaltyOptions,
    failuresBeforeSlowdown: limits.failuresBeforeSlowdown * ADDRESS_THRESHOLD_FACTOR,
  });
  const inflight = new Inflight();
  const credentials: CredentialDeps = {
    state,
    aad: chainAad(ledger.chain),
    verify: deps.verify,
    nonces: deps.nonces ?? new NonceCache(limits.nonceCacheSize),
    skewMs: limits.skewMs,
    now,
  };
  // Hooks that publish need the broker, which needs the hooks: they reach it through this.
  let publisher: GatewayPublisher | undefined;
  const security = (event: SecurityEvent): void => {
    publisher?.security(event).catch((err: unknown) => log.debug({ err }, 'security event not published'));
  };
  const enrolment = new Enrolment({
    credentials,
    submit: (bytes) => ledger.submitTx(bytes),
    deviceEvent: (deviceId, event) => publisher!.deviceEvent(deviceId, event),
    log,
  });

  const aedes = await Aedes.createBroker({
    mq: createGatewayEmitter({ isIngress: isIngressTopic }),
    // No fixed `id`: aedes' random one keeps several front ends of one chain apart (DESIGN §8).
    connectTimeout: BROKER_SETTINGS.connectTimeoutMs,
    drainTimeout: BROKER_SETTINGS.drainTimeoutMs,
    maxTopicLevels: BROKER_SETTINGS.maxTopicLevels,
    // MQTT 3.1 (protocol level 3) caps client ids at 23 characters; principal ids are longer.
    maxClientsIdLength: PRINCIPAL_MAX_LENGTH,
    preConnect: (_client: Client, packet: ConnectPacket, callback) => {
      // No wills: nothing is published on a device's behalf once its signed session is gone.
      if (packet.will) {
        log.debug({ principal: loggableId(packet.clientId) }, 'will message ignored');
        packet.will = undefined;
      }
      callback(null, true);
    },
    authenticate: createAuthenticate({
      credentials,
      enrolment,
      sessions,
      penalty,
      addressPenalty,
      limits,
      connectedClients: () => aedes.connectedClients,
      stopping: () => stopping,
      log,
      security,
    }),
    authorizePublish: createAuthorizePublish({
      sessions,
      handlers: deps.handlers,
      inflight,
      penalty,
      stopping: () => stopping,
      log,
      security,
    }),
    authorizeSubscribe: createAuthorizeSubscribe({ sessions, state, log }),
    authorizeForward: createAuthorizeForward({ sessions, state }),
  });
  // The instance's `persistence` (aedes.js) is not in aedes' type declarations.
  skipIngressOfflineLookups(
    (aedes as unknown as { persistence: OfflineMatcher }).persistence,
    isIngressTopic,
  );
  publisher = createPublisher(aedes, now);

  aedes.on('client', (client) => sessions.register(client));
  aedes.on('clientDisconnect', (client) => {
    sessions.unregister(client);
    enrolment.onDisconnect(client);
    sessions.of(client)?.log.info('disconnected');
  });
  aedes.on('subscribe', (subscriptions, client) => enrolment.onSubscribe(client, subscriptions));
  // The hooks log their own refusals; besides an oversized packet (packet-limit.ts) what
  // arrives here is transport noise (resets, timeouts, malformed packets).
  const onError = (client: Client, err: Error) => {
    const clientLog = sessions.of(client)?.log ?? log.child({ remote: remoteAddress(client) });
    if (isMedgateError(err) && err.code === GatewayErrorCode.PACKET_TOO_LARGE) {
      clientLog.warn({ err }, 'packet too large; connection closed');
    } else {
      clientLog.debug({ err }, 'client error');
    }
  };
  aedes.on('clientError', onError);
  aedes.on('connectionError', onError);

  const maxPacketBytes = limits.maxPayloadBytes + PACKET_OVERHEAD_BYTES;
  const revocation = createRevocation({ sessions, log });

  return {
    aedes,
    sessions,
    publisher,
    penalty,
    handle: (conn, req) => {
      const client = aedes.handle(conn, req);
      limitPacketSize(client, maxPacketBytes);
    },
    onBlock: revocation,
    disconnect: (principalId, code) => {
      const client = sessions.client(principalId);
      if (client === undefined) return false;
      sessions.of(client)?.log.warn({ code }, 'disconnected by the gateway');
      client.close();
      return true;
    },
    get inflight() {
      return inflight.size;
    },
    beginStop: () => {
      stopping = true;
    },
    drain: (timeoutMs) => inflight.idle(timeoutMs),
    close: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        aedes.close(() => resolve());
      }),
  };
}
