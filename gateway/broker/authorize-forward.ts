/**
 * aedes `authorizeForward` hook: every delivery (live, retained, queued for a persistent
 * session) is checked again against the receiver's rights at that moment, so a grant revoked
 * on the ledger stops a clinician's verified readings with the next block, before revocation.ts
 * has even removed the subscription. Returns null (not delivered) for anything acl.ts does not
 * allow, `$SYS` included.
 */
import type { AedesPublishPacket, Client } from 'aedes';
import type { State } from '../ledger/state/state.js';
import { mayReceive } from './acl.js';
import type { Sessions } from './sessions.js';

export interface AuthorizeForwardDeps {
  readonly sessions: Sessions;
  readonly state: () => State;
}

export function createAuthorizeForward(
  deps: AuthorizeForwardDeps,
): (client: Client, packet: AedesPublishPacket) => AedesPublishPacket | null {
  return (client, packet) => {
    const session = deps.sessions.of(client);
    return session !== undefined && mayReceive(session, packet.topic, deps.state()) ? packet : null;
  };
}
