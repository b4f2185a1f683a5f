/**
 * The ledger explorer: the newest blocks, each checked in this page (verify.ts checkBlock:
 * authority signature, height, transaction root, link to the block before), with their
 * transactions decoded here from the signed bytes rather than from the gateway's decoding.
 */
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { decodeLedgerEntry, entryType } from '../../firmware-ts/protocol/tx/entry.js';
import { badge, fill, h } from './dom.js';
import { clock, plainJson, shortHex } from './format.js';
import type { Session } from './session.js';
import { type BlockCheck, type BlockJson, checkBlock } from './verify.js';

/** Blocks fetched per page of the explorer. */
export const EXPLORER_PAGE = 10;

interface ServedBlock extends BlockJson {
  readonly hash: string;
  readonly txs: readonly {
    readonly index: number;
    readonly bytes: string;
    readonly type: string;
    readonly genesis?: unknown;
  }[];
}

interface Row {
  readonly json: ServedBlock;
  readonly check: BlockCheck;
  readonly linked: boolean;
}

/** One transaction decoded from its signed bytes (the genesis config is shown as served). */
function txView(bytes: Uint8Array, served: ServedBlock['txs'][number]): HTMLElement {
  if (served.type === 'genesis') {
    return h(
      'li',
      {},
      h('strong', {}, 'genesis'),
      h('pre', {}, JSON.stringify(served.genesis ?? {}, null, 2)),
    );
  }
  try {
    const entry = decodeLedgerEntry(bytes);
    const type = entryType(entry);
    if (entry.kind === 'enrol') {
      return h(
        'li',
        {},
        h('strong', {}, type),
        ` ${entry.request.dev}`,
        h('pre', {}, JSON.stringify(plainJson(entry.request), null, 2)),
      );
    }
    const { actor, nonce, t, body } = entry.tx;
    return h(
      'li',
      { 'data-tx-type': type },
      h('strong', {}, type),
      ` by ${actor} · nonce ${nonce} · ${clock(t)}`,
      h('pre', {}, JSON.stringify(plainJson(body), null, 2)),
    );
  } catch (err) {
    return h('li', {}, badge('failed', 'undecodable'), ` ${(err as Error).message}`);
  }
}

export class Explorer {
  readonly #session: Session;
  readonly #rows = new Map<number, Row>();
  readonly #body = h('tbody');
  readonly #detail = h('div', { class: 'detail' });
  #lowest: number | undefined;

  constructor(session: Session) {
    this.#session = session;
  }

  element(): HTMLElement {
    return h(
      'div',
      {},
      h(
        'table',
        { class: 'blocks' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'height'),
            h('th', {}, 'time'),
            h('th', {}, 'txs'),
            h('th', {}, 'log size'),
            h('th', {}, 'hash'),
            h('th', {}, 'checked here'),
          ),
        ),
        this.#body,
      ),
      h('button', { type: 'button', onclick: () => void this.older() }, 'Older blocks'),
      this.#detail,
    );
  }

  /** Fetches the blocks from `from` to `to` (inclusive) that are not loaded yet, and checks them. */
  async #load(from: number, to: number): Promise<void> {
    for (let height = from; height <= to; height++) {
      if (this.#rows.has(height)) continue;
      const json = await this.#session.getPublic<ServedBlock>(`/v1/blocks/${height}`);
      this.#rows.set(height, {
        json,
        check: checkBlock(json, this.#session.authorities, this.#session.chain),
        linked: false,
      });
    }
    // Links are checked once both ends are here (and the genesis block has nothing before it).
    for (const [height, row] of this.#rows) {
      if (row.linked || row.check.status !== 'verified') continue;
      const before = this.#rows.get(height - 1);
      if (height > 0 && before?.check.status !== 'verified') continue;
      const prev =
        height === 0
          ? new Uint8Array(32)
          : before!.check.status === 'verified'
            ? before!.check.signed.hash
            : undefined;
      this.#rows.set(height, {
        json: row.json,
        check: checkBlock(row.json, this.#session.authorities, this.#session.chain, prev),
        linked: true,
      });
    }
    this.#lowest = Math.min(this.#lowest ?? from, from);
    this.#render();
  }

  /** Loads the newest blocks up to the tip. */
  async refresh(): Promise<void> {
    const tip = await this.#session.getPublic<ServedBlock>('/v1/blocks/tip');
    const from = Math.max(0, this.#lowest ?? tip.height - EXPLORER_PAGE + 1);
    await this.#load(Math.max(from, tip.height - 50), tip.height);
  }

  async older(): Promise<void> {
    if (this.#lowest === undefined || this.#lowest === 0) return;
    await this.#load(Math.max(0, this.#lowest - EXPLORER_PAGE), this.#lowest - 1);
  }

  #render(): void {
    const heights = [...this.#rows.keys()].sort((a, b) => b - a);
    fill(
      this.#body,
      ...heights.map((height) => {
        const { json, check, linked } = this.#rows.get(height)!;
        const header = check.signed?.header;
        const status =
          check.status === 'verified'
            ? badge('verified', linked ? 'signature · txRoot · link' : 'signature · txRoot')
            : badge('failed', check.failure.code, check.failure.message);
        return h(
          'tr',
          {
            'data-height': height,
            'data-status': check.status,
            class: 'clickable',
            onclick: () => this.#show(height),
          },
          h('td', {}, height),
          h('td', {}, header === undefined ? '?' : clock(header.t)),
          h('td', {}, header?.txCount ?? json.txs.length),
          h('td', {}, header?.log.size ?? '?'),
          h('td', { title: json.hash }, shortHex(json.hash)),
          h('td', {}, status),
        );
      }),
    );
  }

  #show(height: number): void {
    const row = this.#rows.get(height);
    if (row === undefined) return;
    const txs = row.check.status === 'verified' ? row.check.txs : [];
    const header = row.check.signed?.header;
    fill(
      this.#detail,
      h('h3', {}, `Block ${height}`),
      header === undefined
        ? null
        : h(
            'p',
            { class: 'mono' },
            `prev ${shortHex(toHex(header.prev), 16)} · txRoot ${shortHex(toHex(header.txRoot), 16)} · log ${header.log.size} @ ${shortHex(toHex(header.log.root), 16)}`,
          ),
      row.check.status === 'verified'
        ? h('ol', { start: 0, class: 'txs' }, ...txs.map((bytes, i) => txView(bytes, row.json.txs[i]!)))
        : h('p', {}, badge('failed', row.check.failure.code), ` ${row.check.failure.message}`),
    );
  }
}
