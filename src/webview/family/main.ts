// Family dashboard webview entry (bundled to dist/webview/family.js): a task family's report as the
// engine computed it (numbers come from the extension; nothing is computed here), with the task
// bank's export.
//
// Stable hooks for tests (Playwright / extension-host suite):
//   data-testid="family-view"         the report (data-map: its map's method); family-summary its summary line, family-base the base line
//   data-testid="family-members"      the members table (rows data-member="<name>")
//   data-testid="family-norms-chart"  per-layer update norms per member
//   data-testid="family-cosine-chart" member x member cosine (cosine-layer-select: whole model or one layer)
//   data-testid="family-fidelity-chart" fidelity vs n per member (fidelity-bank-select picks the bank)
//   data-testid="family-weights-chart"  with a base: full weights over the base's frozen templates and a joint fit
//   data-testid="family-banks"        the banks table (captured by the others' templates, non-negative cost)
//   data-testid="family-specialisation-chart" members x templates energy shares
//   data-testid="family-map-chart"    the (member, layer) map; map-select (pca / umap), templates-input, rerun-button
//   data-testid="export-bank-button"  export the task bank; family-bank-line says what was written
//   data-testid="pick-base-button" / "clear-base-button"
//   data-testid="family-running"      while comparing: family-progress, cancel-button
//   data-testid="family-error"        why the family cannot be compared (names the member's file); retry-button
//   export-chart-png / export-chart-svg / export-chart-csv under each chart
// After drawing, the webview posts {type:'rendered', view, charts, members, summary?, error?}.

import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';

import {
  protocolMismatch,
  PROTOCOL_VERSION,
  type FamilyAnalyzeParams,
  type FamilyBrief,
  type FamilyReport,
  type TaskBankWritten,
  type ToFamily,
  type WireError,
} from '../protocol';
import { h, replace } from '../shared/dom';
import { formatBytes, formatCount, formatInteger, formatNumber } from '../shared/format';
import { stylesSettled } from '../shared/settled';
import { onThemeChange, readDashboardTheme, type DashboardTheme } from '../shared/theme';
import { ChartHost } from '../dashboard/chartHost';
import type { Option } from '../dashboard/chartOptions';
import { button, field, select, selected, textfield } from '../dashboard/controls';
import { loadState, post, saveState } from './api';
import {
  cosineCsv,
  cosineOption,
  fidelityCsv,
  fidelityOption,
  weightsCsv,
  weightsOption,
  mapCsv,
  mapOption,
  normsCsv,
  normsOption,
  shortLayer,
  specialisationCsv,
  specialisationOption,
} from './charts';

const app = document.getElementById('app') ?? document.body;
let theme: DashboardTheme = readDashboardTheme();
let paths: readonly string[] = loadState().paths ?? [];
let baseFile: string | null = loadState().base ?? null;
let options: FamilyAnalyzeParams = {};
let charts: { host: ChartHost; draw: () => Option }[] = [];
let exportButton: (HTMLElement & { disabled: boolean }) | undefined;
const bankLine = h('p', { class: 'muted', 'data-testid': 'family-bank-line', hidden: true });

const fileName = (p: string): string => p.split(/[\\/]/).filter(Boolean).slice(-2).join('/');

function disposeCharts(): void {
  for (const c of charts) c.host.dispose();
  charts = [];
}

function rendered(view: 'report' | 'error' | 'running', members: number, summary?: string, error?: string): void {
  const drawn = charts.length;
  void stylesSettled().then(() =>
    post({
      type: 'rendered',
      view,
      charts: drawn,
      members,
      ...(summary === undefined ? {} : { summary: summary.slice(0, 2000) }),
      ...(error === undefined ? {} : { error: error.slice(0, 2000) }),
    }),
  );
}

/** The toolbar over every view: base, analysis options, compare again, the bank's export. */
function toolbar(canExport: boolean): HTMLElement {
  const map = select(
    'map-select',
    [
      ['pca', 'PCA (exact)'],
      ['umap', 'UMAP (seeded)'],
    ],
    options.map ?? 'pca',
    'map-select',
  );
  const templates = textfield(
    'templates-input',
    options.templates === undefined ? '' : String(options.templates),
    'members',
    'templates-input',
  );
  const rerun = (): void => {
    const n = Number.parseInt(templates.value, 10);
    const next = { map: selected(map), ...(Number.isSafeInteger(n) && n >= 1 ? { templates: n } : {}) };
    post({ type: 'rerun', options: next });
  };
  exportButton = button(
    'Export Task Bank…',
    'export-bank-button',
    () => post({ type: 'exportBank' }),
    false,
    'Write the shared templates and every member’s coefficients to one safetensors file',
  );
  exportButton.disabled = !canExport;
  return h(
    'div',
    { class: 'toolbar' },
    field('Map', map, 'PCA is exact; UMAP is seeded').row,
    field('Templates per bank', templates, 'empty: the number of members').row,
    button('Compare Again', 'rerun-button', rerun, true),
    button(
      baseFile ? 'Change Base…' : 'Choose Base…',
      'pick-base-button',
      () => post({ type: 'pickBase' }),
      true,
      'The base checkpoint: adds ‖ΔW‖ / ‖W_base‖; full checkpoints need it',
    ),
    baseFile ? button('Compare Without Base', 'clear-base-button', () => post({ type: 'clearBase' }), true) : null,
    exportButton,
  );
}

function header(): HTMLElement {
  return h(
    'div',
    { class: 'results-head' },
    h('h2', {}, `Task family · ${paths.length} members`),
    h(
      'p',
      { class: 'muted', 'data-testid': 'family-base' },
      baseFile ? `base: ${baseFile}` : 'no base: the updates are compared as they are',
    ),
  );
}

function showRunning(message: string, fraction: number, brief?: FamilyBrief): void {
  disposeCharts();
  const bar = h('vscode-progress-bar', { value: Math.round(100 * fraction), max: 100, 'data-testid': 'family-progress-bar' });
  replace(
    app,
    header(),
    h(
      'section',
      { 'data-testid': 'family-running', 'aria-busy': 'true' },
      h('p', { 'data-testid': 'family-progress', role: 'status' }, message),
      bar,
      h(
        'ul',
        { class: 'members' },
        ...(brief?.members ?? paths.map((p) => ({ name: fileName(p), kind: '', step: null }))).map((m) =>
          h('li', {}, m.name, m.kind ? ` · ${m.kind}` : '', m.step === null ? '' : ` · step ${m.step}`),
        ),
      ),
      button('Cancel', 'cancel-button', () => post({ type: 'cancel' }), true),
    ),
  );
}

let lastBrief: FamilyBrief | undefined;
let running = false;

function showError(error: WireError): void {
  disposeCharts();
  const text = error.cancelled ? 'The comparison was cancelled: nothing was written.' : error.message;
  replace(
    app,
    header(),
    toolbar(false),
    h(
      'section',
      { class: 'dashboard-error', role: 'alert', 'data-testid': 'family-error' },
      h('p', {}, text),
      error.file ? h('p', { class: 'mono', 'data-testid': 'family-error-file' }, `file: ${error.file}`) : null,
      error.rule ? h('p', { class: 'muted' }, `rule: ${error.rule}`) : null,
    ),
    button('Try Again', 'retry-button', () => post({ type: 'rerun', options }), true),
  );
  rendered('error', 0, undefined, text);
}

function chart(id: string, testId: string, label: string, draw: () => Option, toCsv: () => string, height = 360): ChartHost {
  const host = new ChartHost(
    id,
    testId,
    label,
    () => theme.background,
    (chartId, format, payload) => post({ type: 'exportChart', chart: chartId, format, payload }),
    height,
  );
  const csvButton = button(
    'CSV',
    'export-chart-csv',
    () => post({ type: 'exportChart', chart: id, format: 'csv', payload: toCsv() }),
    true,
    'Save this chart’s numbers as CSV',
  );
  host.element.querySelector('.chart-tools')?.appendChild(csvButton);
  charts.push({ host, draw });
  return host;
}

function membersTable(r: FamilyReport): HTMLElement {
  const th = (text: string, num = false): HTMLElement => h('th', { class: num ? 'num' : undefined, scope: 'col' }, text);
  return h(
    'table',
    { class: 'table', 'data-testid': 'family-members' },
    h(
      'caption',
      { class: 'muted' },
      'Members: coefficients are what each needs over the shared templates; unshared layers are left out of every comparison',
    ),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        th('member'),
        th('kind'),
        th('step', true),
        th('parameters', true),
        th('coefficients', true),
        th('unshared layers', true),
        th('path'),
      ),
    ),
    h(
      'tbody',
      {},
      ...r.members.map((m) =>
        h(
          'tr',
          { 'data-member': m.name },
          h('th', { scope: 'row' }, m.name),
          h('td', {}, m.kind),
          h('td', { class: 'num' }, m.step === null ? '—' : formatInteger(m.step)),
          h('td', { class: 'num' }, formatInteger(m.params)),
          h('td', { class: 'num' }, formatInteger(m.coefficients)),
          h('td', { class: 'num', title: m.unshared.join('\n') || undefined }, formatInteger(m.unshared.length)),
          h('td', { class: 'mono' }, m.path),
        ),
      ),
    ),
  );
}

function banksTable(r: FamilyReport): HTMLElement {
  const th = (text: string, num = false): HTMLElement => h('th', { class: num ? 'num' : undefined, scope: 'col' }, text);
  return h(
    'table',
    { class: 'table', 'data-testid': 'family-banks' },
    h(
      'caption',
      { class: 'muted' },
      'Banks: per member the cosine at n templates, and "captured": its cosine over templates fitted to the other members alone. Cost: mean squared relative error of the closed form / with coefficients ≥ 0',
    ),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        th('bank'),
        th('layers', true),
        th('n', true),
        th('rank', true),
        ...r.members.map((m) => th(`${m.name} cos / captured`, true)),
        th('cost / ≥ 0', true),
      ),
    ),
    h(
      'tbody',
      {},
      ...r.banks.map((b) =>
        h(
          'tr',
          { 'data-bank': b.name },
          h('th', { scope: 'row' }, b.name),
          h('td', { class: 'num' }, String(b.layers.length)),
          h('td', { class: 'num' }, String(b.templates)),
          h('td', { class: 'num' }, String(b.rank)),
          ...r.members.map((m) =>
            h(
              'td',
              { class: 'num' },
              `${formatNumber(b.fidelity.cosine[m.name]?.[b.templates - 1] ?? 1, 4)} / ${formatNumber(b.captured[m.name], 4)}`,
            ),
          ),
          h('td', { class: 'num' }, `${formatNumber(b.nonNegative.unconstrainedCost, 4)} / ${formatNumber(b.nonNegative.cost, 4)}`),
        ),
      ),
    ),
  );
}

function summaryOf(r: FamilyReport): string {
  const params = r.members.reduce((a, m) => a + m.params, 0);
  const coefficients = r.members.reduce((a, m) => a + m.coefficients, 0);
  return (
    `${r.members.length} members, ${r.layers.length} shared layers in ${r.banks.length} ${r.banks.length === 1 ? 'bank' : 'banks'}; ` +
    `${formatCount(coefficients)} coefficients over the shared templates for ${formatCount(params)} parameters of the members' files`
  );
}

function showReport(r: FamilyReport): void {
  disposeCharts();
  saveState({ report: r });
  const state = loadState();
  let cosineLayer: string | null = null;
  let bank = r.banks.find((b) => b.name === state.layerBank)?.name ?? r.banks[0]?.name ?? '';
  const summary = summaryOf(r);
  const norms = chart(
    'norms',
    'family-norms-chart',
    'Per-layer update norm per member',
    () => normsOption(r, theme),
    () => normsCsv(r),
  );
  const cosine = chart(
    'cosine',
    'family-cosine-chart',
    'Cosine of the members’ updates',
    () => cosineOption(r, cosineLayer, theme),
    () => cosineCsv(r, cosineLayer),
    320 + 24 * r.members.length,
  );
  const fidelity = chart(
    'fidelity',
    'family-fidelity-chart',
    'Fidelity against the number of shared templates, per member',
    () => fidelityOption(r, bank, theme),
    () => fidelityCsv(r),
  );
  const hasWeights = r.banks.some((b) => b.weights !== null);
  const weights = hasWeights
    ? chart(
        'weights',
        'family-weights-chart',
        'Full weights: the base’s templates frozen against templates fitted to the members',
        () => weightsOption(r, bank, theme),
        () => weightsCsv(r),
        400,
      )
    : null;
  const special = chart(
    'specialisation',
    'family-specialisation-chart',
    'Each member’s share of coefficient energy per template',
    () => specialisationOption(r, theme),
    () => specialisationCsv(r),
    280 + 24 * r.members.length,
  );
  const map = chart(
    'map',
    'family-map-chart',
    'Map of the (member, layer) updates',
    () => mapOption(r, theme),
    () => mapCsv(r),
    420,
  );

  const layerSelect = select(
    'cosine-layer-select',
    [['', 'whole model'], ...r.layers.map((l) => [l.name, shortLayer(l.name)] as const)],
    '',
    'cosine-layer-select',
  );
  layerSelect.addEventListener('change', () => {
    cosineLayer = selected(layerSelect) || null;
    cosine.show(cosineOption(r, cosineLayer, theme));
  });
  const bankSelect = select(
    'fidelity-bank-select',
    r.banks.map((b) => [b.name, b.name] as const),
    bank,
    'fidelity-bank-select',
  );
  bankSelect.addEventListener('change', () => {
    bank = selected(bankSelect) || bank;
    saveState({ layerBank: bank });
    fidelity.show(fidelityOption(r, bank, theme));
    weights?.show(weightsOption(r, bank, theme));
  });
  const unshared = r.members.filter((m) => m.unshared.length > 0);
  replace(
    app,
    header(),
    toolbar(true),
    bankLine,
    h(
      'section',
      { 'data-testid': 'family-view', 'data-map': r.map.method },
      h('p', { 'data-testid': 'family-summary' }, summary),
      unshared.length
        ? h(
            'p',
            { class: 'muted', 'data-testid': 'family-unshared' },
            `Compared on the ${r.layers.length} layers every member has; ${unshared.map((m) => `${m.name} has ${m.unshared.length} more`).join(', ')} (listed in the table's tooltip).`,
          )
        : null,
      membersTable(r),
      norms.element,
      h('div', { class: 'section-head' }, field('Cosine of', layerSelect, 'the whole model or one shared layer').row),
      cosine.element,
      r.banks.length > 1 ? h('div', { class: 'section-head' }, field('Bank', bankSelect, 'one module role and shape').row) : null,
      fidelity.element,
      weights?.element ?? null,
      banksTable(r),
      special.element,
      map.element,
    ),
  );
  for (const c of charts) c.host.show(c.draw());
  rendered('report', r.members.length, summary);
}

function showBank(bank: TaskBankWritten): void {
  bankLine.hidden = false;
  const ratio =
    bank.membersBytes > 0
      ? ` (${(bank.bytes / bank.membersBytes).toFixed(2)}x of the members’ files, ${formatBytes(bank.membersBytes)})`
      : '';
  bankLine.textContent = `Task bank ${fileName(bank.path)}: ${formatBytes(bank.bytes)}${ratio}; ${formatCount(bank.templateValues)} template and ${formatCount(bank.coefficientValues)} coefficient values in ${bank.banks} banks.`;
}

function onMessage(m: ToFamily): void {
  switch (m.type) {
    case 'init': {
      const mismatch = protocolMismatch(m.version);
      if (mismatch) return showError(mismatch);
      paths = m.paths;
      baseFile = m.base;
      options = m.options;
      lastBrief = undefined;
      saveState({ paths: m.paths, base: m.base, options: m.options });
      return;
    }
    case 'brief':
      lastBrief = m.brief;
      if (running) showRunning(app.querySelector('[data-testid="family-progress"]')?.textContent ?? 'comparing', 0, m.brief);
      return;
    case 'progress': {
      const line = app.querySelector('[data-testid="family-progress"]');
      const bar = app.querySelector<HTMLElement & { value: number }>('[data-testid="family-progress-bar"]');
      if (running && line && bar) {
        line.textContent = m.message;
        bar.value = Math.round(100 * m.fraction);
      } else {
        running = true;
        showRunning(m.message, m.fraction, lastBrief);
        rendered('running', 0);
      }
      return;
    }
    case 'report':
      running = false;
      showReport(m.report);
      return;
    case 'bank':
      showBank(m.bank);
      return;
    case 'busy':
      if (exportButton) exportButton.disabled = m.busy;
      return;
    case 'error':
      running = false;
      showError(m.error);
      return;
  }
}

window.addEventListener('message', (e: MessageEvent<ToFamily>) => onMessage(e.data));
onThemeChange(() => {
  theme = readDashboardTheme();
  for (const c of charts) c.host.show(c.draw());
});
window.addEventListener('error', (e) => {
  if (/^ResizeObserver loop/.test(e.message)) return;
  showError({ message: `Family dashboard error: ${e.message}`, cancelled: false });
});

// A reloaded window: the stored report at once; the extension compares the members again.
const stored = loadState().report;
if (stored) showReport(stored);
else replace(app, h('p', { class: 'muted', 'data-testid': 'loading' }, 'Opening…'));
post({ type: 'ready', version: PROTOCOL_VERSION });
