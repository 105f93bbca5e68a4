// Records what each inspector and dashboard webview says it rendered, for the API in ./api.ts.
import * as vscode from 'vscode';
import type { DashboardReport, FamilyDashboardReport, InspectorReport, MimicryApi } from './api';

export class WebviewReports implements vscode.Disposable {
  private readonly reports: InspectorReport[] = [];
  private readonly emitter = new vscode.EventEmitter<InspectorReport>();
  private readonly dashboards: DashboardReport[] = [];
  private readonly dashboardEmitter = new vscode.EventEmitter<DashboardReport>();
  private readonly families: FamilyDashboardReport[] = [];
  private readonly familyEmitter = new vscode.EventEmitter<FamilyDashboardReport>();

  add(report: InspectorReport): void {
    this.reports.push(report);
    this.emitter.fire(report);
  }

  addDashboard(report: DashboardReport): void {
    this.dashboards.push(report);
    this.dashboardEmitter.fire(report);
  }

  addFamily(report: FamilyDashboardReport): void {
    this.families.push(report);
    this.familyEmitter.fire(report);
  }

  api(): Omit<MimicryApi, 'inspectorStats' | 'selectTensor' | 'tensorValues' | 'exportTaskBank'> {
    return {
      inspectorReports: () => this.reports.map((r) => ({ ...r })),
      onDidReportInspector: this.emitter.event,
      dashboardReports: () => this.dashboards.map((r) => ({ ...r })),
      onDidReportDashboard: this.dashboardEmitter.event,
      familyReports: () => this.families.map((r) => ({ ...r })),
      onDidReportFamily: this.familyEmitter.event,
    };
  }

  dispose(): void {
    this.emitter.dispose();
    this.dashboardEmitter.dispose();
    this.familyEmitter.dispose();
  }
}
