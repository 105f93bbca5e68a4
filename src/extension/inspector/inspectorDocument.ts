// One opened checkpoint: its engine worker, the header overview, the statistics computed so far and
// the "compute all" batch. Every webview showing the document (usually one) gets its messages.

import * as vscode from 'vscode';
import { EngineWorker, OpenError, type Job, type Opened } from '../engineWorker';
import type { BatchProgress, BatchState, ExtensionToWebview, SpectrumView, TensorStatsView } from '../../webview/protocol';
import type { WorkerError } from '../../mimicry/worker/protocol';

export type Broadcast = (message: ExtensionToWebview) => void;

const FLUSH_MS = 50;

export interface OpenFailure {
  readonly file: string;
  readonly rule?: string;
  readonly message: string;
}

export class InspectorDocument implements vscode.CustomDocument {
  private readonly engine: EngineWorker;
  readonly opened: Promise<Opened | OpenFailure>;
  readonly stats = new Map<string, TensorStatsView>();
  readonly spectra = new Map<string, SpectrumView>();
  private readonly tensorJobs = new Map<string, Job>();
  private batch: Job | undefined;
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

  constructor(
    readonly uri: vscode.Uri,
    workerPath: string,
  ) {
    this.engine = new EngineWorker(workerPath, uri.fsPath);
    this.opened = this.engine.open().catch((err: unknown): OpenFailure => {
      if (err instanceof OpenError) return { file: err.error.file ?? uri.fsPath, rule: err.error.rule, message: err.error.message };
      return { file: uri.fsPath, message: err instanceof Error ? err.message : String(err) };
    });
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

  private failTensor(name: string, what: 'stats' | 'spectrum', error: WorkerError): void {
    this.send({ type: 'tensorFailed', name, what, message: error.message, cancelled: error.cancelled });
  }

  private keepStats(name: string, stats: TensorStatsView): void {
    this.stats.set(name, stats);
    this.send({ type: 'stats', name, stats });
  }

  requestStats(name: string, bins: number): void {
    const cached = this.stats.get(name);
    if (cached) return this.send({ type: 'stats', name, stats: cached });
    this.startTensorJob('stats', name, () => this.stats.has(name), () =>
      this.engine.run(
        { type: 'stats', name, bins },
        {
          onProgress: (n, fraction) => this.send({ type: 'tensorProgress', name: n, what: 'stats', fraction }),
          onStats: (n, stats) => this.keepStats(n, stats),
          onTensorFailed: (n, error) => this.failTensor(n, 'stats', error),
        },
      ),
    );
  }

  requestSpectrum(name: string, spectrumMaxSide: number): void {
    const cached = this.spectra.get(name);
    if (cached) return this.send({ type: 'spectrum', name, spectrum: cached });
    this.startTensorJob('spectrum', name, () => this.spectra.has(name), () =>
      this.engine.run(
        { type: 'spectrum', name, maxDim: spectrumMaxSide },
        {
          onProgress: (n, fraction) => this.send({ type: 'tensorProgress', name: n, what: 'spectrum', fraction }),
          onSpectrum: (n, spectrum) => {
            this.spectra.set(n, spectrum);
            this.send({ type: 'spectrum', name: n, spectrum });
          },
          onTensorFailed: (n, error) => this.failTensor(n, 'spectrum', error),
        },
      ),
    );
  }

  /**
   * At most one job per tensor and kind; a job cancelled before its result arrived (`done()` still
   * false) tells the webview, so its spinner stops.
   */
  private startTensorJob(what: 'stats' | 'spectrum', name: string, done: () => boolean, start: () => Job): void {
    const key = `${what}:${name}`;
    if (this.tensorJobs.has(key)) return;
    const job = start();
    this.tensorJobs.set(key, job);
    void job.done.then(({ cancelled }) => {
      this.tensorJobs.delete(key);
      if (cancelled && !done()) this.failTensor(name, what, { message: 'cancelled', cancelled: true });
    });
  }

  cancelTensor(name: string): void {
    this.tensorJobs.get(`stats:${name}`)?.cancel();
    this.tensorJobs.get(`spectrum:${name}`)?.cancel();
  }

  private setBatch(state: BatchState, progress: BatchProgress, message?: string): void {
    this.batchState = { state, progress, message };
    this.send({ type: 'batch', state, progress, message });
    // The progress notification follows at the pace of the bundles (see flush).
    this.batchChanged = true;
  }

  /** Statistics for every decodable tensor not done yet. Resolves when the batch ends. */
  async computeAll(bins: number): Promise<void> {
    if (this.batch) return this.batch.done.then(() => undefined);
    const opened = await this.opened;
    if (!('overview' in opened)) return;
    const names = opened.tensors.filter((t) => t.decodable && !this.stats.has(t.name)).map((t) => t.name);
    const total = names.length;
    let done = 0;
    let failed = 0;
    this.setBatch('running', { done, total });
    const job = this.engine.run(
      { type: 'statsBatch', names, bins },
      {
        onProgress: (name, fraction) => {
          this.send({ type: 'tensorProgress', name, what: 'stats', fraction });
          this.setBatch('running', { done, total, current: name });
        },
        onStats: (name, stats) => {
          done++;
          this.keepStats(name, stats);
          this.setBatch('running', { done, total, current: name });
        },
        onTensorFailed: (name, error) => {
          if (!error.cancelled) {
            done++;
            failed++;
          }
          this.failTensor(name, 'stats', error);
        },
      },
    );
    this.batch = job;
    const { cancelled } = await job.done;
    this.batch = undefined;
    if (cancelled) this.setBatch('cancelled', { done, total });
    else this.setBatch(failed > 0 ? 'error' : 'done', { done, total }, failed > 0 ? `${failed} tensor(s) failed` : undefined);
  }

  cancelAll(): void {
    this.batch?.cancel();
  }

  dispose(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.listeners.clear();
    this.batchEmitter.dispose();
    this.engine.dispose();
  }
}
