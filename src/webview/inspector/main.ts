// Inspector webview entry (bundled to dist/webview/inspector.js).
//
// Stable hooks for tests (Playwright / extension-host suite):
//   data-testid="summary"        the header view (file, size, tensors, params, dtypes, metadata, shards)
//   data-testid="tensor-search"  the filter box (vscode-textfield)
//   data-testid="tensor-table"   the virtualised tensor grid (only visible rows are in the DOM)
//   data-testid="tensor-row"     one table row; data-name="<tensor name>", data-index="<row index>"
//   data-testid="tensor-tree"    the prefix tree (rows: data-testid="tree-row")
//   data-testid="tensor-detail"  the detail pane of the selected tensor
//   data-testid="stats"          its statistics grid
//   data-testid="histogram"      its histogram chart container (a <canvas> inside once drawn);
//                                data-axis="<min> <max> <step>" of its value axis (round numbers)
//   data-testid="scalar-value"   the value of a one-element tensor (shown instead of a histogram)
//   data-testid="copy-name"      the detail's "Copy tensor name" button
//   data-testid="values"         the values view: "values-grid" (its table), "values-position", "values-status",
//                                "values-lead-<d>" / "values-row" / "values-col" inputs, "values-next-rows" etc.,
//                                "values-copy-csv" / "values-copy-numpy"
//   data-testid="spectrum"       its singular-value spectrum chart container
//   data-testid="compute-all"    the "Compute all statistics" button; data-testid="cancel-all" cancels
//   data-testid="compute-stats" / "compute-spectrum" / "cancel-stats" / "cancel-spectrum"  per-tensor buttons
//   data-testid="error"          the error view (data-rule="<SafetensorsError rule>")
//   data-testid="loading"        shown while the header is read
//   data-testid="inspector-reconstruct"   "Reconstruct…" (opens the dashboard's configuration);
//   data-testid="inspector-open-dashboard" on a reparameterized (format "recast") file instead
// After the table is on screen the webview posts {type:'rendered', tensorCount}; on an error {type:'renderError'}.

import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-split-layout/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';

import { protocolMismatch, PROTOCOL_VERSION, type ExtensionToWebview, type WireError } from '../protocol';
import { formatBytes, formatCount, formatInteger, plural } from '../shared/format';
import { DetailPane } from './detail';
import { codicon, h, replace } from '../shared/dom';
import { PrefixTreeView } from './prefixTreeView';
import { InspectorState } from './state';
import { recolourDtypes, renderSummary } from './summary';
import { TensorTable } from './tensorTable';
import { onThemeChange } from '../shared/theme';
import { loadState, post, saveState } from './api';
import { BatchBar } from './batchBar';
import { stylesSettled } from '../shared/settled';
import { rowsOf } from '../../mimicry/worker/inspect/tensorColumns';

const app = document.getElementById('app') ?? document.body;
const state = new InspectorState();
const persisted = loadState();

const detail = new DetailPane(state, {
  request: (what, name) => {
    state.started(what, name);
    post({ type: what === 'stats' ? 'requestStats' : 'requestSpectrum', name });
    refresh(name);
  },
  cancel: (name) => post({ type: 'cancelTensor', name }),
  requestValues: (request) => post({ type: 'requestValues', ...request }),
});

const countEl = h('span', { class: 'count muted', 'aria-live': 'polite' });
const table = new TensorTable(
  { stats: state.stats, running: state.runningStats },
  (name) => select(name, false),
  (shown, total) => {
    countEl.textContent = shown === total ? plural(total, 'tensor') : `${formatInteger(shown)} of ${formatInteger(total)}`;
  },
);
const tree = new PrefixTreeView((name) => select(name, true));
const batchBar = new BatchBar(
  () => post({ type: 'computeAll' }),
  () => post({ type: 'cancelAll' }),
);

function select(name: string, revealInTable: boolean): void {
  table.setSelected(name, revealInTable);
  detail.open(name);
  saveState({ selected: name });
}

let pendingFrame = 0;
const pendingNames = new Set<string>();
/** Coalesces the many stats/progress messages of a batch into one repaint per frame. */
function refresh(name: string): void {
  pendingNames.add(name);
  if (pendingFrame) return;
  pendingFrame = requestAnimationFrame(() => {
    pendingFrame = 0;
    table.statsChanged();
    const current = detail.current;
    if (current !== undefined && pendingNames.has(current)) detail.update();
    pendingNames.clear();
  });
}

function showLoading(fileName: string): void {
  replace(
    app,
    h(
      'div',
      { class: 'center-view', 'data-testid': 'loading' },
      h('vscode-progress-ring', { 'aria-label': 'Reading header' }),
      h('p', {}, `Reading the header of ${fileName}…`),
    ),
  );
}

function showError(error: WireError): void {
  replace(
    app,
    h(
      'div',
      { class: 'center-view error-view', 'data-testid': 'error', 'data-rule': error.rule ?? '', role: 'alert' },
      codicon('error'),
      h('h2', {}, 'This checkpoint cannot be opened'),
      h('p', { class: 'error-message' }, error.message),
      h(
        'dl',
        { class: 'facts' },
        error.file ? h('dt', {}, 'File') : null,
        error.file ? h('dd', { class: 'mono' }, error.file) : null,
        error.rule ? h('dt', {}, 'Rule') : null,
        error.rule ? h('dd', { class: 'mono' }, error.rule) : null,
      ),
      h('p', { class: 'muted' }, 'The file was not changed. Nothing was read past the header.'),
    ),
  );
  void stylesSettled().then(() => post({ type: 'renderError', error }));
}

function searchBox(): HTMLElement {
  const field = h('vscode-textfield', {
    'data-testid': 'tensor-search',
    placeholder: 'Filter tensors (words, dtype:bf16)',
    label: 'Filter tensors',
    'aria-label': 'Filter tensors',
    type: 'search',
  });
  field.appendChild(h('span', { slot: 'content-before', class: 'codicon codicon-search', 'aria-hidden': 'true' }));
  let timer = 0;
  field.addEventListener('input', () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => {
      const value = (field as HTMLElement & { value: string }).value;
      table.setQuery(value);
      tree.setQuery(value);
      if (currentTab === 1) tree.show();
      saveState({ query: value });
    }, 120);
  });
  field.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      if (currentTab === 0) table.focus();
      else tree.focus();
    }
  });
  if (persisted.query) (field as HTMLElement & { value: string }).value = persisted.query;
  return field;
}

let currentTab = 0;
let search: HTMLElement | undefined;

function showHeader(m: Extract<ExtensionToWebview, { type: 'header' }>): void {
  const rows = rowsOf(m.tensors);
  state.setHeader(m.summary, rows, m.autoStats);
  const s = m.summary;
  search = searchBox();
  const tabs = h(
    'vscode-tabs',
    { class: 'left-tabs', 'selected-index': persisted.tab ?? 0 },
    h('vscode-tab-header', { slot: 'header' }, codicon('table'), ' Table'),
    h('vscode-tab-panel', {}, table.element),
    h('vscode-tab-header', { slot: 'header' }, codicon('list-tree'), ' Tree'),
    h('vscode-tab-panel', {}, tree.element),
  );
  tabs.addEventListener('vsc-tabs-select', (e) => {
    currentTab = (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex;
    if (currentTab === 1) tree.show();
    else table.statsChanged();
    saveState({ tab: currentTab });
  });
  currentTab = persisted.tab ?? 0;
  const toolbar = h(
    'header',
    { class: 'toolbar' },
    codicon(s.kind === 'sharded' ? 'files' : 'file-binary'),
    h('h1', { class: 'title', title: s.path }, s.fileName),
    h(
      'span',
      { class: 'subtitle muted' },
      `${formatBytes(s.totalBytes)} · ${plural(s.tensorCount, 'tensor')} · ${plural(s.params, 'parameter', formatCount(s.params))}`,
    ),
    h('span', { class: 'spacer' }),
    dashboardButton(s.metadata.some(([k, v]) => k === 'format' && v === 'recast')),
    batchBar.element,
  );
  const split = h(
    'vscode-split-layout',
    { class: 'main-split', split: 'vertical', 'initial-handle-position': '66%', 'min-start': '320px', 'min-end': '280px' },
    h('div', { slot: 'start', class: 'pane pane-left' }, h('div', { class: 'pane-toolbar' }, search, countEl), tabs),
    h('div', { slot: 'end', class: 'pane pane-right' }, detail.element),
  );
  replace(app, h('div', { class: 'layout' }, toolbar, renderSummary(s), split));
  table.setRows(rows);
  tree.setRows(rows);
  if (persisted.query) {
    table.setQuery(persisted.query);
    tree.setQuery(persisted.query);
  }
  if (currentTab === 1) tree.show();
  batchBar.set(
    state.batch,
    m.autoStats,
    rows.some((t) => t.decodable),
  );
  const restore = persisted.selected !== undefined && state.byName.has(persisted.selected) ? persisted.selected : undefined;
  if (restore !== undefined) select(restore, true);
  // Report once the rows are painted and their icons' stylesheets are in, so tests can rely on the
  // DOM being there (and may close the view at once: see stylesSettled).
  requestAnimationFrame(() =>
    requestAnimationFrame(() => void stylesSettled().then(() => post({ type: 'rendered', tensorCount: rows.length }))),
  );
}

/** Opens the reconstruction dashboard: its configuration for a checkpoint, its results for a recast file. */
function dashboardButton(isRecast: boolean): HTMLElement {
  const b = h(
    'vscode-button',
    isRecast
      ? {
          secondary: true,
          icon: 'graph',
          'data-testid': 'inspector-open-dashboard',
          title: 'Show the stored metrics of this reparameterized model',
        }
      : {
          secondary: true,
          icon: 'wand',
          'data-testid': 'inspector-reconstruct',
          title: 'Rebuild the layers as shared templates + coefficients (RECAST)',
        },
    isRecast ? 'Open Dashboard' : 'Reconstruct…',
  );
  b.addEventListener('click', () => post({ type: isRecast ? 'openDashboard' : 'reconstruct' }));
  return b;
}

function onMessage(m: ExtensionToWebview): void {
  switch (m.type) {
    case 'loading':
    case 'header': {
      const mismatch = protocolMismatch(m.version);
      if (mismatch) showError(mismatch);
      else if (m.type === 'loading') showLoading(m.fileName);
      else showHeader(m);
      return;
    }
    case 'error':
      showError(m.error);
      return;
    case 'stats':
      state.stats.set(m.name, m.stats);
      state.finished('stats', m.name);
      refresh(m.name);
      return;
    case 'spectrum':
      state.spectra.set(m.name, m.spectrum);
      state.finished('spectrum', m.name);
      refresh(m.name);
      return;
    case 'tensorFailed':
      state.finished(m.what, m.name, m.error.cancelled ? undefined : m.error.message);
      refresh(m.name);
      return;
    case 'tensorProgress':
      state.started(m.what, m.name, m.fraction);
      refresh(m.name);
      return;
    case 'batch':
      state.batch = { state: m.state, progress: m.progress, message: m.message };
      batchBar.set(
        state.batch,
        state.autoStats,
        state.tensors.some((t) => t.decodable),
      );
      if (m.state !== 'running') refresh(detail.current ?? '');
      return;
    case 'values':
      detail.values.receive({ request: m.request, page: m.page });
      return;
    case 'valuesFailed':
      detail.values.receive({ request: m.request, error: m.error });
      return;
    case 'bundle':
      for (const inner of m.messages) onMessage(inner);
      return;
  }
}

window.addEventListener('message', (e: MessageEvent<ExtensionToWebview>) => onMessage(e.data));
window.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'f' && search) {
    e.preventDefault();
    search.focus();
  }
});
onThemeChange(() => {
  detail.themeChanged();
  recolourDtypes(app);
});
post({ type: 'ready', version: PROTOCOL_VERSION });
