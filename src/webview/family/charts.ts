// ECharts options of the Family dashboard, from the engine's FamilyReport (the same document as
// `mimicry family --json`) and the theme; and each chart's numbers as CSV. Nothing is computed
// here beyond picking and arranging the report's numbers.
import { axis, base, first, heading, heatScale, legend, tooltip, type Option } from '../dashboard/chartOptions';
import type { FamilyReport } from '../protocol';
import { formatNumber } from '../shared/format';
import type { DashboardTheme } from '../shared/theme';

/** Definitions drawn under each chart's title (so exported images carry them). */
export const FAMILY_DEFINITIONS = {
  norms: '‖ΔW‖_F of each shared layer per member: the Frobenius norm of its update (LoRA: scale · B·A; full: W − W_base)',
  relative: '‖ΔW‖_F / ‖W_base‖_F of each shared layer per member (unitless)',
  cosine: 'cos(ΔW_a, ΔW_b) = ⟨ΔW_a, ΔW_b⟩ / (‖ΔW_a‖ ‖ΔW_b‖) of two members’ updates (unitless, −1 to 1)',
  wholeCosine: 'the same over the whole model: every shared layer’s update concatenated',
  fidelity: 'cosine of a member’s updates in this bank to their fit by n shared templates (closed form, fitted to every member); 1 = exact',
  weights:
    'with a base: cosine of each member’s full weights W_base + ΔW to their fit over the base’s own n templates kept frozen (only coefficients fitted; solid: the part of ΔW they express), and over n templates fitted to every member (joint)',
  specialisation:
    'each member’s share of its coefficient energy on each template (rows sum to 1); a template one member alone uses is specialised',
  map: 'one point per (member, layer) update; nearby points have similar updates. Snapshots of one run are joined in step order',
} as const;

/** A layer's short label: `transformer.h.3.attn.c_attn` -> `h.3.attn.c_attn`. */
export function shortLayer(name: string): string {
  const parts = name.split('.');
  return parts.length > 4 ? parts.slice(-4).join('.') : name;
}

const csvCell = (v: string | number | null): string => {
  const s = v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const csv = (rows: readonly (readonly (string | number | null)[])[]): string => rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n';

/** Per-layer update norms (relative to the base's when there is one), one bar series per member. */
export function normsOption(r: FamilyReport, t: DashboardTheme): Option {
  const relative = r.layers.some((l) => l.relative !== null);
  const labels = r.layers.map((l) => shortLayer(l.name));
  return {
    ...base(t),
    title: heading(
      t,
      relative ? 'Per-layer update norm, relative to the base' : 'Per-layer update norm',
      relative ? FAMILY_DEFINITIONS.relative : FAMILY_DEFINITIONS.norms,
    ),
    legend: { ...legend(t), type: 'scroll' },
    grid: { left: 72, right: 16, top: 84, bottom: 96 },
    tooltip: tooltip(t, (p) => {
      const q = first(p);
      const l = r.layers[q.dataIndex];
      const m = q.seriesIndex;
      return `${l.name}\n${r.members[m].name}\n‖ΔW‖_F = ${formatNumber(l.norms[m], 5)}${l.relative ? `\nrelative ${formatNumber(l.relative[m], 5)}` : ''}`;
    }),
    xAxis: axis(t, 'layer', {
      type: 'category',
      data: labels,
      splitLine: { show: false },
      nameGap: 72,
      axisLabel: { color: t.muted, fontSize: 10, rotate: 40 },
    }),
    yAxis: axis(t, relative ? '‖ΔW‖ / ‖W_base‖ (unitless)' : '‖ΔW‖_F (weight units)', { type: 'value', nameGap: 56 }),
    series: r.members.map((m, mi) => ({
      type: 'bar',
      name: m.name,
      data: r.layers.map((l) => (relative ? (l.relative?.[mi] ?? null) : l.norms[mi])),
      itemStyle: {
        color: t.palette[mi % t.palette.length],
        borderColor: t.highContrast ? t.foreground : undefined,
        borderWidth: t.highContrast ? 1 : 0,
      },
    })),
  };
}

export function normsCsv(r: FamilyReport): string {
  return csv([
    [
      'layer',
      'shape',
      ...r.members.map((m) => `norm ${m.name}`),
      ...(r.layers[0]?.relative ? r.members.map((m) => `relative ${m.name}`) : []),
    ],
    ...r.layers.map((l) => [l.name, l.shape.join('x'), ...l.norms, ...(l.relative ?? [])]),
  ]);
}

/** The member x member cosine matrix of the whole model (`layer` null) or of one layer. */
export function cosineMatrix(r: FamilyReport, layer: string | null): readonly (readonly number[])[] {
  return layer === null ? r.cosine : (r.layers.find((l) => l.name === layer)?.cosine ?? r.cosine);
}

export function cosineOption(r: FamilyReport, layer: string | null, t: DashboardTheme): Option {
  const names = r.members.map((m) => m.name);
  const matrix = cosineMatrix(r, layer);
  const cells = matrix.flatMap((row, a) => row.map((v, b) => [b, a, v] as const));
  return {
    ...base(t),
    title: heading(
      t,
      `Cosine of the updates · ${layer === null ? 'whole model' : shortLayer(layer)}`,
      layer === null ? `${FAMILY_DEFINITIONS.cosine}; ${FAMILY_DEFINITIONS.wholeCosine}` : FAMILY_DEFINITIONS.cosine,
    ),
    grid: { left: 120, right: 72, top: 72, bottom: 72 },
    tooltip: tooltip(t, (p) => {
      const v = first(p).value as [number, number, number];
      return `${names[v[1]]} vs ${names[v[0]]}\n${layer ?? 'whole model'}\ncos = ${formatNumber(v[2], 6)}`;
    }),
    xAxis: axis(t, 'member b', {
      type: 'category',
      data: names,
      splitLine: { show: false },
      nameGap: 48,
      axisLabel: { color: t.muted, fontSize: 10, rotate: 20 },
    }),
    yAxis: axis(t, 'member a', { type: 'category', data: names, splitLine: { show: false }, nameGap: 100, inverse: true }),
    visualMap: heatScale(t, -1, 1),
    series: [
      {
        type: 'heatmap',
        data: cells,
        label: {
          show: names.length <= 10,
          color: t.foreground,
          fontSize: 10,
          formatter: (p: { value: [number, number, number] }) => formatNumber(p.value[2], 3),
        },
        itemStyle: { borderColor: t.grid, borderWidth: 1 },
      },
    ],
  };
}

export function cosineCsv(r: FamilyReport, layer: string | null): string {
  const names = r.members.map((m) => m.name);
  return csv([[layer ?? 'whole model', ...names], ...cosineMatrix(r, layer).map((row, a) => [names[a], ...row])]);
}

/** Fidelity against the number of shared templates n, one line per member, for one bank. */
export function fidelityOption(r: FamilyReport, bankName: string, t: DashboardTheme): Option {
  const bank = r.banks.find((b) => b.name === bankName) ?? r.banks[0];
  const length = bank ? Math.max(0, ...Object.values(bank.fidelity.cosine).map((c) => c.length)) : 0;
  const ns = Array.from({ length }, (_, i) => String(i + 1));
  return {
    ...base(t),
    title: heading(t, `Fidelity vs templates n · ${bank?.name ?? '—'}`, FAMILY_DEFINITIONS.fidelity),
    legend: { ...legend(t), type: 'scroll' },
    grid: { left: 72, right: 16, top: 84, bottom: 72 },
    tooltip: tooltip(t, (p) => {
      const q = first(p);
      const m = r.members[q.seriesIndex];
      const rel = bank?.fidelity.relError[m.name]?.[q.dataIndex];
      return `${m.name} · ${bank?.name ?? ''}\nn = ${q.dataIndex + 1}\ncosine ${formatNumber(q.value as number, 6)}\nrelative error ${formatNumber(rel, 4)}`;
    }),
    xAxis: axis(t, 'shared templates n', { type: 'category', data: ns, splitLine: { show: false }, nameGap: 28, boundaryGap: false }),
    yAxis: axis(t, 'cosine (unitless)', { type: 'value', max: 1, nameGap: 56, scale: true }),
    series: r.members.map((m, mi) => ({
      type: 'line',
      name: m.name,
      data: bank?.fidelity.cosine[m.name] ?? [],
      symbol: 'circle',
      symbolSize: 6,
      lineStyle: { width: 2, type: (['solid', 'dashed', 'dotted'] as const)[Math.floor(mi / 6) % 3] },
      itemStyle: { color: t.palette[mi % t.palette.length] },
    })),
  };
}

export function fidelityCsv(r: FamilyReport): string {
  const rows: (string | number | null)[][] = [['bank', 'member', 'n', 'cosine', 'relative error']];
  for (const b of r.banks)
    for (const m of r.members)
      (b.fidelity.cosine[m.name] ?? []).forEach((c, i) => rows.push([b.name, m.name, i + 1, c, b.fidelity.relError[m.name]?.[i] ?? null]));
  return csv(rows);
}

/** With a base: per member the frozen-base-template curves (ΔW's part solid, full weights dashed) and the joint fit (dotted). */
export function weightsOption(r: FamilyReport, bankName: string, t: DashboardTheme): Option {
  const bank = r.banks.find((b) => b.name === bankName && b.weights !== null) ?? r.banks.find((b) => b.weights !== null);
  const w = bank?.weights ?? null;
  const length = w ? Math.max(w.baseRank, w.jointRank) : 0;
  const ns = Array.from({ length }, (_, i) => String(i + 1));
  const kinds = [
    { key: 'update', label: 'ΔW by frozen base templates', type: 'solid' },
    { key: 'frozen', label: 'W by frozen base templates', type: 'dashed' },
    { key: 'joint', label: 'W by joint templates', type: 'dotted' },
  ] as const;
  const series = r.members.flatMap((m, mi) =>
    kinds.map((k) => ({
      type: 'line' as const,
      name: `${m.name} · ${k.label}`,
      data: w?.[k.key][m.name] ?? [],
      symbol: 'circle',
      symbolSize: 5,
      lineStyle: { width: 2, type: k.type },
      itemStyle: { color: t.palette[mi % t.palette.length] },
    })),
  );
  series.push({
    type: 'line',
    name: 'base by its own templates',
    data: w?.base ?? [],
    symbol: 'diamond',
    symbolSize: 6,
    lineStyle: { width: 2, type: 'solid' },
    itemStyle: { color: t.muted },
  });
  return {
    ...base(t),
    title: heading(t, `Full weights: the base’s templates frozen vs fitted · ${bank?.name ?? '—'}`, FAMILY_DEFINITIONS.weights),
    legend: { ...legend(t), type: 'scroll' },
    grid: { left: 72, right: 16, top: 96, bottom: 72 },
    tooltip: tooltip(t, (p) => {
      const q = first(p);
      return `${q.seriesName} · ${bank?.name ?? ''}\nn = ${q.dataIndex + 1}\ncosine ${formatNumber(q.value as number, 6)}`;
    }),
    xAxis: axis(t, 'templates n', { type: 'category', data: ns, splitLine: { show: false }, nameGap: 28, boundaryGap: false }),
    yAxis: axis(t, 'cosine (unitless)', { type: 'value', max: 1, nameGap: 56, scale: true }),
    ...(w ? weightsZoom(w.baseRank, length, t) : {}),
    series,
  };
}

/**
 * The joint curves run to their own rank (48 on four LoRA members of rank 12), the frozen ones stop at
 * the base's: the chart opens on the base's n, and a slider under it (or the wheel) shows the rest.
 */
function weightsZoom(baseRank: number, length: number, t: DashboardTheme): Option {
  if (baseRank < 1 || length <= baseRank * 1.5) return {};
  const window = { xAxisIndex: 0, startValue: 0, endValue: Math.min(length - 1, Math.ceil(baseRank * 1.25) - 1), filterMode: 'none' };
  return {
    grid: { left: 72, right: 16, top: 96, bottom: 116 },
    dataZoom: [
      { type: 'inside', ...window },
      {
        type: 'slider',
        ...window,
        bottom: 36, // above the legend (at the bottom)
        height: 18,
        borderColor: t.grid,
        textStyle: { color: t.muted },
        labelFormatter: (_: number, value: string) => `n = ${value}`,
      },
    ],
  };
}

export function weightsCsv(r: FamilyReport): string {
  const rows: (string | number | null)[][] = [
    ['bank', 'member', 'n', 'frozen cosine', 'frozen relative error', 'update part', 'joint cosine', 'base cosine'],
  ];
  for (const b of r.banks) {
    const w = b.weights;
    if (!w) continue;
    for (const m of r.members)
      for (let i = 0; i < Math.max(w.baseRank, w.jointRank); i++)
        rows.push([
          b.name,
          m.name,
          i + 1,
          w.frozen[m.name]?.[i] ?? null,
          w.frozenRelError[m.name]?.[i] ?? null,
          w.update[m.name]?.[i] ?? null,
          w.joint[m.name]?.[i] ?? null,
          w.base[i] ?? null,
        ]);
  }
  return csv(rows);
}

/** Members x every template of every bank: each member's share of its coefficient energy. */
export function specialisationOption(r: FamilyReport, t: DashboardTheme): Option {
  const names = r.members.map((m) => m.name);
  const columns = r.specialisation.templates.map((c) => `${c.bank} · T${c.template + 1}`);
  const cells = names.flatMap((name, a) => (r.specialisation.share[name] ?? []).map((v, c) => [c, a, v] as const));
  const entropyOf = (c: number): number | null => {
    const col = r.specialisation.templates[c];
    return r.banks.find((b) => b.name === col.bank)?.use.normalized[col.template] ?? null;
  };
  return {
    ...base(t),
    title: heading(t, 'Specialisation: coefficient energy share per template', FAMILY_DEFINITIONS.specialisation),
    grid: { left: 120, right: 72, top: 72, bottom: 96 },
    tooltip: tooltip(t, (p) => {
      const v = first(p).value as [number, number, number];
      return `${names[v[1]]} · ${columns[v[0]]}\nshare ${formatNumber(v[2], 4)}\nuse entropy ${formatNumber(entropyOf(v[0]), 3)} (0 = one member alone)`;
    }),
    xAxis: axis(t, 'template', {
      type: 'category',
      data: columns,
      splitLine: { show: false },
      nameGap: 72,
      axisLabel: { color: t.muted, fontSize: 10, rotate: 30 },
    }),
    yAxis: axis(t, 'member', { type: 'category', data: names, splitLine: { show: false }, nameGap: 100, inverse: true }),
    visualMap: heatScale(t, 0, 1),
    series: [
      {
        type: 'heatmap',
        data: cells,
        label: {
          show: columns.length * names.length <= 120,
          color: t.foreground,
          fontSize: 10,
          formatter: (p: { value: [number, number, number] }) => formatNumber(p.value[2], 2),
        },
        itemStyle: { borderColor: t.grid, borderWidth: 1 },
      },
    ],
  };
}

export function specialisationCsv(r: FamilyReport): string {
  const cols = r.specialisation.templates;
  return csv([
    ['member', ...cols.map((c) => `${c.bank} T${c.template + 1}`), ...cols.map((c) => `${c.bank} T${c.template + 1} (>= 0)`)],
    ...r.members.map((m) => [m.name, ...(r.specialisation.share[m.name] ?? []), ...(r.specialisation.nonNegativeShare[m.name] ?? [])]),
  ]);
}

/** The (member, layer) map: a scatter per member, snapshots joined in step order. */
export function mapOption(r: FamilyReport, t: DashboardTheme): Option {
  const method = r.map.method === 'umap' ? `UMAP (seed ${r.map.seed ?? 0}, ${r.map.neighbors ?? '—'} neighbours)` : 'PCA';
  const explained = r.map.explained
    ? ` · axes explain ${formatNumber(100 * r.map.explained[0], 3)}% and ${formatNumber(100 * r.map.explained[1], 3)}%`
    : '';
  const byMember = r.members.map((m) => r.map.points.filter((p) => p.member === m.name));
  const colour = (name: string): string =>
    t.palette[
      Math.max(
        0,
        r.members.findIndex((m) => m.name === name),
      ) % t.palette.length
    ];
  // A trajectory joins each layer's points of the run's snapshots, in step order.
  const trajectories = r.map.trajectories.flatMap((tr) => {
    const layers = [...new Set(r.map.points.map((p) => p.layer))];
    return layers.map((layer) => ({
      type: 'line',
      name: `${tr.run} (steps)`,
      data: tr.members.flatMap((m) => r.map.points.filter((p) => p.member === m && p.layer === layer).map((p) => [p.x, p.y])),
      symbol: 'none',
      silent: true,
      lineStyle: { width: 1, color: t.muted, type: 'dashed', opacity: 0.7 },
      tooltip: { show: false },
    }));
  });
  return {
    ...base(t),
    title: heading(t, `Map of the updates · ${method}${explained}`, FAMILY_DEFINITIONS.map),
    legend: { ...legend(t), type: 'scroll', data: r.members.map((m) => m.name) },
    grid: { left: 64, right: 24, top: 84, bottom: 72 },
    tooltip: tooltip(t, (p) => {
      const q = first(p);
      const pt = byMember[q.seriesIndex]?.[q.dataIndex];
      return pt ? `${pt.member}\n${pt.layer}\n(${formatNumber(pt.x, 4)}, ${formatNumber(pt.y, 4)})` : '';
    }),
    xAxis: axis(t, r.map.method === 'pca' ? 'PC 1' : 'UMAP 1', { type: 'value', scale: true, nameGap: 28 }),
    yAxis: axis(t, r.map.method === 'pca' ? 'PC 2' : 'UMAP 2', { type: 'value', scale: true, nameGap: 48 }),
    series: [
      ...r.members.map((m, mi) => ({
        type: 'scatter',
        name: m.name,
        data: byMember[mi].map((p) => [p.x, p.y]),
        symbolSize: 9,
        itemStyle: { color: colour(m.name), borderColor: t.highContrast ? t.foreground : undefined, borderWidth: t.highContrast ? 1 : 0 },
      })),
      ...trajectories,
    ],
  };
}

export function mapCsv(r: FamilyReport): string {
  return csv([['member', 'layer', 'x', 'y'], ...r.map.points.map((p) => [p.member, p.layer, p.x, p.y])]);
}
