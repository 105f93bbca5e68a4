// The one contract between the extension host and its webviews (the inspector, the reconstruction
// dashboards). Both sides import only this file for it; every message is plain JSON-able data (no
// typed arrays, no classes). Errors travel in the engine's one wire shape, WireError.

import type { WireError } from '../mimicry/errors';
import type { TensorStats } from '../mimicry/stats/tensorStats';
import type { CheckpointSummary, SpectrumView, TensorColumns, ValuesPage, ValuesRequest } from '../mimicry/worker/inspect/protocol';
import type { PlanOutcome, PlanView } from '../mimicry/dashboard/budget';
import { DASHBOARD_DATA_VERSION, type DashboardData } from '../mimicry/dashboard/types';
import type {
  CheckpointBrief,
  CurveOutcome,
  CurveProgress,
  CurveView,
  RunPhase,
  RunProgress,
} from '../mimicry/worker/reconstruct/protocol';
import type { ProgressEvent, ReconstructOptions } from '../mimicry/recast/types';
import type { FamilyReport } from '../mimicry/family/analyze';
import type { FamilyAnalyzeParams, FamilyBrief, TaskBankWritten } from '../mimicry/worker/family/protocol';

/** Both sides of a webview come from one build; a view restored from another build says so. */
export const PROTOCOL_VERSION = 2;

export type { WireError };

/** The error to show when the other side speaks another protocol version (a view left from an older build). */
export function protocolMismatch(version: number): WireError | undefined {
  if (version === PROTOCOL_VERSION) return undefined;
  return {
    message:
      `this view speaks message protocol ${version}, the extension ${PROTOCOL_VERSION}: ` + `reload the window (Developer: Reload Window)`,
    cancelled: false,
  };
}
/** The header facts come from the engine worker unchanged: one definition, in the inspect protocol. */
export type {
  CheckpointSummary,
  SpectrumView,
  TensorColumns,
  TensorRow,
  ValuesPage,
  ValuesRequest,
} from '../mimicry/worker/inspect/protocol';

/** Per-tensor statistics as the engine computes them (definitions: src/mimicry/stats/tensorStats.ts). */
export type TensorStatsView = TensorStats;

/** Progress of "compute all": `done` of `total` tensors; `current` is the tensor being read. */
export interface BatchProgress {
  readonly done: number;
  readonly total: number;
  readonly current?: string;
}

export type BatchState = 'idle' | 'running' | 'done' | 'cancelled' | 'error';

export type ExtensionToWebview =
  | { readonly type: 'loading'; readonly version: number; readonly fileName: string }
  | {
      readonly type: 'header';
      readonly version: number;
      readonly summary: CheckpointSummary;
      /** The table's rows as columns (worker/inspect/tensorColumns.ts turns them back into rows). */
      readonly tensors: TensorColumns;
      /** True when statistics for all tensors start by themselves (small file). */
      readonly autoStats: boolean;
    }
  /** The checkpoint could not be opened. */
  | { readonly type: 'error'; readonly error: WireError }
  | { readonly type: 'stats'; readonly name: string; readonly stats: TensorStatsView }
  | { readonly type: 'spectrum'; readonly name: string; readonly spectrum: SpectrumView }
  /** One tensor's request failed or was cancelled (`error.cancelled`: no error to show). */
  | { readonly type: 'tensorFailed'; readonly name: string; readonly what: 'stats' | 'spectrum'; readonly error: WireError }
  /** Element-level progress of one tensor's statistics (fraction in [0, 1]). */
  | { readonly type: 'tensorProgress'; readonly name: string; readonly what: 'stats' | 'spectrum'; readonly fraction: number }
  | { readonly type: 'batch'; readonly state: BatchState; readonly progress: BatchProgress; readonly message?: string }
  /** A page of values the webview asked for (requestValues), or why there is none. */
  | { readonly type: 'values'; readonly request: ValuesRequest; readonly page: ValuesPage }
  | { readonly type: 'valuesFailed'; readonly request: ValuesRequest; readonly error: WireError }
  /**
   * Several messages in one post. A batch over thousands of small tensors would otherwise flood the
   * webview channel (one postMessage each) and delay the webview's own requests behind them.
   */
  | { readonly type: 'bundle'; readonly messages: readonly ExtensionToWebview[] };

export type WebviewToExtension =
  | { readonly type: 'ready'; readonly version: number }
  /** The table is on screen, showing `tensorCount` tensors. */
  | { readonly type: 'rendered'; readonly tensorCount: number }
  /** The webview shows an error instead of the table. */
  | { readonly type: 'renderError'; readonly error: WireError }
  | { readonly type: 'requestStats'; readonly name: string }
  | { readonly type: 'requestSpectrum'; readonly name: string }
  | { readonly type: 'cancelTensor'; readonly name: string }
  /** A page of a tensor's values: leading indices, first row and column, rows and columns (safetensors/slice.ts). */
  | ({ readonly type: 'requestValues' } & ValuesRequest)
  | { readonly type: 'computeAll' }
  | { readonly type: 'cancelAll' }
  /** The toolbar's "Reconstruct…" (a checkpoint) or "Open Dashboard" (a reparameterized file). */
  | { readonly type: 'reconstruct' }
  | { readonly type: 'openDashboard' };

type Untrusted = Readonly<Record<string, unknown>>;

/** A plain JSON object, not yet trusted: every field is unknown until checked. */
export const isObject = (v: unknown): v is Untrusted => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One check per message type: keyed by every type of the union, so a new type cannot go unchecked. */
type Guards<M extends { readonly type: string }> = { readonly [T in M['type']]: (m: Untrusted) => boolean };

/** The guard of a message union: an object whose `type` is one of its own and whose fields check out. */
function messageGuard<M extends { readonly type: string }>(guards: Guards<M>): (value: unknown) => value is M {
  const table: Readonly<Record<string, (m: Untrusted) => boolean>> = guards;
  return (value: unknown): value is M =>
    isObject(value) && typeof value.type === 'string' && Object.hasOwn(table, value.type) && table[value.type](value);
}

const isName = (m: Untrusted): boolean => typeof m.name === 'string';
const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
/** Shapes only: the engine checks the indices against the tensor's shape. */
const isValuesRequest = (m: Untrusted): boolean =>
  isName(m) &&
  Array.isArray(m.lead) &&
  m.lead.length <= 64 &&
  m.lead.every(isCount) &&
  isCount(m.row) &&
  isCount(m.col) &&
  isCount(m.rows) &&
  isCount(m.cols);
const always = (): boolean => true;

function isWireError(v: unknown): v is WireError {
  return (
    isObject(v) &&
    typeof v.message === 'string' &&
    typeof v.cancelled === 'boolean' &&
    (v.file === undefined || typeof v.file === 'string') &&
    (v.rule === undefined || typeof v.rule === 'string')
  );
}

/** The extension trusts nothing from the webview: checks the shape before acting on a message. */
export const isWebviewToExtension = messageGuard<WebviewToExtension>({
  ready: (m) => typeof m.version === 'number',
  rendered: (m) => typeof m.tensorCount === 'number' && Number.isFinite(m.tensorCount),
  renderError: (m) => isWireError(m.error),
  requestStats: isName,
  requestSpectrum: isName,
  cancelTensor: isName,
  requestValues: isValuesRequest,
  computeAll: always,
  cancelAll: always,
  reconstruct: always,
  openDashboard: always,
});

/**
 * The page shell's own message (every webview, sent by an inline script of
 * src/extension/webviewHtml.ts): a script or stylesheet of the page failed to load.
 */
export interface ResourcesFailed {
  readonly type: 'resourcesFailed';
  readonly url: string;
}
export const isResourcesFailed = messageGuard<ResourcesFailed>({ resourcesFailed: (m) => typeof m.url === 'string' });

// ---------------------------------------------------------------------------------------------
// Reconstruction dashboards (configure -> run -> results, compare): extension <-> dashboard webview.
// Engine shapes (plan, results) are plain JSON types re-exported from the engine, never duplicated.

export type { PlanOutcome, PlanView, DashboardData, CheckpointBrief, ProgressEvent, ReconstructOptions, RunPhase };
export type { CurveOutcome, CurveProgress, CurveView };
export type { RoleCurve, CurvePoint } from '../mimicry/recast/curve';
export { DASHBOARD_DATA_VERSION };
export type { DashboardLayer, OutputFile, SpectrumLine } from '../mimicry/dashboard/types';

export type DashboardMode = 'configure' | 'results' | 'compare';
export type DashboardExportKind = 'model' | 'dense' | 'report-json' | 'report-csv';
export type ChartFormat = 'svg' | 'png';

export type ToDashboard =
  | {
      readonly type: 'init';
      readonly version: number;
      readonly mode: DashboardMode;
      /** The file this dashboard is about (kept in the webview state for a window reload). */
      readonly path: string;
      readonly brief?: CheckpointBrief;
      /** Starting values of the form (settings + last used). */
      readonly defaults: ReconstructOptions;
      readonly data?: DashboardData;
      /** Second run for side-by-side comparison. */
      readonly compare?: DashboardData;
      /** Whether the model / dense exports are possible right now (a live run or a recast file). */
      readonly canExportModel: boolean;
    }
  | { readonly type: 'plan'; readonly requestId: number; readonly outcome: PlanOutcome }
  /** The closed form's compression-vs-fidelity curve for the plan request `requestId` (computed after it, in the worker). */
  | { readonly type: 'curve'; readonly requestId: number; readonly outcome: CurveOutcome }
  | { readonly type: 'curveProgress'; readonly requestId: number; readonly progress: CurveProgress }
  | { readonly type: 'runStarted'; readonly options: ReconstructOptions }
  | ({ readonly type: 'progress' } & Omit<RunProgress, 'fraction'>)
  | { readonly type: 'result'; readonly data: DashboardData; readonly canExportModel: boolean }
  /** The results again, with the spectra a recast file does not store computed after it opened (no longer pending). */
  | { readonly type: 'spectra'; readonly data: DashboardData }
  /** The results again, with a file just exported in `data.outputs` (its size on disk next to the source's). */
  | { readonly type: 'outputs'; readonly data: DashboardData }
  /** The run failed, or was cancelled (`error.cancelled`). */
  | { readonly type: 'runFailed'; readonly error: WireError }
  | { readonly type: 'compare'; readonly data: DashboardData }
  | { readonly type: 'busy'; readonly busy: boolean }
  | { readonly type: 'error'; readonly error: WireError };

export type FromDashboard =
  | { readonly type: 'ready'; readonly version: number }
  /** `options` are the form's values: untrusted until the extension has sanitised them. */
  | { readonly type: 'plan'; readonly requestId: number; readonly options: unknown }
  | { readonly type: 'run'; readonly options: unknown }
  | { readonly type: 'cancel' }
  | { readonly type: 'export'; readonly kind: DashboardExportKind }
  /** A chart image: SVG text or a PNG data URL (`data:image/png;base64,...`). */
  | { readonly type: 'exportChart'; readonly chart: string; readonly format: ChartFormat; readonly payload: string }
  | { readonly type: 'reconfigure' }
  | { readonly type: 'pickCompare' }
  /** What the dashboard shows, for the extension's API and tests. */
  | {
      readonly type: 'rendered';
      readonly mode: DashboardMode;
      readonly charts: number;
      /** The summary cards' texts (results), by card id. */
      readonly cards?: readonly { readonly id: string; readonly value: string; readonly hint?: string }[];
      /** Results: banks whose spectra are still being computed. */
      readonly pendingSpectra?: number;
      /** The line saying what is fitted (a LoRA adapter's layer updates or factors), when shown. */
      readonly note?: string;
    };

const EXPORT_KINDS: readonly string[] = ['model', 'dense', 'report-json', 'report-csv'] satisfies readonly DashboardExportKind[];
const MODES: readonly string[] = ['configure', 'results', 'compare'] satisfies readonly DashboardMode[];
const isMode = (v: unknown): v is DashboardMode => typeof v === 'string' && MODES.includes(v);

/** The extension trusts nothing from the webview: checks a message's shape before acting on it. */
export const isFromDashboard = messageGuard<FromDashboard>({
  ready: (m) => typeof m.version === 'number',
  plan: (m) => typeof m.requestId === 'number' && isObject(m.options),
  run: (m) => isObject(m.options),
  cancel: always,
  export: (m) => typeof m.kind === 'string' && EXPORT_KINDS.includes(m.kind),
  exportChart: (m) =>
    typeof m.chart === 'string' &&
    /^[a-z0-9-]{1,64}$/.test(m.chart) &&
    (m.format === 'svg' || m.format === 'png') &&
    typeof m.payload === 'string',
  reconfigure: always,
  pickCompare: always,
  rendered: (m) =>
    isMode(m.mode) &&
    typeof m.charts === 'number' &&
    (m.cards === undefined || isCards(m.cards)) &&
    (m.pendingSpectra === undefined || typeof m.pendingSpectra === 'number') &&
    (m.note === undefined || (typeof m.note === 'string' && m.note.length <= 1000)),
});

function isCards(v: unknown): boolean {
  return (
    Array.isArray(v) &&
    v.length <= 64 &&
    v.every(
      (c) =>
        isObject(c) &&
        typeof c.id === 'string' &&
        typeof c.value === 'string' &&
        (c.hint === undefined || (typeof c.hint === 'string' && c.hint.length <= 1000)) &&
        c.id.length <= 64 &&
        c.value.length <= 1000,
    )
  );
}

/**
 * What the dashboard webview keeps with setState: a reloaded window restores the panel from it (the
 * extension's serializer reads it back) and the page its form and view choices.
 */
export interface DashboardState {
  /** The file the dashboard is about. */
  readonly path?: string;
  readonly mode?: DashboardMode;
  readonly data?: DashboardData;
  readonly compare?: DashboardData;
  /** The form's last values. */
  readonly form?: ReconstructOptions;
  readonly threshold?: number;
  readonly spectraBank?: string;
}

/** A state a panel can be restored from: the file and a mode; data of another version is dropped. */
export function restorableState(v: unknown): (DashboardState & { readonly path: string; readonly mode: DashboardMode }) | undefined {
  if (!isObject(v) || typeof v.path !== 'string' || !isMode(v.mode)) return undefined;
  const data = isCurrentData(v.data) ? v.data : undefined;
  const compare = isCurrentData(v.compare) ? v.compare : undefined;
  // Results whose data cannot be shown (another version) fall back to the form.
  const mode = data || v.mode === 'configure' ? v.mode : 'configure';
  return { path: v.path, mode, ...(data ? { data } : {}), ...(data && compare ? { compare } : {}) };
}

/** Dashboard data built by another version of the engine is not shown (its fields may differ). */
function isCurrentData(data: unknown): data is DashboardData {
  return isObject(data) && data.version === DASHBOARD_DATA_VERSION;
}

// ---------------------------------------------------------------------------------------------
// Family dashboards (a task family: several fine-tunes or adapters of one base): extension <-> family
// webview. The report is the engine's FamilyReport (the same document as `mimicry family --json`).

export type { FamilyReport, FamilyBrief, FamilyAnalyzeParams, TaskBankWritten };

export type ToFamily =
  | {
      readonly type: 'init';
      readonly version: number;
      readonly paths: readonly string[];
      readonly base: string | null;
      readonly options: FamilyAnalyzeParams;
    }
  | { readonly type: 'brief'; readonly brief: FamilyBrief }
  | { readonly type: 'progress'; readonly message: string; readonly fraction: number }
  | { readonly type: 'report'; readonly report: FamilyReport }
  /** The task bank just written (its size next to the members' files). */
  | { readonly type: 'bank'; readonly bank: TaskBankWritten }
  | { readonly type: 'busy'; readonly busy: boolean }
  /** The family could not be read or compared (`error.file` names the member), or the analysis was cancelled. */
  | { readonly type: 'error'; readonly error: WireError };

export type FromFamily =
  | { readonly type: 'ready'; readonly version: number }
  | { readonly type: 'cancel' }
  /** Compare again with these options (templates, map, seed): untrusted until the extension has checked them. */
  | { readonly type: 'rerun'; readonly options: unknown }
  /** Choose a base checkpoint (adds ||dW|| / ||W_base||; full checkpoints need one), or compare without. */
  | { readonly type: 'pickBase' }
  | { readonly type: 'clearBase' }
  | { readonly type: 'exportBank' }
  /** A chart image: SVG text or a PNG data URL; CSV text of the chart's numbers. */
  | { readonly type: 'exportChart'; readonly chart: string; readonly format: ChartFormat | 'csv'; readonly payload: string }
  /** What the dashboard shows, for the extension's API and tests. */
  | {
      readonly type: 'rendered';
      readonly view: 'report' | 'error' | 'running';
      readonly charts: number;
      /** The members table's rows, and the summary line. */
      readonly members: number;
      readonly summary?: string;
      readonly error?: string;
    };

/** The extension trusts nothing from the webview: checks a message's shape before acting on it. */
export const isFromFamily = messageGuard<FromFamily>({
  ready: (m) => typeof m.version === 'number',
  cancel: always,
  rerun: (m) => isObject(m.options),
  pickBase: always,
  clearBase: always,
  exportBank: always,
  exportChart: (m) =>
    typeof m.chart === 'string' &&
    /^[a-z0-9-]{1,64}$/.test(m.chart) &&
    (m.format === 'svg' || m.format === 'png' || m.format === 'csv') &&
    typeof m.payload === 'string',
  rendered: (m) =>
    (m.view === 'report' || m.view === 'error' || m.view === 'running') &&
    isCount(m.charts) &&
    isCount(m.members) &&
    (m.summary === undefined || (typeof m.summary === 'string' && m.summary.length <= 2000)) &&
    (m.error === undefined || (typeof m.error === 'string' && m.error.length <= 2000)),
});

/** What the family webview keeps with setState: the members (a reloaded window reopens the family) and the last report. */
export interface FamilyState {
  readonly paths?: readonly string[];
  readonly base?: string | null;
  /** The analysis' options (templates, map, seed), as the extension checked them. */
  readonly options?: unknown;
  readonly report?: FamilyReport;
  readonly layerBank?: string;
}
