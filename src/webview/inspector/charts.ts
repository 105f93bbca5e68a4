// Histogram and singular-value spectrum charts (ECharts, canvas renderer, themed from VS Code).
// Tooltips render as rich text on the canvas: no HTML, so the strict CSP needs no inline styles.
import * as echarts from 'echarts/core';
import { CustomChart, LineChart } from 'echarts/charts';
import { GridComponent, TooltipComponent, DataZoomComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import type { SpectrumView, TensorStatsView } from '../protocol';
import { formatInteger, formatNumber, niceAxis } from '../shared/format';
import type { ChartTheme } from '../shared/theme';

echarts.use([CustomChart, LineChart, GridComponent, TooltipComponent, DataZoomComponent, CanvasRenderer]);

type Option = echarts.EChartsCoreOption;

function axisCommon(theme: ChartTheme): Option {
  return {
    axisLine: { lineStyle: { color: theme.grid } },
    axisTick: { lineStyle: { color: theme.grid } },
    axisLabel: { color: theme.muted, fontFamily: theme.fontFamily, fontSize: 11 },
    splitLine: { lineStyle: { color: theme.grid, opacity: theme.highContrast ? 0.8 : 0.35 } },
    nameTextStyle: { color: theme.muted, fontFamily: theme.fontFamily, fontSize: 11 },
  };
}

function tooltip(theme: ChartTheme): Option {
  return {
    trigger: 'axis',
    renderMode: 'richText',
    backgroundColor: theme.tooltipBackground,
    borderColor: theme.tooltipBorder,
    textStyle: { color: theme.foreground, fontFamily: theme.fontFamily, fontSize: 12 },
    axisPointer: { type: 'shadow', shadowStyle: { color: theme.grid, opacity: 0.25 } },
  };
}

/** What every inspector chart shares: no animation, the editor's font, a grid with this padding. */
function baseOption(theme: ChartTheme, grid: { right: number; top: number }): Option {
  return { animation: false, textStyle: { fontFamily: theme.fontFamily }, grid: { left: 8, bottom: 4, containLabel: true, ...grid } };
}

function countAxisLine(theme: ChartTheme): Option {
  return { ...(axisCommon(theme).axisLine as object), onZero: false };
}

/** A round tick value as text, without float noise (0.30000000000000004 -> "0.3"). */
function tickLabel(v: number): string {
  return String(Number(v.toPrecision(12)));
}

/** What ECharts gives a custom series' renderItem (the parts used here). */
interface RenderApi {
  coord(value: readonly number[]): number[];
}

/**
 * Bars drawn from the exact bin edges on a value axis whose bounds and step are round (niceAxis),
 * so the ticks fall on round numbers while every bar starts and ends where its bin does.
 */
export function histogramOption(stats: TensorStatsView, theme: ChartTheme, logScale: boolean): Option {
  const { edges, counts } = stats.histogram;
  const axis = niceAxis(edges[0], edges[edges.length - 1]);
  const shown = (c: number): number | null => (logScale ? (c > 0 ? c : null) : c);
  return {
    ...baseOption(theme, { right: 24, top: 12 }),
    tooltip: {
      ...tooltip(theme),
      trigger: 'item',
      formatter: (params: unknown) => {
        const i = (params as { dataIndex: number }).dataIndex;
        return (
          `[${formatNumber(edges[i])}, ${formatNumber(edges[i + 1])}${i === counts.length - 1 ? ']' : ')'}` +
          `\n${formatInteger(counts[i])} values`
        );
      },
    },
    xAxis: {
      type: 'value',
      min: axis.min,
      max: axis.max,
      interval: axis.step,
      ...axisCommon(theme),
      splitLine: { show: false },
      axisLabel: { ...(axisCommon(theme).axisLabel as object), hideOverlap: true, formatter: tickLabel },
    },
    // The count axis stays at the left edge (a value x axis would otherwise draw it through x = 0).
    yAxis: logScale
      ? { type: 'log', logBase: 10, min: 1, ...axisCommon(theme), axisLine: countAxisLine(theme) }
      : {
          type: 'value',
          ...axisCommon(theme),
          axisLine: countAxisLine(theme),
          axisLabel: { ...(axisCommon(theme).axisLabel as object), formatter: (v: number) => formatCompact(v) },
        },
    series: [
      {
        type: 'custom',
        encode: { x: [0, 1], y: 2 },
        data: counts.map((c, i) => [edges[i], edges[i + 1], shown(c) ?? '-']),
        renderItem: (params: { dataIndex: number }, api: RenderApi) => {
          const i = params.dataIndex;
          const count = shown(counts[i]);
          if (count === null || count === 0) return null;
          const [x0, y0] = api.coord([edges[i], logScale ? 1 : 0]);
          const [x1, y1] = api.coord([edges[i + 1], count]);
          const width = x1 - x0;
          // A small gap between bars, as a bar chart's, while they are wide enough to show it.
          const gap = width > 4 ? Math.min(2, width * 0.08) : 0;
          return {
            type: 'rect',
            shape: { x: x0 + gap / 2, y: y1, width: Math.max(1, width - gap), height: Math.max(0, y0 - y1) },
            style: {
              fill: theme.primary,
              stroke: theme.highContrast ? theme.foreground : undefined,
              lineWidth: theme.highContrast ? 1 : 0,
            },
            emphasis: { style: { fill: theme.secondary } },
          };
        },
      },
    ],
  };
}

export function spectrumOption(spectrum: SpectrumView, theme: ChartTheme): Option {
  const values = spectrum.singularValues;
  const positive = values.filter((s) => s > 0);
  // A log axis shows the decay across orders of magnitude; zeros (unresolved values) cannot sit on it.
  const useLog = positive.length >= 2 && positive[0] / positive[positive.length - 1] > 100;
  return {
    ...baseOption(theme, { right: 16, top: 16 }),
    tooltip: {
      ...tooltip(theme),
      axisPointer: { type: 'line', lineStyle: { color: theme.muted } },
      formatter: (params: unknown) => {
        const p = (Array.isArray(params) ? params[0] : params) as { dataIndex: number };
        return `s${p.dataIndex + 1} = ${formatNumber(values[p.dataIndex])}`;
      },
    },
    xAxis: {
      type: 'category',
      data: values.map((_, i) => String(i + 1)),
      name: 'index',
      nameLocation: 'middle',
      nameGap: 22,
      ...axisCommon(theme),
      splitLine: { show: false },
    },
    yAxis: useLog
      ? {
          type: 'log',
          logBase: 10,
          ...axisCommon(theme),
          axisLabel: { ...(axisCommon(theme).axisLabel as object), formatter: (v: number) => formatNumber(v, 2) },
        }
      : { type: 'value', ...axisCommon(theme) },
    series: [
      {
        type: 'line',
        data: useLog ? values.map((s) => (s > 0 ? s : null)) : values,
        showSymbol: values.length <= 64,
        symbolSize: 4,
        lineStyle: { color: theme.secondary, width: theme.highContrast ? 2 : 1.5 },
        itemStyle: { color: theme.secondary },
        areaStyle: { color: theme.secondary, opacity: 0.12 },
      },
    ],
  };
}

function formatCompact(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toFixed(1)}B`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}K`;
  return String(v);
}

/** A chart bound to one container; resizes with it. */
export class Chart {
  private chart: echarts.ECharts | undefined;
  private readonly observer: ResizeObserver;

  constructor(readonly container: HTMLElement) {
    this.observer = new ResizeObserver(() => this.chart?.resize());
    this.observer.observe(container);
  }

  show(option: Option): void {
    this.chart ??= echarts.init(this.container, undefined, { renderer: 'canvas' });
    this.chart.setOption(option, { notMerge: true });
  }

  clear(): void {
    this.chart?.dispose();
    this.chart = undefined;
  }
}
