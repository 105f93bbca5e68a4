// ECharts options for every dashboard chart, from the view models in ./model.ts and the theme.
// Tooltips are rich text drawn on the canvas (no HTML: the strict CSP needs no inline styles and
// untrusted tensor names can never become markup).
import type { EChartsCoreOption } from 'echarts/core';
import { formatNumber } from '../shared/format';
import { DEFINITIONS } from '../../mimicry/dashboard/definitions';
import type { BankBars, BlockRoleSeries, CompareRow, EnergyBars, GroupStatus, Heatmap, SpectraView } from './model';
import type { CurvePoint, CurveView } from '../protocol';
import type { DashboardTheme } from '../shared/theme';

export type Option = EChartsCoreOption;

export interface TooltipParam {
  readonly dataIndex: number;
  readonly seriesIndex: number;
  readonly seriesName: string;
  readonly value: unknown;
}

export function first(params: unknown): TooltipParam {
  return (Array.isArray(params) ? params[0] : params) as TooltipParam;
}

/** Title + one-line definition: drawn in the chart so exported images carry them. */
export function heading(t: DashboardTheme, text: string, definition: string): Option {
  return {
    text,
    subtext: definition,
    left: 0,
    top: 0,
    textStyle: { color: t.foreground, fontFamily: t.fontFamily, fontSize: 13, fontWeight: 600 },
    subtextStyle: { color: t.muted, fontFamily: t.fontFamily, fontSize: 11, overflow: 'break', lineHeight: 14 },
  };
}

export function axis(t: DashboardTheme, name: string, extra: Option = {}): Option {
  return {
    name,
    nameLocation: 'middle',
    nameGap: 36,
    nameTextStyle: { color: t.muted, fontFamily: t.fontFamily, fontSize: 11 },
    axisLine: { lineStyle: { color: t.grid } },
    axisTick: { lineStyle: { color: t.grid } },
    axisLabel: { color: t.muted, fontFamily: t.fontFamily, fontSize: 11, hideOverlap: true },
    splitLine: { lineStyle: { color: t.grid, opacity: t.highContrast ? 0.8 : 0.35 } },
    ...extra,
  };
}

export function tooltip(t: DashboardTheme, formatter: (p: unknown) => string, trigger: 'item' | 'axis' = 'item'): Option {
  return {
    trigger,
    renderMode: 'richText',
    confine: true,
    backgroundColor: t.tooltipBackground,
    borderColor: t.tooltipBorder,
    textStyle: { color: t.foreground, fontFamily: t.fontFamily, fontSize: 12 },
    formatter,
  };
}

export function legend(t: DashboardTheme): Option {
  return { bottom: 0, left: 'center', textStyle: { color: t.foreground, fontFamily: t.fontFamily, fontSize: 11 }, inactiveColor: t.muted };
}

export const base = (t: DashboardTheme): Option => ({
  animation: false,
  textStyle: { fontFamily: t.fontFamily },
  color: [...t.palette],
  aria: { enabled: true },
});

/** Per-layer cosine (or relative error) bars by block and role, with a threshold line for the cosine. */
export function blockRoleOption(
  view: BlockRoleSeries,
  t: DashboardTheme,
  metric: 'cosine' | 'relError' | 'probeCosine',
  threshold: number,
  yMin: number,
): Option {
  const cosine = metric !== 'relError';
  const probe = metric === 'probeCosine';
  const titleText = probe
    ? 'Per-layer feature fidelity (random probes, not data)'
    : cosine
      ? 'Per-layer cosine fidelity'
      : 'Per-layer relative error';
  const definition = probe ? DEFINITIONS.probeCosine : cosine ? DEFINITIONS.cosine : DEFINITIONS.relError;
  return {
    ...base(t),
    title: heading(t, titleText, definition),
    legend: legend(t),
    grid: { left: 64, right: 16, top: 84, bottom: 68 },
    tooltip: tooltip(t, (p) => {
      const q = first(p);
      const pt = view.series[q.seriesIndex]?.points[q.dataIndex];
      if (!pt) return '';
      const l = pt.layer;
      return (
        `${l.name}\nblock ${l.block ?? '—'} · ${l.role} · bank ${l.bank}\n` +
        `cosine ${formatNumber(l.cosine, 6)}\nrelative error ${formatNumber(l.relError, 4)}` +
        `${l.probeCosine !== undefined ? `\nprobe cosine ${formatNumber(l.probeCosine, 6)} (random probes)` : ''}`
      );
    }),
    xAxis: axis(t, 'block', { type: 'category', data: view.blocks, splitLine: { show: false }, nameGap: 28 }),
    yAxis: cosine
      ? axis(t, 'cosine (unitless)', { type: 'value', min: yMin, max: 1, nameGap: 48 })
      : axis(t, 'relative error (unitless)', { type: 'value', min: 0, nameGap: 48 }),
    series: view.series.map((s, i) => ({
      type: 'bar',
      name: s.role,
      data: s.points.map((p) => (p ? p.value : null)),
      itemStyle: {
        color: t.palette[i % t.palette.length],
        borderColor: t.highContrast ? t.foreground : undefined,
        borderWidth: t.highContrast ? 1 : 0,
      },
      ...(metric === 'cosine' && i === 0
        ? {
            markLine: {
              symbol: 'none',
              silent: true,
              lineStyle: { color: t.red, type: 'dashed', width: t.highContrast ? 2 : 1 },
              label: { color: t.red, formatter: `threshold ${threshold}`, position: 'insideStartTop' },
              data: [{ yAxis: threshold }],
            },
          }
        : {}),
    })),
  };
}

/** Per-bank raw and relative (or normalised) values on two axes. */
export function bankBarsOption(view: BankBars, t: DashboardTheme, which: 'diversity' | 'entropy', titleSuffix = ''): Option {
  const diversity = which === 'diversity';
  const rawName = diversity ? 'diversity ‖Tᵢ − Tⱼ‖_F (weight units)' : 'entropy H (nats)';
  const relName = diversity ? 'relative diversity (unitless)' : 'normalised entropy H / ln(rank) (0–1)';
  const title = heading(
    t,
    (diversity ? 'Template diversity per bank' : 'Template entropy per bank') + titleSuffix,
    diversity ? DEFINITIONS.diversity : DEFINITIONS.entropy,
  );
  // A missing metric says why in the chart's own area (centred when no bank has a value), so an exported image says it too.
  const none = view.raw.every((v) => v === null || v === 0) && view.missing !== undefined;
  const said = [view.missing, view.estimated].filter((x) => x !== undefined).join('\n');
  const missing: Record<string, unknown> | undefined = said
    ? {
        text: said,
        left: 'center',
        ...(none ? { top: 'middle' } : { bottom: 28 }),
        textStyle: {
          color: t.foreground,
          fontFamily: t.fontFamily,
          fontSize: 12,
          fontWeight: 'normal',
          width: 520,
          overflow: 'break',
          lineHeight: 16,
        },
      }
    : undefined;
  return {
    ...base(t),
    title: missing ? [title, missing] : title,
    legend: { ...legend(t), data: [diversity ? 'raw' : 'H', diversity ? 'relative' : 'normalised'] },
    grid: { left: 64, right: 64, top: 96, bottom: 96 },
    tooltip: tooltip(
      t,
      (p) => {
        const i = first(p).dataIndex;
        const note = view.notes[i] ? `\n(${view.notes[i]})` : '';
        return `${view.banks[i]}\n${rawName}: ${formatNumber(view.raw[i], 5)}\n${relName}: ${formatNumber(view.relative[i], 5)}${note}`;
      },
      'axis',
    ),
    xAxis: axis(t, 'bank', {
      type: 'category',
      data: view.banks,
      splitLine: { show: false },
      nameGap: 56,
      axisLabel: { color: t.muted, fontSize: 10, rotate: view.banks.length > 6 ? 30 : 0, hideOverlap: true },
    }),
    yAxis: [
      axis(t, rawName, { type: 'value', nameGap: 48 }),
      axis(t, relName, { type: 'value', nameGap: 44, min: 0, ...(diversity ? {} : { max: 1 }), splitLine: { show: false } }),
    ],
    series: [
      { type: 'bar', name: diversity ? 'raw' : 'H', data: view.raw, itemStyle: { color: t.palette[0] } },
      { type: 'bar', name: diversity ? 'relative' : 'normalised', yAxisIndex: 1, data: view.relative, itemStyle: { color: t.palette[1] } },
    ],
  };
}

/**
 * The colour scale beside a heat map: [min, max] from the background to the accent, through red below
 * zero when the range has negatives (cosines), labelled at its ends.
 */
export function heatScale(t: DashboardTheme, min: number, max: number): Option {
  return {
    min,
    max,
    calculable: false,
    orient: 'vertical',
    right: 0,
    top: 'middle',
    itemHeight: 120,
    text: [formatNumber(max, 3), formatNumber(min, 3).replace('-', '−')],
    textStyle: { color: t.muted, fontSize: 10 },
    inRange: { color: min < 0 ? [t.red, t.background, t.palette[0]] : [t.background, t.palette[0]] },
  };
}

/** One group's L x L coefficient similarity with its colour scale (cosine, -1 to 1). */
export function heatmapOption(view: Heatmap, t: DashboardTheme): Option {
  return {
    ...base(t),
    title: heading(t, `Coefficient similarity · ${view.bank}`, 'cos(aₗ, aₘ) of blocks l, m (unitless, −1 to 1)'),
    grid: { left: 72, right: 72, top: 64, bottom: 56 },
    tooltip: tooltip(t, (p) => {
      const v = first(p).value as [number, number, number];
      return `${view.bank}\nblock ${view.labels[v[1]]} vs block ${view.labels[v[0]]}\ncos = ${formatNumber(v[2], 6)}`;
    }),
    xAxis: axis(t, 'block m', { type: 'category', data: view.labels, splitLine: { show: false }, nameGap: 28 }),
    yAxis: axis(t, 'block l', { type: 'category', data: view.labels, splitLine: { show: false }, nameGap: 56, inverse: true }),
    visualMap: heatScale(t, view.min, view.max),
    series: [
      {
        type: 'heatmap',
        data: view.cells,
        label: {
          show: view.labels.length <= 8,
          color: t.foreground,
          fontSize: 10,
          formatter: (p: { value: [number, number, number] }) => formatNumber(p.value[2], 2),
        },
        itemStyle: { borderColor: t.grid, borderWidth: 1 },
      },
    ],
  };
}

const LINE_DASHES = ['solid', 'dashed', 'dotted'] as const;

const COOL = (t: DashboardTheme): string[] => [t.palette[0], t.palette[2], t.palette[3]];
const WARM = (t: DashboardTheme): string[] => [t.palette[1], t.palette[4], t.palette[5]];

/** Singular values of the originals (solid) against the templates (dashed) of one bank. */
export function spectraOption(view: SpectraView, t: DashboardTheme): Option {
  const index = Array.from({ length: view.length }, (_, i) => String(i + 1));
  return {
    ...base(t),
    title: heading(
      t,
      `Singular-value spectra · ${view.bank}`,
      view.lines.some((l) => l.kind === 'rebuilt') ? DEFINITIONS.spectraRebuilt : DEFINITIONS.spectra,
    ),
    legend: { ...legend(t), type: 'scroll', left: 0, right: 0 },
    grid: { left: 72, right: 16, top: 84, bottom: 72 },
    tooltip: tooltip(t, (p) => {
      const q = first(p);
      return `${q.seriesName}\ns${q.dataIndex + 1} = ${formatNumber(q.value as number, 5)}`;
    }),
    xAxis: axis(t, 'index i (largest first)', { type: 'category', data: index, splitLine: { show: false }, nameGap: 28 }),
    yAxis: view.log
      ? axis(t, 'singular value sᵢ (weight units, log)', {
          type: 'log',
          nameGap: 56,
          axisLabel: { color: t.muted, fontSize: 11, formatter: (v: number) => formatNumber(v, 2) },
        })
      : axis(t, 'singular value sᵢ (weight units)', { type: 'value', nameGap: 56 }),
    series: view.lines.map((l, i) => ({
      type: 'line',
      name: l.label,
      data: view.log ? l.values.map((v) => (v > 0 ? v : null)) : l.values,
      showSymbol: view.length <= 32,
      symbolSize: 3,
      lineStyle: { type: l.kind === 'template' ? 'dashed' : 'solid', width: l.kind === 'template' ? 2 : 1.25 },
      // Originals in the cool colours (solid), templates in the warm ones (dashed).
      color: l.kind === 'template' ? WARM(t)[i % 3] : COOL(t)[i % 3],
    })),
  };
}

/** The live loss curve: one line per group over optimizer steps (a point per group for the closed form). */
export function lossOption(groups: readonly GroupStatus[], t: DashboardTheme): Option {
  const positive = groups.every((g) => g.points.every(([, v]) => v > 0));
  const hasPoints = groups.some((g) => g.points.length > 0);
  return {
    ...base(t),
    title: heading(t, 'Loss', DEFINITIONS.loss),
    legend: { ...legend(t), type: 'scroll', left: 0, right: 0 },
    grid: { left: 72, right: 16, top: 84, bottom: 72 },
    tooltip: tooltip(t, (p) => {
      const q = first(p);
      const v = q.value as [number, number];
      return `${q.seriesName}\nstep ${v[0]}\nloss ${formatNumber(v[1], 5)}`;
    }),
    xAxis: axis(t, 'optimizer step', { type: 'value', min: 0, splitLine: { show: false }, nameGap: 28 }),
    yAxis: axis(t, positive && hasPoints ? 'loss (log scale, weight units²)' : 'loss (weight units²)', {
      type: positive && hasPoints ? 'log' : 'value',
      nameGap: 56,
      axisLabel: { color: t.muted, fontSize: 11, formatter: (v: number) => formatNumber(v, 2) },
    }),
    series: groups.map((g, i) => ({
      type: 'line',
      name: g.group,
      data: g.points,
      showSymbol: g.points.length <= 2,
      symbolSize: 6,
      // Past the palette, the dash pattern keeps curves (and their legend entries) apart.
      color: t.palette[i % t.palette.length],
      lineStyle: { width: t.highContrast ? 2 : 1.5, type: LINE_DASHES[Math.floor(i / t.palette.length) % LINE_DASHES.length] },
    })),
  };
}

/** Two runs: each shared layer's cosine side by side. */
export function compareOption(rows: readonly CompareRow[], t: DashboardTheme, labelA: string, labelB: string): Option {
  return {
    ...base(t),
    title: heading(t, 'Per-layer cosine fidelity, two runs', DEFINITIONS.cosine),
    legend: { ...legend(t), data: [labelA, labelB] },
    grid: { left: 64, right: 16, top: 84, bottom: 72 },
    tooltip: tooltip(
      t,
      (p) => {
        const i = first(p).dataIndex;
        const r = rows[i];
        return `${r.name}\n${labelA}: ${formatNumber(r.a, 6)}\n${labelB}: ${formatNumber(r.b, 6)}`;
      },
      'axis',
    ),
    xAxis: axis(t, 'layer (in file order)', {
      type: 'category',
      data: rows.map((_, i) => String(i + 1)),
      splitLine: { show: false },
      nameGap: 28,
    }),
    yAxis: axis(t, 'cosine (unitless)', {
      type: 'value',
      max: 1,
      min: (v: { min: number }) => Math.max(-1, Math.floor(Math.min(0.9, v.min) * 10) / 10),
      nameGap: 48,
    }),
    series: [
      { type: 'bar', name: labelA, data: rows.map((r) => r.a), itemStyle: { color: t.palette[0] } },
      { type: 'bar', name: labelB, data: rows.map((r) => r.b), itemStyle: { color: t.palette[1] } },
    ],
  };
}

/** Compression (x) against mean cosine fidelity (y) of the closed form, one line per role, the chosen setting as a diamond. */
export function curveOption(view: CurveView, t: DashboardTheme): Option {
  const colour = (i: number): string => t.palette[i % t.palette.length];
  const pointOf = (p: CurvePoint): number[] => [p.ratio, p.meanCosine, p.n, p.relError];
  const label = (role: string, p: CurvePoint): string =>
    `${role}\nn = ${p.n}: ${formatNumber(p.ratio, 3)}× smaller\nmean cosine ${formatNumber(p.meanCosine, 5)}, min ${formatNumber(p.minCosine, 5)}\nrel. error ${formatNumber(p.relError, 4)}`;
  const lines = view.roles.map((r, i) => ({
    type: 'line',
    name: r.role,
    data: r.points.map(pointOf),
    symbol: 'circle',
    symbolSize: 6,
    lineStyle: { color: colour(i), width: 2 },
    itemStyle: { color: colour(i) },
  }));
  const chosen = view.roles.map((r, i) => ({
    type: 'scatter',
    name: `${r.role} (chosen)`,
    data: [pointOf(r.chosen)],
    symbol: 'diamond',
    symbolSize: 16,
    itemStyle: { color: colour(i), borderColor: t.foreground, borderWidth: 2 },
    z: 5,
    // The authors' preset sits at the corner (cosine 1, just under 1×): drawn whole, not clipped.
    clip: false,
  }));
  const ratios = view.roles.flatMap((r) => [...r.points.map((p) => p.ratio), r.chosen.ratio]);
  const leftmost = Math.min(1, ...ratios);
  return {
    ...base(t),
    title: heading(t, `Compression vs fidelity (closed form, ${view.objective} objective)`, DEFINITIONS.curve),
    legend: { ...legend(t), type: 'scroll', data: view.roles.map((r) => r.role) },
    grid: { left: 64, right: 24, top: 96, bottom: 72 },
    tooltip: tooltip(t, (p) => {
      const q = first(p);
      const role = view.roles[q.seriesIndex % view.roles.length];
      const point = q.seriesIndex < view.roles.length ? role.points[q.dataIndex] : role.chosen;
      return label(role.role + (q.seriesIndex < view.roles.length ? '' : ' (chosen)'), point);
    }),
    xAxis: axis(t, 'compression (parameters before / after)', {
      type: 'log',
      logBase: 2,
      min: leftmost < 1 ? leftmost * 0.98 : 1,
      splitLine: { show: false },
      axisLabel: {
        color: t.muted,
        fontFamily: t.fontFamily,
        fontSize: 11,
        hideOverlap: true,
        formatter: (v: number) => `${formatNumber(v, 3)}×`,
      },
    }),
    yAxis: axis(t, 'mean cosine fidelity (1 = exact)', { type: 'value', max: 1, scale: true, nameGap: 48 }),
    series: [...lines, ...chosen],
  };
}

/** Per bank, each kept template's share of the group's energy, stacked, with the part the fit leaves out on top. */
export function energyOption(view: EnergyBars, t: DashboardTheme): Option {
  const most = Math.max(0, ...view.shares.map((s) => s.length));
  const templates = Array.from({ length: most }, (_, k) => ({
    type: 'bar',
    stack: 'energy',
    name: `T${k + 1}`,
    data: view.shares.map((s) => s[k] ?? 0),
    itemStyle: { color: t.palette[k % t.palette.length] },
  }));
  const rest = {
    type: 'bar',
    stack: 'energy',
    name: 'left out',
    data: view.shares.map((s) => Math.max(0, 1 - s.reduce((a, b) => a + b, 0))),
    itemStyle: { color: t.grid, opacity: 0.6 },
  };
  return {
    ...base(t),
    title: heading(t, 'Energy share of each template', DEFINITIONS.energy),
    legend: { ...legend(t), type: 'scroll', data: [...templates.map((s) => s.name), 'left out'] },
    grid: { left: 64, right: 24, top: 96, bottom: 96 },
    tooltip: tooltip(
      t,
      (p) => {
        const i = first(p).dataIndex;
        const shares = view.shares[i].map((s, k) => `T${k + 1}: ${formatNumber(100 * s, 4)}%`).join('\n');
        const left = 1 - view.shares[i].reduce((a, b) => a + b, 0);
        return `${view.banks[i]}\n${shares}\nleft out: ${formatNumber(100 * Math.max(0, left), 4)}%`;
      },
      'axis',
    ),
    xAxis: axis(t, 'bank', {
      type: 'category',
      data: view.banks,
      splitLine: { show: false },
      nameGap: 56,
      axisLabel: { color: t.muted, fontSize: 10, rotate: view.banks.length > 6 ? 30 : 0, hideOverlap: true },
    }),
    yAxis: axis(t, 'share of the group’s energy (0–1)', { type: 'value', min: 0, max: 1, nameGap: 48 }),
    series: [...templates, rest],
  };
}
