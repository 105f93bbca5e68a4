// The read-only custom editor `mimicry.inspector` for *.safetensors and *.safetensors.index.json.
// The extension only routes messages: the worker reads and computes, the webview draws.

import * as vscode from 'vscode';
import { basename } from 'node:path';
import { InspectorDocument } from './inspectorDocument';
import { StatsCache } from './statsCache';
import { renderWebview, webviewResourceRoots } from '../webviewHtml';
import { inspectorSettings } from '../config';
import { reconstructSettings } from '../dashboard/settings';
import type { WebviewReports } from '../reports';
import { withJobProgress } from '../progress';
import {
  isWebviewToExtension,
  protocolMismatch,
  PROTOCOL_VERSION,
  type ExtensionToWebview,
  type WebviewToExtension,
} from '../../webview/protocol';

export const INSPECTOR_VIEW_TYPE = 'mimicry.inspector';

export class InspectorProvider implements vscode.CustomReadonlyEditorProvider<InspectorDocument> {
  private active: { panel: vscode.WebviewPanel; document: InspectorDocument } | undefined;
  /** Statistics and spectra of closed files, for a reopen in this window. */
  private readonly cache = new StatsCache();
  private readonly documents = new Set<InspectorDocument>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly reports: WebviewReports,
  ) {}

  static register(context: vscode.ExtensionContext, reports: WebviewReports): InspectorProvider {
    const provider = new InspectorProvider(context.extensionUri, reports);
    context.subscriptions.push(
      vscode.window.registerCustomEditorProvider(INSPECTOR_VIEW_TYPE, provider, {
        // Keeps scroll position, selection and charts when the tab is hidden; the table is virtualised so this stays light.
        webviewOptions: { retainContextWhenHidden: true },
        supportsMultipleEditorsPerDocument: true,
      }),
    );
    return provider;
  }

  /** The inspector the user looks at (or last looked at), for commands. */
  get activeDocument(): InspectorDocument | undefined {
    return this.active?.document;
  }

  openCustomDocument(uri: vscode.Uri): InspectorDocument {
    if (uri.scheme !== 'file') throw new Error(`Neural Mimicry reads local files only (got ${uri.scheme}:)`);
    const worker = vscode.Uri.joinPath(this.extensionUri, 'dist', 'inspectWorker.js').fsPath;
    const document = new InspectorDocument(uri, worker, this.cache, () => inspectorSettings(uri).histogramBins);
    this.documents.add(document);
    document.onDidDispose(() => this.documents.delete(document));
    return document;
  }

  /** The open document of `uri` (the test API: what it computed, and a click on a tensor). */
  documentOf(uri: vscode.Uri): InspectorDocument | undefined {
    for (const d of this.documents) if (d.uri.toString() === uri.toString()) return d;
    return undefined;
  }

  /** What a selected tensor asks for: its statistics (now, before the rest of a running batch). */
  requestStats(uri: vscode.Uri, name: string): boolean {
    const document = this.documentOf(uri);
    document?.requestStats(name, inspectorSettings(uri).histogramBins);
    return document !== undefined;
  }

  resolveCustomEditor(document: InspectorDocument, panel: vscode.WebviewPanel): void {
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: webviewResourceRoots(this.extensionUri) };
    const page = renderWebview(webview, this.extensionUri, {
      title: basename(document.uri.fsPath),
      script: 'inspector.js',
      stylesheet: 'inspector.css',
    });
    const post = (m: ExtensionToWebview): void => void webview.postMessage(m);
    const stopListening = document.listen(post);
    this.active = { panel, document };

    const subscriptions: vscode.Disposable[] = [
      page,
      webview.onDidReceiveMessage((raw: unknown) => {
        if (isWebviewToExtension(raw)) this.onMessage(raw, document, post);
      }),
      panel.onDidChangeViewState(() => {
        if (panel.active) this.active = { panel, document };
      }),
      panel.onDidDispose(() => {
        stopListening();
        if (this.active?.panel === panel) this.active = undefined;
        for (const s of subscriptions) s.dispose();
      }),
    ];
  }

  private onMessage(m: WebviewToExtension, document: InspectorDocument, post: (m: ExtensionToWebview) => void): void {
    const settings = inspectorSettings(document.uri);
    switch (m.type) {
      case 'ready': {
        const mismatch = protocolMismatch(m.version);
        if (mismatch) post({ type: 'error', error: mismatch });
        else void this.sendHeader(document, post);
        return;
      }
      case 'rendered':
        this.reports.add({ uri: document.uri.toString(), tensorCount: m.tensorCount, status: 'rendered', settings });
        return;
      case 'renderError':
        this.reports.add({ uri: document.uri.toString(), tensorCount: 0, status: 'error', error: m.error.message, settings });
        return;
      case 'requestStats':
        document.requestStats(m.name, settings.histogramBins);
        return;
      case 'requestSpectrum':
        // The one backend setting: `webgpu` also puts large spectra's Grams on the GPU.
        document.requestSpectrum(m.name, settings.spectrumMaxSide, reconstructSettings(document.uri).defaults.backend);
        return;
      case 'cancelTensor':
        document.cancelTensor(m.name);
        return;
      case 'requestValues': {
        const { type: _type, ...request } = m;
        void document.requestValues(request);
        return;
      }
      case 'computeAll':
        void this.computeAll(document, vscode.ProgressLocation.Notification);
        return;
      case 'cancelAll':
        document.cancelAll();
        return;
      case 'reconstruct':
        void vscode.commands.executeCommand('mimicry.reconstruct', document.uri);
        return;
      case 'openDashboard':
        void vscode.commands.executeCommand('mimicry.openDashboard', document.uri);
        return;
    }
  }

  private async sendHeader(document: InspectorDocument, post: (m: ExtensionToWebview) => void): Promise<void> {
    const fileName = basename(document.uri.fsPath);
    post({ type: 'loading', version: PROTOCOL_VERSION, fileName });
    const opened = await document.opened;
    if (!('overview' in opened)) {
      const { error } = opened;
      post({ type: 'error', error });
      // The engine's message starts with the path; the notification names the file already.
      const detail = error.file && error.message.startsWith(`${error.file}: `) ? error.message.slice(error.file.length + 2) : error.message;
      void vscode.window.showErrorMessage(`Neural Mimicry cannot open ${fileName}: ${detail}`);
      return;
    }
    const settings = inspectorSettings(document.uri);
    const autoStats = opened.overview.totalBytes <= settings.autoStatsMaxBytes;
    post({ type: 'header', version: PROTOCOL_VERSION, summary: opened.overview, tensors: opened.tensors, autoStats });
    // A second view of the same document (or a reloaded webview) gets what is known already.
    for (const [name, stats] of document.stats) post({ type: 'stats', name, stats });
    for (const [name, spectrum] of document.spectra) post({ type: 'spectrum', name, spectrum });
    const batch = document.currentBatch;
    if (batch.state !== 'idle') post({ type: 'batch', ...batch });
    else if (autoStats) void this.computeAll(document, vscode.ProgressLocation.Window);
  }

  /** "Compute all" with a progress report and Cancel (a notification when the user asked for it). */
  computeAll(document: InspectorDocument, location: vscode.ProgressLocation): Thenable<void> {
    const title = `Mimicry: statistics of ${basename(document.uri.fsPath)}`;
    const { histogramBins: bins, statsThreads } = inspectorSettings(document.uri);
    return withJobProgress({ title, location }, (report) => {
      const sub = document.onDidChangeBatch(() => {
        const { done, total } = document.currentBatch.progress;
        report({ fraction: total > 0 ? done / total : 1, message: `${done} of ${total} tensors` });
      });
      const done = document.computeAll(bins, statsThreads).finally(() => sub.dispose());
      return { done, cancel: () => document.cancelAll() };
    });
  }
}
