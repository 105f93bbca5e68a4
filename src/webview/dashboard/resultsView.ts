// The results dashboard: summary cards, per-layer fidelity and relative error by block and role,
// template diversity and entropy per bank, one coefficient-similarity heat map per group, and
// singular-value spectra; with exports of the model, the dense reconstruction, reports and charts.
import type { DashboardData, DashboardExportKind } from '../protocol';
import { formatCount, formatNumber } from '../shared/format';
import { h, replace } from '../shared/dom';
import { ChartHost, type ExportChart } from './chartHost';
import { bankBarsOption, blockRoleOption, energyOption, heatmapOption, spectraOption } from './chartOptions';
import { button, select, selected, textfield } from './controls';
import { DEFINITIONS } from '../../mimicry/dashboard/definitions';
import {
  belowThreshold,
  byBlockAndRole,
  cosineAxisMin,
  diversityBars,
  energyBars,
  entropyBars,
  similarityHeatmaps,
  spectraView,
  summaryCards,
  type Card,
} from './model';
import type { DashboardTheme } from '../shared/theme';

export interface ResultsHandlers {
  export(kind: DashboardExportKind): void;
  exportChart: ExportChart;
  reconfigure?(): void;
  compare(): void;
  thresholdChanged(t: number): void;
  spectraBankChanged(bank: string): void;
}

export function cardsElement(cards: readonly Card[], testId: string): HTMLElement {
  return h(
    'div',
    { class: 'cards', 'data-testid': testId },
    ...cards.map((c) =>
      h(
        'div',
        { class: 'card', 'data-card': c.id, title: c.hint },
        h('div', { class: 'card-label' }, c.label),
        h('div', { class: 'card-value' }, c.value),
        c.hint ? h('div', { class: 'card-hint' }, c.hint) : null,
      ),
    ),
  );
}

export const cardFormat = { count: formatCount, number: (x: number) => formatNumber(x, 4) };

export class ResultsView {
  readonly element: HTMLElement;
  private readonly charts: ChartHost[] = [];
  private readonly fidelity: ChartHost;
  private readonly relError: ChartHost;
  private readonly probe: ChartHost | undefined;
  private readonly diversity: ChartHost;
  private readonly entropy: ChartHost;
  /** Closed-form runs only: each template's share of its group's energy. */
  private readonly energy: ChartHost | undefined;
  private readonly spectra: ChartHost;
  private readonly heatmaps: ChartHost[];
  private readonly below = h('div', { class: 'below', 'data-testid': 'below-threshold' });
  private readonly spectraNote = h('p', { class: 'muted', 'data-testid': 'spectra-note' });
  private readonly exportButtons: (HTMLElement & { disabled: boolean })[] = [];
  private summaryCards: HTMLElement;

  constructor(
    private data: DashboardData,
    private readonly theme: () => DashboardTheme,
    private threshold: number,
    private spectraBank: string | undefined,
    canExportModel: boolean,
    handlers: ResultsHandlers,
  ) {
    const bg = (): string => theme().background;
    const chart = (id: string, testId: string, label: string, height?: number): ChartHost => {
      const c = new ChartHost(id, testId, label, bg, handlers.exportChart, height);
      this.charts.push(c);
      return c;
    };
    this.fidelity = chart('fidelity', 'fidelity-chart', `Per-layer cosine fidelity. ${DEFINITIONS.cosine}`, 380);
    this.relError = chart('relative-error', 'relerror-chart', `Per-layer relative error. ${DEFINITIONS.relError}`);
    this.probe = data.layers.some((l) => l.probeCosine !== undefined)
      ? chart('probe-fidelity', 'probe-chart', `Per-layer feature fidelity with random probes. ${DEFINITIONS.probeCosine}`)
      : undefined;
    this.diversity = chart('diversity', 'diversity-chart', `Template diversity per bank. ${DEFINITIONS.diversity}`);
    this.entropy = chart('entropy', 'entropy-chart', `Template entropy per bank. ${DEFINITIONS.entropy}`);
    this.energy = energyBars(data) ? chart('energy', 'energy-chart', `Energy share of each template. ${DEFINITIONS.energy}`) : undefined;
    this.spectra = chart('spectra', 'spectra-chart', `Singular-value spectra. ${DEFINITIONS.spectra}`, 380);
    this.heatmaps = similarityHeatmaps(data).map((m, i) =>
      chart(`similarity-${i}`, 'similarity-heatmap', `Coefficient similarity of ${m.bank}. ${DEFINITIONS.similarity}`, 300),
    );

    const exportButton = (label: string, kind: DashboardExportKind, testId: string, needsModel: boolean, title: string): HTMLElement => {
      const b = button(label, testId, () => handlers.export(kind), kind !== 'model', title);
      if (needsModel) {
        b.disabled = !canExportModel;
        this.exportButtons.push(b);
      }
      return b;
    };
    const isRecast = data.origin === 'recast-file';
    const toolbar = h(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Export' },
      isRecast
        ? null
        : exportButton(
            'Export reparameterized model…',
            'model',
            'export-button',
            true,
            'The docs/FORMAT.md safetensors file: templates + coefficients + copied tensors',
          ),
      exportButton('Export dense…', 'dense', 'export-dense', true, 'The dense reconstruction with the original names, shapes and dtypes'),
      exportButton('Report JSON…', 'report-json', 'export-report-json', false, 'Metrics, method and source as JSON'),
      exportButton('Report CSV…', 'report-csv', 'export-report-csv', false, 'One row per layer, bank and summary'),
      button('Compare with…', 'compare-button', () => handlers.compare(), true, 'Open a reparameterized model to compare with'),
      handlers.reconfigure
        ? button('Reconfigure', 'reconfigure-button', () => handlers.reconfigure?.(), true, 'Back to the settings')
        : null,
    );

    const thresholdField = textfield('threshold', String(threshold), '0.98', 'threshold-input');
    thresholdField.setAttribute('aria-label', 'Cosine threshold');
    thresholdField.addEventListener('change', () => {
      const v = Number(thresholdField.value);
      thresholdField.invalid = !(Number.isFinite(v) && v >= -1 && v <= 1);
      if (thresholdField.invalid) return;
      this.threshold = v;
      handlers.thresholdChanged(v);
      this.renderFidelity();
    });

    const banks = data.banks.map((b) => b.name);
    this.spectraBank = spectraBank && banks.includes(spectraBank) ? spectraBank : banks[0];
    const bankSelect = select(
      'spectra-bank',
      banks.map((b) => [b, b] as const),
      this.spectraBank ?? '',
      'spectra-bank-select',
    );
    bankSelect.setAttribute('aria-label', 'Bank shown in the spectra chart');
    bankSelect.addEventListener('change', () => {
      this.spectraBank = selected(bankSelect);
      handlers.spectraBankChanged(this.spectraBank);
      this.renderSpectra();
    });

    this.summaryCards = cardsElement(this.cards, 'summary-cards');
    const m = data.method;
    const subtitle =
      `${data.source.file} · ${m.method}${m.objective ? ` (${m.objective})` : ''} · ` +
      `${data.origin === 'run' ? 'this run' : 'read from the reparameterized file'}`;
    this.element = h(
      'section',
      { class: 'results', 'data-testid': 'results-view' },
      h(
        'div',
        { class: 'results-head' },
        h('h2', {}, 'Reconstruction results'),
        h('p', { class: 'muted' }, subtitle),
        data.note ? h('p', { 'data-testid': 'source-note' }, data.note) : null,
      ),
      toolbar,
      this.summaryCards,
      h(
        'div',
        { class: 'section-head' },
        h('h3', {}, 'Fidelity'),
        h('vscode-label', { for: 'threshold' }, 'Cosine threshold'),
        thresholdField,
      ),
      this.fidelity.element,
      this.below,
      this.relError.element,
      this.probe?.element,
      h('h3', {}, 'Templates'),
      h('div', { class: 'pair' }, this.diversity.element, this.entropy.element),
      data.method.method === 'spectral'
        ? h('p', { class: 'definition', 'data-testid': 'diversity-note' }, DEFINITIONS.diversityClosedForm)
        : null,
      this.energy?.element,
      h('h3', {}, 'Coefficient similarity within each group'),
      h('p', { class: 'definition' }, DEFINITIONS.similarity),
      h('div', { class: 'heatmaps' }, ...this.heatmaps.map((c) => c.element)),
      h('div', { class: 'section-head' }, h('h3', {}, 'Spectra'), h('vscode-label', { for: 'spectra-bank' }, 'Bank'), bankSelect),
      this.spectra.element,
      this.spectraNote,
    );
  }

  /** Draws every chart (again, e.g. after a theme change). */
  render(): void {
    const t = this.theme();
    this.renderFidelity();
    this.relError.show(blockRoleOption(byBlockAndRole(this.data.layers, 'relError'), t, 'relError', this.threshold, 0));
    const probes = this.data.layers.flatMap((l) => (l.probeCosine === undefined ? [] : [{ ...l, cosine: l.probeCosine }]));
    this.probe?.show(
      blockRoleOption(
        byBlockAndRole(this.data.layers, 'probeCosine'),
        t,
        'probeCosine',
        this.threshold,
        cosineAxisMin(probes, this.threshold),
      ),
    );
    this.diversity.show(bankBarsOption(diversityBars(this.data), t, 'diversity'));
    this.entropy.show(bankBarsOption(entropyBars(this.data), t, 'entropy'));
    const energy = energyBars(this.data);
    if (energy) this.energy?.show(energyOption(energy, t));
    similarityHeatmaps(this.data).forEach((m, i) => this.heatmaps[i].show(heatmapOption(m, t)));
    this.renderSpectra();
  }

  /** The summary cards as shown (also told to the extension with the 'rendered' message). */
  get cards(): Card[] {
    return summaryCards(this.data, cardFormat);
  }

  /** Banks whose spectra are still being computed (a recast file that does not store them). */
  get pendingSpectra(): number {
    return this.data.spectra.filter((s) => s.pending).length;
  }

  get chartCount(): number {
    return this.charts.length;
  }

  setCanExportModel(can: boolean): void {
    for (const b of this.exportButtons) b.disabled = !can;
  }

  private renderFidelity(): void {
    const t = this.theme();
    this.fidelity.show(
      blockRoleOption(
        byBlockAndRole(this.data.layers, 'cosine'),
        t,
        'cosine',
        this.threshold,
        cosineAxisMin(this.data.layers, this.threshold),
      ),
    );
    const low = belowThreshold(this.data.layers, this.threshold);
    replace(
      this.below,
      low.length === 0
        ? h('p', { class: 'muted' }, `Every layer is at or above cosine ${this.threshold}.`)
        : h(
            'details',
            {},
            h('summary', {}, `${low.length} layer${low.length === 1 ? '' : 's'} below cosine ${this.threshold}`),
            h('ul', { class: 'mono' }, ...low.map((l) => h('li', {}, `${l.name}: ${formatNumber(l.cosine, 5)}`))),
          ),
    );
  }

  private spectraProgressText = '';

  private renderSpectra(): void {
    const v = this.spectraBank ? spectraView(this.data, this.spectraBank) : null;
    if (v && v.lines.length > 0) this.spectra.show(spectraOption(v, this.theme()));
    this.spectraNote.textContent = v?.pending
      ? `Computing the spectra from the file's templates${this.spectraProgressText ? `: ${this.spectraProgressText}` : '…'}`
      : v?.skipped
        ? `Note: ${v.skipped}.`
        : v && v.lines.length === 0
          ? 'No spectra for this bank.'
          : '';
  }

  /** Progress of the spectra a recast file does not store (computed in the worker after opening). */
  spectraProgress(message: string | undefined): void {
    this.spectraProgressText = message ?? '';
    this.renderSpectra();
  }

  /** The same results with more known (a file exported: its size): the summary cards again. */
  setData(data: DashboardData): void {
    this.data = data;
    const next = cardsElement(this.cards, 'summary-cards');
    this.summaryCards.replaceWith(next);
    this.summaryCards = next;
  }

  /** The computed spectra replace the pending ones. */
  setSpectra(data: DashboardData): void {
    this.data = data;
    this.spectraProgressText = '';
    this.renderSpectra();
  }

  dispose(): void {
    for (const c of this.charts) c.dispose();
  }
}
