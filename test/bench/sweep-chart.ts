/**
 * The e2e suite's designs and its chart (throughput against publishers, one line per design),
 * apart from sweep.ts so that `main.ts` can draw the chart without loading the gateway.
 */
import type { LineChart } from './chart.js';
import type { Row } from './harness.js';

export type Design = 'medgate' | 'plain' | 'naive';

export interface DesignInfo {
  readonly design: Design;
  readonly letter: 'a' | 'b' | 'c';
  readonly label: string;
  /** What its subscriber receives. */
  readonly delivery: string;
}

export const DESIGNS: readonly DesignInfo[] = Object.freeze([
  { design: 'medgate', letter: 'a', label: 'medgate gateway', delivery: 'clinician, verified topic' },
  { design: 'plain', letter: 'b', label: 'plain aedes', delivery: 'subscriber, telemetry topic' },
  { design: 'naive', letter: 'c', label: 'naive in-hook verify', delivery: 'subscriber, telemetry topic' },
]);

/** Throughput against publishers, one series per design, from the rows of `run` (undefined if there are none). */
export function throughputChart(rows: readonly Row[], subtitle?: string): LineChart | undefined {
  const points = rows.filter((r) => r.params?.metric === 'throughput');
  if (points.length === 0) return undefined;
  const xs = [...new Set(points.map((r) => Number(r.params!.publishers)))].sort((a, b) => a - b);
  return {
    title: 'Readings/s against publishers (QoS 1, PUBACKed)',
    ...(subtitle === undefined ? {} : { subtitle }),
    xLabel: 'publishers',
    yLabel: 'readings/s',
    xTicks: xs,
    series: DESIGNS.map((info) => ({
      name: `(${info.letter}) ${info.label}`,
      points: points
        .filter((r) => r.params!.design === info.design)
        .map((r) => ({ x: Number(r.params!.publishers), y: r.value })),
    })),
  };
}
