// Records what each inspector webview says it rendered, for the API in ./api.ts.
import * as vscode from 'vscode';
import type { InspectorReport, MimicryApi } from './api';

export class InspectorReports implements vscode.Disposable {
  private readonly reports: InspectorReport[] = [];
  private readonly emitter = new vscode.EventEmitter<InspectorReport>();

  add(report: InspectorReport): void {
    this.reports.push(report);
    this.emitter.fire(report);
  }

  api(): MimicryApi {
    return {
      inspectorReports: () => this.reports.map((r) => ({ ...r })),
      onDidReportInspector: this.emitter.event,
    };
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
