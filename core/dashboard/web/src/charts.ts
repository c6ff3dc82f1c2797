// Time-series charts of the selected node (uPlot): rates, connections, CPU,
// memory. Points are fetched incrementally (since_ms = newest point seen) and
// kept in a bounded buffer, so a long-open tab does not grow without limit.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { byId, setText } from './dom';
import * as fmt from './format';
import type { MetricPoint } from './types';

const MAX_POINTS = 3600;  // one hour at PgDog's 1 s metrics interval
const HEIGHT = 140;

// Tick steps of the time axis, in seconds.
const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400];
// Binary steps for byte axes (1, 2, 4 ... KiB, MiB, GiB), so ticks read 256 MiB, not 190.7 MiB.
const BYTE_INCRS = Array.from({ length: 50 }, (_, i) => 2 ** i);

interface ChartSpec {
  id: string;
  incrs?: number[];
  series: { label: string; color: string; value: (p: MetricPoint) => number }[];
  format: (v: number) => string;
}

const SPECS: ChartSpec[] = [
  {
    id: 'chart-rates',
    series: [
      { label: 'QPS', color: '#1f6fb2', value: (p) => p.qps },
      { label: 'TPS', color: '#c2540a', value: (p) => p.tps },
    ],
    format: (v) => fmt.num(v, 1),
  },
  {
    id: 'chart-conns',
    series: [
      { label: 'Clients', color: '#2b7a3d', value: (p) => p.clients },
      { label: 'Servers', color: '#7a3db8', value: (p) => p.servers },
    ],
    format: (v) => fmt.num(v),
  },
  {
    id: 'chart-cpu',
    series: [{ label: 'CPU', color: '#b2361f', value: (p) => p.cpu }],
    format: (v) => fmt.cpu(v),
  },
  {
    id: 'chart-memory',
    series: [{ label: 'Memory', color: '#0f7c80', value: (p) => p.memory_bytes }],
    format: (v) => fmt.bytes(v),
    incrs: BYTE_INCRS,
  },
];

export class Charts {
  private node = '';
  private points: MetricPoint[] = [];
  private plots: uPlot[] = [];
  private readonly resize = new ResizeObserver(() => this.fit());

  constructor() {
    this.resize.observe(byId('charts'));
    this.showEmpty(true);
  }

  get selectedNode(): string {
    return this.node;
  }

  // The newest timestamp held, for the next incremental fetch.
  get sinceMs(): number | undefined {
    return this.points.length ? this.points[this.points.length - 1].ts_ms : undefined;
  }

  select(node: string): void {
    if (node === this.node) return;
    this.node = node;
    this.points = [];
    this.destroy();
    setText(byId('charts-node'), node ? `of ${node}` : '');
    this.showEmpty(!node);
  }

  // Adds points newer than those held (the API may repeat the boundary one).
  append(points: MetricPoint[]): void {
    const since = this.sinceMs ?? -Infinity;
    const fresh = points.filter((p) => p.ts_ms > since).sort((a, b) => a.ts_ms - b.ts_ms);
    if (!fresh.length && this.plots.length) return;
    this.points.push(...fresh);
    if (this.points.length > MAX_POINTS) this.points.splice(0, this.points.length - MAX_POINTS);
    this.draw();
  }

  private showEmpty(empty: boolean): void {
    byId('charts-empty').hidden = !empty;
    byId('charts').hidden = empty;
  }

  private draw(): void {
    const xs = this.points.map((p) => p.ts_ms / 1000);
    SPECS.forEach((spec, i) => {
      const data: uPlot.AlignedData = [xs, ...spec.series.map((s) => this.points.map(s.value))];
      const plot = this.plots[i];
      if (plot) {
        plot.setData(data);
        return;
      }
      const host = byId(spec.id);
      this.plots[i] = new uPlot(
        {
          width: this.widthOf(host),
          height: HEIGHT,
          legend: { show: true, live: true },
          cursor: { drag: { x: false, y: false } },
          scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
          axes: [
            {
              stroke: '#444',
              space: 60,
              incrs: TIME_INCRS,
              // HH:MM once ticks are whole minutes apart, else HH:MM:SS.
              values: (_u, vals, _axis, _space, incr) =>
                vals.map((v) => fmt.clock(v * 1000).slice(0, incr >= 60 ? 5 : 8)),
            },
            {
              stroke: '#444',
              size: 80,
              values: (_u, vals) => vals.map((v) => spec.format(v)),
              ...(spec.incrs ? { incrs: spec.incrs } : {}),
            },
          ],
          series: [
            { label: 'Time', value: (_u, v) => (v === null ? fmt.DASH : fmt.clock(v * 1000)) },
            ...spec.series.map((s) => ({
              label: s.label,
              stroke: s.color,
              width: 2,
              // Under the cursor: that point; otherwise the latest one.
              value: (u: uPlot, v: number | null, sidx: number, idx: number | null) => {
                const data = u.data[sidx];
                const shown = idx === null ? (data[data.length - 1] ?? null) : v;
                return shown === null || shown === undefined ? fmt.DASH : spec.format(shown);
              },
            })),
          ],
        },
        data,
        host,
      );
    });
  }

  private widthOf(host: HTMLElement): number {
    return Math.max(240, Math.floor(host.clientWidth || 300));
  }

  private fit(): void {
    SPECS.forEach((spec, i) => {
      const plot = this.plots[i];
      if (plot) plot.setSize({ width: this.widthOf(byId(spec.id)), height: HEIGHT });
    });
  }

  private destroy(): void {
    for (const p of this.plots) p.destroy();
    this.plots = [];
  }
}
