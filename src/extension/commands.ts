// The palette / explorer commands of the inspector.
import * as vscode from 'vscode';
import { INSPECTOR_VIEW_TYPE, type InspectorProvider } from './inspector/inspectorProvider';

export function registerInspectorCommands(context: vscode.ExtensionContext, provider: InspectorProvider): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('mimicry.inspect', async (uri?: vscode.Uri) => {
      const target = uri instanceof vscode.Uri ? uri : await pickCheckpoint();
      if (!target) return;
      await vscode.commands.executeCommand('vscode.openWith', target, INSPECTOR_VIEW_TYPE);
    }),
    vscode.commands.registerCommand('mimicry.inspector.computeAllStats', async () => {
      const document = provider.activeDocument;
      if (!document) {
        void vscode.window.showInformationMessage('Open a checkpoint in the Neural Mimicry inspector first.');
        return;
      }
      await provider.computeAll(document, vscode.ProgressLocation.Notification);
    }),
    vscode.commands.registerCommand('mimicry.inspector.cancelStats', () => {
      provider.activeDocument?.cancelAll();
    }),
  );
}

async function pickCheckpoint(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel: 'Inspect',
    title: 'Inspect a checkpoint',
    filters: { 'Safetensors checkpoints': ['safetensors', 'json'] },
  });
  return picked?.[0];
}
