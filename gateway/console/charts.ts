/**
 * Small live charts of one vital sign each (uPlot: canvas, fast, about 50 KB). Only readings
 * whose signature the page verified are plotted; a failed reading never reaches a chart.
 */
import uPlot from 'uplot';

/** Points kept per chart. */
export const CHART_POINTS = 120;

export class VitalChart {
  readonly #plot: uPlot;
  readonly #el: HTMLElement;
  readonly #t: number[] = [];
  readonly #v: number[] = [];

  constructor(el: HTMLElement, label: string, unit: string) {
    this.#el = el;
    this.#plot = new uPlot(
      {
        width: 270,
        height: 120,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: true } },
        axes: [
          { stroke: '#667', grid: { stroke: '#eee' }, ticks: { show: false } },
          { stroke: '#667', grid: { stroke: '#eee' }, size: 44, label: unit, labelSize: 14 },
        ],
        series: [{}, { label, stroke: '#0b6e99', width: 2, points: { show: true, size: 4 } }],
      },
      [[], []],
      el,
    );
  }

  /** Adds a point (time in ms); points are kept in time order. */
  add(t: number, v: number): void {
    const s = t / 1000;
    let i = this.#t.length;
    while (i > 0 && this.#t[i - 1]! > s) i--;
    this.#t.splice(i, 0, s);
    this.#v.splice(i, 0, v);
    if (this.#t.length > CHART_POINTS) {
      this.#t.shift();
      this.#v.shift();
    }
    this.#plot.setData([this.#t.slice(), this.#v.slice()]);
    this.#el.setAttribute('data-points', String(this.#t.length));
  }

  get points(): number {
    return this.#t.length;
  }
}
