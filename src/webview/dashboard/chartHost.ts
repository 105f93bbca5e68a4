// One chart on the dashboard: a titled, focusable container with its ECharts instance (canvas),
// resized with its box, re-drawn on theme change, and exported as PNG (the canvas) or SVG (the
// same option rendered by ECharts' SVG renderer).
import * as echarts from 'echarts/core';
import { BarChart, HeatmapChart, LineChart, ScatterChart } from 'echarts/charts';
import {
  AriaComponent,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  LegendScrollComponent,
  MarkLineComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapContinuousComponent,
} from 'echarts/components';
import { CanvasRenderer, SVGRenderer } from 'echarts/renderers';
import type { ChartFormat } from '../protocol';
import type { Option } from './chartOptions';
import { h } from '../shared/dom';

echarts.use([
  BarChart,
  LineChart,
  ScatterChart,
  HeatmapChart,
  AriaComponent,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  LegendScrollComponent,
  MarkLineComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapContinuousComponent,
  CanvasRenderer,
  SVGRenderer,
]);

export type ExportChart = (chart: string, format: ChartFormat, payload: string) => void;

export class ChartHost {
  readonly element: HTMLElement;
  private readonly box: HTMLElement;
  private chart: echarts.ECharts | undefined;
  private option: Option | undefined;
  private readonly observer: ResizeObserver;

  /**
   * @param id      file-name part of exports (e.g. "fidelity")
   * @param testId  data-testid of the chart container
   * @param label   accessible name (title and definition)
   */
  constructor(
    readonly id: string,
    testId: string,
    label: string,
    private readonly background: () => string,
    onExport: ExportChart | undefined,
    height = 340,
  ) {
    this.box = h('div', { class: 'chart', 'data-testid': testId, role: 'img', tabindex: 0, 'aria-label': label });
    this.box.style.height = `${height}px`;
    const tools = h('div', { class: 'chart-tools' });
    if (onExport) {
      for (const format of ['png', 'svg'] as const) {
        const b = h(
          'vscode-button',
          { secondary: true, 'data-testid': `export-chart-${format}`, title: `Save this chart as ${format.toUpperCase()}` },
          format.toUpperCase(),
        );
        b.addEventListener('click', () => {
          const payload = this.image(format);
          if (payload) onExport(this.id, format, payload);
        });
        tools.appendChild(b);
      }
    }
    this.element = h('figure', { class: 'chart-figure' }, this.box, tools);
    this.observer = new ResizeObserver(() => {
      if (!this.chart || !this.option) return;
      this.chart.resize();
      this.chart.setOption(this.fitted(this.option));
    });
    this.observer.observe(this.box);
  }

  show(option: Option): void {
    this.option = option;
    this.chart ??= echarts.init(this.box, undefined, { renderer: 'canvas' });
    this.chart.setOption(this.fitted(option), { notMerge: true });
  }

  /** The definition under the title wraps at the chart's width (ECharts needs a width in pixels). */
  private fitted(option: Option, width = this.box.clientWidth): Option {
    const title = option.title as { subtextStyle?: object } | undefined;
    if (!title) return option;
    return { ...option, title: { ...title, subtextStyle: { ...title.subtextStyle, width: Math.max(200, width - 24) } } };
  }

  /** Re-applies the last option (e.g. after the option builder re-read the theme). */
  get hasChart(): boolean {
    return this.chart !== undefined;
  }

  image(format: ChartFormat): string | undefined {
    if (!this.chart || !this.option) return undefined;
    if (format === 'png') return this.chart.getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: this.background() });
    const width = Math.max(320, this.box.clientWidth);
    const height = Math.max(200, this.box.clientHeight);
    return renderChartSvg(this.fitted(this.option, width), width, height, this.background());
  }

  dispose(): void {
    this.observer.disconnect();
    this.chart?.dispose();
    this.chart = undefined;
  }
}

/**
 * The chart as an SVG document (ECharts' SVG renderer, server-side mode), as the SVG export sends
 * it; the extension checks it (src/extension/dashboard/chartSvg.ts) before writing it.
 */
export function renderChartSvg(option: Option, width: number, height: number, background: string): string {
  const svg = echarts.init(null, undefined, { renderer: 'svg', ssr: true, width, height });
  try {
    svg.setOption({ ...svgSafeFonts(option), backgroundColor: background });
    return svg.renderToSVGString();
  } finally {
    svg.dispose();
  }
}

/**
 * ECharts writes a font family into a double-quoted style attribute as it is, so the quotes in
 * VS Code's font lists ('"Segoe WPC", "Segoe UI", ...') would end the attribute and leave the SVG
 * malformed: single quotes instead, and no markup characters. A copy; functions and data kept.
 */
export function svgSafeFonts<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => svgSafeFonts(v)) as T;
  if (typeof value !== 'object' || value === null) return value;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === 'fontFamily' && typeof v === 'string' ? v.replace(/"/g, "'").replace(/[&<>]/g, '') : svgSafeFonts(v);
  }
  return out as T;
}
