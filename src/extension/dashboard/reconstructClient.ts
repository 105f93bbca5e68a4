// Host side of the reconstruction worker (dist/reconstructWorker.js) for one dashboard: spawns it,
// opens the checkpoint, and runs plan / run / load / export requests. A cancelled job that has not
// stopped after a grace period (a long synchronous group fit) is stopped by terminating the worker;
// the next request spawns a fresh one. Exports write to a temporary file and rename, so a cancel
// never leaves a partial file.
import { Worker } from 'node:worker_threads';
import type { PlanOutcome } from '../../mimicry/dashboard/budget';
import type { DashboardData } from '../../mimicry/dashboard/types';
import type { ProgressEvent, ReconstructOptions } from '../../mimicry/recast/types';
import type { CheckpointBrief, ExportKind, FromReconstructWorker, ReconstructFailure, ToReconstructWorker } from '../../mimicry/worker/reconstructProtocol';

const RUN_CANCEL_GRACE_MS = 1500;
/** Exports stop between tensors; give them longer so their temporary file is removed by the writer. */
const EXPORT_CANCEL_GRACE_MS = 10_000;

export class JobError extends Error {
  constructor(readonly failure: ReconstructFailure) {
    super(failure.message);
  }
  get cancelled(): boolean {
    return this.failure.cancelled;
  }
}

export interface ProgressUpdate {
  readonly phase: 'fit' | 'spectra' | 'digest' | 'write';
  readonly event?: ProgressEvent;
  readonly message?: string;
  /** Share done, in [0, 1] (from the worker): of the fit, or of the file being written. */
  readonly fraction?: number;
}

export interface Cancellable<T> {
  readonly done: Promise<T>;
  cancel(): void;
}

interface Pending {
  resolve(m: FromReconstructWorker): void;
  reject(e: JobError): void;
  onProgress?(p: ProgressUpdate): void;
}

export class ReconstructClient {
  private worker: Worker | undefined;
  private opening: Promise<CheckpointBrief> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private disposed = false;
  private restarts = 0;

  /** `execArgv` lets tests run the TypeScript entry under tsx. */
  constructor(
    private readonly workerPath: string,
    readonly checkpointPath: string,
    private readonly execArgv?: string[],
  ) {}

  /** Changes whenever the worker (and with it the last run's result) is lost. */
  get generation(): number {
    return this.restarts;
  }

  open(): Promise<CheckpointBrief> {
    if (this.disposed) return Promise.reject(new JobError({ message: 'the dashboard was closed', cancelled: true }));
    this.opening ??= this.spawn();
    return this.opening;
  }

  async plan(options: ReconstructOptions): Promise<PlanOutcome> {
    const m = await this.request((id) => ({ type: 'plan', id, options })).done;
    if (m.type !== 'plan') throw new Error(`unexpected ${m.type}`);
    return m.outcome;
  }

  run(options: ReconstructOptions, spectrumMaxSide: number, onProgress: (p: ProgressUpdate) => void): Cancellable<DashboardData> {
    const r = this.request((id) => ({ type: 'run', id, options, spectrumMaxSide }), onProgress, RUN_CANCEL_GRACE_MS);
    return { cancel: r.cancel, done: r.done.then((m) => (m.type === 'result' ? m.data : Promise.reject(new Error(`unexpected ${m.type}`)))) };
  }

  load(spectrumMaxSide: number): Cancellable<DashboardData> {
    const r = this.request((id) => ({ type: 'load', id, spectrumMaxSide }), undefined, RUN_CANCEL_GRACE_MS);
    return { cancel: r.cancel, done: r.done.then((m) => (m.type === 'result' ? m.data : Promise.reject(new Error(`unexpected ${m.type}`)))) };
  }

  export(kind: ExportKind, file: string, onProgress?: (p: ProgressUpdate) => void): Cancellable<string> {
    const r = this.request((id) => ({ type: 'export', id, kind, file }), onProgress, EXPORT_CANCEL_GRACE_MS);
    return { cancel: r.cancel, done: r.done.then((m) => (m.type === 'exported' ? m.file : Promise.reject(new Error(`unexpected ${m.type}`)))) };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.worker?.postMessage({ type: 'close' } satisfies ToReconstructWorker);
    const w = this.worker;
    this.worker = undefined;
    if (w) setTimeout(() => void w.terminate(), 1000).unref();
    this.failAll({ message: 'the dashboard was closed', cancelled: true });
  }

  private request(make: (id: number) => ToReconstructWorker, onProgress?: (p: ProgressUpdate) => void, graceMs = 0): Cancellable<FromReconstructWorker> {
    const id = this.nextId++;
    let cancelled = false;
    const done = new Promise<FromReconstructWorker>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
    });
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    void this.open().then(
      () => {
        if (cancelled) return this.settle(id, { type: 'failed', id, error: { message: 'cancelled', cancelled: true } });
        this.worker?.postMessage(make(id));
      },
      (e: unknown) => this.settle(id, { type: 'failed', id, error: { message: e instanceof Error ? e.message : String(e), cancelled: false } }),
    );
    return {
      done,
      cancel: () => {
        if (cancelled || !this.pending.has(id)) return;
        cancelled = true;
        this.worker?.postMessage({ type: 'cancel', id } satisfies ToReconstructWorker);
        const timer = setTimeout(() => {
          if (this.pending.has(id)) this.restart({ message: 'cancelled', cancelled: true });
        }, graceMs);
        void settled.then(() => clearTimeout(timer));
      },
    };
  }

  private settle(id: number, m: FromReconstructWorker): void {
    const p = this.pending.get(id);
    if (!p) return;
    if (m.type === 'progress') {
      p.onProgress?.({ phase: m.phase, event: m.event, message: m.message, fraction: m.fraction });
      return;
    }
    this.pending.delete(id);
    if (m.type === 'failed') p.reject(new JobError(m.error));
    else p.resolve(m);
  }

  private spawn(): Promise<CheckpointBrief> {
    return new Promise<CheckpointBrief>((resolve, reject) => {
      const worker = new Worker(this.workerPath, { name: 'mimicry-reconstruct', ...(this.execArgv ? { execArgv: this.execArgv } : {}) });
      this.worker = worker;
      let opened = false;
      worker.on('message', (m: FromReconstructWorker) => {
        if (m.type === 'opened') {
          opened = true;
          resolve(m.brief);
        } else if (m.type === 'openFailed') reject(new JobError(m.error));
        else this.settle(m.id, m);
      });
      const lost = (message: string): void => {
        if (!opened) reject(new JobError({ message, cancelled: false }));
        if (this.worker === worker) this.restart({ message, cancelled: false });
      };
      worker.on('error', (e) => lost(`reconstruction worker failed: ${e.message}`));
      worker.on('exit', () => lost('reconstruction worker exited'));
      worker.postMessage({ type: 'open', path: this.checkpointPath } satisfies ToReconstructWorker);
    });
  }

  private restart(failure: ReconstructFailure): void {
    const w = this.worker;
    this.worker = undefined;
    this.opening = undefined;
    this.restarts++;
    if (w) void w.terminate();
    this.failAll(failure);
  }

  private failAll(failure: ReconstructFailure): void {
    for (const [id, p] of [...this.pending]) {
      this.pending.delete(id);
      p.reject(new JobError(failure));
    }
  }
}
