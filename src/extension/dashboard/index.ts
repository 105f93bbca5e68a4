// Entry of the reconstruction dashboards for activate(): commands, menus' handlers, serializer.
import type * as vscode from 'vscode';
import type { DashboardReport } from '../api';
import { registerReconstructCommands } from './commands';
import { DashboardPanel } from './dashboardPanel';

export { RECONSTRUCT_COMMANDS } from './commands';
export { DASHBOARD_VIEW_TYPE } from './dashboardPanel';

/** `report` hears what each dashboard drew (the extension's test API). */
export function registerMimicry(context: vscode.ExtensionContext, report?: (r: DashboardReport) => void): void {
  DashboardPanel.onReport = report;
  registerReconstructCommands(context);
}
