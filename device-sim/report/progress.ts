/** The live progress line (stderr, terminals only), redrawn a few times a second. */
import type { SimDevice } from '../device/sim-device.js';
import type { Output } from './output.js';

const REDRAW_MS = 250;

export class Progress {
  readonly #output: Output;
  readonly #devices: () => readonly SimDevice[];
  #timer: NodeJS.Timeout | undefined;

  constructor(output: Output, devices: () => readonly SimDevice[]) {
    this.#output = output;
    this.#devices = devices;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.#output.progress(progressLine(this.#devices())), REDRAW_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#output.clearProgress();
  }
}

export function progressLine(devices: readonly SimDevice[]): string {
  let connected = 0;
  let made = 0;
  let sent = 0;
  let acked = 0;
  let accepted = 0;
  let refused = 0;
  let buffered = 0;
  for (const d of devices) {
    if (d.connected) connected++;
    made += d.stats.made;
    sent += d.stats.sent;
    acked += d.stats.acked;
    accepted += d.stats.accepted;
    refused += d.stats.refused;
    buffered += d.buffered;
  }
  return `devices ${connected}/${devices.length} connected | readings ${made} made, ${sent} sent, ${acked} acked, ${accepted} accepted, ${refused} refused, ${buffered} buffered`;
}
