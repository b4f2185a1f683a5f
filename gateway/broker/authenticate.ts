/**
 * aedes `authenticate` hook (DESIGN §3 "Connect"): client id = username = principal id and the
 * password a connect token (credentials.ts), or username `enrol` with an enrolment request
 * (enrolment.ts). Anything else is refused with a CONNACK code and one warn line naming the
 * code, the principal and the address, never the token. Denies by default: only a resolved
 * check attaches a session, and the other hooks refuse clients without one.
 *
 * A client that keeps failing is slowed, then banned (issue 4), with the telemetry pipeline's
 * Penalty (a leaky bucket per key): one score per principal, shared with the pipeline's reading
 * refusals, and one per remote address with ADDRESS_THRESHOLD_FACTOR times the threshold
 * (hospital networks put many devices behind one address). A slowed attempt waits before it is
 * checked; a banned one is refused at once (CONNACK 5), without spending a signature check.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuthenticateError, Client } from 'aedes';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { PRINCIPAL_PATTERN } from '../../firmware-ts/protocol/ids.js';
import { GatewayErrorCode } from '../errors.js';
import { StateErrorCode } from '../ledger/state/errors.js';
import { type Logger, principalLogger } from '../log.js';
import type { Penalty } from '../telemetry/penalty.js';
import { ENROL_USERNAME, loggableId, remoteAddress } from './client-info.js';
import { type CredentialDeps, checkConnectToken } from './credentials.js';
import type { Enrolment } from './enrolment.js';
import type { SecurityEvent } from './publisher.js';
import { asRefusal, ConnackCode, type ConnectRefusal, isConnectRefusal, refuseConnect } from './refusal.js';
import type { Session, Sessions } from './sessions.js';

/** An address is slowed after this many times the per-principal threshold (NAT'ed fleets share one). */
export const ADDRESS_THRESHOLD_FACTOR = 10;

/** Refusals that are worth an admin's attention on `mg/v1/security`, besides bans. */
const SECURITY_CODES: ReadonlySet<string> = new Set<string>([
  ProtocolErrorCode.BAD_SIGNATURE,
  StateErrorCode.DEVICE_REVOKED,
  GatewayErrorCode.KEY_ROTATED,
  GatewayErrorCode.AUTH_NONCE_REUSED,
  StateErrorCode.ATTESTATION_MISMATCH,
]);

export interface AuthenticateDeps {
  readonly credentials: CredentialDeps;
  readonly enrolment: Enrolment;
  readonly sessions: Sessions;
  /** Failure scores of principals (shared with the telemetry pipeline). */
  readonly penalty: Penalty;
  /** Failure scores of remote addresses (threshold ADDRESS_THRESHOLD_FACTOR times higher). */
  readonly addressPenalty: Penalty;
  readonly limits: { readonly maxConnections: number };
  readonly connectedClients: () => number;
  readonly stopping: () => boolean;
  readonly log: Logger;
  readonly security: (event: SecurityEvent) => void;
}

type AuthenticateHook = (
  client: Client,
  username: Readonly<string | undefined>,
  password: Readonly<Buffer | undefined>,
  done: (error: AuthenticateError | null, success: boolean | null) => void,
) => void;

export function createAuthenticate(deps: AuthenticateDeps): AuthenticateHook {
  return (client, username, password, done) => {
    authenticate(deps, client, username, password).then(
      (session) => {
        deps.sessions.attach(client, session);
        done(null, true);
      },
      (err: ConnectRefusal) => done(err as unknown as AuthenticateError, false),
    );
  };
}

async function authenticate(
  deps: AuthenticateDeps,
  client: Client,
  username: string | undefined,
  password: Uint8Array | undefined,
): Promise<Session> {
  const remote = remoteAddress(client);
  // Failures are counted per principal only for ids that could be one (bounded key space).
  const principalKey = PRINCIPAL_PATTERN.test(client.id) ? client.id : undefined;
  try {
    if (deps.stopping()) {
      throw refuseConnect(
        GatewayErrorCode.GATEWAY_STOPPING,
        'the gateway is stopping',
        ConnackCode.SERVER_UNAVAILABLE,
      );
    }
    // aedes counts this client only once registered, so the limit is on the others.
    if (deps.connectedClients() >= deps.limits.maxConnections) {
      throw refuseConnect(
        GatewayErrorCode.TOO_MANY_CONNECTIONS,
        `${deps.limits.maxConnections} clients are connected`,
        ConnackCode.SERVER_UNAVAILABLE,
      );
    }
    const bannedUntil =
      (principalKey === undefined ? undefined : deps.penalty.bannedUntil(principalKey)) ??
      deps.addressPenalty.bannedUntil(remote);
    if (bannedUntil !== undefined) {
      throw refuseConnect(
        GatewayErrorCode.AUTH_BANNED,
        'too many failed attempts',
        ConnackCode.NOT_AUTHORIZED,
        {
          want: `after ${new Date(bannedUntil).toISOString()}`,
        },
      );
    }
    const delayMs = Math.max(
      principalKey === undefined ? 0 : deps.penalty.delayMs(principalKey),
      deps.addressPenalty.delayMs(remote),
    );
    if (delayMs > 0) await sleep(delayMs, undefined, { ref: false });

    if (username === undefined || password === undefined || password.length === 0) {
      throw refuseConnect(
        GatewayErrorCode.AUTH_REQUIRED,
        'a username and a password (connect token) are required',
        ConnackCode.BAD_CREDENTIALS,
      );
    }
    let session: Session;
    if (username === ENROL_USERNAME) {
      session = await deps.enrolment.admit(client, password, remote);
    } else {
      if (username !== client.id) {
        throw refuseConnect(
          GatewayErrorCode.AUTH_ID_MISMATCH,
          'the client id is not the username',
          ConnackCode.BAD_CREDENTIALS,
        );
      }
      const credential = await checkConnectToken(deps.credentials, username, password);
      session = {
        principal: credential.principal,
        id: username,
        kind: 'principal',
        kid: credential.kid,
        remote,
        log: principalLogger(deps.log, username, remote),
      };
    }
    session.log.info({ role: session.principal.role, kind: session.kind }, 'connected');
    return session;
  } catch (err) {
    const refusal = isConnectRefusal(err)
      ? err
      : asRefusal(err, ConnackCode.SERVER_UNAVAILABLE, GatewayErrorCode.VERIFY_WORKER_CRASHED);
    const principal = loggableId(username === ENROL_USERNAME ? client.id : username);
    let banned = false;
    // Only the client's own mistakes count; a busy or stopping gateway is not one.
    if (
      refusal.returnCode !== ConnackCode.SERVER_UNAVAILABLE &&
      refusal.code !== GatewayErrorCode.AUTH_BANNED
    ) {
      if (principalKey !== undefined) banned = deps.penalty.onRefusal(principalKey) === 'ban';
      banned = deps.addressPenalty.onRefusal(remote) === 'ban' || banned;
    }
    deps.log.warn(
      {
        code: refusal.code,
        returnCode: refusal.returnCode,
        principal,
        remote,
        enrol: username === ENROL_USERNAME,
      },
      'connect refused',
    );
    if (banned || SECURITY_CODES.has(refusal.code)) {
      deps.security({
        type: banned ? 'connect.banned' : 'connect.refused',
        code: banned ? GatewayErrorCode.AUTH_BANNED : refusal.code,
        principal,
        remote,
      });
    }
    throw refusal;
  }
}
