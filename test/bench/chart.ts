/**
 * A small SVG line-chart writer for `npm run bench` (throughput against publishers, one line per
 * design). No dependency: the chart is a few dozen elements, and a plotting library would be the
 * largest thing in the bench. Linear axes from zero, "nice" tick steps (1, 2 or 5 × 10^k), a grid,
 * axis labels, a legend, and a <title> on every point so that a browser shows its value.
 */

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface Series {
  readonly name: string;
  readonly points: readonly Point[];
}

export interface LineChart {
  readonly title: string;
  /** A line under the title (the machine, the command). */
  readonly subtitle?: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Ticks on the x axis; default: nice steps from 0 to the largest x. */
  readonly xTicks?: readonly number[];
  readonly width?: number;
  readonly height?: number;
}

/** Colour-blind-safe (Okabe–Ito) line colours, in series order. */
export const CHART_COLOURS = Object.freeze([
  '#0072b2',
  '#e69f00',
  '#009e73',
  '#cc79a7',
  '#56b4e9',
  '#d55e00',
]);

const MARGIN = Object.freeze({ left: 78, right: 190, top: 58, bottom: 58 });
const FONT = 'font-family="sans-serif"';

/** Text and attribute values: the five characters XML gives meaning to. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`,
  );
}

/** Ticks from 0 to at least `max` in steps of 1, 2 or 5 × 10^k, about `count` of them. */
export function niceTicks(max: number, count = 5): number[] {
  if (!Number.isFinite(max) || max <= 0) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const ticks: number[] = [];
  for (let i = 0; ticks.length === 0 || ticks[ticks.length - 1]! < max; i++) ticks.push(round(i * step));
  return ticks;
}

/** Rounds away float noise (0.30000000000000004) so that labels print as written. */
const round = (x: number): number => Number(x.toPrecision(12));
const fmt = (x: number): string => round(x).toLocaleString('en-US', { maximumFractionDigits: 2 });
const px = (x: number): string => x.toFixed(1);

/** The chart as a standalone SVG document. */
export function lineChart(chart: LineChart): string {
  const width = chart.width ?? 760;
  const height = chart.height ?? 440;
  const plot = {
    left: MARGIN.left,
    top: MARGIN.top,
    right: width - MARGIN.right,
    bottom: height - MARGIN.bottom,
  };
  const points = chart.series.flatMap((s) => s.points).filter(finite);
  const xTicks = chart.xTicks ?? niceTicks(Math.max(0, ...points.map((p) => p.x)));
  const yTicks = niceTicks(Math.max(0, ...points.map((p) => p.y)));
  const xMax = Math.max(...xTicks, ...points.map((p) => p.x));
  const yMax = yTicks[yTicks.length - 1]!;
  const sx = (x: number) => plot.left + (xMax > 0 ? (x / xMax) * (plot.right - plot.left) : 0);
  const sy = (y: number) => plot.bottom - (yMax > 0 ? (y / yMax) * (plot.bottom - plot.top) : 0);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold" ${FONT}>${escapeXml(chart.title)}</text>`,
  ];
  if (chart.subtitle !== undefined) {
    out.push(
      `<text x="${width / 2}" y="42" text-anchor="middle" font-size="11" fill="#555555" ${FONT}>${escapeXml(chart.subtitle)}</text>`,
    );
  }

  // Grid and tick labels first, so that the lines are drawn over them.
  out.push('<g class="grid" stroke="#e0e0e0" stroke-width="1">');
  for (const t of yTicks) out.push(line(plot.left, sy(t), plot.right, sy(t)));
  for (const t of xTicks) out.push(line(sx(t), plot.top, sx(t), plot.bottom));
  out.push('</g>');
  out.push(`<g class="axes" stroke="#333333" stroke-width="1.5">`);
  out.push(
    line(plot.left, plot.bottom, plot.right, plot.bottom),
    line(plot.left, plot.top, plot.left, plot.bottom),
  );
  out.push('</g>');
  out.push(`<g class="y-ticks" font-size="11" text-anchor="end" ${FONT}>`);
  for (const t of yTicks) out.push(`<text x="${plot.left - 8}" y="${px(sy(t) + 4)}">${fmt(t)}</text>`);
  out.push('</g>');
  out.push(`<g class="x-ticks" font-size="11" text-anchor="middle" ${FONT}>`);
  for (const t of xTicks) out.push(`<text x="${px(sx(t))}" y="${plot.bottom + 18}">${fmt(t)}</text>`);
  out.push('</g>');
  out.push(
    `<text class="x-label" x="${px((plot.left + plot.right) / 2)}" y="${height - 16}" text-anchor="middle" font-size="13" ${FONT}>${escapeXml(chart.xLabel)}</text>`,
    `<text class="y-label" x="18" y="${px((plot.top + plot.bottom) / 2)}" text-anchor="middle" font-size="13" transform="rotate(-90 18 ${px((plot.top + plot.bottom) / 2)})" ${FONT}>${escapeXml(chart.yLabel)}</text>`,
  );

  if (points.length === 0) {
    out.push(
      `<text x="${px((plot.left + plot.right) / 2)}" y="${px((plot.top + plot.bottom) / 2)}" text-anchor="middle" font-size="14" fill="#888888" ${FONT}>no data</text>`,
    );
  }
  chart.series.forEach((s, i) => {
    const colour = CHART_COLOURS[i % CHART_COLOURS.length]!;
    const pts = s.points.filter(finite).toSorted((a, b) => a.x - b.x);
    out.push(`<g class="series" data-series="${escapeXml(s.name)}" stroke="${colour}" fill="${colour}">`);
    if (pts.length > 1) {
      const path = pts.map((p) => `${px(sx(p.x))},${px(sy(p.y))}`).join(' ');
      out.push(`<polyline points="${path}" fill="none" stroke-width="2.5"/>`);
    }
    for (const p of pts) {
      out.push(
        `<circle cx="${px(sx(p.x))}" cy="${px(sy(p.y))}" r="4" data-x="${p.x}" data-y="${p.y}"><title>${escapeXml(`${s.name}: ${fmt(p.y)} at ${fmt(p.x)}`)}</title></circle>`,
      );
    }
    out.push('</g>');
  });

  out.push(`<g class="legend" font-size="12" ${FONT}>`);
  chart.series.forEach((s, i) => {
    const colour = CHART_COLOURS[i % CHART_COLOURS.length]!;
    const y = plot.top + 8 + i * 22;
    out.push(
      `<rect x="${plot.right + 16}" y="${y - 6}" width="18" height="4" fill="${colour}"/>`,
      `<text x="${plot.right + 40}" y="${y}">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</g>', '</svg>');
  return `${out.join('\n')}\n`;
}

const finite = (p: Point): boolean => Number.isFinite(p.x) && Number.isFinite(p.y);
const line = (x1: number, y1: number, x2: number, y2: number): string =>
  `<line x1="${px(x1)}" y1="${px(y1)}" x2="${px(x2)}" y2="${px(y2)}"/>`;
