// Activation: registers the inspector (custom editor + commands), the reconstruction dashboards,
// and returns the test API.
import * as vscode from 'vscode';
import type { MimicryApi } from './api';
import { registerInspectorCommands } from './commands';
import { InspectorProvider } from './inspector/inspectorProvider';
import { registerMimicry } from './dashboard';
import { InspectorReports } from './reports';

export function activate(context: vscode.ExtensionContext): MimicryApi {
  const reports = new InspectorReports();
  context.subscriptions.push(reports);
  const provider = InspectorProvider.register(context, reports);
  registerInspectorCommands(context, provider);
  registerMimicry(context, (r) => reports.addDashboard(r));
  return reports.api();
}

export function deactivate(): void {
  // Documents and workers are disposed with their editors.
}
