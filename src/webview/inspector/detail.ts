// The detail pane of one tensor: facts, statistics with a histogram, a page of its values, singular-value spectrum.
// Every number comes from the engine; the definitions shown are those of docs/RECAST.md §4.
import type { SpectrumView, TensorRow, TensorStatsView, ValuesRequest } from '../protocol';
import { formatBytes, formatInteger, formatNumber, formatPercent, formatShape } from '../shared/format';
import { Chart, histogramOption, spectrumOption } from './charts';
import { codicon, h, replace } from '../shared/dom';
import type { InspectorState, Work } from './state';
import { readTheme } from '../shared/theme';
import { ValuesView } from './valuesView';

export interface DetailActions {
  request(what: Work, name: string): void;
  cancel(name: string): void;
  /** A page of values (the values view). */
  requestValues(request: ValuesRequest): void;
}

/** Statistics definitions, shown as tooltips. */
const STAT_DEFS: readonly [keyof TensorStatsView, string, string, (s: TensorStatsView) => string][] = [
  ['min', 'Min', 'Smallest finite value', (s) => formatNumber(s.min)],
  ['max', 'Max', 'Largest finite value', (s) => formatNumber(s.max)],
  ['mean', 'Mean', 'Mean of the finite values', (s) => formatNumber(s.mean)],
  ['std', 'Std', 'Population standard deviation of the finite values: sqrt(Σ(x − mean)² / n)', (s) => formatNumber(s.std)],
  ['meanAbs', 'Mean |x|', 'Mean absolute value of the finite values', (s) => formatNumber(s.meanAbs)],
  ['zeroFraction', 'Zeros', 'Fraction of finite values equal to 0 (−0 counts)', (s) => formatPercent(s.zeroFraction)],
  ['nanCount', 'NaN', 'Number of NaN elements', (s) => formatInteger(s.nanCount)],
  ['infCount', 'Inf', 'Number of +Inf / −Inf elements', (s) => formatInteger(s.infCount)],
  ['count', 'Elements', 'All elements, finite or not', (s) => formatInteger(s.count)],
];

const SPECTRUM_DEFS: readonly [string, string, (s: SpectrumView) => string][] = [
  ['Spectral norm', 's₁, the largest singular value', (s) => formatNumber(s.spectralNorm)],
  ['Stable rank', '‖W‖F² / s₁²', (s) => formatNumber(s.stableRank)],
  ['Effective rank', 'exp(H) with H = −Σ pᵢ ln pᵢ, pᵢ = sᵢ / Σ s', (s) => formatNumber(s.effectiveRank)],
  ['Entropy', 'H = −Σ pᵢ ln pᵢ (nats), pᵢ = sᵢ / Σ s', (s) => formatNumber(s.entropy)],
  ['Entropy / ln(rank)', 'Normalised spectral entropy in [0, 1]', (s) => formatNumber(s.entropyNormalized)],
  ['Rank', 'Number of non-zero singular values', (s) => (s.rank === null ? '—' : formatInteger(s.rank))],
];

/** Spectra start by themselves only for matrices this small (they cost O(n³) and a full read). */
const AUTO_SPECTRUM_MAX_PARAMS = 1 << 22;

type StatDef = (typeof STAT_DEFS)[number];

/** The term and definition of one statistic. */
function statCell(stats: TensorStatsView): (def: StatDef) => HTMLElement[] {
  return ([key, label, def, fmt]) => [
    h('dt', { title: def }, label),
    h('dd', { class: `mono${(key === 'nanCount' || key === 'infCount') && stats[key] > 0 ? ' warn' : ''}`, title: def }, fmt(stats)),
  ];
}

/** Percentiles of the finite values, each with its definition and how exact it is. */
function quantileCells(stats: TensorStatsView): HTMLElement[] {
  const q = stats.quantiles;
  if (!q) return [];
  const bound = q.error > 0 ? `within ±${formatNumber(q.error)} (one bin of a 65,536-bin histogram)` : 'exact';
  return q.probs.flatMap((p, i) => {
    const pct = Math.round(p * 100);
    const def =
      `${pct}th percentile of the finite values (NaN and ±Inf left out), numpy.quantile's default linear ` +
      `interpolation between order statistics; ${bound}`;
    return [
      h('dt', { title: def }, `P${pct}`),
      h('dd', { class: 'mono', title: def, 'data-testid': `quantile-p${pct}` }, `${q.error > 0 ? '≈' : ''}${formatNumber(q.values[i])}`),
    ];
  });
}

/** The one value of a one-element tensor: shown to 7 digits, exact in the tooltip. */
function singleValue(stats: TensorStatsView): { shown: string; exact: string } {
  if (stats.nanCount > 0) return { shown: 'NaN', exact: 'NaN' };
  if (stats.infCount > 0) return { shown: 'Inf', exact: 'Infinity' };
  const v = stats.min;
  return v === null ? { shown: '—', exact: '' } : { shown: formatNumber(v, 7), exact: String(v) };
}

export class DetailPane {
  readonly element: HTMLElement;
  private readonly titleEl: HTMLElement;
  private readonly factsEl: HTMLElement;
  private readonly statsStatus: HTMLElement;
  private readonly statsGrid: HTMLElement;
  private readonly valueEl: HTMLElement;
  private readonly histogramEl: HTMLElement;
  private readonly spectrumStatus: HTMLElement;
  private readonly spectrumGrid: HTMLElement;
  private readonly spectrumEl: HTMLElement;
  private readonly body: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly histogram: Chart;
  private readonly spectrum: Chart;
  private logHistogram = false;
  private readonly logToggle: HTMLElement;
  private name: string | undefined;
  /** The values view (its messages come through main.ts). */
  readonly values: ValuesView;

  constructor(
    private readonly state: InspectorState,
    private readonly actions: DetailActions,
  ) {
    this.titleEl = h('h2', { class: 'detail-title mono', id: 'detail-title' });
    this.factsEl = h('dl', { class: 'facts' });
    this.statsStatus = h('div', { class: 'status-line' });
    this.statsGrid = h('dl', { class: 'stat-grid', 'data-testid': 'stats' });
    this.valueEl = h('p', { class: 'scalar-value', 'data-testid': 'scalar-value' });
    this.histogramEl = h('div', { class: 'chart', 'data-testid': 'histogram', role: 'img', 'aria-label': 'Histogram of values' });
    this.spectrumStatus = h('div', { class: 'status-line' });
    this.spectrumGrid = h('dl', { class: 'stat-grid' });
    this.spectrumEl = h('div', { class: 'chart', 'data-testid': 'spectrum', role: 'img', 'aria-label': 'Singular values, largest first' });
    this.values = new ValuesView((request) => this.actions.requestValues(request));
    this.logToggle = h('vscode-checkbox', { label: 'Log scale', title: 'Logarithmic count axis' });
    this.logToggle.addEventListener('change', () => {
      this.logHistogram = (this.logToggle as HTMLElement & { checked: boolean }).checked;
      this.update();
    });
    this.body = h(
      'div',
      { class: 'detail-body' },
      h('div', { class: 'detail-head' }, codicon('symbol-array'), this.titleEl, this.copyButton()),
      this.factsEl,
      h(
        'section',
        { class: 'detail-section', 'aria-labelledby': 'stats-heading' },
        h('div', { class: 'section-head' }, h('h3', { id: 'stats-heading' }, 'Statistics'), this.logToggle),
        this.statsStatus,
        this.valueEl,
        this.statsGrid,
        this.histogramEl,
      ),
      this.values.element,
      h(
        'section',
        { class: 'detail-section', 'aria-labelledby': 'spectrum-heading' },
        h(
          'div',
          { class: 'section-head' },
          h(
            'h3',
            { id: 'spectrum-heading', title: 'Singular values of the weight viewed as ' + 'out × prod(rest)' },
            'Singular-value spectrum',
          ),
        ),
        this.spectrumStatus,
        this.spectrumGrid,
        this.spectrumEl,
      ),
    );
    this.empty = h(
      'div',
      { class: 'detail-empty' },
      codicon('inspect'),
      h('p', {}, 'Select a tensor to see its statistics, histogram and spectrum.'),
      h('p', { class: 'muted' }, 'Arrow keys move, Enter opens.'),
    );
    this.element = h(
      'section',
      { class: 'detail', 'data-testid': 'tensor-detail', 'aria-label': 'Tensor details', tabindex: -1 },
      this.empty,
      this.body,
    );
    this.body.hidden = true;
    this.histogram = new Chart(this.histogramEl);
    this.spectrum = new Chart(this.spectrumEl);
  }

  get current(): string | undefined {
    return this.name;
  }

  /** Shows one tensor and asks for what it needs. */
  open(name: string): void {
    const previous = this.name;
    if (
      previous !== undefined &&
      previous !== name &&
      (this.state.isRunning('spectrum', previous) || (this.state.isRunning('stats', previous) && this.state.batch.state !== 'running'))
    ) {
      // Leaving a tensor stops its own jobs (the "compute all" batch goes on).
      this.actions.cancel(previous);
    }
    this.name = name;
    const t = this.state.byName.get(name);
    if (!t) return;
    // During "compute all" the tensor looked at goes first (the worker pauses the batch for it).
    const batchRunning = this.state.batch.state === 'running';
    if (t.decodable && batchRunning && !this.state.stats.has(name)) this.actions.request('stats', name);
    if (this.state.autoStats && t.decodable) {
      if (!this.state.stats.has(name) && !this.state.isRunning('stats', name) && !batchRunning) this.actions.request('stats', name);
      if (
        t.shape.length >= 2 &&
        t.params <= AUTO_SPECTRUM_MAX_PARAMS &&
        !this.state.spectra.has(name) &&
        !this.state.isRunning('spectrum', name)
      )
        this.actions.request('spectrum', name);
    }
    this.histogram.clear();
    this.spectrum.clear();
    this.values.open(t);
    this.update();
  }

  /** Redraws from the state (after stats, spectrum, progress or a theme change). */
  update(): void {
    const name = this.name;
    const t = name === undefined ? undefined : this.state.byName.get(name);
    this.empty.hidden = t !== undefined;
    this.body.hidden = t === undefined;
    if (!t) return;
    this.titleEl.textContent = t.name;
    this.titleEl.title = t.name;
    this.renderFacts(t);
    this.renderStats(t);
    this.renderSpectrum(t);
  }

  themeChanged(): void {
    this.histogram.clear();
    this.spectrum.clear();
    this.update();
  }

  private copyButton(): HTMLElement {
    // A native button: its accessible name is in the page itself, not only inside a shadow root.
    const b = h(
      'button',
      { type: 'button', class: 'icon-button', 'aria-label': 'Copy tensor name', title: 'Copy tensor name', 'data-testid': 'copy-name' },
      codicon('copy'),
    );
    b.addEventListener('click', () => {
      if (this.name !== undefined) void navigator.clipboard?.writeText(this.name).catch(() => undefined);
    });
    return b;
  }

  private renderFacts(t: TensorRow): void {
    const shards = this.state.summary?.shards ?? [];
    const facts: [string, string, string?][] = [
      ['DType', t.dtype],
      ['Shape', formatShape(t.shape)],
      ['Parameters', formatInteger(t.params)],
      ['Size', formatBytes(t.bytes), `${formatInteger(t.bytes)} bytes`],
      ['Offset', formatInteger(t.fileOffset), 'Absolute byte position in its file'],
    ];
    if (shards.length > 1) facts.push(['Shard', shards[t.shard]?.file ?? String(t.shard)]);
    replace(this.factsEl, ...facts.flatMap(([k, v, tip]) => [h('dt', {}, k), h('dd', { class: 'mono', title: tip }, v)]));
  }

  /** What a status line shows now, so progress updates change numbers in place (no rebuilt buttons under the pointer). */
  private readonly lineState = new WeakMap<
    HTMLElement,
    { key: string; bar?: HTMLElement & { value?: number; max: number }; text?: HTMLElement }
  >();

  private statusLine(el: HTMLElement, what: Work, t: TensorRow, label: string, enabled: boolean, reason?: string): void {
    const name = t.name;
    const running = t.decodable && !reason && this.state.isRunning(what, name);
    const error = this.state.error(what, name);
    const key =
      `${name}|` +
      `${!t.decodable ? 'nodecode' : reason ? `reason:${reason}` : running ? 'running' : enabled ? 'done' : `button:${error ?? ''}`}`;
    const current = this.lineState.get(el);
    if (current?.key === key) {
      if (running && current.bar && current.text) this.setProgress(current.bar, current.text, label, this.state.fraction(what, name));
      return;
    }
    this.lineState.set(el, { key });
    if (!t.decodable) {
      replace(
        el,
        codicon('info'),
        h('span', {}, `${t.dtype} values are not decoded, so there are no ${what === 'stats' ? 'statistics' : 'spectrum'}.`),
      );
      return;
    }
    if (reason) {
      replace(el, codicon('info'), h('span', { class: 'muted' }, reason));
      return;
    }
    if (running) {
      const bar = h('vscode-progress-bar', { 'aria-label': `${label} progress` }) as HTMLElement & { value?: number; max: number };
      bar.max = 1;
      const text = h('span', { class: 'muted' });
      this.setProgress(bar, text, label, this.state.fraction(what, name));
      const cancel = h('vscode-button', { secondary: true, icon: 'close', 'data-testid': `cancel-${what}` }, 'Cancel');
      cancel.addEventListener('click', () => this.actions.cancel(name));
      replace(el, h('div', { class: 'progress-wrap' }, bar, text), cancel);
      this.lineState.set(el, { key, bar, text });
      return;
    }
    if (!enabled) {
      const button = h(
        'vscode-button',
        { icon: what === 'stats' ? 'pulse' : 'graph-line', 'data-testid': `compute-${what}` },
        error ? 'Retry' : `Compute ${label.toLowerCase()}`,
      );
      button.addEventListener('click', () => this.actions.request(what, name));
      replace(el, button, error ? h('span', { class: 'error-text' }, codicon('error'), ` ${error}`) : null);
      return;
    }
    replace(el);
  }

  private setProgress(bar: HTMLElement & { value?: number }, text: HTMLElement, label: string, fraction: number): void {
    bar.value = fraction > 0 ? fraction : undefined;
    text.textContent = fraction > 0 ? `${label}… ${Math.round(fraction * 100)}%` : `${label}…`;
  }

  private renderStats(t: TensorRow): void {
    const stats = this.state.stats.get(t.name);
    this.statusLine(this.statsStatus, 'stats', t, 'Statistics', stats !== undefined);
    // One element (a 0-d tensor): its value says it all; a histogram would invent a range around it.
    const single = stats !== undefined && stats.count === 1;
    this.statsGrid.hidden = !stats;
    this.valueEl.hidden = !single;
    this.histogramEl.hidden = !stats || single || stats.histogram.counts.length === 0;
    this.logToggle.hidden = !stats || single;
    if (!stats) return;
    if (single) {
      const value = singleValue(stats);
      replace(this.valueEl, h('span', { class: 'muted' }, 'Value '), h('span', { class: 'mono', title: value.exact }, value.shown));
      this.histogram.clear();
      replace(
        this.statsGrid,
        ...STAT_DEFS.filter(([key]) => key === 'nanCount' || key === 'infCount' || key === 'count').flatMap(statCell(stats)),
      );
      return;
    }
    replace(this.statsGrid, ...STAT_DEFS.flatMap(statCell(stats)), ...quantileCells(stats));
    if (stats.histogram.counts.length > 0) {
      const option = histogramOption(stats, readTheme(), this.logHistogram);
      // The value axis' round bounds and step, for tests (the ticks are drawn on a canvas).
      const x = option.xAxis as { min: number; max: number; interval: number };
      this.histogramEl.dataset.axis = `${x.min} ${x.max} ${x.interval}`;
      this.histogram.show(option);
    }
  }

  private renderSpectrum(t: TensorRow): void {
    const spectrum = this.state.spectra.get(t.name);
    const reason =
      t.shape.length < 2
        ? `A ${t.shape.length}-d tensor has no matrix spectrum.`
        : spectrum?.skipped
          ? `Skipped: ${spectrum.skipped}`
          : undefined;
    this.statusLine(this.spectrumStatus, 'spectrum', t, 'Spectrum', spectrum !== undefined, reason);
    const has = spectrum !== undefined && !spectrum.skipped && spectrum.singularValues.length > 0;
    this.spectrumGrid.hidden = !has;
    this.spectrumEl.hidden = !has;
    if (!has || !spectrum) return;
    const est = spectrum.estimated;
    const estimate = est
      ? `Top ${est.topK} singular values only, estimated by randomized subspace iteration (${est.powerIterations} power iterations): ` +
        'the matrix is over the spectrum size limit. Spectral norm and stable rank are estimates; effective rank, entropy and rank ' +
        `are those of the top ${est.topK} values.`
      : undefined;
    // A LoRA factor: the values are its layer update's (mimicry.adapters.useFactors shows the factor's own).
    const update = spectrum.update
      ? `The layer update ${spectrum.update.rule} of ${spectrum.update.module}, from both factors: a factor alone is defined only up to an invertible r × r change.`
      : undefined;
    replace(
      this.spectrumGrid,
      ...(spectrum.update && update
        ? [
            h('dt', { title: update }, 'Of'),
            h('dd', { title: update, 'data-testid': 'spectrum-update' }, `update of ${spectrum.update.module}`),
          ]
        : []),
      h('dt', { title: 'The 2-D view [out, ...rest] → out × prod(rest)' }, 'Matrix'),
      h('dd', { class: 'mono' }, `${spectrum.rows ?? '?'} × ${spectrum.cols ?? '?'}`),
      ...(est && estimate
        ? [
            h('dt', { title: estimate }, 'Estimated'),
            h('dd', { title: estimate, 'data-testid': 'spectrum-estimated' }, `from the top ${est.topK}`),
          ]
        : []),
      ...SPECTRUM_DEFS.flatMap(([label, def, fmt]) => [
        h('dt', { title: def }, label),
        h('dd', { class: 'mono', title: def }, fmt(spectrum)),
      ]),
    );
    this.spectrum.show(spectrumOption(spectrum, readTheme()));
  }
}
