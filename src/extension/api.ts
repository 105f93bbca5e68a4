// The API `activate()` returns: lets tests (extension-host suite, e2e) observe what inspectors and
// dashboards showed.
import type * as vscode from 'vscode';
import type { InspectorSettings } from './config';
import type { ExtensionToWebview, ValuesRequest } from '../webview/protocol';

export interface InspectorReport {
  /** The opened document's URI, as `uri.toString()`. */
  uri: string;
  /** Tensors the table shows (0 on error). */
  tensorCount: number;
  status: 'rendered' | 'error';
  error?: string;
  /** The mimicry.inspector.* settings this inspector was opened with (and computes with). */
  settings: InspectorSettings;
}

export interface DashboardReport {
  /** The file the dashboard is about (a checkpoint or a reparameterized file), as a path. */
  path: string;
  /** What it shows: the configuration form, results, or two runs compared. */
  mode: 'configure' | 'results' | 'compare';
  /** Charts drawn. */
  charts: number;
  /** Results: the summary cards' values by id (e.g. `time`: "48.2 s"). */
  cards?: Record<string, string>;
  /** Results: the cards' lines under their values, by id (e.g. `time`: "fit 6.8 s, ..., spectra 39.0 s, digest 0.31 s; closed form"). */
  cardHints?: Record<string, string>;
  /** Results: banks whose spectra are still being computed (a recast file that does not store them). */
  pendingSpectra?: number;
  /** The line saying what is fitted, when the view shows one (a LoRA adapter's layer updates or factors). */
  note?: string;
}

/** What a Family dashboard (a task family compared) showed. */
export interface FamilyDashboardReport {
  /** The members as given (folders or files), and the base, if any. */
  paths: string[];
  base: string | null;
  /** The report, the analysis still running, or an error instead of it. */
  view: 'report' | 'error' | 'running';
  /** Charts drawn. */
  charts: number;
  /** Rows of the members table. */
  members: number;
  /** The summary line over the report (members, shared layers, banks). */
  summary?: string;
  /** The error shown (it names the member's file and the rule). */
  error?: string;
}

/** What an open inspector document computed (its statistics and "compute all" batches). */
export interface InspectorStatsReport {
  /** Tensor names in the order their statistics became known: those restored from this window's cache first. */
  readonly arrived: readonly string[];
  /** How many of them came from the cache (the same file closed and reopened in this window). */
  readonly restored: number;
  /** How many "compute all" had computed on the other cores (stats pool workers beside the inspector's). */
  readonly helped: number;
  /** Each batch's start and end: state and `done` of `total` tensors (a resumed batch starts at what was done). */
  readonly batches: readonly { readonly state: string; readonly done: number; readonly total: number }[];
}

export interface MimicryApi {
  /** Every report so far, oldest first. */
  inspectorReports(): InspectorReport[];
  /** Fires when an inspector webview has rendered its table or an error. */
  onDidReportInspector: vscode.Event<InspectorReport>;
  /** Every dashboard report so far, oldest first. */
  dashboardReports(): DashboardReport[];
  /** Fires when a dashboard webview has drawn a view. */
  onDidReportDashboard: vscode.Event<DashboardReport>;
  /** Every Family dashboard report so far, oldest first. */
  familyReports(): FamilyDashboardReport[];
  /** Fires when a Family dashboard webview has drawn a view. */
  onDidReportFamily: vscode.Event<FamilyDashboardReport>;
  /** Writes the task bank of the Family dashboard in front to `file`, as its export button does without the dialog (undefined: none, or refused). */
  exportTaskBank(file: string): Promise<string | undefined>;
  /** The open inspector document of `uri`, if any: what it computed. */
  inspectorStats(uri: vscode.Uri): InspectorStatsReport | undefined;
  /** Selects a tensor as a click in the inspector does: asks for its statistics (false when `uri` is not open). */
  selectTensor(uri: vscode.Uri, name: string): boolean;
  /** Asks for a page of values as the inspector's values view does: the message its views get (undefined when `uri` is not open). */
  tensorValues(
    uri: vscode.Uri,
    request: ValuesRequest,
  ): Promise<Extract<ExtensionToWebview, { type: 'values' | 'valuesFailed' }> | undefined>;
}
