// Pure view-model builders: from the engine's DashboardData to what each chart draws (no DOM, no
// ECharts), so they are unit-tested on a real result.
import type { DashboardData, DashboardLayer, ProgressEvent, RunPhase, SpectrumLine } from '../protocol';
import { formatBytes, formatSizeAgainst } from '../shared/format';
import { isCheckpointOutput } from '../../mimicry/dashboard/outputs';

/** Bars by block (x) and role (one series per role). */
export interface BlockRoleSeries {
  readonly blocks: readonly string[];
  readonly series: readonly {
    readonly role: string;
    /** One entry per block: the layer of this role in that block, or null. */
    readonly points: readonly ({ readonly value: number; readonly layer: DashboardLayer } | null)[];
  }[];
}

function blockLabel(block: number | null): string {
  return block === null ? '—' : `block ${block}`;
}

/** Layers' `metric` by block and role; blocks in numeric order, roles in first-seen order. */
export function byBlockAndRole(layers: readonly DashboardLayer[], metric: 'cosine' | 'relError' | 'probeCosine'): BlockRoleSeries {
  const blockSet = [...new Set(layers.map((l) => l.block))].sort((a, b) => (a ?? -1) - (b ?? -1));
  const roles = [...new Set(layers.map((l) => l.role))];
  return {
    blocks: blockSet.map(blockLabel),
    series: roles.map((role) => ({
      role,
      points: blockSet.map((block) => {
        const layer = layers.find((l) => l.role === role && l.block === block);
        const value = layer?.[metric];
        return layer && value !== undefined ? { value, layer } : null;
      }),
    })),
  };
}

/** Lower end of a cosine axis: 0.9 when everything is above it, else the next tenth below the minimum (never under -1). */
export function cosineAxisMin(layers: readonly DashboardLayer[], threshold: number): number {
  const low = Math.min(threshold, ...layers.map((l) => l.cosine));
  if (low >= 0.9) return 0.9;
  return Math.max(-1, Math.floor(low * 10) / 10);
}

/** Layers under the fidelity threshold, worst first. */
export function belowThreshold(layers: readonly DashboardLayer[], threshold: number): DashboardLayer[] {
  return layers.filter((l) => l.cosine < threshold).sort((a, b) => a.cosine - b.cosine);
}

export interface BankBars {
  readonly banks: readonly string[];
  /** null: not measured (e.g. entropy skipped for a template too large for a full SVD). */
  readonly raw: readonly (number | null)[];
  readonly relative: readonly (number | null)[];
  /** Why values are missing, per bank (empty string when present). */
  readonly notes: readonly string[];
  /** When any bank has no value: how many, why, and the setting that changes it (drawn in the chart's own area). */
  readonly missing?: string;
  /** Per bank: the estimate's error when the value is estimated, else null. */
  readonly errors?: readonly (number | null)[];
  /** When any value is estimated: which, how, and how good (drawn in the chart's own area). */
  readonly estimated?: string;
}

function formatError(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(2) : 'unknown';
}

/** "Estimated for 3 of 12 banks ..." when any bank's entropy is an estimate. */
function estimatedSummary(data: DashboardData): string | undefined {
  const est = data.banks.filter((b) => b.entropy !== null && b.entropyEstimated);
  if (est.length === 0) return undefined;
  const worst = Math.max(...est.map((b) => b.entropyEstimated?.error ?? 0));
  const banks = est.length === data.banks.length ? `all ${est.length} banks` : `${est.length} of ${data.banks.length} banks`;
  return (
    `Estimated for ${banks} (templates over “Entropy max side”; stochastic Lanczos quadrature): ` +
    `within ±${formatError(worst)} nats at about 95% confidence; hover a bar for its own error.`
  );
}

/** "No entropy for 3 of 12 banks: <reason>. <hint>" from the per-bank notes; undefined when none is missing. */
function missingSummary(what: string, notes: readonly string[], hint: (reasons: readonly string[]) => string): string | undefined {
  const reasons = [...new Set(notes.filter((n) => n !== ''))];
  if (reasons.length === 0) return undefined;
  const count = notes.filter((n) => n !== '').length;
  const why = reasons.length === 1 ? reasons[0] : `${reasons[0]} (and ${reasons.length - 1} other reason${reasons.length > 2 ? 's' : ''})`;
  const banks = count === notes.length ? `any of the ${count} bank${count === 1 ? '' : 's'}` : `${count} of ${notes.length} banks`;
  return `No ${what} for ${banks}: ${why}. ${hint(reasons)}`.trim();
}

export function diversityBars(data: DashboardData): BankBars {
  return {
    banks: data.banks.map((b) => b.name),
    raw: data.banks.map((b) => b.diversity),
    relative: data.banks.map((b) => b.diversityRelative),
    notes: data.banks.map((b) => (b.templates < 2 ? 'one template: no pairs, diversity 0' : '')),
    missing: missingSummary(
      'diversity',
      data.banks.map((b) => (b.templates < 2 ? 'one template per bank has no pair to differ from' : '')),
      () => 'Diversity needs 2 or more templates per bank: raise “Templates n” in the form (CLI --templates).',
    ),
  };
}

/** Banks with energy shares (closed-form runs): each kept template's share of its group's energy. */
export interface EnergyBars {
  readonly banks: readonly string[];
  readonly shares: readonly (readonly number[])[];
}

export function energyBars(data: DashboardData): EnergyBars | undefined {
  const banks = data.banks.filter((b) => b.energy !== undefined);
  if (banks.length === 0) return undefined;
  return { banks: banks.map((b) => b.name), shares: banks.map((b) => b.energy ?? []) };
}

export function entropyBars(data: DashboardData): BankBars {
  return {
    banks: data.banks.map((b) => b.name),
    raw: data.banks.map((b) => b.entropy),
    relative: data.banks.map((b) => b.entropyNormalized),
    notes: data.banks.map((b) =>
      b.entropy === null
        ? (b.entropySkipped ?? 'not measured')
        : b.entropyEstimated
          ? `estimated ±${formatError(b.entropyEstimated.error)} nats (${b.entropyEstimated.probes} probes, ${b.entropyEstimated.steps} Lanczos steps)`
          : '',
    ),
    errors: data.banks.map((b) => (b.entropyEstimated ? b.entropyEstimated.error : null)),
    estimated: estimatedSummary(data),
    missing: missingSummary(
      'template entropy',
      data.banks.map((b) => (b.entropy === null ? (b.entropySkipped ?? 'not measured in this run') : '')),
      (reasons) =>
        reasons.some((r) => r.includes('entropyMaxSide'))
          ? 'Raise “Entropy max side” in the form (CLI --entropy-max-side) to measure larger templates exactly.'
          : '',
    ),
  };
}

export interface Heatmap {
  readonly bank: string;
  readonly labels: readonly string[];
  /** [column, row, value] cells, as heat-map series take them. */
  readonly cells: readonly (readonly [number, number, number])[];
  readonly min: number;
  readonly max: number;
}

/** One L x L heat map per group; the colour scale is cosine's full range [-1, 1]. */
export function similarityHeatmaps(data: DashboardData): Heatmap[] {
  return data.banks.map((b) => {
    // Block numbers only: the axes are named "block l" / "block m", and short labels never collide.
    const labels = b.coefficientSimilarityBlocks.map((x) => String(x));
    const cells: [number, number, number][] = [];
    b.coefficientSimilarity.forEach((row, i) => row.forEach((v, j) => cells.push([j, i, v])));
    return { bank: b.name, labels, cells, min: -1, max: 1 };
  });
}

export interface SpectraView {
  readonly bank: string;
  readonly lines: readonly SpectrumLine[];
  /** Longest line: the x axis (singular value index, 1-based). */
  readonly length: number;
  /** True when values span more than two decades (a log axis shows the decay). */
  readonly log: boolean;
  readonly skipped?: string;
  /** Still being computed (a recast file that does not store this bank's spectra). */
  readonly pending?: boolean;
}

export function spectraView(data: DashboardData, bank: string): SpectraView | null {
  const s = data.spectra.find((x) => x.bank === bank);
  if (!s) return null;
  const all = s.lines.flatMap((l) => l.values).filter((v) => v > 0);
  const max = all.length ? all.reduce((m, v) => Math.max(m, v), -Infinity) : 0;
  const min = all.length ? all.reduce((m, v) => Math.min(m, v), Infinity) : 0;
  return {
    bank,
    lines: s.lines,
    length: Math.max(0, ...s.lines.map((l) => l.values.length)),
    log: min > 0 && max / min > 100,
    ...(s.skipped ? { skipped: s.skipped } : {}),
    ...(s.pending ? { pending: true } : {}),
  };
}

export interface Card {
  readonly id: string;
  readonly label: string;
  readonly value: string;
  readonly hint?: string;
}

export interface CardFormat {
  count(n: number): string;
  number(x: number): string;
}

/** Phases in the order a run goes through them, as the time card names them. */
const TIME_PHASES: readonly RunPhase[] = ['fit', 'fidelity', 'diversity', 'entropy', 'spectra', 'digest'];

/**
 * The whole run's time: the engine's (fitting and measuring, `elapsed`) plus what the worker did after
 * it (spectra, source digest), with each phase. Files written before phases were stored show `elapsed`.
 */
export function runSeconds(m: DashboardData['method']): number {
  return m.elapsed + (m.phases?.spectra ?? 0) + (m.phases?.digest ?? 0);
}

/**
 * How the templates are stored and, when rounded to 16 bits, what F32 templates would give (the
 * other cards' metrics are of the stored templates); undefined for data that does not say.
 */
function templateDtypeCard(data: DashboardData, f: CardFormat): Card | undefined {
  const dtypes = [...new Set(data.banks.flatMap((b) => (b.templateDtype ? [b.templateDtype] : [])))];
  if (dtypes.length === 0) return undefined;
  const exact = data.summary.f32Templates;
  return {
    id: 'template-dtype',
    label: 'Templates stored as',
    value: dtypes.join(', '),
    hint: exact
      ? `metrics are of the stored templates; F32 templates: mean cosine ${f.number(exact.meanCosine)}, min ${f.number(exact.minCosine)}, ` +
        `mean relative error ${f.number(exact.meanRelError)}`
      : 'exact: the fitted templates as they are',
  };
}

/**
 * Size on disk: the reparameterized model's (the file itself for a recast file's dashboard) against
 * the source's; the hint lists every file written. Before any export, the source's size alone.
 */
function sizeCard(data: DashboardData): Card | undefined {
  const source = data.source.diskBytes;
  const outputs = data.outputs ?? [];
  const model = outputs.find((o) => o.kind === 'model') ?? outputs.find(isCheckpointOutput);
  if (model === undefined && source === undefined) return undefined;
  const list = outputs.map((o) => formatSizeAgainst(o.file, o.bytes, source, isCheckpointOutput(o)));
  return {
    id: 'size-on-disk',
    label: 'Size on disk',
    value:
      model === undefined
        ? `source ${formatBytes(source ?? Number.NaN)}`
        : source
          ? `${formatBytes(model.bytes)} (${(model.bytes / source).toFixed(2)}× of source)`
          : formatBytes(model.bytes),
    hint: list.length > 0 ? list.join('; ') : `${data.source.file}; nothing exported yet`,
  };
}

function timeCard(m: DashboardData['method'], f: CardFormat): Card {
  const how = m.steps > 0 ? `${m.steps} steps, lr ${String(m.lr)}` : 'closed form';
  const phases = TIME_PHASES.flatMap((p) => (m.phases?.[p] === undefined ? [] : [`${p} ${seconds(m.phases[p])}`]));
  return {
    id: 'time',
    label: 'Time',
    // The whole run; its phases under it (a file written before phases were stored: the engine's time).
    value: phases.length ? seconds(runSeconds(m)) : `${f.number(m.elapsed)} s`,
    hint: phases.length ? `${phases.join(', ')}; ${how}` : how,
  };
}

/** Seconds as people read a duration: 0.05 s, 6.8 s, 39 s, 7 min 12 s. */
export function seconds(s: number): string {
  if (s < 1) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const min = Math.floor(s / 60);
  return `${min} min ${Math.round(s - 60 * min)} s`;
}

/** The backend, and the GPU adapter that ran the fits (webgpu) as WebGPU names it. */
function backendCard(m: DashboardData['method']): Card {
  const d = m.device;
  if (!d) return { id: 'backend', label: 'Backend', value: m.backend };
  const hint = [d.vendor, d.architecture].filter((s) => s).join(' · ');
  return {
    id: 'backend',
    label: 'Backend',
    value: `${m.backend} on ${d.description || d.vendor || 'an unnamed adapter'}`,
    ...(hint ? { hint } : {}),
  };
}

/** Summary cards: every number as the engine reported it, only formatted. */
export function summaryCards(data: DashboardData, f: CardFormat): Card[] {
  const s = data.summary;
  const m = data.method;
  const cards: Card[] = [
    { id: 'params-before', label: 'Parameters before', value: f.count(s.parameters.before), hint: 'every tensor of the source' },
    {
      id: 'params-after',
      label: 'Parameters after',
      value: f.count(s.parameters.after),
      hint: 'templates + coefficients + tensors copied unchanged',
    },
    { id: 'ratio', label: 'Compression ratio', value: `${f.number(s.parameters.ratio)}×`, hint: 'before / after' },
    {
      id: 'coefficients',
      label: 'Coefficients per task',
      value: f.count(s.coefficientsPerTask),
      hint: 'all coefficient sets of all reparameterized layers',
    },
    {
      id: 'mean-cosine',
      label: 'Mean cosine',
      value: f.number(s.meanCosine),
      hint: `min ${f.number(s.minCosine)} over ${s.layers} layers`,
    },
    { id: 'mean-rel-error', label: 'Mean relative error', value: f.number(s.meanRelError) },
    {
      id: 'method',
      label: 'Method',
      value: m.objective ? `${m.method} (${m.objective})` : m.method,
      hint: `n = ${String(m.n ?? 'by ratio')}, K = ${m.K}, ${data.banks.length} banks`,
    },
    backendCard(m),
    timeCard(m, f),
  ];
  if (s.meanProbeCosine !== undefined)
    cards.splice(6, 0, {
      id: 'probe-cosine',
      label: 'Mean probe cosine',
      value: f.number(s.meanProbeCosine),
      hint: 'random N(0, I) probes, not data',
    });
  const size = sizeCard(data);
  const dtype = templateDtypeCard(data, f);
  // After the compression ratio: what the parameter counts mean in bytes.
  cards.splice(3, 0, ...(size ? [size] : []), ...(dtype ? [dtype] : []));
  return cards;
}

/** The live loss curve and per-group status, accumulated from progress events. */
export interface GroupStatus {
  readonly group: string;
  state: 'waiting' | 'fitting' | 'done';
  step: number;
  steps: number;
  loss: number | null;
  readonly points: [number, number][];
}

export class LossTracker {
  private readonly groups = new Map<string, GroupStatus>();

  constructor(groupNames: readonly string[] = []) {
    for (const g of groupNames) this.groups.set(g, { group: g, state: 'waiting', step: 0, steps: 0, loss: null, points: [] });
  }

  add(ev: ProgressEvent): void {
    let g = this.groups.get(ev.group);
    if (!g) this.groups.set(ev.group, (g = { group: ev.group, state: 'waiting', step: 0, steps: 0, loss: null, points: [] }));
    // Groups are fitted in order: everything before this one is done.
    for (const other of this.groups.values()) if (other !== g && other.state === 'fitting') other.state = 'done';
    g.state = ev.steps > 0 && ev.step < ev.steps ? 'fitting' : 'done';
    g.step = ev.step;
    g.steps = ev.steps;
    if (Number.isFinite(ev.loss)) {
      g.loss = ev.loss;
      g.points.push([ev.step, ev.loss]);
    }
  }

  /** All groups done (the fit is over; spectra and digest follow). */
  finish(): void {
    for (const g of this.groups.values()) g.state = 'done';
  }

  get statuses(): readonly GroupStatus[] {
    return [...this.groups.values()];
  }
}

/** Side-by-side comparison: each layer's cosine in run A and run B (layers present in both). */
export interface CompareRow {
  readonly name: string;
  readonly a: number;
  readonly b: number;
}

export function compareLayers(a: DashboardData, b: DashboardData): CompareRow[] {
  const other = new Map(b.layers.map((l) => [l.name, l.cosine]));
  return a.layers.flatMap((l) => {
    const v = other.get(l.name);
    return v === undefined ? [] : [{ name: l.name, a: l.cosine, b: v }];
  });
}
