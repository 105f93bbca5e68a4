// The API `activate()` returns: lets tests (extension-host suite, e2e) observe what inspectors and
// dashboards showed.
import type * as vscode from 'vscode';
import type { InspectorSettings } from './config';

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
}
