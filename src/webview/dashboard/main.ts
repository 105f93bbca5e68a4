// Dashboard webview entry (bundled to dist/webview/dashboard.js): configure -> run -> results, and
// compare. Draws only what the extension sends (numbers come from the engine).
//
// Stable hooks for tests (Playwright / extension-host suite):
//   data-testid="configure-view"      the configuration form
//   data-testid="preset-select"       preset (paper, exact, 2x, 4x, 10x); also method-select, objective-select,
//                                     loss-select, backend-select, templates-input, <key>-input (blocksPerGroup,
//                                     sets, steps, lr, beta, noise, seed, probes), share-roles
//   data-testid="role-checkbox"       one per module role (data-role="<prefix>.<role>"); role-list holds them
//   data-testid="budget"              live parameter budget cards; bank-list the planned banks; config-error the message
//   data-testid="curve-chart"         compression vs fidelity per role (closed form), chosen point a diamond;
//                                     curve-table (rows data-role: the chosen point), curve-status (progress)
//   data-testid="preset-note"         what the chosen preset does (the authors' is exact: no compression)
//   data-testid="run-button"          starts the reconstruction
//   data-testid="run-view"            while running: loss-chart, group-status (rows data-group, data-state),
//                                     run-phase, cancel-button
//   data-testid="results-view"        the results
//   data-testid="summary-cards"       summary cards (each data-card="<id>")
//   data-testid="fidelity-chart"      per-layer cosine by block and role (threshold-input sets its line);
//                                     below-threshold lists the layers under it
//   data-testid="relerror-chart"      per-layer relative error
//   data-testid="probe-chart"         per-layer feature fidelity with random probes (only when probes > 0)
//   data-testid="diversity-chart"     template diversity per bank (raw and relative)
//   data-testid="entropy-chart"       template entropy per bank (raw and normalised)
//   data-testid="diversity-note"      closed form: why relative diversity is always sqrt(2)
//   data-testid="energy-chart"        closed form: each template's share of its group's energy
//   data-testid="similarity-heatmap"  one per group (several)
//   data-testid="spectra-chart"       singular-value spectra of one bank (spectra-bank-select picks it)
//   data-testid="export-button"       export the reparameterized model; export-dense, export-report-json,
//                                     export-report-csv; export-chart-png / export-chart-svg under each chart
//   data-testid="compare-button"      pick a run to compare; compare-view, compare-chart, back-button
//   data-testid="reconfigure-button"  back to the settings
//   data-testid="dashboard-error"     an error message
// After drawing, the webview posts {type:'rendered', mode, charts}.

import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';

import {
  protocolMismatch,
  PROTOCOL_VERSION,
  restorableState,
  type CheckpointBrief,
  type DashboardData,
  type FromDashboard,
  type ReconstructOptions,
  type ToDashboard,
} from '../protocol';
import { h, replace } from '../shared/dom';
import { stylesSettled } from '../shared/settled';
import { loadState, post, saveState } from './api';
import { CompareView } from './compareView';
import { ConfigureView } from './configureView';
import { ResultsView } from './resultsView';
import { RunView } from './runView';
import { onThemeChange, readDashboardTheme, type DashboardTheme } from '../shared/theme';

const app = document.getElementById('app') ?? document.body;
const errorLine = h('div', { class: 'dashboard-error', role: 'alert', 'data-testid': 'dashboard-error', hidden: true });

interface View {
  readonly element: HTMLElement;
  render?(): void;
  dispose?(): void;
}

let theme: DashboardTheme = readDashboardTheme();
const currentTheme = (): DashboardTheme => theme;
let view: View | undefined;
let configure: ConfigureView | undefined;
/** The form behind a running job: shown again, as the user left it, when the run fails or is cancelled. */
let formBehindRun: ConfigureView | undefined;
let run: RunView | undefined;
let results: ResultsView | undefined;
let planRequest = 0;
let planTimer: ReturnType<typeof setTimeout> | undefined;
let lastForm: ReconstructOptions = loadState().form ?? {};
let canExportModel = false;

function show(next: View, mode: 'configure' | 'results' | 'compare' | 'running'): void {
  view?.dispose?.();
  configure = next instanceof ConfigureView ? next : undefined;
  run = next instanceof RunView ? next : undefined;
  results = next instanceof ResultsView ? next : undefined;
  view = next;
  replace(app, errorLine, next.element);
  next.render?.();
  if (mode !== 'running') reportRendered(mode);
}

function reportRendered(mode: 'configure' | 'results' | 'compare'): void {
  const cards = results?.cards.map((c) => ({ id: c.id, value: c.value, ...(c.hint === undefined ? {} : { hint: c.hint }) }));
  const note = app.querySelector('[data-testid="source-note"]')?.textContent;
  const message: FromDashboard = {
    type: 'rendered',
    mode,
    // Drawn charts only: the form's curve is hidden until the worker has computed it.
    charts: results ? results.chartCount : [...app.querySelectorAll('.chart')].filter((c) => !c.closest('[hidden]')).length,
    ...(results && cards ? { cards, pendingSpectra: results.pendingSpectra } : {}),
    ...(note ? { note } : {}),
  };
  // Once the icons' stylesheets and fonts are in (see stylesSettled).
  void stylesSettled().then(() => post(message));
}

function showError(message: string | undefined): void {
  errorLine.hidden = !message;
  errorLine.textContent = message ?? '';
}

const exportChart = (chart: string, format: 'svg' | 'png', payload: string): void => post({ type: 'exportChart', chart, format, payload });

function showConfigure(brief: CheckpointBrief | undefined, defaults: ReconstructOptions): void {
  const initial = { ...defaults, ...lastForm };
  const v = new ConfigureView(
    brief,
    initial,
    {
      plan: (options) => {
        // Typing fires many changes: ask the engine once things settle.
        if (planTimer) clearTimeout(planTimer);
        const id = ++planRequest;
        planTimer = setTimeout(() => post({ type: 'plan', requestId: id, options }), 120);
      },
      run: (options) => post({ type: 'run', options }),
      changed: (options) => {
        lastForm = options;
        saveState({ form: options });
      },
    },
    currentTheme,
    exportChart,
  );
  saveState({ mode: 'configure', data: undefined, compare: undefined });
  show(v, 'configure');
  v.start();
}

function showResults(data: DashboardData): void {
  const state = loadState();
  saveState({ mode: 'results', data, compare: undefined });
  show(
    new ResultsView(data, currentTheme, state.threshold ?? 0.98, state.spectraBank, canExportModel, {
      export: (kind) => post({ type: 'export', kind }),
      exportChart,
      reconfigure: data.origin === 'run' ? () => post({ type: 'reconfigure' }) : undefined,
      compare: () => post({ type: 'pickCompare' }),
      thresholdChanged: (threshold) => saveState({ threshold }),
      spectraBankChanged: (spectraBank) => saveState({ spectraBank }),
    }),
    'results',
  );
}

function showCompare(a: DashboardData, b: DashboardData): void {
  saveState({ mode: 'compare', data: a, compare: b });
  show(new CompareView(a, b, currentTheme, exportChart, () => showResults(a)), 'compare');
}

function onMessage(m: ToDashboard): void {
  switch (m.type) {
    case 'init': {
      const mismatch = protocolMismatch(m.version);
      if (mismatch) return showError(mismatch.message);
      showError(undefined);
      canExportModel = m.canExportModel;
      saveState({ path: m.path });
      if (m.mode === 'compare' && m.data && m.compare) showCompare(m.data, m.compare);
      else if (m.mode !== 'configure' && m.data) showResults(m.data);
      else showConfigure(m.brief, m.defaults);
      return;
    }
    case 'plan':
      if (m.requestId === planRequest) configure?.showPlan(m.outcome);
      return;
    case 'curve':
      if (m.requestId === planRequest) {
        configure?.showCurve(m.outcome);
        // The curve is part of the form's first view: tests and the extension hear when it is drawn.
        if (configure) reportRendered('configure');
      }
      return;
    case 'curveProgress':
      if (m.requestId === planRequest) configure?.curveProgress(m.progress);
      return;
    case 'runStarted':
      showError(undefined);
      formBehindRun = configure;
      show(new RunView(configure?.bankNames ?? [], currentTheme, () => post({ type: 'cancel' })), 'running');
      return;
    case 'progress':
      if (run) run.progress(m.phase, m.event, m.message, m.phaseFraction);
      else if (m.phase === 'spectra') results?.spectraProgress(m.message);
      return;
    case 'spectra':
      saveState({ data: m.data });
      results?.setSpectra(m.data);
      if (results) reportRendered('results');
      return;
    case 'outputs':
      saveState({ data: m.data });
      results?.setData(m.data);
      if (results) reportRendered('results');
      return;
    case 'result':
      canExportModel = m.canExportModel;
      showResults(m.data);
      return;
    case 'runFailed':
      if (formBehindRun) {
        show(formBehindRun, 'configure');
        formBehindRun.start();
      } else post({ type: 'reconfigure' });
      showError(m.error.cancelled ? undefined : m.error.message);
      return;
    case 'compare': {
      const a = loadState().data;
      if (a) showCompare(a, m.data);
      return;
    }
    case 'busy':
      results?.setCanExportModel(!m.busy && canExportModel);
      return;
    case 'error':
      showError(m.error.message);
      return;
  }
}

window.addEventListener('message', (e: MessageEvent<ToDashboard>) => onMessage(e.data));
onThemeChange(() => {
  theme = readDashboardTheme();
  view?.render?.();
});
window.addEventListener('error', (e) => {
  // A chart shown while the page grows (the form's curve) makes ResizeObserver deliver the rest of
  // its notifications in the next frame, and the browser reports that as an error: harmless.
  if (/^ResizeObserver loop/.test(e.message)) return;
  showError(`Dashboard error: ${e.message}`);
});

// A reloaded window: draw the stored picture at once; the extension's init follows.
const restored = restorableState(loadState());
if (restored?.mode === 'compare' && restored.data && restored.compare) showCompare(restored.data, restored.compare);
else if (restored?.mode === 'results' && restored.data) showResults(restored.data);
else replace(app, errorLine, h('p', { class: 'muted', 'data-testid': 'loading' }, 'Opening…'));
post({ type: 'ready', version: PROTOCOL_VERSION });
