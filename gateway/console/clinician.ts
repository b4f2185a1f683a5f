/**
 * The clinician's view: the devices this clinician holds a grant for, each with live charts of
 * its vitals and a table of its latest readings. Every reading is checked in this page
 * (verify.ts) against the device's key from the ledger before it is plotted: a badge says
 * verified or failed (with the code), NEWS2 red bands recomputed from the signed values are
 * highlighted, a receipt is verified against the authority-signed block on request ("anchored
 * at height N"), and the FHIR Observation of a reading is shown on request.
 */
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { verifiedTopic } from '../../firmware-ts/protocol/topics.js';
import type { VerifiedReading } from '../../firmware-ts/protocol/verified-reading.js';
import type { Alert } from '../../firmware-ts/protocol/vitals.js';
import { VitalChart } from './charts.js';
import { badge, byId, fill, h } from './dom.js';
import { isMedgateError } from './errors.js';
import { clock, observationText, vitalLabel } from './format.js';
import { type Live, type LiveState, startLive } from './live.js';
import { ApiError, type Session } from './session.js';
import { checkReading, checkReceipt, type DeviceKeyJson, type ReadingCheck } from './verify.js';

/** Rows kept per device table; readings loaded from history when the view opens. */
const TABLE_ROWS = 40;
const HISTORY = 30;
/** A receipt exists once a block covers the leaf (about one block interval). */
const RECEIPT_RETRIES = Object.freeze({ times: 15, everyMs: 1_000 });

interface DeviceJson {
  readonly id: string;
  readonly model: string;
  readonly status: string;
  readonly keys: readonly DeviceKeyJson[];
}

interface DeviceView {
  readonly id: string;
  keys: readonly DeviceKeyJson[];
  keysFetched: number;
  readonly charts: Map<string, VitalChart>;
  readonly chartBox: HTMLElement;
  readonly rows: HTMLTableSectionElement;
  readonly count: HTMLElement;
  verified: number;
  failed: number;
}

function alertText(a: Alert): string {
  const op = a.direction === 'low' ? (a.threshold.inclusive ? '≤' : '<') : a.threshold.inclusive ? '≥' : '>';
  return `${a.source}: ${a.display} ${a.value} ${a.unit} (${a.direction}, ${op} ${a.threshold.value})`;
}

export class ClinicianView {
  readonly #session: Session;
  readonly #devices = new Map<string, DeviceView>();
  #live: Live | undefined;

  constructor(session: Session) {
    this.#session = session;
  }

  async start(root: HTMLElement, wsUrl: string | undefined, onLive: (s: LiveState, d?: string) => void) {
    const granted = this.#session.me.devices ?? [];
    const alerts = h(
      'section',
      { id: 'alerts', class: 'panel alerts' },
      h('h2', {}, 'Alerts (NEWS2 red bands)'),
    );
    alerts.append(h('p', { class: 'muted', id: 'no-alerts' }, 'None so far.'));
    const grid = h('div', { class: 'devices' });
    fill(
      root,
      h(
        'section',
        { class: 'panel' },
        h('h2', {}, `Devices granted to ${this.#session.actor}`),
        granted.length === 0
          ? h('p', { class: 'muted' }, 'No access grants on the ledger for this clinician.')
          : h(
              'p',
              {},
              ...granted.flatMap((d, i) => [
                i > 0 ? ', ' : '',
                h('strong', {}, d.id),
                ` (${d.model ?? '?'}, ${d.status ?? '?'})`,
              ]),
            ),
      ),
      alerts,
      grid,
    );
    for (const d of granted) {
      // One device that cannot be read (revoked meanwhile, no reading store) does not stop the rest.
      let view: DeviceView | undefined;
      try {
        view = await this.#openDevice(d.id, grid);
        await this.#loadHistory(view);
      } catch (err) {
        const note = h(
          'p',
          {},
          badge('failed', isMedgateError(err) ? err.code : 'error'),
          ` ${(err as Error).message}`,
        );
        if (view !== undefined) view.chartBox.before(note);
        else grid.append(h('article', { class: 'panel device', 'data-dev': d.id }, h('h3', {}, d.id), note));
      }
    }
    if (wsUrl === undefined) {
      onLive('offline', 'the gateway has no WebSocket listener');
      return;
    }
    this.#live = startLive({
      url: wsUrl,
      actor: this.#session.actor,
      token: () => this.#session.token(),
      topics: granted.map((d) => verifiedTopic(d.id)),
      onMessage: (topic, payload) => void this.#onMessage(topic, payload),
      onState: onLive,
    });
  }

  stop(): void {
    this.#live?.stop();
  }

  async #openDevice(id: string, grid: HTMLElement): Promise<DeviceView> {
    const device = await this.#session.get<DeviceJson>(`/v1/devices/${encodeURIComponent(id)}`);
    const rows = h('tbody');
    const count = h('span', { class: 'muted' }, '0 verified · 0 failed');
    const chartBox = h('div', { class: 'charts' });
    grid.append(
      h(
        'article',
        { class: 'panel device', 'data-dev': id },
        h('h3', {}, id, ' ', h('span', { class: 'muted' }, `${device.model} · ${device.status} · `), count),
        chartBox,
        h(
          'table',
          { class: 'readings' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, 'seq'),
              h('th', {}, 'time'),
              h('th', {}, 'values'),
              h('th', {}, 'signature'),
              h('th', {}, 'alerts'),
              h('th', {}, 'receipt'),
              h('th', {}, 'FHIR'),
            ),
          ),
          rows,
        ),
      ),
    );
    const view: DeviceView = {
      id,
      keys: device.keys,
      keysFetched: Date.now(),
      charts: new Map(),
      chartBox,
      rows,
      count,
      verified: 0,
      failed: 0,
    };
    this.#devices.set(id, view);
    return view;
  }

  async #loadHistory(view: DeviceView): Promise<void> {
    const { readings } = await this.#session.get<{ readings: unknown[] }>(
      `/v1/console/devices/${encodeURIComponent(view.id)}/latest?limit=${HISTORY}`,
    );
    // Newest first from the route: add the oldest first so the newest ends on top.
    for (const r of readings.slice().reverse())
      this.#show(view, checkReading(r, view.keys, this.#session.chain));
  }

  async #onMessage(topic: string, payload: Uint8Array): Promise<void> {
    const id = topic.slice(topic.lastIndexOf('/') + 1);
    const view = this.#devices.get(id);
    if (view === undefined) return;
    let check = checkReading(payload, view.keys, this.#session.chain);
    // A key rotated since the view opened: fetch the device's keys again (at most every 5 s).
    if (
      check.status === 'failed' &&
      check.failure.code === 'MG_ERR_UNKNOWN_KID' &&
      Date.now() - view.keysFetched > 5_000
    ) {
      view.keysFetched = Date.now();
      view.keys = (await this.#session.get<DeviceJson>(`/v1/devices/${encodeURIComponent(id)}`)).keys;
      check = checkReading(payload, view.keys, this.#session.chain);
    }
    if (check.reading !== undefined && check.reading.dev !== id) {
      check = {
        status: 'failed',
        reading: check.reading,
        failure: {
          code: 'MG_ERR_VERIFIED_MISMATCH',
          message: `published on ${topic} but signed by ${check.reading.dev}`,
        },
      };
    }
    this.#show(view, check);
  }

  #show(view: DeviceView, check: ReadingCheck): void {
    const r = check.reading;
    if (check.status === 'verified') {
      view.verified++;
      for (const o of check.signed.obs) {
        let chart = view.charts.get(o.code);
        if (chart === undefined) {
          const box = h(
            'figure',
            { class: 'chart', 'data-code': o.code },
            h('figcaption', {}, vitalLabel(o.code)),
          );
          view.chartBox.append(box);
          chart = new VitalChart(box, vitalLabel(o.code), o.u);
          view.charts.set(o.code, chart);
        }
        chart.add(check.signed.t, o.v);
      }
      if (check.alerts.length > 0) this.#raise(view.id, check.signed.seq, check.alerts);
    } else {
      view.failed++;
    }
    fill(view.count, `${view.verified} verified · ${view.failed} failed`);
    const row = this.#row(view, check, r);
    view.rows.prepend(row);
    while (view.rows.rows.length > TABLE_ROWS) view.rows.lastElementChild?.remove();
  }

  #row(view: DeviceView, check: ReadingCheck, r: VerifiedReading | undefined): HTMLTableRowElement {
    const verified = check.status === 'verified';
    const alerts = verified ? check.alerts : [];
    const values = r === undefined ? [] : r.obs.map((o) => `${vitalLabel(o.code)} ${observationText(o)}`);
    const sig = verified
      ? badge(
          'verified',
          check.retiredKey ? 'verified (retired key)' : 'verified',
          `signed by kid ${toHex(r!.kid)}`,
        )
      : badge('failed', 'failed', `${check.failure.code}: ${check.failure.message}`);
    const receiptCell = h('td', { class: 'receipt' });
    if (verified) {
      receiptCell.append(
        h(
          'button',
          { type: 'button', class: 'small', onclick: () => void this.#receipt(receiptCell, check.reading) },
          'verify',
        ),
      );
    }
    const fhirCell = h('td');
    if (verified) {
      fhirCell.append(
        h(
          'button',
          { type: 'button', class: 'small', onclick: () => void this.#fhir(view.id, check.reading.seq) },
          'FHIR',
        ),
      );
    }
    return h(
      'tr',
      {
        class: [verified ? 'ok' : 'bad', alerts.length > 0 ? 'alert' : ''].join(' ').trim(),
        'data-dev': view.id,
        'data-seq': r?.seq ?? '',
        'data-status': check.status,
      },
      h('td', {}, r?.seq ?? '?'),
      h('td', {}, r === undefined ? '?' : clock(r.t)),
      h('td', { class: verified ? '' : 'claimed' }, values.join(' · ') || '(undecodable)'),
      h('td', {}, sig, verified ? null : h('div', { class: 'code' }, check.failure.code)),
      h('td', {}, alerts.length === 0 ? '' : alerts.map(alertText).join('; ')),
      receiptCell,
      fhirCell,
    );
  }

  #raise(dev: string, seq: number, alerts: readonly Alert[]): void {
    const panel = byId('alerts');
    document.getElementById('no-alerts')?.remove();
    for (const a of alerts) {
      panel.insertBefore(
        h('p', { class: 'alert-line', 'data-dev': dev }, h('strong', {}, dev), ` #${seq}: ${alertText(a)}`),
        panel.children[1] ?? null,
      );
    }
    while (panel.children.length > 21) panel.lastElementChild?.remove();
  }

  async #receipt(cell: HTMLElement, r: VerifiedReading): Promise<void> {
    fill(cell, badge('pending', 'checking…'));
    for (let attempt = 0; attempt < RECEIPT_RETRIES.times; attempt++) {
      try {
        const receipt = await this.#session.get<unknown>(`/v1/receipts/${toHex(r.leafHash)}`);
        const check = checkReceipt(
          receipt,
          r.cose,
          r.leafIndex,
          this.#session.authorities,
          this.#session.chain,
        );
        fill(
          cell,
          check.status === 'verified'
            ? badge(
                'verified',
                `anchored at height ${check.height}`,
                `block ${check.block}, tree size ${check.treeSize}`,
              )
            : badge('failed', 'receipt failed', `${check.failure.code}: ${check.failure.message}`),
        );
        if (check.status === 'verified') cell.setAttribute('data-height', String(check.height));
        return;
      } catch (err) {
        if (err instanceof ApiError && err.code === 'MG_ERR_LEAF_NOT_CHECKPOINTED') {
          fill(cell, badge('pending', 'waiting for a block'));
          await new Promise((resolve) => setTimeout(resolve, RECEIPT_RETRIES.everyMs));
          continue;
        }
        const code = isMedgateError(err) ? err.code : 'error';
        fill(cell, badge('failed', 'receipt failed', `${code}: ${(err as Error).message}`));
        return;
      }
    }
    fill(cell, badge('pending', 'no block yet'));
  }

  async #fhir(dev: string, seq: number): Promise<void> {
    const dialog = byId<HTMLDialogElement>('fhir');
    const pre = byId('fhir-json');
    fill(byId('fhir-title'), `FHIR R4 Bundle of ${dev} reading ${seq}`);
    fill(pre, 'loading…');
    if (!dialog.open) dialog.showModal();
    try {
      const bundle = await this.#session.get<unknown>(
        `/v1/devices/${encodeURIComponent(dev)}/readings/${seq}/fhir`,
      );
      fill(pre, JSON.stringify(bundle, null, 2));
    } catch (err) {
      fill(pre, `${isMedgateError(err) ? err.code : 'error'}: ${(err as Error).message}`);
    }
  }
}
