// Host side of the engine worker (dist/worker.js) for one checkpoint: spawns it, opens the file,
// runs jobs and cancels them. A job that does not stop within CANCEL_GRACE_MS of a cancel (e.g. a
// long synchronous SVD) is stopped the hard way: the worker is terminated and respawned on demand.

import { Worker } from 'node:worker_threads';
import type { HostToWorker, WorkerError, WorkerOverview, WorkerSpectrum, WorkerStats, WorkerTensor, WorkerToHost } from '../mimicry/worker/protocol';

const CANCEL_GRACE_MS = 750;
/** Opening parses only the header (bounded by the reader); this is a last guard against a stuck read. */
const OPEN_TIMEOUT_MS = 60_000;

export interface Opened {
  readonly overview: WorkerOverview;
  readonly tensors: readonly WorkerTensor[];
}

export type JobRequest =
  | { readonly type: 'stats'; readonly name: string; readonly bins: number }
  | { readonly type: 'spectrum'; readonly name: string; readonly maxDim: number }
  | { readonly type: 'statsBatch'; readonly names: readonly string[]; readonly bins: number };

export interface JobHandlers {
  onProgress?(name: string, fraction: number, done?: number, total?: number): void;
  onStats?(name: string, stats: WorkerStats): void;
  onSpectrum?(name: string, spectrum: WorkerSpectrum): void;
  onTensorFailed?(name: string, error: WorkerError): void;
}

export interface Job {
  readonly done: Promise<{ cancelled: boolean }>;
  cancel(): void;
}

interface RunningJob {
  handlers: JobHandlers;
  finish(cancelled: boolean): void;
  current?: string;
}

/** Thrown by open() for files the engine refuses (SafetensorsError) and for a failed worker. */
export class OpenError extends Error {
  constructor(readonly error: WorkerError) {
    super(error.message);
  }
}

export class EngineWorker {
  private worker: Worker | undefined;
  private opening: Promise<Opened> | undefined;
  private readonly jobs = new Map<number, RunningJob>();
  private nextJobId = 1;
  private disposed = false;

  constructor(
    private readonly workerPath: string,
    private readonly checkpointPath: string,
  ) {}

  /** Spawns the worker (if needed) and opens the checkpoint; resolves with its header overview. */
  open(): Promise<Opened> {
    if (this.disposed) return Promise.reject(new OpenError({ message: 'the inspector was closed', cancelled: true }));
    this.opening ??= this.spawnAndOpen();
    return this.opening;
  }

  run(request: JobRequest, handlers: JobHandlers): Job {
    const jobId = this.nextJobId++;
    let finish!: (cancelled: boolean) => void;
    const done = new Promise<{ cancelled: boolean }>((resolve) => {
      finish = (cancelled) => {
        this.jobs.delete(jobId);
        resolve({ cancelled });
      };
    });
    let cancelled = false;
    this.jobs.set(jobId, { handlers, finish });
    void this.open().then(
      () => {
        if (cancelled) return this.jobs.get(jobId)?.finish(true);
        this.post({ ...request, jobId });
      },
      (err: unknown) => {
        const names = request.type === 'statsBatch' ? request.names : [request.name];
        for (const name of names) handlers.onTensorFailed?.(name, { message: err instanceof Error ? err.message : String(err), cancelled: false });
        this.jobs.get(jobId)?.finish(false);
      },
    );
    return {
      done,
      cancel: () => {
        if (cancelled || !this.jobs.has(jobId)) return;
        cancelled = true;
        this.post({ type: 'cancel', jobId });
        const timer = setTimeout(() => {
          if (this.jobs.has(jobId)) this.restart(`cancel of job ${jobId} did not stop it in time`);
        }, CANCEL_GRACE_MS);
        void done.then(() => clearTimeout(timer));
      },
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.post({ type: 'close' });
    const w = this.worker;
    this.worker = undefined;
    // Give it a moment to close its file handles, then make sure it is gone.
    if (w) setTimeout(() => void w.terminate(), 1000).unref();
    this.failAll(true);
  }

  private post(msg: HostToWorker): void {
    this.worker?.postMessage(msg);
  }

  private spawnAndOpen(): Promise<Opened> {
    return new Promise<Opened>((resolve, reject) => {
      const worker = new Worker(this.workerPath, { name: 'mimicry-engine' });
      this.worker = worker;
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(() => {
        settle(() => reject(new OpenError({ message: `${this.checkpointPath}: opening timed out`, file: this.checkpointPath, cancelled: false })));
        this.restart('open timed out');
      }, OPEN_TIMEOUT_MS);
      worker.on('message', (msg: WorkerToHost) => {
        if (msg.type === 'opened') settle(() => resolve({ overview: msg.overview, tensors: msg.tensors }));
        else if (msg.type === 'openFailed') settle(() => reject(new OpenError(msg.error)));
        else this.onJobMessage(msg);
      });
      worker.on('error', (err) => {
        settle(() => reject(new OpenError({ message: `engine worker failed: ${err.message}`, cancelled: false })));
        if (this.worker === worker) this.restart(err.message);
      });
      worker.on('exit', () => {
        settle(() => reject(new OpenError({ message: 'engine worker exited', cancelled: false })));
        if (this.worker === worker) this.restart('worker exited');
      });
      worker.postMessage({ type: 'open', path: this.checkpointPath } satisfies HostToWorker);
    });
  }

  private onJobMessage(msg: Exclude<WorkerToHost, { type: 'opened' | 'openFailed' }>): void {
    const job = this.jobs.get(msg.jobId);
    if (!job) return;
    switch (msg.type) {
      case 'progress':
        job.current = msg.name;
        job.handlers.onProgress?.(msg.name, msg.fraction, msg.done, msg.total);
        return;
      case 'stats':
        job.handlers.onStats?.(msg.name, msg.stats);
        return;
      case 'spectrum':
        job.handlers.onSpectrum?.(msg.name, msg.spectrum);
        return;
      case 'tensorFailed':
        job.handlers.onTensorFailed?.(msg.name, msg.error);
        return;
      case 'done':
        job.finish(msg.cancelled);
        return;
    }
  }

  /** Terminates the worker; running jobs end as cancelled; the next job respawns and reopens. */
  private restart(reason: string): void {
    const w = this.worker;
    this.worker = undefined;
    this.opening = undefined;
    if (w) void w.terminate();
    this.failAll(true, reason);
  }

  private failAll(cancelled: boolean, reason = 'stopped'): void {
    for (const job of [...this.jobs.values()]) {
      if (job.current) job.handlers.onTensorFailed?.(job.current, { message: reason, cancelled });
      job.finish(cancelled);
    }
  }
}
