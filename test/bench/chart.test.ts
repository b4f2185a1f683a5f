/**
 * The bench's SVG writer: a well-formed document (every element closed, text escaped), the
 * axes, labels and legend present, and points placed in proportion to the data.
 */
import { describe, expect, it } from 'vitest';
import { CHART_COLOURS, escapeXml, type LineChart, lineChart, niceTicks } from './chart.js';

/** Checks that tags nest and close; returns the element names in document order. */
function elements(svg: string): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m as unknown as [string, string, string, string, string];
    if (closing === '/') {
      expect(stack.pop(), `</${name}>`).toBe(name);
    } else {
      names.push(name);
      if (selfClosing !== '/') stack.push(name);
    }
  }
  expect(stack).toEqual([]);
  // Nothing that looks like a tag was left unmatched by the pattern (a stray `<` or a bad attribute).
  expect(svg.replace(/<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>/g, '')).not.toMatch(/[<>]/);
  return names;
}

interface Circle {
  readonly series: string;
  readonly cx: number;
  readonly cy: number;
  readonly x: number;
  readonly y: number;
}

function circles(svg: string): Circle[] {
  const out: Circle[] = [];
  for (const group of svg.matchAll(/<g class="series" data-series="([^"]*)"[^>]*>([\s\S]*?)<\/g>/g)) {
    for (const c of group[2]!.matchAll(
      /<circle cx="([\d.]+)" cy="([\d.]+)" r="4" data-x="([\d.]+)" data-y="([\d.]+)">/g,
    )) {
      out.push({ series: group[1]!, cx: Number(c[1]), cy: Number(c[2]), x: Number(c[3]), y: Number(c[4]) });
    }
  }
  return out;
}

const CHART: LineChart = {
  title: 'Throughput against publishers',
  subtitle: 'machine: 2 x test CPU',
  xLabel: 'publishers',
  yLabel: 'readings/s',
  xTicks: [1, 2, 5, 10, 20],
  series: [
    {
      name: 'medgate',
      points: [
        { x: 1, y: 800 },
        { x: 5, y: 2400 },
        { x: 20, y: 3200 },
      ],
    },
    {
      name: 'plain aedes',
      points: [
        { x: 1, y: 4000 },
        { x: 20, y: 23000 },
      ],
    },
    { name: 'naive <in-hook> & co', points: [{ x: 10, y: 4000 }] },
  ],
};

describe('lineChart', () => {
  it('writes a well-formed SVG document with axes, labels and a legend', () => {
    const svg = lineChart(CHART);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const names = elements(svg);
    expect(names[0]).toBe('svg');
    expect(names.filter((n) => n === 'svg')).toHaveLength(1);
    expect(names.filter((n) => n === 'polyline')).toHaveLength(2); // a single point draws no line
    expect(names.filter((n) => n === 'circle')).toHaveLength(6);

    expect(svg).toContain('>publishers</text>');
    expect(svg).toContain('>readings/s</text>');
    expect(svg).toContain('>Throughput against publishers</text>');
    expect(svg).toContain('>machine: 2 x test CPU</text>');
    // y ticks up to the first nice step above the largest value; x ticks as given.
    for (const t of ['0', '5,000', '10,000', '15,000', '20,000', '25,000'])
      expect(svg).toContain(`>${t}</text>`);
    expect(svg).not.toContain('>30,000</text>');
    for (const t of ['1', '2', '5', '10', '20']) expect(svg).toContain(`>${t}</text>`);

    const legend = /<g class="legend"[^>]*>([\s\S]*?)<\/g>/.exec(svg)![1]!;
    expect(legend).toContain('>medgate</text>');
    expect(legend).toContain('>plain aedes</text>');
    expect(legend).toContain(`>${escapeXml('naive <in-hook> & co')}</text>`);
    expect(legend).toContain(`fill="${CHART_COLOURS[2]}"`);
    // The raw name never appears unescaped.
    expect(svg).not.toContain('<in-hook>');
  });

  it('places points in proportion to the data', () => {
    const all = circles(lineChart(CHART));
    expect(all).toHaveLength(6);
    const at = (series: string, x: number) => all.find((c) => c.series === series && c.x === x)!;
    const origin = { x: 78, y: 440 - 58 }; // the default margins
    // y scales linearly from the x axis: 4000 is five times as high above it as 800.
    const h = (c: Circle) => origin.y - c.cy;
    expect(h(at('plain aedes', 1)) / h(at('medgate', 1))).toBeCloseTo(5, 1);
    expect(h(at('plain aedes', 1))).toBeCloseTo(h(at(escapeXml('naive <in-hook> & co'), 10)), 5);
    // x scales linearly from the y axis: 20 publishers is twice as far right as 10, four times as 5.
    const w = (c: Circle) => c.cx - origin.x;
    expect(w(at('plain aedes', 20)) / w(at(escapeXml('naive <in-hook> & co'), 10))).toBeCloseTo(2, 2);
    expect(w(at('medgate', 20)) / w(at('medgate', 5))).toBeCloseTo(4, 2);
    // Larger values are higher up (smaller cy) and every point is inside the plot.
    expect(at('plain aedes', 20).cy).toBeLessThan(at('medgate', 20).cy);
    for (const c of all) {
      expect(c.cx).toBeGreaterThanOrEqual(origin.x);
      expect(c.cx).toBeLessThanOrEqual(760 - 190);
      expect(c.cy).toBeGreaterThanOrEqual(58);
      expect(c.cy).toBeLessThanOrEqual(origin.y);
    }
    // Doubling every value leaves the layout alone once the axis rescales.
    const doubled = circles(
      lineChart({
        ...CHART,
        series: CHART.series.map((s) => ({ ...s, points: s.points.map((p) => ({ x: p.x, y: p.y * 2 })) })),
      }),
    );
    expect(doubled.map((c) => c.cy)).toEqual(all.map((c) => c.cy));
  });

  it('draws an empty chart, without NaN, when there is no data', () => {
    const svg = lineChart({ ...CHART, series: [{ name: 'medgate', points: [{ x: 1, y: Number.NaN }] }] });
    elements(svg);
    expect(svg).toContain('>no data</text>');
    expect(svg).not.toContain('NaN');
    expect(circles(svg)).toEqual([]);
  });
});

describe('niceTicks', () => {
  it('steps by 1, 2 or 5 × 10^k from 0 to at least the maximum', () => {
    expect(niceTicks(3289)).toEqual([0, 1000, 2000, 3000, 4000]);
    expect(niceTicks(20)).toEqual([0, 5, 10, 15, 20]);
    expect(niceTicks(0.7)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(Number.NaN)).toEqual([0, 1]);
  });
});

describe('escapeXml', () => {
  it('escapes the characters XML gives meaning to', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });
});
