// The API `activate()` returns: lets tests (extension-host suite, e2e) observe what inspectors showed.
import type * as vscode from 'vscode';

export interface InspectorReport {
  /** The opened document's URI, as `uri.toString()`. */
  uri: string;
  /** Tensors the table shows (0 on error). */
  tensorCount: number;
  status: 'rendered' | 'error';
  error?: string;
}

export interface MimicryApi {
  /** Every report so far, oldest first. */
  inspectorReports(): InspectorReport[];
  /** Fires when an inspector webview has rendered its table or an error. */
  onDidReportInspector: vscode.Event<InspectorReport>;
}
