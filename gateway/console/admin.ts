/**
 * The fleet admin's view: the fleet (model, firmware, status, last seen), enrolments waiting for
 * approval, open proposals with their approvals against the threshold, rollouts with each wave's
 * progress, the ledger explorer and the live security events feed. Approvals are signed here
 * with the admin's own key (tx.ts) and submitted to `POST /v1/tx`; each also shows the CLI
 * command that does the same from a shell.
 */
import { SECURITY_TOPIC, TOPIC_FILTERS } from '../../firmware-ts/protocol/topics.js';
import { badge, byId, type Child, fill, h } from './dom.js';
import { isMedgateError } from './errors.js';
import { Explorer } from './explorer.js';
import { ago, clock, shortHex } from './format.js';
import { type Live, type LiveState, startLive } from './live.js';
import type { Session } from './session.js';
import { approveCommand, approveDeviceTx, approveProposalTx, nextNonce } from './tx.js';

/** How often the visible tab reloads from the HTTP API. */
const REFRESH_MS = 3_000;
const SECURITY_EVENTS = 200;

interface FleetDevice {
  readonly id: string;
  readonly model: string;
  readonly status: string;
  readonly enrolledBy: string;
  readonly since: { readonly at: string };
  readonly firmware: { readonly seq: number; readonly version?: string } | null;
  readonly key: { readonly kid: string } | null;
  readonly lastSeen?: { readonly seq: number; readonly received: number };
}

interface ProposalJson {
  readonly id: string;
  readonly proposer: string;
  readonly action: { readonly type: string; readonly body: Record<string, unknown> };
  readonly status: 'open' | 'executed';
  readonly expires: number;
  readonly created: { readonly height: number };
  readonly executed?: { readonly height: number };
  readonly approvedBy: readonly string[];
  readonly approvals: number;
  readonly required: number;
}

/** A rollout as `GET /v1/rollouts/{id}` plans it (gateway/updates/planner.ts). */
interface RolloutJson {
  readonly id: string;
  readonly status: string;
  readonly release: { readonly id: string; readonly version?: string; readonly seq?: number };
  readonly model: string;
  readonly target: { readonly devs?: readonly string[]; readonly cohort?: string };
  readonly expires: number;
  readonly maxFailures: number;
  readonly authorized: { readonly height: number };
  readonly halted?: { readonly by: string; readonly reason: string };
  readonly confirmed: number;
  readonly failures: number;
  readonly waves: readonly {
    readonly index: number;
    readonly size: number;
    readonly open: boolean;
    readonly devices: readonly string[];
    readonly counts: Readonly<Record<string, number>>;
  }[];
  readonly devices: readonly {
    readonly id: string;
    readonly state: string;
    readonly offered: boolean;
    readonly error?: string;
  }[];
}

/** Rollouts shown in detail (the newest first). */
const ROLLOUTS_SHOWN = 10;
/** Device phases in which a device's update has ended (planner.ts). */
const ENDED = Object.freeze(['confirmed', 'failed', 'rolledBack', 'skipped']);

const TABS = Object.freeze([
  ['fleet', 'Fleet'],
  ['enrolments', 'Enrolments'],
  ['proposals', 'Proposals & rollouts'],
  ['ledger', 'Ledger'],
  ['security', 'Security events'],
] as const);
type Tab = (typeof TABS)[number][0];

function targetText(target: RolloutJson['target'] | undefined): string {
  if (target === undefined) return '?';
  return target.devs !== undefined ? target.devs.join(', ') : `cohort ${target.cohort ?? '?'}`;
}

export class AdminView {
  readonly #session: Session;
  readonly #explorer: Explorer;
  readonly #sections = new Map<Tab, HTMLElement>();
  /** Proposals seen open in this page, kept to show how they ended. */
  readonly #recent = new Map<string, ProposalJson>();
  /** Live arrival of each device's latest verified reading (mg/v1/verified/+). */
  readonly #liveSeen = new Map<string, number>();
  #fleet: readonly FleetDevice[] = [];
  #tab: Tab = 'fleet';
  #busy = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #live: Live | undefined;
  #securityCount = 0;

  constructor(session: Session) {
    this.#session = session;
    this.#explorer = new Explorer(session);
  }

  async start(root: HTMLElement, wsUrl: string | undefined, onLive: (s: LiveState, d?: string) => void) {
    const nav = h(
      'nav',
      { class: 'tabs' },
      ...TABS.map(([tab, label]) =>
        h(
          'button',
          { type: 'button', 'data-tab': tab, onclick: () => void this.show(tab) },
          label,
          tab === 'security' ? h('span', { id: 'security-count', class: 'count' }) : null,
        ),
      ),
    );
    for (const [tab, label] of TABS) {
      this.#sections.set(
        tab,
        h('section', { class: 'panel tab', id: `tab-${tab}`, hidden: true }, h('h2', {}, label)),
      );
    }
    this.#sections.get('ledger')!.append(this.#explorer.element());
    this.#sections.get('security')!.append(h('ol', { id: 'security-events', class: 'events' }));
    fill(root, nav, h('p', { id: 'admin-status', class: 'status' }), ...this.#sections.values());
    await this.show('fleet');
    this.#timer = setInterval(() => void this.refresh(), REFRESH_MS);
    if (wsUrl === undefined) {
      onLive('offline', 'the gateway has no WebSocket listener');
      return;
    }
    this.#live = startLive({
      url: wsUrl,
      actor: this.#session.actor,
      token: () => this.#session.token(),
      topics: [SECURITY_TOPIC, TOPIC_FILTERS.verified],
      onMessage: (topic, payload) => this.#onMessage(topic, payload),
      onState: onLive,
    });
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#live?.stop();
  }

  async show(tab: Tab): Promise<void> {
    this.#tab = tab;
    for (const [name, section] of this.#sections) section.hidden = name !== tab;
    for (const button of document.querySelectorAll('nav.tabs button')) {
      button.classList.toggle('active', button.getAttribute('data-tab') === tab);
    }
    await this.refresh();
  }

  async refresh(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      switch (this.#tab) {
        case 'fleet':
        case 'enrolments':
          this.#fleet = (
            await this.#session.get<{ devices: FleetDevice[] }>('/v1/console/fleet?limit=1000')
          ).devices;
          if (this.#tab === 'fleet') this.#renderFleet();
          else this.#renderEnrolments();
          break;
        case 'proposals':
          await this.#refreshProposals();
          break;
        case 'ledger':
          await this.#explorer.refresh();
          break;
        default:
          break;
      }
    } catch (err) {
      this.#status('failed', err);
    } finally {
      this.#busy = false;
    }
  }

  #status(kind: 'ok' | 'failed', what: unknown): void {
    const text =
      typeof what === 'string' ? what : isMedgateError(what) ? `${what.code}: ${what.message}` : String(what);
    fill(
      byId('admin-status'),
      badge(kind === 'ok' ? 'verified' : 'failed', kind === 'ok' ? 'done' : 'refused'),
      ` ${text}`,
    );
  }

  #onMessage(topic: string, payload: Uint8Array): void {
    if (topic === SECURITY_TOPIC) {
      this.#security(payload);
      return;
    }
    this.#liveSeen.set(topic.slice(topic.lastIndexOf('/') + 1), Date.now());
  }

  #security(payload: Uint8Array): void {
    let event: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(new TextDecoder().decode(payload));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return;
      event = parsed as Record<string, unknown>;
    } catch {
      return;
    }
    const str = (k: string) => (typeof event[k] === 'string' ? (event[k] as string) : undefined);
    const t = typeof event.t === 'number' ? event.t : Date.now();
    const list = byId('security-events');
    const who = [
      str('principal'),
      str('dev') === undefined ? undefined : `device ${str('dev')}`,
      str('remote'),
    ]
      .filter((x) => x !== undefined)
      .join(' · ');
    const detail =
      typeof event.detail === 'object' && event.detail !== null ? JSON.stringify(event.detail) : '';
    list.prepend(
      h(
        'li',
        { 'data-type': str('type') ?? '', 'data-code': str('code') ?? '' },
        h('span', { class: 'mono' }, clock(t)),
        ' ',
        h('strong', {}, str('type') ?? '?'),
        ' ',
        badge('failed', str('code') ?? '?'),
        ' ',
        who,
        detail === '' ? '' : h('span', { class: 'muted' }, ` ${detail}`),
      ),
    );
    while (list.children.length > SECURITY_EVENTS) list.lastElementChild?.remove();
    this.#securityCount++;
    fill(byId('security-count'), String(this.#securityCount));
  }

  #renderFleet(): void {
    const section = this.#sections.get('fleet')!;
    const now = Date.now();
    const rows = this.#fleet.map((d) => {
      const live = this.#liveSeen.get(d.id);
      const seen = Math.max(d.lastSeen?.received ?? 0, live ?? 0);
      return h(
        'tr',
        { 'data-dev': d.id },
        h('td', {}, d.id),
        h('td', {}, d.model),
        h(
          'td',
          {},
          badge(d.status === 'active' ? 'verified' : d.status === 'pending' ? 'pending' : 'failed', d.status),
        ),
        h('td', {}, d.firmware === null ? '—' : `${d.firmware.version ?? ''} (seq ${d.firmware.seq})`),
        h(
          'td',
          { title: seen === 0 ? '' : new Date(seen).toISOString() },
          seen === 0 ? 'never' : ago(seen, now),
        ),
        h('td', { class: 'mono', title: d.key?.kid ?? '' }, d.key === null ? '—' : shortHex(d.key.kid)),
      );
    });
    fill(
      section,
      h('h2', {}, `Fleet (${this.#fleet.length} devices)`),
      table(['device', 'model', 'status', 'firmware', 'last seen', 'key kid'], rows),
    );
  }

  #renderEnrolments(): void {
    const section = this.#sections.get('enrolments')!;
    const pending = this.#fleet.filter((d) => d.status === 'pending');
    fill(
      section,
      h('h2', {}, `Enrolments waiting for approval (${pending.length})`),
      pending.length === 0
        ? h('p', { class: 'muted' }, 'None.')
        : table(
            ['device', 'model', 'attested by', 'requested', 'approve'],
            pending.map((d) =>
              h(
                'tr',
                { 'data-dev': d.id },
                h('td', {}, d.id),
                h('td', {}, d.model),
                h('td', {}, d.enrolledBy),
                h('td', {}, d.since.at),
                h(
                  'td',
                  {},
                  h(
                    'button',
                    { type: 'button', onclick: () => void this.#approveDevice(d.id) },
                    'Approve with my key',
                  ),
                  h('div', { class: 'cli mono' }, `medgate device approve ${d.id} --admin-key ADMIN.key`),
                ),
              ),
            ),
          ),
    );
  }

  async #refreshProposals(): Promise<void> {
    const [{ proposals }, list] = await Promise.all([
      this.#session.getPublic<{ proposals: ProposalJson[] }>('/v1/proposals'),
      this.#session.getPublic<{ rollouts: { id: string }[] }>('/v1/rollouts'),
    ]);
    const rollouts = await Promise.all(
      list.rollouts
        .slice(-ROLLOUTS_SHOWN)
        .reverse()
        .map((r) => this.#session.getPublic<RolloutJson>(`/v1/rollouts/${r.id}`)),
    );
    const open = new Set(proposals.map((p) => p.id));
    for (const p of proposals) this.#recent.set(p.id, p);
    // Those that left the open list: fetch how they ended (executed or expired).
    for (const [id, p] of this.#recent) {
      if (!open.has(id) && p.status === 'open') {
        this.#recent.set(id, await this.#session.getPublic<ProposalJson>(`/v1/proposals/${id}`));
      }
    }
    const section = this.#sections.get('proposals')!;
    const cards = [...this.#recent.values()].reverse().map((p) => this.#proposalCard(p));
    fill(
      section,
      h('h2', {}, `Proposals (${proposals.length} open; ${this.#session.threshold} admin approvals govern)`),
      cards.length === 0
        ? h('p', { class: 'muted' }, 'No open proposals.')
        : h('div', { class: 'cards' }, ...cards),
      h('h2', {}, `Rollouts (${list.rollouts.length})`),
      rollouts.length === 0
        ? h('p', { class: 'muted' }, 'No rollouts on the ledger.')
        : h('div', { class: 'cards' }, ...rollouts.map((r) => rolloutCard(r))),
    );
  }

  #proposalCard(p: ProposalJson): HTMLElement {
    // The ledger names the proposer by actor and approvers by admin id.
    const me = this.#session.actor;
    const mine = p.approvedBy.some((a) => a === me || `admin:${a}` === me);
    const body = p.action.body;
    const summary: Child =
      p.action.type === 'rollout.authorize'
        ? h(
            'p',
            {},
            `release ${shortHex(String(body.manifest ?? ''))} of ${String(body.model ?? '?')} → ${targetText(body.target as RolloutJson['target'])}; waves ${JSON.stringify(body.waves ?? [])}, halts at ${String(body.maxFailures ?? '?')} failures`,
          )
        : h('pre', {}, JSON.stringify(body, null, 2));
    return h(
      'article',
      { class: `card ${p.status}`, 'data-proposal': p.id, 'data-status': p.status },
      h('h3', {}, p.action.type, ' ', badge(p.status === 'executed' ? 'verified' : 'pending', p.status)),
      summary,
      h(
        'p',
        {},
        h('meter', { min: 0, max: p.required, value: Math.min(p.approvals, p.required) }),
        ' ',
        h(
          'strong',
          { class: 'approvals', 'data-approvals': p.approvals, 'data-required': p.required },
          `${p.approvals} of ${p.required}`,
        ),
        ` approvals: ${p.approvedBy.join(', ')}`,
      ),
      h(
        'p',
        { class: 'muted' },
        `id ${p.id} · proposed by ${p.proposer} at height ${p.created.height}`,
        p.executed === undefined
          ? ` · expires ${new Date(p.expires).toISOString()}`
          : ` · executed at height ${p.executed.height}`,
      ),
      p.status === 'open'
        ? h(
            'div',
            {},
            h(
              'button',
              {
                type: 'button',
                class: 'approve',
                disabled: mine,
                onclick: () => void this.#approveProposal(p.id),
              },
              mine ? 'You approved this' : 'Approve with my key',
            ),
            h('div', { class: 'cli mono' }, approveCommand(p.id, p.action.type, location.origin)),
          )
        : null,
    );
  }

  async #nonce(): Promise<number> {
    const actor = await this.#session.getPublic<{ nonce: number | null }>(
      `/v1/actors/${encodeURIComponent(this.#session.actor)}`,
    );
    return nextNonce(actor.nonce, this.#session.now());
  }

  async #approveProposal(id: string): Promise<void> {
    try {
      const t = this.#session.now();
      const tx = approveProposalTx(this.#session, id, await this.#nonce(), t);
      const result = await this.#session.submitTx(tx);
      this.#recent.set(id, await this.#session.getPublic<ProposalJson>(`/v1/proposals/${id}`));
      this.#status('ok', `${result.type} in block ${result.height}`);
    } catch (err) {
      this.#status('failed', err);
    }
    await this.refresh();
  }

  async #approveDevice(dev: string): Promise<void> {
    try {
      const t = this.#session.now();
      const result = await this.#session.submitTx(
        approveDeviceTx(this.#session, dev, await this.#nonce(), t),
      );
      this.#status('ok', `${result.type} ${dev} in block ${result.height}`);
    } catch (err) {
      this.#status('failed', err);
    }
    await this.refresh();
  }
}

function table(headers: readonly string[], rows: readonly HTMLTableRowElement[]): HTMLTableElement {
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, ...rows),
  );
}

function rolloutCard(r: RolloutJson): HTMLElement {
  const kind =
    r.status === 'completed'
      ? 'verified'
      : r.status === 'halted' || r.status === 'expired'
        ? 'failed'
        : 'pending';
  const ended = (counts: Readonly<Record<string, number>>) =>
    ENDED.reduce((n, phase) => n + (counts[phase] ?? 0), 0);
  return h(
    'article',
    { class: 'card', 'data-rollout': r.id, 'data-status': r.status },
    h(
      'h3',
      {},
      `${r.model} ${r.release.version ?? shortHex(r.release.id)}`,
      r.release.seq === undefined ? '' : ` (seq ${r.release.seq})`,
      ' ',
      badge(kind, r.status),
    ),
    h(
      'p',
      {},
      `target ${targetText(r.target)} · authorized at height ${r.authorized.height} · expires ${new Date(r.expires).toISOString()}`,
    ),
    r.halted === undefined
      ? null
      : h('p', {}, badge('failed', 'halted'), ` by ${r.halted.by}: ${r.halted.reason}`),
    h(
      'ul',
      { class: 'waves' },
      ...r.waves.map((w) =>
        h(
          'li',
          { 'data-wave': w.index, 'data-ended': ended(w.counts) },
          `wave ${w.index + 1}${w.open ? '' : ' (waiting)'}: `,
          h('progress', { max: w.size, value: ended(w.counts) }),
          ` ${ended(w.counts)} of ${w.size} ended · `,
          Object.entries(w.counts)
            .filter(([, n]) => n > 0)
            .map(([phase, n]) => `${n} ${phase}`)
            .join(', '),
        ),
      ),
    ),
    h('p', {}, `${r.confirmed} confirmed · ${r.failures} failed (halts at ${r.maxFailures})`),
    h(
      'p',
      { class: 'muted' },
      r.devices
        .map((d) => `${d.id}: ${d.state}${d.offered ? ' (offered)' : ''}${d.error ? ` ${d.error}` : ''}`)
        .join(' · '),
    ),
    h('div', { class: 'cli mono' }, `medgate rollout status ${r.id}`),
  );
}
