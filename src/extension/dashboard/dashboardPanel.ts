// One dashboard panel: configure a reconstruction of a checkpoint, watch it run, judge the results,
// export them; or the results of a reparameterized file, alone or beside another run. The panel
// only routes: the worker computes (the reconstruction worker's host), the webview draws.
import * as vscode from 'vscode';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { reportCsv } from '../../mimicry/dashboard/csv';
import { DEFINITIONS } from '../../mimicry/dashboard/definitions';
import type { BankSpectra, DashboardData } from '../../mimicry/dashboard/types';
import { isCheckpointOutput, withOutput } from '../../mimicry/dashboard/outputs';
import { formatSizeAgainst } from '../../webview/shared/format';
import type { ReconstructOptions } from '../../mimicry/recast/types';
import { wireOf } from '../../mimicry/errors';
import type { Cancellable } from '../../mimicry/worker/channel/protocol';
import { reconstructHost, type ReconstructHost } from '../../mimicry/worker/reconstruct/client';
import {
  isFromDashboard,
  protocolMismatch,
  PROTOCOL_VERSION,
  type DashboardExportKind,
  type DashboardMode,
  type DashboardState,
  type FromDashboard,
  type ToDashboard,
} from '../../webview/protocol';
import { orShowError, showJobError, withJobProgress } from '../progress';
import type { WebviewReports } from '../reports';
import { pngFromDataUrl, writeFileAtomic } from './atomicWrite';
import { checkChartSvg } from './chartSvg';
import { renderWebview, webviewResourceRoots } from '../webviewHtml';
import { announceExport, askTarget, checkTarget, stem, TARGETS, type ExportTarget } from './exportTargets';
import { sanitizeOptions } from './options';
import { reconstructSettings } from './settings';
import { adapterFactors } from '../config';

export const DASHBOARD_VIEW_TYPE = 'mimicry.dashboard';

/** What the panel shows: the persisted dashboard state's file, mode and data. */
type PanelState = Pick<DashboardState, 'data' | 'compare'> & { readonly path: string; readonly mode: DashboardMode };

export class DashboardPanel implements vscode.Disposable {
  private static readonly panels = new Set<DashboardPanel>();
  private static lastActive: DashboardPanel | undefined;

  private client: ReconstructHost | undefined;
  private running: Cancellable<unknown> | undefined;
  private curveRequest: Cancellable<unknown> | undefined;
  /** Worker generation whose memory holds the last run (model / dense exports need it). */
  private liveGeneration: number | undefined;
  private isRecast = false;
  /** Files this dashboard wrote for the current results (the report's `outputs`). */
  private outputs: Record<string, string> = {};
  private readonly disposables: vscode.Disposable[] = [];

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    /** Hears what the dashboard drew (the extension's test API). */
    private readonly reports: WebviewReports,
    private state: PanelState,
  ) {
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: webviewResourceRoots(extensionUri) };
    this.disposables.push(
      renderWebview(webview, extensionUri, { title: panel.title, script: 'dashboard.js', stylesheet: 'dashboard.css' }),
      webview.onDidReceiveMessage((raw: unknown) => {
        if (isFromDashboard(raw)) void this.onMessage(raw);
      }),
      panel.onDidChangeViewState(() => {
        if (panel.active) DashboardPanel.lastActive = this;
      }),
      panel.onDidDispose(() => this.dispose()),
    );
    DashboardPanel.panels.add(this);
    DashboardPanel.lastActive = this;
  }

  /** Opens a dashboard for `file`: the configuration form for a checkpoint, results for a recast file. */
  static open(extensionUri: vscode.Uri, reports: WebviewReports, file: string, mode: DashboardMode = 'configure'): DashboardPanel {
    const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, `Mimicry: ${path.basename(file)}`, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: webviewResourceRoots(extensionUri),
    });
    return new DashboardPanel(panel, extensionUri, reports, { path: file, mode });
  }

  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, reports: WebviewReports, state: PanelState): DashboardPanel {
    return new DashboardPanel(panel, extensionUri, reports, state);
  }

  static get active(): DashboardPanel | undefined {
    return DashboardPanel.lastActive;
  }

  dispose(): void {
    if (!DashboardPanel.panels.delete(this)) return;
    if (DashboardPanel.lastActive === this) DashboardPanel.lastActive = undefined;
    this.running?.cancel();
    this.client?.dispose();
    for (const d of this.disposables) d.dispose();
    this.panel.dispose();
  }

  private post(m: ToDashboard): void {
    // A job that ends after the panel closed has no one to tell.
    if (!DashboardPanel.panels.has(this)) return;
    void this.panel.webview.postMessage(m);
  }

  private workerPath(): string {
    return vscode.Uri.joinPath(this.extensionUri, 'dist', 'reconstructWorker.js').fsPath;
  }

  private session(): ReconstructHost {
    this.client ??= reconstructHost(this.workerPath(), this.state.path, undefined, adapterFactors(vscode.Uri.file(this.state.path)));
    return this.client;
  }

  /** Whether this dashboard holds a run whose reparameterized model can be written now. */
  get hasLiveRun(): boolean {
    return !this.isRecast && this.liveGeneration !== undefined && this.liveGeneration === this.client?.generation;
  }

  private get canExportModel(): boolean {
    return this.isRecast || (this.liveGeneration !== undefined && this.liveGeneration === this.client?.generation);
  }

  /** The curve of the newest plan only: a newer request cancels the one in flight (banks read so far stay cached in the worker). */
  private requestCurve(requestId: number, options: ReconstructOptions): void {
    this.curveRequest?.cancel();
    const request = this.session().request('curve', { options }, (progress) => this.post({ type: 'curveProgress', requestId, progress }));
    this.curveRequest = request;
    request.done.then(
      (outcome) => this.post({ type: 'curve', requestId, outcome }),
      (e: unknown) => {
        const error = wireOf(e);
        if (!error.cancelled) this.post({ type: 'curve', requestId, outcome: { ok: false, error: error.message } });
      },
    );
  }

  private async onMessage(m: FromDashboard): Promise<void> {
    try {
      switch (m.type) {
        case 'ready': {
          const mismatch = protocolMismatch(m.version);
          return mismatch ? this.post({ type: 'error', error: mismatch }) : await this.init();
        }
        case 'plan': {
          const options = sanitizeOptions(m.options);
          const outcome = await this.session().request('plan', { options }).done;
          this.post({ type: 'plan', requestId: m.requestId, outcome });
          if (outcome.ok) this.requestCurve(m.requestId, options);
          return;
        }
        case 'run':
          await this.run(sanitizeOptions(m.options));
          return;
        case 'cancel':
          this.running?.cancel();
          return;
        case 'export':
          await this.export(m.kind);
          return;
        case 'exportChart':
          return await this.exportChart(m.chart, m.format, m.payload);
        case 'reconfigure':
          this.state = { path: this.state.path, mode: 'configure' };
          return await this.init();
        case 'pickCompare':
          return await this.pickCompare();
        case 'rendered':
          this.reports.addDashboard({
            path: this.state.path,
            mode: m.mode,
            charts: m.charts,
            ...(m.cards
              ? {
                  cards: Object.fromEntries(m.cards.map((c) => [c.id, c.value])),
                  cardHints: Object.fromEntries(m.cards.flatMap((c) => (c.hint === undefined ? [] : [[c.id, c.hint]]))),
                }
              : {}),
            ...(m.pendingSpectra === undefined ? {} : { pendingSpectra: m.pendingSpectra }),
            ...(m.note === undefined ? {} : { note: m.note }),
          });
          return;
      }
    } catch (e) {
      const error = wireOf(e);
      if (error.cancelled) return;
      this.post({ type: 'error', error });
      showJobError(e);
    }
  }

  private async init(): Promise<void> {
    const settings = reconstructSettings(vscode.Uri.file(this.state.path));
    const base = { type: 'init' as const, version: PROTOCOL_VERSION, path: this.state.path, defaults: settings.defaults };
    if (this.state.data && this.state.mode !== 'configure') {
      // A recast file's dense export needs no run: the worker rebuilds it from the file.
      if (this.state.data.origin === 'recast-file' && this.state.data.source.path === this.state.path) this.isRecast = true;
      // Restored (window reload) or already shown: the stored picture, no rerun.
      this.post({
        ...base,
        mode: this.state.mode,
        data: this.state.data,
        compare: this.state.compare,
        canExportModel: this.canExportModel,
      });
      if (this.isRecast && this.state.mode === 'results') await this.completeSpectra(this.state.data, settings.spectrumMaxSide);
      return;
    }
    let brief;
    try {
      brief = await this.session().open();
    } catch (e) {
      const error = wireOf(e);
      this.post({ type: 'error', error: { ...error, message: `cannot open ${path.basename(this.state.path)}: ${error.message}` } });
      return;
    }
    this.isRecast = brief.isRecast;
    if (brief.isRecast) {
      // The metadata alone (stored metrics and spectra): ready at once; what the file does not store follows.
      const title = `Mimicry: reading the metrics of ${brief.fileName}`;
      const data = await orShowError(
        withJobProgress({ title, location: vscode.ProgressLocation.Window }, (report) =>
          this.session().request('load', { spectrumMaxSide: settings.spectrumMaxSide }, report),
        ),
      );
      if (!data) return;
      this.state = { path: this.state.path, mode: 'results', data };
      this.post({ ...base, mode: 'results', brief, data, canExportModel: true });
      await this.completeSpectra(data, settings.spectrumMaxSide);
      return;
    }
    this.post({ ...base, mode: 'configure', brief, canExportModel: false });
    // A run started by a command before the webview was ready: show its progress from here on.
    if (this.running) this.post({ type: 'runStarted', options: {} });
  }

  /**
   * The spectra a recast file does not store, computed by the worker from its templates with
   * progress (in the chart's note and a notification with Cancel); cancelled or failed, the
   * chart says so instead of waiting.
   */
  private async completeSpectra(data: DashboardData, spectrumMaxSide: number): Promise<void> {
    const banks = data.spectra.filter((s) => s.pending).map((s) => s.bank);
    if (banks.length === 0) return;
    let computed: readonly BankSpectra[] | undefined;
    let why = 'cancelled';
    try {
      computed = await withJobProgress({ title: `Mimicry: spectra of ${path.basename(this.state.path)}` }, (report) =>
        this.session().request('spectra', { banks, spectrumMaxSide }, (p) => {
          this.post({ type: 'progress', phase: 'spectra', message: p.message, phaseFraction: p.phaseFraction });
          report({ fraction: p.fraction, message: p.message });
        }),
      );
    } catch (e) {
      const error = wireOf(e);
      if (!error.cancelled) {
        why = error.message;
        showJobError(e, 'spectra');
      }
    }
    // The dashboard may have moved on (reconfigured, closed) while the spectra were computed.
    if (this.state.data !== data) return;
    const byBank = new Map((computed ?? []).map((s) => [s.bank, s]));
    const next: DashboardData = {
      ...data,
      spectra: data.spectra.map(
        (s) => byBank.get(s.bank) ?? (s.pending ? { bank: s.bank, lines: [], skipped: `not computed (${why})` } : s),
      ),
    };
    this.state = { ...this.state, data: next };
    this.post({ type: 'spectra', data: next });
  }

  /** Runs a reconstruction with a notification (Cancel) and live progress in the dashboard. */
  async run(options: ReconstructOptions): Promise<DashboardData | undefined> {
    if (this.running) {
      void vscode.window.showWarningMessage('A reconstruction is already running in this dashboard.');
      return undefined;
    }
    // The form's curve gives way to the run (the run reads the same members).
    this.curveRequest?.cancel();
    const client = this.session();
    const settings = reconstructSettings(vscode.Uri.file(this.state.path));
    this.post({ type: 'runStarted', options });
    const fileName = path.basename(this.state.path);
    const title = `Mimicry: reconstructing ${fileName}`;
    const job = withJobProgress({ title }, (report) => {
      const request = client.request('run', { options, spectrumMaxSide: settings.spectrumMaxSide }, (p) => {
        this.post({ type: 'progress', phase: p.phase, event: p.event, message: p.message });
        if (p.phase === 'fit' && p.event)
          report({ fraction: p.fraction, message: `${p.event.group} (${p.event.groupIndex + 1} of ${p.event.groups})` });
        else if (p.message) report({ message: p.message });
      });
      this.running = request;
      return request;
    });
    try {
      const data = await job;
      this.liveGeneration = client.generation;
      this.outputs = {};
      this.state = { path: this.state.path, mode: 'results', data };
      this.post({ type: 'result', data, canExportModel: this.canExportModel });
      return data;
    } catch (e) {
      const error = wireOf(e);
      this.post({ type: 'runFailed', error });
      if (error.cancelled)
        void vscode.window.showInformationMessage(`Mimicry: reconstruction of ${fileName} cancelled; nothing was written.`);
      else showJobError(e, `reconstruction of ${fileName} failed`);
      return undefined;
    } finally {
      this.running = undefined;
    }
  }

  /** Cancels the reconstruction running in this dashboard; false when none runs. */
  cancelRun(): boolean {
    if (!this.running) return false;
    this.running.cancel();
    return true;
  }

  static cancelAll(): number {
    return [...DashboardPanel.panels].filter((p) => p.cancelRun()).length;
  }

  /** Writes one export; `target` (scripts, tests) skips the save dialog but not the never-the-source rule. */
  async export(kind: DashboardExportKind, target?: string): Promise<string | undefined> {
    const data = this.state.data;
    const settings = reconstructSettings(vscode.Uri.file(this.state.path));
    const sources = [this.state.path, ...(data ? [data.source.path] : [])];
    if (kind === 'report-json' || kind === 'report-csv') {
      if (!data) throw new Error('no results to report yet');
      const file = await askTarget(this.state.path, settings.exportFolder, TARGETS[kind], sources);
      if (!file) return undefined;
      // The engine's report, plus where this session's exports went and the metric definitions (added keys).
      const report = { ...data.report, outputs: { ...this.outputs, report: file }, definitions: DEFINITIONS };
      await writeFileAtomic(file, kind === 'report-json' ? JSON.stringify(report, null, 2) + '\n' : reportCsv(data));
      void announceExport(kind === 'report-json' ? 'the report (JSON)' : 'the report (CSV)', file, await this.recordOutput(kind, file));
      return file;
    }
    if (!this.canExportModel) {
      throw new Error(
        'the reparameterized and dense exports need the run in memory: run the reconstruction again ' +
          '(results restored after a reload hold only the metrics)',
      );
    }
    if (this.isRecast && kind === 'model')
      throw new Error('this file is already a reparameterized model; export its dense reconstruction instead');
    const file =
      target !== undefined ? checkTarget(target, sources) : await askTarget(this.state.path, settings.exportFolder, TARGETS[kind], sources);
    if (!file) return undefined;
    const what = kind === 'model' ? 'the reparameterized model' : 'the dense reconstruction';
    this.post({ type: 'busy', busy: true });
    try {
      const title = `Mimicry: writing ${path.basename(file)}`;
      const written = await orShowError(withJobProgress({ title }, (report) => this.session().request('export', { kind, file }, report)));
      if (!written) return undefined;
      this.outputs = { ...this.outputs, [kind === 'model' ? 'out' : 'dense']: written };
      void announceExport(what, written, await this.recordOutput(kind, written));
      return written;
    } finally {
      this.post({ type: 'busy', busy: false });
    }
  }

  /**
   * A file just written joins the results' outputs (the dashboard shows its size on disk next to the
   * source's); returns that size as the notification says it, or undefined when it cannot be read.
   */
  private async recordOutput(kind: DashboardExportKind, file: string): Promise<string | undefined> {
    let bytes: number;
    try {
      bytes = (await stat(file)).size;
    } catch {
      return undefined;
    }
    const output = { kind, file: path.basename(file), bytes };
    const data = this.state.data;
    if (data) {
      const next = withOutput(data, output);
      this.state = { ...this.state, data: next };
      this.post({ type: 'outputs', data: next });
    }
    return formatSizeAgainst(output.file, bytes, data?.source.diskBytes, isCheckpointOutput(output));
  }

  private async exportChart(chart: string, format: 'svg' | 'png', payload: string): Promise<void> {
    const settings = reconstructSettings(vscode.Uri.file(this.state.path));
    // The webview's image is checked before anything is asked or written: a PNG data URL, or SVG
    // as ECharts draws it (checkChartSvg refuses scripts, handlers, external references, ...).
    const bytes = format === 'png' ? pngFromDataUrl(payload) : checkChartSvg(payload);
    if (bytes === null) throw new Error('the chart image is malformed');
    const target: ExportTarget = {
      suffix: `.${chart}.${format}`,
      filters: format === 'png' ? { 'PNG image': ['png'] } : { 'SVG image': ['svg'] },
      title: `Export chart (${format.toUpperCase()})`,
    };
    const file = await askTarget(
      this.state.path,
      settings.exportFolder,
      target,
      [this.state.path],
      `${stem(this.state.path)}.${chart}.${format}`,
    );
    if (!file) return;
    await writeFileAtomic(file, bytes);
    void announceExport(`the chart ${chart}`, file);
  }

  private async pickCompare(): Promise<void> {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: 'Compare',
      title: 'Compare with a reparameterized model',
      filters: { 'Reparameterized safetensors': ['safetensors'] },
    });
    if (!picked?.[0]) return;
    const other = await loadRecast(this.workerPath(), picked[0].fsPath);
    if (!other || !this.state.data) return;
    this.state = { ...this.state, mode: 'compare', compare: other };
    this.post({ type: 'compare', data: other });
  }

  static openCompare(extensionUri: vscode.Uri, reports: WebviewReports, a: DashboardData, b: DashboardData): DashboardPanel {
    const panel = vscode.window.createWebviewPanel(
      DASHBOARD_VIEW_TYPE,
      `Mimicry: ${a.source.file} vs ${b.source.file}`,
      vscode.ViewColumn.Active,
      {
        enableScripts: true,
        retainContextWhenHidden: true,
        localResourceRoots: webviewResourceRoots(extensionUri),
      },
    );
    return new DashboardPanel(panel, extensionUri, reports, { path: a.source.path, mode: 'compare', data: a, compare: b });
  }
}

/** Reads a recast file's dashboard data in a short-lived worker. */
export async function loadRecast(workerPath: string, file: string): Promise<DashboardData | undefined> {
  const host = reconstructHost(workerPath, file);
  try {
    const brief = await host.open();
    if (!brief.isRecast) {
      void vscode.window.showErrorMessage(`${brief.fileName} is not a reparameterized (recast) file: reconstruct it first.`);
      return undefined;
    }
    const spectrumMaxSide = reconstructSettings(vscode.Uri.file(file)).spectrumMaxSide;
    const data = await withJobProgress({ title: `Mimicry: reading ${brief.fileName}` }, (report) =>
      host.request('load', { spectrumMaxSide }, report),
    );
    // A comparison draws no spectra: those the file does not store are not computed for it.
    const why = 'not stored in the file: its own dashboard computes them';
    return { ...data, spectra: data.spectra.map((s) => (s.pending ? { bank: s.bank, lines: [], skipped: why } : s)) };
  } catch (e) {
    showJobError(e);
    return undefined;
  } finally {
    host.dispose();
  }
}
