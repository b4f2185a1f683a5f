/**
 * Entry of the web console (issue 8). The user loads their own key file (PKCS#8 PEM); the page
 * keeps it in memory only, signs connect tokens with it for the HTTP API and MQTT over
 * WebSocket, and opens the clinician's or the admin's view. Reloading the page forgets the key.
 */
import { AdminView } from './admin.js';
import { ClinicianView } from './clinician.js';
import { badge, byId, fill } from './dom.js';
import { isMedgateError } from './errors.js';
import { shortHex } from './format.js';
import type { LiveState } from './live.js';
import { Session } from './session.js';

/** The MQTT-over-WebSocket URL of this gateway, from the port the page was served with. */
function wsUrl(): string | undefined {
  const port = document.querySelector('meta[name="medgate-ws-port"]')?.getAttribute('content') ?? '';
  if (!/^\d{1,5}$/.test(port)) return undefined;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.hostname}:${port}/mqtt`;
}

function setLive(state: LiveState, detail?: string): void {
  const kind = state === 'live' ? 'verified' : state === 'refused' ? 'failed' : 'pending';
  const el = byId('live');
  el.setAttribute('data-live', state);
  fill(el, badge(kind, `live: ${state}`, detail), detail === undefined ? '' : ` ${detail}`);
}

async function signIn(event: Event): Promise<void> {
  event.preventDefault();
  const form = byId<HTMLFormElement>('login');
  const keyText = byId<HTMLTextAreaElement>('key');
  const file = byId<HTMLInputElement>('key-file').files?.[0];
  const principal = byId<HTMLInputElement>('principal').value;
  const error = byId('login-error');
  fill(error, '');
  const button = form.querySelector('button');
  button?.setAttribute('disabled', '');
  try {
    const pem = file !== undefined ? await file.text() : keyText.value;
    // The key leaves the form at once: only the session's signer holds it from here on.
    keyText.value = '';
    byId<HTMLInputElement>('key-file').value = '';
    const session = await Session.open(pem, principal);
    form.hidden = true;
    fill(
      byId('whoami'),
      `${session.actor} · chain ${session.chain} · key ${shortHex(session.kid)} · authority ${session.authorities.length} key(s)`,
    );
    byId('signout').hidden = false;
    const root = byId('view');
    root.setAttribute('data-role', session.role);
    const view = session.role === 'admin' ? new AdminView(session) : new ClinicianView(session);
    await view.start(root, wsUrl(), setLive);
  } catch (err) {
    fill(error, badge('failed', isMedgateError(err) ? err.code : 'error'), ` ${(err as Error).message}`);
  } finally {
    button?.removeAttribute('disabled');
  }
}

byId('login').addEventListener('submit', (e) => void signIn(e));
// Forgetting the key is reloading the page: nothing of it was stored.
byId('signout').addEventListener('click', () => location.reload());
byId('fhir-close').addEventListener('click', () => byId<HTMLDialogElement>('fhir').close());
document.body.setAttribute('data-ready', 'true');
