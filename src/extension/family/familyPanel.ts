// One Family dashboard: a task family (several fine-tunes or adapters of one base) compared in the
// task-family worker, the report drawn by the family webview, and the task bank exported. The
// panel only routes: the worker computes (src/mimicry/family through the worker channel), the
// webview draws, the engine writes the bank (atomically, never over a member or the base).
import * as vscode from 'vscode';
import * as path from 'node:path';
import { wireOf } from '../../mimicry/errors';
import type { FamilyReport } from '../../mimicry/family/analyze';
import type { Cancellable } from '../../mimicry/worker/channel/protocol';
import { familyHost, type FamilyHost } from '../../mimicry/worker/family/client';
import type { FamilyAnalyzeParams } from '../../mimicry/worker/family/protocol';
import { isFromFamily, protocolMismatch, PROTOCOL_VERSION, type FromFamily, type ToFamily } from '../../webview/protocol';
import { formatBytes } from '../../webview/shared/format';
import { orShowError, showJobError, withJobProgress } from '../progress';
import type { WebviewReports } from '../reports';
import { renderWebview, webviewResourceRoots } from '../webviewHtml';
import { pngFromDataUrl, writeFileAtomic } from '../dashboard/atomicWrite';
import { checkChartSvg } from '../dashboard/chartSvg';
import { announceExport, askTarget, checkTarget, type ExportTarget } from '../dashboard/exportTargets';
import { reconstructSettings } from '../dashboard/settings';
import { sanitizeFamilyOptions } from './options';

export const FAMILY_VIEW_TYPE = 'mimicry.family';

/** What a Family dashboard compares: its members as given, the base, and the analysis' options. */
export interface FamilySpec {
  readonly paths: readonly string[];
  readonly base: string | null;
  readonly options: FamilyAnalyzeParams;
}

const BANK_TARGET: ExportTarget = {
  suffix: '.taskbank.safetensors',
  filters: { 'Task bank (safetensors)': ['safetensors'] },
  title: 'Export task bank',
};
/** A chart's CSV is a few numbers per member and layer; anything far larger is not ours. */
const MAX_CSV_CHARS = 32 * 2 ** 20;

export class FamilyPanel implements vscode.Disposable {
  private static readonly panels = new Set<FamilyPanel>();
  private static lastActive: FamilyPanel | undefined;

  private client: FamilyHost | undefined;
  private running: Cancellable<unknown> | undefined;
  /** The last comparison, settled once its state is cleared (it never rejects). */
  private analysis: Promise<FamilyReport | undefined> = Promise.resolve(undefined);
  private report: FamilyReport | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly reports: WebviewReports,
    private current: FamilySpec,
  ) {
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: webviewResourceRoots(extensionUri) };
    this.disposables.push(
      renderWebview(webview, extensionUri, { title: panel.title, script: 'family.js', stylesheet: 'dashboard.css' }),
      webview.onDidReceiveMessage((raw: unknown) => {
        if (isFromFamily(raw)) void this.onMessage(raw);
      }),
      panel.onDidChangeViewState(() => {
        if (panel.active) FamilyPanel.lastActive = this;
      }),
      panel.onDidDispose(() => this.dispose()),
    );
    FamilyPanel.panels.add(this);
    FamilyPanel.lastActive = this;
  }

  static open(extensionUri: vscode.Uri, reports: WebviewReports, spec: FamilySpec): FamilyPanel {
    const panel = vscode.window.createWebviewPanel(FAMILY_VIEW_TYPE, titleOf(spec), vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: webviewResourceRoots(extensionUri),
    });
    return new FamilyPanel(panel, extensionUri, reports, spec);
  }

  /** A panel of a reloaded window: the same members compared again. */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, reports: WebviewReports, spec: FamilySpec): FamilyPanel {
    return new FamilyPanel(panel, extensionUri, reports, spec);
  }

  static get active(): FamilyPanel | undefined {
    return FamilyPanel.lastActive;
  }

  get members(): readonly string[] {
    return this.spec.paths;
  }

  /** The members, base and options compared. */
  get spec(): FamilySpec {
    return this.current;
  }

  dispose(): void {
    if (!FamilyPanel.panels.delete(this)) return;
    if (FamilyPanel.lastActive === this) FamilyPanel.lastActive = undefined;
    this.running?.cancel();
    this.client?.dispose();
    for (const d of this.disposables) d.dispose();
    this.panel.dispose();
  }

  private post(m: ToFamily): void {
    if (!FamilyPanel.panels.has(this)) return;
    void this.panel.webview.postMessage(m);
  }

  private session(): FamilyHost {
    const worker = vscode.Uri.joinPath(this.extensionUri, 'dist', 'familyWorker.js').fsPath;
    this.client ??= familyHost(worker, { paths: this.spec.paths, ...(this.spec.base === null ? {} : { base: this.spec.base }) });
    return this.client;
  }

  /** Cancels the comparison running in this dashboard; false when none runs. */
  cancelRun(): boolean {
    if (!this.running) return false;
    this.running.cancel();
    return true;
  }

  static cancelAll(): number {
    return [...FamilyPanel.panels].filter((p) => p.cancelRun()).length;
  }

  /** Compares another set of members (or the same with another base): a fresh worker loads them. */
  async reopen(spec: FamilySpec): Promise<void> {
    this.running?.cancel();
    this.client?.dispose();
    this.client = undefined;
    // A comparison still running (members added meanwhile) ends first, or this one would be refused as a second.
    await this.analysis;
    this.report = undefined;
    this.current = spec;
    this.panel.title = titleOf(spec);
    this.post({ type: 'init', version: PROTOCOL_VERSION, paths: spec.paths, base: spec.base, options: spec.options });
    await this.analyze();
  }

  private async onMessage(m: FromFamily): Promise<void> {
    try {
      switch (m.type) {
        case 'ready': {
          const mismatch = protocolMismatch(m.version);
          if (mismatch) return this.post({ type: 'error', error: mismatch });
          this.post({ type: 'init', version: PROTOCOL_VERSION, paths: this.spec.paths, base: this.spec.base, options: this.spec.options });
          // A webview shown again (or reloaded) while the report is known: no second analysis.
          if (this.report) return this.post({ type: 'report', report: this.report });
          if (!this.running) await this.analyze();
          return;
        }
        case 'cancel':
          this.running?.cancel();
          return;
        case 'rerun':
          this.current = { ...this.spec, options: sanitizeFamilyOptions(m.options) };
          await this.analyze();
          return;
        case 'pickBase': {
          const picked = await vscode.window.showOpenDialog({
            canSelectMany: false,
            openLabel: 'Use as Base',
            title: 'The base checkpoint the members were fine-tuned from',
            filters: { 'Safetensors checkpoints': ['safetensors', 'json'] },
          });
          if (picked?.[0]) await this.reopen({ ...this.spec, base: picked[0].fsPath });
          return;
        }
        case 'clearBase':
          if (this.spec.base !== null) await this.reopen({ ...this.spec, base: null });
          return;
        case 'exportBank':
          await this.exportBank();
          return;
        case 'exportChart':
          return await this.exportChart(m.chart, m.format, m.payload);
        case 'rendered':
          this.reports.addFamily({
            paths: [...this.spec.paths],
            base: this.spec.base,
            view: m.view,
            charts: m.charts,
            members: m.members,
            ...(m.summary === undefined ? {} : { summary: m.summary }),
            ...(m.error === undefined ? {} : { error: m.error }),
          });
          return;
      }
    } catch (e) {
      const error = wireOf(e);
      if (error.cancelled) return;
      showJobError(e);
    }
  }

  /** Loads the members (once per worker) and compares them, with a notification (Cancel) and progress in the view. */
  analyze(): Promise<FamilyReport | undefined> {
    if (this.running) {
      void vscode.window.showWarningMessage('Mimicry: this family is already being compared.');
      return Promise.resolve(undefined);
    }
    this.analysis = this.compare();
    return this.analysis;
  }

  private async compare(): Promise<FamilyReport | undefined> {
    const client = this.session();
    const count = this.spec.paths.length;
    this.post({ type: 'progress', message: `reading ${count} members`, fraction: 0 });
    const job = withJobProgress({ title: `Mimicry: comparing ${count} members` }, (report) => {
      const request = client.request('analyze', this.spec.options, (p) => {
        this.post({ type: 'progress', message: p.message, fraction: p.fraction });
        report({ fraction: p.fraction, message: p.message });
      });
      this.running = request;
      // The members' names as soon as they are read (the open request runs first).
      void client.open().then(
        (brief) => this.post({ type: 'brief', brief }),
        () => undefined,
      );
      return request;
    });
    try {
      const report = await job;
      this.report = report;
      this.post({ type: 'report', report });
      return report;
    } catch (e) {
      const error = wireOf(e);
      this.post({ type: 'error', error });
      if (error.cancelled) void vscode.window.showInformationMessage('Mimicry: the family comparison was cancelled.');
      else showJobError(e, 'the family comparison failed');
      return undefined;
    } finally {
      this.running = undefined;
    }
  }

  /** Writes the task bank of the family (the engine's writer, atomic); `target` skips the save dialog. */
  async exportBank(target?: string): Promise<string | undefined> {
    if (!this.report) throw new Error('compare the family first: the task bank holds the fit the report shows');
    const sources = [...this.spec.paths, ...this.report.members.map((m) => m.path), ...(this.spec.base ? [this.spec.base] : [])];
    const first = this.spec.paths[0];
    const settings = reconstructSettings(vscode.Uri.file(first));
    const file =
      target !== undefined
        ? checkTarget(target, sources)
        : await askTarget(first, settings.exportFolder, BANK_TARGET, sources, `family${BANK_TARGET.suffix}`);
    if (!file) return undefined;
    this.post({ type: 'busy', busy: true });
    try {
      const templates = this.spec.options.templates;
      const written = await orShowError(
        withJobProgress({ title: `Mimicry: writing ${path.basename(file)}` }, (report) =>
          this.session().request('exportBank', { file, ...(templates === undefined ? {} : { templates }) }, report),
        ),
        'the task bank export failed',
      );
      if (!written) return undefined;
      this.post({ type: 'bank', bank: written });
      const ratio =
        written.membersBytes > 0
          ? ` (${(written.bytes / written.membersBytes).toFixed(2)}x of the members' ${formatBytes(written.membersBytes)})`
          : '';
      void announceExport('the task bank', written.path, `${path.basename(written.path)} ${formatBytes(written.bytes)}${ratio}`);
      return written.path;
    } finally {
      this.post({ type: 'busy', busy: false });
    }
  }

  private async exportChart(chart: string, format: 'svg' | 'png' | 'csv', payload: string): Promise<void> {
    // Checked before anything is asked or written: a PNG data URL, SVG as ECharts draws it, or bounded text.
    let bytes: Uint8Array | string | null;
    if (format === 'png') bytes = pngFromDataUrl(payload);
    else if (format === 'svg') bytes = checkChartSvg(payload);
    else bytes = payload.length <= MAX_CSV_CHARS ? payload : null;
    if (bytes === null) throw new Error(`the chart ${format === 'csv' ? 'data' : 'image'} is malformed`);
    const first = this.spec.paths[0];
    const settings = reconstructSettings(vscode.Uri.file(first));
    const filters: Record<string, string[]> = { [`${format.toUpperCase()} file`]: [format] };
    const target: ExportTarget = { suffix: `.${chart}.${format}`, filters, title: `Export chart (${format.toUpperCase()})` };
    const file = await askTarget(first, settings.exportFolder, target, this.spec.paths, `family.${chart}.${format}`);
    if (!file) return;
    await writeFileAtomic(file, bytes);
    void announceExport(`the chart ${chart}`, file);
  }
}

function titleOf(spec: FamilySpec): string {
  return `Mimicry: Family (${spec.paths.length} members)`;
}
