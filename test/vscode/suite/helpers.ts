// Shared by the extension-host tests: the extension's API, its manifest, the test workspace, and a
// way to open a checkpoint and wait for what the inspector reports about it.
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import type { InspectorReport, MimicryApi } from '../../../src/extension/api';

export type { InspectorReport, MimicryApi };
export { WORKSPACE_FILES } from '../../../scripts/test-workspace-files.mjs';

export const EXTENSION_ID = 'neural-mimicry.neural-mimicry';
export const INSPECTOR_VIEW_TYPE = 'mimicry.inspector';
/** Upper bound on one inspector render; a bound so a broken webview fails the test, never hangs it. */
export const REPORT_TIMEOUT_MS = 60_000;
/** Once a wait has timed out with no report ever made, the inspector is broken: later waits are short. */
const SILENT_TIMEOUT_MS = 15_000;
let inspectorSilent = false;

export interface ContributedCommand {
  command: string;
  title: string;
  category?: string;
}
export interface ContributedSetting {
  type?: string | string[];
  default?: unknown;
  description?: string;
  markdownDescription?: string;
}
export interface ContributedConfiguration {
  title?: string;
  properties?: Record<string, ContributedSetting>;
}
export interface ContributedCustomEditor {
  viewType: string;
  displayName?: string;
  selector?: { filenamePattern?: string }[];
  priority?: 'default' | 'option';
}
export interface MenuItem {
  command: string;
  when?: string;
  group?: string;
}
export interface Manifest {
  name: string;
  publisher: string;
  main?: string;
  activationEvents?: string[];
  contributes?: {
    commands?: ContributedCommand[];
    configuration?: ContributedConfiguration | ContributedConfiguration[];
    customEditors?: ContributedCustomEditor[];
    menus?: Record<string, MenuItem[]>;
  };
}

/** The extension as installed (from the .vsix): its manifest is what users get. */
export function extension(): vscode.Extension<unknown> | undefined {
  return vscode.extensions.getExtension(EXTENSION_ID);
}

export function manifest(): Manifest | undefined {
  return extension()?.packageJSON as Manifest | undefined;
}

export function contributedSettings(m: Manifest | undefined): [string, ContributedSetting][] {
  const c = m?.contributes?.configuration;
  const list = c === undefined ? [] : Array.isArray(c) ? c : [c];
  return list.flatMap((section) => Object.entries(section.properties ?? {}));
}

function isApi(value: unknown): value is MimicryApi {
  const v = value as Partial<MimicryApi> | undefined;
  return typeof v?.inspectorReports === 'function' && typeof v.onDidReportInspector === 'function';
}

export async function api(): Promise<MimicryApi> {
  const ext = extension();
  assert.ok(ext, `extension ${EXTENSION_ID} is not installed`);
  const exported = await ext.activate();
  assert.ok(isApi(exported), `activate() must return the MimicryApi (inspectorReports, onDidReportInspector), got ${typeof exported}`);
  return exported;
}

export function workspaceRoot(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the tests need the generated test workspace open as the first folder');
  return folder.uri;
}

export function workspaceFile(rel: string): vscode.Uri {
  return vscode.Uri.joinPath(workspaceRoot(), ...rel.split('/'));
}

/** Reports carry `uri.toString()`; compare by path so encoding differences do not matter. */
export function sameFile(reportUri: string, uri: vscode.Uri): boolean {
  const r = vscode.Uri.parse(reportUri);
  return r.scheme === uri.scheme && r.path === uri.path;
}

/**
 * Runs `open` and resolves with the first report about `uri` made after it started.
 * Rejects, listing every report seen, when none arrives in time.
 */
export async function openAndWaitForReport(uri: vscode.Uri, open: () => Thenable<unknown>): Promise<InspectorReport> {
  const mimicry = await api();
  const before = mimicry.inspectorReports().filter((r) => sameFile(r.uri, uri)).length;
  const timeoutMs = inspectorSilent ? SILENT_TIMEOUT_MS : REPORT_TIMEOUT_MS;
  return new Promise<InspectorReport>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      sub.dispose();
      clearInterval(poll);
      clearTimeout(timer);
      fn();
    };
    const check = (): void => {
      const mine = mimicry.inspectorReports().filter((r) => sameFile(r.uri, uri));
      const latest = mine[mine.length - 1];
      if (mine.length > before && latest) finish(() => resolve(latest));
    };
    // The event is the contract; the poll is a fallback in case a report fired between calls.
    const sub = mimicry.onDidReportInspector((r) => {
      if (sameFile(r.uri, uri)) finish(() => resolve(r));
    });
    const poll = setInterval(check, 500);
    const timer = setTimeout(() => {
      if (mimicry.inspectorReports().length === 0) inspectorSilent = true;
      const all = mimicry.inspectorReports().map((r) => `${r.status} ${r.tensorCount} ${r.uri}${r.error ? ` (${r.error})` : ''}`);
      finish(() =>
        reject(
          new Error(
            `no inspector report for ${uri.toString()} within ${timeoutMs / 1000} s; ` +
              `reports so far:\n  ${all.join('\n  ') || '(none: the webview never reported)'}`,
          ),
        ),
      );
    }, timeoutMs);
    open().then(undefined, (err: unknown) => finish(() => reject(err instanceof Error ? err : new Error(String(err)))));
  });
}

export function openInInspector(uri: vscode.Uri): Promise<InspectorReport> {
  return openAndWaitForReport(uri, () => vscode.commands.executeCommand('vscode.openWith', uri, INSPECTOR_VIEW_TYPE));
}

/**
 * Runs `open` and resolves with the first event of `event` that `matches`; rejects with `what` after
 * `timeoutMs`, or with `open`'s own error.
 */
export function firstReport<R>(
  event: vscode.Event<R>,
  matches: (r: R) => boolean,
  open: () => Thenable<unknown>,
  what: string,
  timeoutMs: number,
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`${what} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const sub = event((r) => {
      if (!matches(r)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(r);
    });
    open().then(undefined, (e: unknown) => {
      clearTimeout(timer);
      sub.dispose();
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
}

/** The custom editor showing in the active tab, if it is one. */
export function activeCustomEditor(): vscode.TabInputCustom | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom ? input : undefined;
}

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}
