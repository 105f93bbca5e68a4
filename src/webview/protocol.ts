// The one contract between the extension host and its webviews (the inspector, the reconstruction
// dashboards). Both sides import only this file for it; every message is plain JSON-able data (no
// typed arrays, no classes).

import type { TensorStats } from '../mimicry/stats/tensorStats';
import type { WorkerOverview, WorkerSpectrum, WorkerTensor } from '../mimicry/worker/protocol';
import type { PlanOutcome, PlanView } from '../mimicry/dashboard/budget';
import type { DashboardData } from '../mimicry/dashboard/types';
import type { CheckpointBrief } from '../mimicry/worker/reconstructProtocol';
import type { ProgressEvent, ReconstructOptions } from '../mimicry/recast/types';

export const PROTOCOL_VERSION = 1;

/** The header facts come from the engine worker unchanged: one definition, in the worker protocol. */
export type { DTypeShare, ShardSummary } from '../mimicry/worker/protocol';
/** One row of the tensor table. */
export type TensorRow = WorkerTensor;
export type CheckpointSummary = WorkerOverview;

/** Per-tensor statistics as the engine computes them (definitions: src/mimicry/stats/tensorStats.ts). */
export type TensorStatsView = TensorStats;

/** Spectral summary of the 2-D view [out, ...rest] -> out x prod(rest) of a weight (RECAST.md §4); see the worker protocol. */
export type SpectrumView = WorkerSpectrum;

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
      readonly tensors: readonly TensorRow[];
      /** True when statistics for all tensors start by themselves (small file). */
      readonly autoStats: boolean;
    }
  | { readonly type: 'error'; readonly file: string; readonly rule?: string; readonly message: string }
  | { readonly type: 'stats'; readonly name: string; readonly stats: TensorStatsView }
  | { readonly type: 'spectrum'; readonly name: string; readonly spectrum: SpectrumView }
  /** One tensor's request failed or was cancelled (`cancelled` true: no error to show). */
  | { readonly type: 'tensorFailed'; readonly name: string; readonly what: 'stats' | 'spectrum'; readonly message: string; readonly cancelled: boolean }
  /** Element-level progress of one tensor's statistics (fraction in [0, 1]). */
  | { readonly type: 'tensorProgress'; readonly name: string; readonly what: 'stats' | 'spectrum'; readonly fraction: number }
  | { readonly type: 'batch'; readonly state: BatchState; readonly progress: BatchProgress; readonly message?: string }
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
  | { readonly type: 'renderError'; readonly message: string }
  | { readonly type: 'requestStats'; readonly name: string }
  | { readonly type: 'requestSpectrum'; readonly name: string }
  | { readonly type: 'cancelTensor'; readonly name: string }
  | { readonly type: 'computeAll' }
  | { readonly type: 'cancelAll' }
  /** The toolbar's "Reconstruct…" (a checkpoint) or "Open Dashboard" (a reparameterized file). */
  | { readonly type: 'reconstruct' }
  | { readonly type: 'openDashboard' };

const TO_EXTENSION_TYPES: ReadonlySet<string> = new Set<WebviewToExtension['type']>([
  'ready',
  'rendered',
  'renderError',
  'requestStats',
  'requestSpectrum',
  'cancelTensor',
  'computeAll',
  'cancelAll',
  'reconstruct',
  'openDashboard',
]);

/** The extension trusts nothing from the webview: checks the shape before acting on a message. */
export function isWebviewToExtension(value: unknown): value is WebviewToExtension {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  if (typeof m.type !== 'string' || !TO_EXTENSION_TYPES.has(m.type)) return false;
  switch (m.type) {
    case 'ready':
      return typeof m.version === 'number';
    case 'rendered':
      return typeof m.tensorCount === 'number' && Number.isFinite(m.tensorCount);
    case 'renderError':
      return typeof m.message === 'string';
    case 'requestStats':
    case 'requestSpectrum':
    case 'cancelTensor':
      return typeof m.name === 'string';
    default:
      return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Reconstruction dashboards (configure -> run -> results, compare): extension <-> dashboard webview.
// Engine shapes (plan, results) are plain JSON types re-exported from the engine, never duplicated.

export type { PlanOutcome, PlanView, DashboardData, CheckpointBrief, ProgressEvent, ReconstructOptions };
export type { DashboardBank, DashboardLayer, BankSpectra, SpectrumLine } from '../mimicry/dashboard/types';
export type { Budget, PlanBank, PlanRole } from '../mimicry/dashboard/budget';

export const DASHBOARD_PROTOCOL_VERSION = 1;

export type DashboardMode = 'configure' | 'results' | 'compare';
export type DashboardExportKind = 'model' | 'dense' | 'report-json' | 'report-csv';
export type ChartFormat = 'svg' | 'png';

export type RunPhase = 'fit' | 'spectra' | 'digest' | 'write';

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
  | { readonly type: 'runStarted'; readonly options: ReconstructOptions }
  | { readonly type: 'progress'; readonly phase: RunPhase; readonly event?: ProgressEvent; readonly message?: string }
  | { readonly type: 'result'; readonly data: DashboardData; readonly canExportModel: boolean }
  | { readonly type: 'runFailed'; readonly message: string; readonly cancelled: boolean }
  | { readonly type: 'compare'; readonly data: DashboardData }
  | { readonly type: 'busy'; readonly busy: boolean }
  | { readonly type: 'error'; readonly message: string };

export type FromDashboard =
  | { readonly type: 'ready'; readonly version: number }
  | { readonly type: 'plan'; readonly requestId: number; readonly options: ReconstructOptions }
  | { readonly type: 'run'; readonly options: ReconstructOptions }
  | { readonly type: 'cancel' }
  | { readonly type: 'export'; readonly kind: DashboardExportKind }
  /** A chart image: SVG text or a PNG data URL (`data:image/png;base64,...`). */
  | { readonly type: 'exportChart'; readonly chart: string; readonly format: ChartFormat; readonly payload: string }
  | { readonly type: 'reconfigure' }
  | { readonly type: 'pickCompare' }
  /** What the dashboard shows, for the extension's API and tests. */
  | { readonly type: 'rendered'; readonly mode: DashboardMode; readonly charts: number };

const TYPES: ReadonlySet<string> = new Set<FromDashboard['type']>(['ready', 'plan', 'run', 'cancel', 'export', 'exportChart', 'reconfigure', 'pickCompare', 'rendered']);
const KINDS: ReadonlySet<string> = new Set<DashboardExportKind>(['model', 'dense', 'report-json', 'report-csv']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The extension trusts nothing from the webview: checks a message's shape before acting on it. */
export function isFromDashboard(value: unknown): value is FromDashboard {
  if (!isObject(value) || typeof value.type !== 'string' || !TYPES.has(value.type)) return false;
  switch (value.type) {
    case 'ready':
      return typeof value.version === 'number';
    case 'plan':
      return typeof value.requestId === 'number' && isObject(value.options);
    case 'run':
      return isObject(value.options);
    case 'export':
      return typeof value.kind === 'string' && KINDS.has(value.kind);
    case 'exportChart':
      return (
        typeof value.chart === 'string' &&
        /^[a-z0-9-]{1,64}$/.test(value.chart) &&
        (value.format === 'svg' || value.format === 'png') &&
        typeof value.payload === 'string'
      );
    case 'rendered':
      return (value.mode === 'configure' || value.mode === 'results' || value.mode === 'compare') && typeof value.charts === 'number';
    default:
      return true;
  }
}
