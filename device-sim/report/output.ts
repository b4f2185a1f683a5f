/**
 * Where the simulator's events go: JSON lines on stdout (`--json`), or short human lines for
 * what matters (enrolments, refusals, episodes, attacks, disconnects) and a live progress line
 * on stderr when it is a terminal, redrawn in place and cleared before any other line.
 */
import type { SimEvent, SimEventBody } from './events.js';

export interface SimIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Present when stderr is a terminal: writes `text` over the current line. */
  readonly progress?: (text: string) => void;
  /** Aborts the run (SIGINT/SIGTERM in main.ts). */
  readonly signal?: AbortSignal;
}

export class Output {
  readonly #io: SimIo;
  readonly #json: boolean;
  #progressShown = false;
  readonly #listeners = new Set<(event: SimEvent) => void>();

  constructor(io: SimIo, json: boolean) {
    this.#io = io;
    this.#json = json;
  }

  /** Also hands every event to `listener` (the progress counters, attack bookkeeping). */
  listen(listener: (event: SimEvent) => void): void {
    this.#listeners.add(listener);
  }

  readonly emit = (body: SimEventBody): void => {
    const { event, ...rest } = body;
    const full = { event, t: Date.now(), ...rest } as unknown as SimEvent;
    for (const l of this.#listeners) l(full);
    if (this.#json) {
      this.line(JSON.stringify(full));
      return;
    }
    const text = human(full);
    if (text !== undefined) this.line(text);
  };

  /** A line on stdout (the progress line is cleared first). */
  line(text: string): void {
    this.clearProgress();
    this.#io.out(text);
  }

  progress(text: string): void {
    if (this.#io.progress === undefined) return;
    this.#io.progress(text);
    this.#progressShown = true;
  }

  clearProgress(): void {
    if (!this.#progressShown || this.#io.progress === undefined) return;
    this.#io.progress('');
    this.#progressShown = false;
  }
}

function human(e: SimEvent): string | undefined {
  switch (e.event) {
    case 'start':
      return `fleet of ${e.devices} on chain '${e.chain}' → ${e.gateway} (state ${e.state}, seed ${e.seed}, time x${e.timeScale})`;
    case 'enrol':
      return `${e.dev}: enrolment ${e.result}${e.height === undefined ? '' : ` (block ${e.height})`}${e.code ? ` ${e.code}` : ''}${e.connack === undefined ? '' : ` (CONNACK ${e.connack})`}`;
    case 'connected':
      return e.backlog > 0 ? `${e.dev}: connected, sending ${e.backlog} buffered readings` : undefined;
    case 'disconnected':
      return `${e.dev}: disconnected; buffering readings`;
    case 'connect.refused':
      return `${e.dev}: CONNECT refused, CONNACK ${e.connack} (${e.reason})`;
    case 'unreachable':
      return `${e.dev}: gateway unreachable (${e.error}); retrying`;
    case 'rejected':
      return `${e.dev}: reading${e.seq === undefined ? '' : ` seq ${e.seq}`} rejected ${e.code}${e.field ? ` (${e.field})` : ''}`;
    case 'episode':
      return `${e.dev}: ${e.phase === 'start' ? 'deterioration begins' : 'recovers from'}: ${e.name}`;
    case 'buffer.dropped':
      return `${e.dev}: outbox full, dropped seq ${e.seq}`;
    case 'firmware':
      return `${e.dev}: firmware ${e.state}${e.version ? ` ${e.version}` : ''}${e.seq === undefined ? '' : ` (seq ${e.seq})`}${e.code ? ` ${e.code}` : ''}${e.detail ? `: ${e.detail}` : ''}`;
    case 'attack':
      return `attack ${e.attack} [${e.dev}] ${e.step} → ${e.answer} ${e.ok ? '(refused as expected)' : `(EXPECTED ${e.expect})`}`;
    default:
      return undefined;
  }
}
