// One opened checkpoint: its engine worker, the header overview, the statistics computed so far and
// the "compute all" batch. Every webview showing the document (usually one) gets its messages.

import * as vscode from 'vscode';
import { wireOf, type WireError } from '../../mimicry/errors';
import { inspectHost, type InspectHost } from '../../mimicry/worker/inspect/client';
import { adapterFactors } from '../config';
import type { Opened } from '../../mimicry/worker/inspect/protocol';
import { decodableNames } from '../../mimicry/worker/inspect/tensorColumns';
import type { Cancellable } from '../../mimicry/worker/channel/protocol';
import type { Backend } from '../../mimicry/recast/types';
import type { BatchProgress, BatchState, ExtensionToWebview, SpectrumView, TensorStatsView, ValuesRequest } from '../../webview/protocol';
import { fileIdentity, type StatsCache } from './statsCache';
import type { InspectorStatsReport } from '../api';

export type Broadcast = (message: ExtensionToWebview) => void;

const FLUSH_MS = 50;

/** The checkpoint could not be opened: the error names the file (and the rule it breaks). */
export interface OpenFailure {
  readonly error: WireError;
}

export class InspectorDocument implements vscode.CustomDocument {
  private readonly engine: InspectHost;
  readonly opened: Promise<Opened | OpenFailure>;
  readonly stats = new Map<string, TensorStatsView>();
  readonly spectra = new Map<string, SpectrumView>();
  private readonly tensorJobs = new Map<string, Cancellable<unknown>>();
  private batch: Promise<void> | undefined;
  private batchJob: Cancellable<void> | undefined;
  private batchState: { state: BatchState; progress: BatchProgress; message?: string } = { state: 'idle', progress: { done: 0, total: 0 } };
  private readonly listeners = new Set<Broadcast>();
  private outbox: ExtensionToWebview[] = [];
  /** Index in the outbox of the waiting progress report per key. */
  private readonly pendingProgress = new Map<string, number>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private batchChanged = false;
  private readonly batchEmitter = new vscode.EventEmitter<void>();
  /** Fires whenever the batch state or progress changes (for the progress notification). */
  readonly onDidChangeBatch = this.batchEmitter.event;

  /** The file as it was when opened (see statsCache.ts); undefined until then, or when it cannot be read. */
  private identity: string | undefined;
  /** Names in the order their statistics arrived, and how many came from the window's cache (the test API). */
  readonly arrived: string[] = [];
  restored = 0;

  constructor(
    readonly uri: vscode.Uri,
    workerPath: string,
    private readonly cache: StatsCache,
    private readonly bins: () => number,
  ) {
    this.engine = inspectHost(workerPath, uri.fsPath, undefined, adapterFactors(uri));
    this.opened = this.engine.open().then(
      async (opened) => {
        await this.restore(opened);
        return opened;
      },
      (err: unknown): OpenFailure => {
        const error = wireOf(err);
        return { error: { ...error, file: error.file ?? uri.fsPath } };
      },
    );
  }

  /** What this window computed for the same file before (statistics of the current bin count, spectra). */
  private async restore(opened: Opened): Promise<void> {
    this.identity = await fileIdentity(
      this.uri.fsPath,
      opened.overview.shards.map((s) => s.file),
    );
    const found = this.identity === undefined ? undefined : this.cache.take(this.identity);
    if (!found) return;
    const bins = this.bins();
    for (const [name, stats] of found.stats)
      if (stats.histogram.counts.length === bins && !this.stats.has(name)) {
        this.stats.set(name, stats);
        this.arrived.push(name);
        this.restored++;
      }
    for (const [name, spectrum] of found.spectra) if (spectrum.skipped === undefined) this.spectra.set(name, spectrum);
  }

  /** Adds a webview; returns a function that removes it. */
  listen(fn: Broadcast): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get currentBatch(): { state: BatchState; progress: BatchProgress; message?: string } {
    return this.batchState;
  }

  /**
   * Messages go out in bundles at most every FLUSH_MS; a newer progress report replaces an older
   * one still waiting, so a fast batch costs a few posts per second, not thousands.
   */
  private send(message: ExtensionToWebview): void {
    if (message.type === 'tensorProgress' || message.type === 'batch') {
      const key = message.type === 'batch' ? 'batch' : `${message.what}:${message.name}`;
      const at = this.pendingProgress.get(key);
      if (at !== undefined) {
        this.outbox[at] = message;
        return;
      }
      this.pendingProgress.set(key, this.outbox.length);
    }
    this.outbox.push(message);
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const messages = this.outbox;
    this.outbox = [];
    this.pendingProgress.clear();
    if (messages.length === 0) return;
    const out: ExtensionToWebview = messages.length === 1 ? messages[0] : { type: 'bundle', messages };
    for (const fn of this.listeners) fn(out);
    if (this.batchChanged) {
      this.batchChanged = false;
      this.batchEmitter.fire();
    }
  }

  private failTensor(name: string, what: 'stats' | 'spectrum', error: WireError): void {
    this.send({ type: 'tensorFailed', name, what, error });
  }

  private keepStats(name: string, stats: TensorStatsView): void {
    if (!this.stats.has(name)) this.arrived.push(name);
    this.stats.set(name, stats);
    this.send({ type: 'stats', name, stats });
  }

  requestStats(name: string, bins: number): void {
    const cached = this.stats.get(name);
    if (cached) return this.send({ type: 'stats', name, stats: cached });
    this.startTensorJob(
      'stats',
      name,
      (stats) => this.keepStats(name, stats),
      () =>
        this.engine.request('stats', { name, bins }, (fraction) => this.send({ type: 'tensorProgress', name, what: 'stats', fraction })),
    );
  }

  requestSpectrum(name: string, spectrumMaxSide: number, backend?: Backend): void {
    const cached = this.spectra.get(name);
    if (cached) return this.send({ type: 'spectrum', name, spectrum: cached });
    const keep = (spectrum: SpectrumView): void => {
      this.spectra.set(name, spectrum);
      this.send({ type: 'spectrum', name, spectrum });
    };
    this.startTensorJob('spectrum', name, keep, () =>
      this.engine.request('spectrum', { name, spectrumMaxSide, backend }, (fraction) =>
        this.send({ type: 'tensorProgress', name, what: 'spectrum', fraction }),
      ),
    );
  }

  /** At most one job per tensor and kind; its failure (or cancel: the spinner stops) goes to the webview. */
  private startTensorJob<T>(what: 'stats' | 'spectrum', name: string, keep: (result: T) => void, start: () => Cancellable<T>): void {
    const key = `${what}:${name}`;
    if (this.tensorJobs.has(key)) return;
    const job = start();
    this.tensorJobs.set(key, job);
    void job.done.then(keep, (err: unknown) => this.failTensor(name, what, wireOf(err))).finally(() => this.tensorJobs.delete(key));
  }

  /** A page of values (read by the engine worker) to every view; resolves with the message sent. */
  async requestValues(request: ValuesRequest): Promise<Extract<ExtensionToWebview, { type: 'values' | 'valuesFailed' }>> {
    const message: Extract<ExtensionToWebview, { type: 'values' | 'valuesFailed' }> = await this.engine
      .request('values', request, () => undefined)
      .done.then(
        (page) => ({ type: 'values', request, page }) as const,
        (err: unknown) => ({ type: 'valuesFailed', request, error: wireOf(err) }) as const,
      );
    this.send(message);
    return message;
  }

  cancelTensor(name: string): void {
    this.tensorJobs.get(`stats:${name}`)?.cancel();
    this.tensorJobs.get(`spectrum:${name}`)?.cancel();
  }

  private readonly batchLog: { state: string; done: number; total: number }[] = [];
  /** Statistics a batch had computed on another core (the test API). */
  private helped = 0;

  /** The test API's view of this document (see api.ts InspectorStatsReport). */
  statsReport(): InspectorStatsReport {
    return { arrived: [...this.arrived], restored: this.restored, helped: this.helped, batches: this.batchLog.map((b) => ({ ...b })) };
  }

  private setBatch(state: BatchState, progress: BatchProgress, message?: string): void {
    if (state !== 'running' || this.batchState.state !== 'running')
      this.batchLog.push({ state, done: progress.done, total: progress.total });
    this.batchState = { state, progress, message };
    this.send({ type: 'batch', state, progress, message });
    // The progress notification follows at the pace of the bundles (see flush).
    this.batchChanged = true;
  }

  /** Statistics for every decodable tensor not done yet. Resolves when the batch ends. */
  computeAll(bins: number, threads = 0): Promise<void> {
    this.batch ??= this.runBatch(bins, threads).finally(() => {
      this.batch = undefined;
      this.batchJob = undefined;
    });
    return this.batch;
  }

  /** `threads`: in all, the worker's included; 0: as many as pay (the engine decides). */
  private async runBatch(bins: number, threads: number): Promise<void> {
    const opened = await this.opened;
    if (!('overview' in opened)) return;
    // A resumed batch counts from where it stopped: the total is every decodable tensor.
    const decodable = decodableNames(opened.tensors);
    const names = decodable.filter((name) => !this.stats.has(name));
    const total = decodable.length;
    let done = total - names.length;
    let failed = 0;
    /** The tensor being read: when the batch stops, its spinner must stop too. */
    let current: string | undefined;
    this.setBatch('running', { done, total });
    const job = this.engine.request('statsBatch', { names, bins, ...(threads > 0 ? { threads } : {}) }, (event) => {
      switch (event.kind) {
        case 'progress':
          current = event.name;
          this.send({ type: 'tensorProgress', name: event.name, what: 'stats', fraction: event.fraction });
          break;
        case 'stats':
          done++;
          if (event.helper) this.helped++;
          current = undefined;
          this.keepStats(event.name, event.stats);
          break;
        case 'failed':
          done++;
          failed++;
          current = undefined;
          this.failTensor(event.name, 'stats', event.error);
          break;
      }
      this.setBatch('running', { done, total, ...(current ? { current } : {}) });
    });
    this.batchJob = job;
    try {
      await job.done;
      this.setBatch(failed > 0 ? 'error' : 'done', { done, total }, failed > 0 ? `${failed} tensor(s) failed` : undefined);
    } catch (err) {
      const error = wireOf(err);
      if (current) this.failTensor(current, 'stats', error);
      if (error.cancelled) this.setBatch('cancelled', { done, total });
      else this.setBatch('error', { done, total }, error.message);
    }
  }

  cancelAll(): void {
    this.batchJob?.cancel();
  }

  private readonly disposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposeEmitter.event;

  dispose(): void {
    // Kept for a reopen in this window, filed under the file as it was when opened: if it has
    // changed on disk since, a reopen sees another identity and starts afresh.
    if (this.identity !== undefined) this.cache.put(this.identity, { stats: this.stats, spectra: this.spectra });
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.listeners.clear();
    this.batchEmitter.dispose();
    this.engine.dispose();
    this.disposeEmitter.fire();
    this.disposeEmitter.dispose();
  }
}
