// The task-family commands: "Compare as Task Family" (explorer multi-selection of adapter folders or
// .safetensors files, or the palette with a file picker), "Add to Family" (the checkpoint in the
// inspector joins the Family dashboard in front), and the serializer that reopens a family after a
// window reload.
import * as vscode from 'vscode';
import { isObject, type FamilyState } from '../../webview/protocol';
import type { WebviewReports } from '../reports';
import { FAMILY_VIEW_TYPE, FamilyPanel, type FamilySpec } from './familyPanel';
import { sanitizeFamilyOptions } from './options';

export const FAMILY_COMMANDS = {
  compare: 'mimicry.compareFamily',
  add: 'mimicry.addToFamily',
} as const;

/** What scripts, tasks and tests may pass to the compare command (no dialogs). */
export interface FamilyCommandArgs {
  /** The base checkpoint (full checkpoints need one; adapters get ||dW|| / ||W_base|| with it). */
  readonly base?: string;
  readonly templates?: number;
  readonly map?: 'pca' | 'umap';
  readonly seed?: number;
}

function localPaths(uris: readonly vscode.Uri[]): string[] | undefined {
  const remote = uris.find((u) => u.scheme !== 'file');
  if (!remote) return uris.map((u) => u.fsPath);
  void vscode.window.showErrorMessage(`Neural Mimicry reads local files only (got ${remote.scheme}:)`);
  return undefined;
}

async function pickMembers(title: string): Promise<vscode.Uri[] | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: true,
    canSelectFiles: true,
    canSelectFolders: true,
    openLabel: 'Compare',
    title,
    filters: { 'Adapters and checkpoints': ['safetensors', 'json'] },
  });
  return picked && picked.length > 0 ? picked : undefined;
}

/** The checkpoint the user is looking at in the inspector (a custom editor tab), if any. */
function activeCheckpoint(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom && /\.safetensors(\.index\.json)?$/i.test(input.uri.fsPath) ? input.uri : undefined;
}

function specOf(paths: readonly string[], args: FamilyCommandArgs | undefined): FamilySpec {
  return { paths, base: args?.base ?? null, options: sanitizeFamilyOptions(args ?? {}) };
}

function restoredSpec(state: unknown): FamilySpec | undefined {
  if (!isObject(state)) return undefined;
  const s = state as FamilyState;
  if (!Array.isArray(s.paths) || s.paths.length < 2 || !s.paths.every((p) => typeof p === 'string')) return undefined;
  return { paths: s.paths, base: typeof s.base === 'string' ? s.base : null, options: sanitizeFamilyOptions(s.options) };
}

export function registerFamilyCommands(context: vscode.ExtensionContext, reports: WebviewReports): void {
  const extensionUri = context.extensionUri;
  context.subscriptions.push(
    vscode.commands.registerCommand(
      FAMILY_COMMANDS.compare,
      async (uri?: vscode.Uri, uris?: vscode.Uri[], args?: FamilyCommandArgs): Promise<void> => {
        // The explorer passes the clicked item and the whole selection; the palette passes nothing.
        let chosen = Array.isArray(uris) && uris.length > 0 ? uris : uri instanceof vscode.Uri ? [uri] : [];
        if (chosen.length < 2) {
          const more = await pickMembers(
            chosen.length === 1
              ? 'Compare as a task family: the other members'
              : 'Compare as a task family: two or more adapters or fine-tunes',
          );
          if (!more) return;
          chosen = [...chosen, ...more];
        }
        const paths = localPaths(chosen);
        if (paths) FamilyPanel.open(extensionUri, reports, specOf(paths, args));
      },
    ),
    vscode.commands.registerCommand(FAMILY_COMMANDS.add, async (uri?: vscode.Uri): Promise<void> => {
      const u = uri instanceof vscode.Uri ? uri : activeCheckpoint();
      if (!u) {
        void vscode.window.showInformationMessage('Mimicry: open an adapter or checkpoint in the inspector first.');
        return;
      }
      const [file] = localPaths([u]) ?? [];
      if (!file) return;
      const family = FamilyPanel.active;
      if (family) {
        if (family.members.includes(file)) {
          void vscode.window.showInformationMessage('Mimicry: this checkpoint is already a member of the family.');
          return;
        }
        await family.reopen({ ...family.spec, paths: [...family.members, file] });
        return;
      }
      const more = await pickMembers('Add to a new task family: the other members');
      const paths = more && localPaths(more);
      if (paths) FamilyPanel.open(extensionUri, reports, specOf([file, ...paths], undefined));
    }),
    vscode.window.registerWebviewPanelSerializer(FAMILY_VIEW_TYPE, {
      deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
        const spec = restoredSpec(state);
        if (spec) FamilyPanel.revive(panel, extensionUri, reports, spec);
        else panel.dispose();
        return Promise.resolve();
      },
    }),
  );
}
