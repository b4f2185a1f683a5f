/**
 * The progress display of `npm run bench`, on stderr so that stdout keeps only the machine line
 * and the tables. On a terminal it is one line rewritten in place (`\r` and erase-to-end-of-line,
 * at most every REDRAW_MS); otherwise (a pipe, CI, a log file) each step is a plain line and the
 * details in between are printed at most every PLAIN_INTERVAL_MS, so that a log stays short but
 * a long phase still shows it is alive.
 */

/** What the display writes to: process.stderr, or a fake in the tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** Milliseconds clock (default performance.now), injectable for the tests. */
  readonly now?: () => number;
  /** Off: nothing is written (a script run inside a test). */
  readonly enabled?: boolean;
}

const REDRAW_MS = 100;
const PLAIN_INTERVAL_MS = 10_000;
const ERASE_LINE = '\r\x1b[K';

export class Progress {
  readonly #stream: ProgressStream;
  readonly #now: () => number;
  readonly #tty: boolean;
  #enabled: boolean;
  readonly #start: number;
  #step = '';
  #stepStart = 0;
  #lastWrite = Number.NEGATIVE_INFINITY;
  /** A line is on the terminal that the next table must erase first. */
  #shown = false;

  constructor(stream: ProgressStream, options: ProgressOptions = {}) {
    this.#stream = stream;
    this.#now = options.now ?? (() => performance.now());
    this.#tty = stream.isTTY === true;
    this.#enabled = options.enabled ?? true;
    this.#start = this.#now();
  }

  set enabled(on: boolean) {
    if (!on) this.clear();
    this.#enabled = on;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** A new phase, e.g. `[2/7] ledger: ledger-log`: always shown. */
  step(label: string): void {
    this.#step = label;
    this.#stepStart = this.#now();
    this.#show(label, true);
  }

  /** How the current phase is going, e.g. `10 publishers, (b) round 2/3`: shown when the clock allows. */
  update(detail: string): void {
    this.#show(this.#step === '' ? detail : `${this.#step}: ${detail}`, false);
  }

  /** Erases the progress line (before a table is printed to the same terminal). */
  clear(): void {
    if (this.#tty && this.#shown) this.#stream.write(ERASE_LINE);
    this.#shown = false;
  }

  /** The run is over: erases the line; a plain log gets the total time. */
  done(): void {
    if (!this.#enabled) return;
    if (this.#tty) this.clear();
    else this.#stream.write(`bench: done in ${clock(this.#now() - this.#start)}\n`);
  }

  #show(text: string, force: boolean): void {
    if (!this.#enabled) return;
    const now = this.#now();
    if (!force && now - this.#lastWrite < (this.#tty ? REDRAW_MS : PLAIN_INTERVAL_MS)) return;
    this.#lastWrite = now;
    const line = `bench ${clock(now - this.#start)} ${text}${force ? '' : ` (${clock(now - this.#stepStart)} in this step)`}`;
    if (this.#tty) {
      // One terminal row: a wrapped line could not be erased with \r.
      const width = Math.max(20, (this.#stream.columns ?? 80) - 1);
      this.#stream.write(`${ERASE_LINE}${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
      this.#shown = true;
    } else {
      this.#stream.write(`${line}\n`);
    }
  }
}

/** `m:ss` of a duration in milliseconds. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** The display every suite reports to; `main.ts` turns it on, so a script imported by a test stays quiet. */
export const progress = new Progress(process.stderr, { enabled: false });
