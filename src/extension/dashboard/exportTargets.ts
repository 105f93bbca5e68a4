// Where exports go: a save dialog that defaults next to the source (or mimicry.reconstruct.exportFolder),
// never onto the source itself; and the success message with "Reveal in Explorer Side Bar".
import * as vscode from 'vscode';
import * as path from 'node:path';

export interface ExportTarget {
  readonly suffix: string;
  readonly filters: Record<string, string[]>;
  readonly title: string;
}

export const TARGETS = {
  model: {
    suffix: '.recast.safetensors',
    filters: { 'Safetensors (reparameterized)': ['safetensors'] },
    title: 'Export reparameterized model',
  },
  dense: {
    suffix: '.dense.safetensors',
    filters: { 'Safetensors (dense reconstruction)': ['safetensors'] },
    title: 'Export dense reconstruction',
  },
  'report-json': { suffix: '.recast-report.json', filters: { 'JSON report': ['json'] }, title: 'Export report (JSON)' },
  'report-csv': { suffix: '.recast-report.csv', filters: { 'CSV report': ['csv'] }, title: 'Export report (CSV)' },
} as const satisfies Record<string, ExportTarget>;

/** `gpt2.safetensors` -> `gpt2`; `x.safetensors.index.json` -> `x`. */
export function stem(file: string): string {
  return path.basename(file).replace(/(\.recast)?\.safetensors(\.index\.json)?$/i, '');
}

export function defaultFolder(sourcePath: string, exportFolder: string): string {
  if (!exportFolder) return path.dirname(sourcePath);
  if (path.isAbsolute(exportFolder)) return exportFolder;
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return path.resolve(ws ?? path.dirname(sourcePath), exportFolder);
}

/** Asks where to save; refuses (with a message) any path that is one of `sources`. */
export async function askTarget(
  sourcePath: string,
  exportFolder: string,
  target: ExportTarget,
  sources: readonly string[],
  name?: string,
): Promise<string | undefined> {
  const suggested = path.join(defaultFolder(sourcePath, exportFolder), name ?? stem(sourcePath) + target.suffix);
  const uri = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(suggested),
    filters: target.filters,
    title: target.title,
    saveLabel: 'Export',
  });
  return uri ? checkTarget(uri.fsPath, sources) : undefined;
}

/** `file` resolved, or undefined (with an error message) when it is one of the sources. */
export function checkTarget(file: string, sources: readonly string[]): string | undefined {
  const chosen = path.resolve(file);
  if (sources.some((s) => path.resolve(s) === chosen)) {
    void vscode.window.showErrorMessage(`Neural Mimicry never overwrites the source: choose another file than ${path.basename(chosen)}.`);
    return undefined;
  }
  return chosen;
}

/** `size` (e.g. "m.recast.safetensors 22.1 MiB (0.50x of source 44.1 MiB)") replaces the bare file name when known. */
export async function announceExport(what: string, file: string, size?: string): Promise<void> {
  const reveal = 'Reveal in Explorer Side Bar';
  const pick = await vscode.window.showInformationMessage(`Exported ${what} to ${size ?? path.basename(file)}.`, reveal);
  if (pick === reveal) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(file));
}
