// Two runs side by side: their summary cards and each shared layer's cosine in both.
import type { DashboardData } from '../protocol';
import { h } from '../shared/dom';
import { ChartHost, type ExportChart } from './chartHost';
import { bankBarsOption, compareOption } from './chartOptions';
import { button } from './controls';
import { DEFINITIONS } from '../../mimicry/dashboard/definitions';
import { compareLayers, diversityBars, summaryCards } from './model';
import { cardFormat, cardsElement } from './resultsView';
import type { DashboardTheme } from '../shared/theme';

function label(d: DashboardData, which: string): string {
  return `${which}: ${d.source.file} · ${d.method.method} n=${String(d.method.n ?? 'ratio')}`;
}

export class CompareView {
  readonly element: HTMLElement;
  private readonly chart: ChartHost;
  private readonly divA: ChartHost;
  private readonly divB: ChartHost;

  constructor(
    private readonly a: DashboardData,
    private readonly b: DashboardData,
    private readonly theme: () => DashboardTheme,
    exportChart: ExportChart,
    back: () => void,
  ) {
    const bg = (): string => theme().background;
    this.chart = new ChartHost('compare', 'compare-chart', `Per-layer cosine, two runs. ${DEFINITIONS.cosine}`, bg, exportChart, 380);
    this.divA = new ChartHost('diversity-a', 'diversity-chart', `Template diversity, run A. ${DEFINITIONS.diversity}`, bg, exportChart);
    this.divB = new ChartHost('diversity-b', 'diversity-chart', `Template diversity, run B. ${DEFINITIONS.diversity}`, bg, exportChart);
    this.element = h(
      'section',
      { class: 'compare', 'data-testid': 'compare-view' },
      h('div', { class: 'results-head' }, h('h2', {}, 'Compare runs'), button('Back to results', 'back-button', back, true)),
      h(
        'div',
        { class: 'pair' },
        h('div', {}, h('h3', {}, label(a, 'A')), cardsElement(summaryCards(a, cardFormat), 'summary-cards')),
        h('div', {}, h('h3', {}, label(b, 'B')), cardsElement(summaryCards(b, cardFormat), 'summary-cards-b')),
      ),
      this.chart.element,
      h('div', { class: 'pair' }, this.divA.element, this.divB.element),
    );
  }

  render(): void {
    const t = this.theme();
    this.chart.show(compareOption(compareLayers(this.a, this.b), t, 'A', 'B'));
    this.divA.show(bankBarsOption(diversityBars(this.a), t, 'diversity', ' · run A'));
    this.divB.show(bankBarsOption(diversityBars(this.b), t, 'diversity', ' · run B'));
  }

  dispose(): void {
    this.chart.dispose();
    this.divA.dispose();
    this.divB.dispose();
  }
}
