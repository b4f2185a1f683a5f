/**
 * Who is connected, as the gateway knows them. `authenticate` attaches a Session to the aedes
 * client; aedes' `client` / `clientDisconnect` events register and unregister it. Client id =
 * principal id (DESIGN §3), and aedes keeps one client per id (a new CONNECT takes over), so
 * the table maps a principal to its one live client. Live revocation walks it (revocation.ts).
 *
 * Everything here is derived from the ledger and the live sockets: nothing a restart loses
 * (DESIGN §8).
 */
import type { Client } from 'aedes';
import type { Principal, Role } from '../../firmware-ts/protocol/ids.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

export interface Session {
  /** Role and id; for an enrolment session, the device being enrolled. */
  readonly principal: Principal;
  /** The principal id (= client id = username, except `enrol` sessions whose username is `enrol`). */
  readonly id: string;
  /** `enrol`: a self-enrolment connection (may only read its own events topic). */
  readonly kind: 'principal' | 'enrol';
  /** Hex kid of the key that signed the connect token (devices: detects a rotation). */
  readonly kid: string;
  /** Remote address, for logs. */
  readonly remote: string;
  /** Logger bound to this principal. */
  readonly log: Logger;
}

export class Sessions {
  readonly #byClient = new WeakMap<Client, Session>();
  readonly #live = new Map<string, Client>();
  readonly #metrics: Metrics | undefined;

  constructor(metrics?: Metrics) {
    this.#metrics = metrics;
  }

  /** Binds a session to a client that passed `authenticate` (before its CONNACK). */
  attach(client: Client, session: Session): void {
    this.#byClient.set(client, session);
  }

  /** The session of a client; undefined for a client that did not authenticate. */
  of(client: Client | null | undefined): Session | undefined {
    return client ? this.#byClient.get(client) : undefined;
  }

  /** aedes `client` event: the client is registered under its id. */
  register(client: Client): void {
    const session = this.#byClient.get(client);
    if (session === undefined) return;
    this.#live.set(client.id, client);
    this.#metrics?.connectedClients.inc({ role: roleLabel(session) });
  }

  /** aedes `clientDisconnect` event. A taken-over client does not remove its successor. */
  unregister(client: Client): void {
    const session = this.#byClient.get(client);
    if (session === undefined) return;
    if (this.#live.get(client.id) === client) this.#live.delete(client.id);
    this.#metrics?.connectedClients.dec({ role: roleLabel(session) });
  }

  /** The live client of a principal id. */
  client(id: string): Client | undefined {
    return this.#live.get(id);
  }

  get size(): number {
    return this.#live.size;
  }

  /** Live sessions of one role (a snapshot: closing clients while iterating is safe). */
  ofRole(role: Role): Array<{ client: Client; session: Session }> {
    const out: Array<{ client: Client; session: Session }> = [];
    for (const client of this.#live.values()) {
      const session = this.#byClient.get(client);
      if (session !== undefined && session.principal.role === role) out.push({ client, session });
    }
    return out;
  }
}

/** Metrics label: the role, or `enrol` for enrolment sessions (a bounded set). */
function roleLabel(session: Session): string {
  return session.kind === 'enrol' ? 'enrol' : session.principal.role;
}
