// Activation: registers the inspector (custom editor + commands), the reconstruction dashboards,
// and returns the test API.
import type * as vscode from 'vscode';
import type { MimicryApi } from './api';
import { registerInspectorCommands } from './commands';
import { InspectorProvider } from './inspector/inspectorProvider';
import { registerDashboards } from './dashboard/commands';
import { registerFamilyCommands } from './family/commands';
import { FamilyPanel } from './family/familyPanel';
import { WebviewReports } from './reports';

export function activate(context: vscode.ExtensionContext): MimicryApi {
  const reports = new WebviewReports();
  context.subscriptions.push(reports);
  const provider = InspectorProvider.register(context, reports);
  registerInspectorCommands(context, provider);
  registerDashboards(context, reports);
  registerFamilyCommands(context, reports);
  return {
    ...reports.api(),
    inspectorStats: (uri) => provider.documentOf(uri)?.statsReport(),
    selectTensor: (uri, name) => provider.requestStats(uri, name),
    tensorValues: async (uri, request) => provider.documentOf(uri)?.requestValues(request),
    exportTaskBank: async (file) => FamilyPanel.active?.exportBank(file),
  };
}

export function deactivate(): void {
  // Documents and workers are disposed with their editors.
}
