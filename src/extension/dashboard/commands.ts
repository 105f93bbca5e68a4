// Palette / explorer / inspector commands of the reconstruction dashboards, and the serializer that
// brings dashboards back after a window reload.
import * as vscode from 'vscode';
import type { WebviewReports } from '../reports';
import { restorableState } from '../../webview/protocol';
import { DASHBOARD_VIEW_TYPE, DashboardPanel, loadRecast } from './dashboardPanel';
import { reconstructSettings } from './settings';
import type { ReconstructOptions } from '../../mimicry/recast/types';

export const RECONSTRUCT_COMMANDS = {
  reconstruct: 'mimicry.reconstruct',
  openDashboard: 'mimicry.openDashboard',
  exportReparameterized: 'mimicry.exportReparameterized',
  compareRuns: 'mimicry.compareRuns',
  cancelReconstruction: 'mimicry.cancelReconstruction',
} as const;

/** What scripts, tasks and tests may pass to the export command to run without dialogs. */
export interface ExportCommandArgs {
  /** Where to write the reparameterized model (never the source). */
  readonly out?: string;
  /** Engine options for the reconstruction; default: the mimicry.reconstruct.* settings. */
  readonly options?: ReconstructOptions;
}

/** The checkpoint the user is looking at in the inspector (a custom editor tab), if any. */
function activeCheckpoint(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom && /\.safetensors(\.index\.json)?$/i.test(input.uri.fsPath) ? input.uri : undefined;
}

async function pickFile(title: string, openLabel: string, recastOnly = false): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel,
    title,
    filters: recastOnly ? { 'Reparameterized safetensors': ['safetensors'] } : { 'Safetensors checkpoints': ['safetensors', 'json'] },
  });
  return picked?.[0];
}

async function target(uri: unknown, title: string, openLabel: string, recastOnly = false): Promise<vscode.Uri | undefined> {
  if (uri instanceof vscode.Uri) return uri;
  return activeCheckpoint() ?? (await pickFile(title, openLabel, recastOnly));
}

function localFile(uri: vscode.Uri): string | undefined {
  if (uri.scheme === 'file') return uri.fsPath;
  void vscode.window.showErrorMessage(`Neural Mimicry reads local files only (got ${uri.scheme}:)`);
  return undefined;
}

/** The dashboards' commands and serializer; every dashboard tells `reports` what it drew (the test API). */
export function registerDashboards(context: vscode.ExtensionContext, reports: WebviewReports): void {
  const extensionUri = context.extensionUri;
  const workerPath = vscode.Uri.joinPath(extensionUri, 'dist', 'reconstructWorker.js').fsPath;
  context.subscriptions.push(
    vscode.commands.registerCommand(RECONSTRUCT_COMMANDS.reconstruct, async (uri?: vscode.Uri) => {
      const u = await target(uri, 'Reconstruct a checkpoint', 'Reconstruct');
      const file = u && localFile(u);
      if (file) DashboardPanel.open(extensionUri, reports, file, 'configure');
    }),
    vscode.commands.registerCommand(RECONSTRUCT_COMMANDS.openDashboard, async (uri?: vscode.Uri) => {
      const u = await target(uri, 'Open the dashboard of a reparameterized model', 'Open Dashboard', true);
      const file = u && localFile(u);
      if (file) DashboardPanel.open(extensionUri, reports, file, 'results');
    }),
    vscode.commands.registerCommand(
      RECONSTRUCT_COMMANDS.exportReparameterized,
      async (uri?: vscode.Uri, args?: ExportCommandArgs): Promise<string | undefined> => {
        // From the dashboard in front (its last run), else reconstruct a checkpoint with the settings and export.
        try {
          const active = DashboardPanel.active;
          if (!(uri instanceof vscode.Uri) && active?.hasLiveRun) return await active.export('model', args?.out);
          const u = await target(uri, 'Export a reparameterized model', 'Reconstruct and Export');
          const file = u && localFile(u);
          if (!file) return undefined;
          const panel = DashboardPanel.open(extensionUri, reports, file, 'configure');
          const data = await panel.run(args?.options ?? reconstructSettings(u).defaults);
          return data ? await panel.export('model', args?.out) : undefined;
        } catch (e) {
          void vscode.window.showErrorMessage(`Neural Mimicry: ${e instanceof Error ? e.message : String(e)}`);
          return undefined;
        }
      },
    ),
    vscode.commands.registerCommand(RECONSTRUCT_COMMANDS.cancelReconstruction, (): number => {
      const cancelled = DashboardPanel.cancelAll();
      if (cancelled === 0) void vscode.window.showInformationMessage('Mimicry: no reconstruction is running.');
      return cancelled;
    }),
    vscode.commands.registerCommand(RECONSTRUCT_COMMANDS.compareRuns, async () => {
      const a = await pickFile('Compare runs: first reparameterized model', 'First', true);
      if (!a) return;
      const b = await pickFile('Compare runs: second reparameterized model', 'Second', true);
      if (!b) return;
      const da = await loadRecast(workerPath, a.fsPath);
      const db = da && (await loadRecast(workerPath, b.fsPath));
      if (da && db) DashboardPanel.openCompare(extensionUri, reports, da, db);
    }),
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
        const restored = restorableState(state);
        if (restored) DashboardPanel.revive(panel, extensionUri, reports, restored);
        else panel.dispose();
        return Promise.resolve();
      },
    }),
  );
}
