// The task-family commands: "Compare as Task Family" (explorer multi-selection of adapter folders or
// .safetensors files, or the palette with a file picker), "Add to Family" (the explorer selection,
// the checkpoint in the inspector, or the palette's picker of several join the Family dashboard in
// front, or open one), "Cancel Family Comparison", and the serializer that reopens a family after a
// window reload.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { isObject, type FamilyState } from '../../webview/protocol';
import type { WebviewReports } from '../reports';
import { FAMILY_VIEW_TYPE, FamilyPanel, type FamilySpec } from './familyPanel';
import { sanitizeFamilyOptions } from './options';

export const FAMILY_COMMANDS = {
  compare: 'mimicry.compareFamily',
  add: 'mimicry.addToFamily',
  cancel: 'mimicry.cancelFamilyComparison',
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

async function pickMembers(title: string, openLabel = 'Compare', defaultUri?: vscode.Uri): Promise<vscode.Uri[] | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: true,
    canSelectFiles: true,
    canSelectFolders: true,
    openLabel,
    title,
    filters: { 'Adapters and checkpoints': ['safetensors', 'json'] },
    ...(defaultUri ? { defaultUri } : {}),
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

/** The paths once each (the same file given twice, or by two spellings, is one member). */
function unique(paths: readonly string[]): string[] {
  const seen = new Set<string>();
  return paths.filter((p) => {
    const key = path.resolve(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Adds the new ones of `files` to `family` (one comparison of all); those already in it are said and left out. */
async function addMembers(family: FamilyPanel, files: readonly string[]): Promise<readonly string[]> {
  const members = new Set(family.members.map((p) => path.resolve(p)));
  const fresh = unique(files).filter((p) => !members.has(path.resolve(p)));
  const already = unique(files).filter((p) => members.has(path.resolve(p)));
  if (already.length > 0) {
    const names = already.map((p) => path.basename(p)).join(', ');
    const what = already.length === 1 ? `${names} is already a member` : `${names} are already members`;
    void vscode.window.showInformationMessage(`Mimicry: ${what} of the family${fresh.length > 0 ? '; the others join it' : ''}.`);
  }
  if (fresh.length === 0) return family.members;
  await family.reopen({ ...family.spec, paths: [...family.members, ...fresh] });
  return family.members;
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
    vscode.commands.registerCommand(
      FAMILY_COMMANDS.add,
      async (uri?: vscode.Uri, uris?: vscode.Uri[]): Promise<readonly string[] | undefined> => {
        // The explorer passes the clicked item and the whole selection, the inspector's title bar its
        // checkpoint; the palette nothing: a picker of several, opened at the checkpoint in front.
        const given = Array.isArray(uris) && uris.length > 0 ? uris : uri instanceof vscode.Uri ? [uri] : [];
        const chosen = given.length > 0 ? given : await pickMembers('Add to the task family', 'Add to Family', activeCheckpoint());
        const files = chosen && localPaths(chosen);
        if (!files) return undefined;
        const family = FamilyPanel.active;
        if (family) return addMembers(family, files);
        // No Family dashboard open: these members open one (one alone needs the others).
        let paths = unique(files);
        if (paths.length < 2) {
          const more = await pickMembers('Add to a new task family: the other members');
          const others = more && localPaths(more);
          if (!others) return undefined;
          paths = unique([...paths, ...others]);
        }
        return FamilyPanel.open(extensionUri, reports, specOf(paths, undefined)).members;
      },
    ),
    vscode.commands.registerCommand(FAMILY_COMMANDS.cancel, (): number => {
      const cancelled = FamilyPanel.cancelAll();
      if (cancelled === 0) void vscode.window.showInformationMessage('Mimicry: no family comparison is running.');
      return cancelled;
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
