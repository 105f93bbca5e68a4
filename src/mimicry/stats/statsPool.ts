// Statistics of many tensors of one checkpoint, on worker threads. Small tensors go to the workers in
// batches; a big one is split into element ranges on superblock boundaries, whose first-pass partials
// are merged here in element order (then, where needed, a histogram pass over the same ranges), so
// the results are bit-for-bit those of one thread (accumulators.ts). This thread takes jobs too (it
// starts at once, while the workers start): `threads` counts it. Without a worker script, or with one
// thread, everything runs here, one tensor after another.
//
// A job that fails in a worker (a file changed under us, a worker that died) is computed again on this
// thread at the end, in tensor order: its error is then the engine's own, with its file and rule.

import { availableParallelism } from 'node:os';
import { DTYPES } from '../safetensors/dtypes';
import type { Checkpoint, TensorInfo } from '../safetensors/types';
import { siblingWorkerEntry } from '../worker/channel/entry';
import { WorkerHost } from '../worker/channel/host';
import type { Cancellable, MethodName, ParamsOf, ProgressOf, ResultOf } from '../worker/channel/protocol';
import { statsJobs, type StatsJobs } from './statsJobs';
import { afterPass1, finishStats, mergePass1, pass2Length, pathOf, SUPER, type AfterPass1, type Pass1Partial } from './accumulators';
import { skippedReason, tensorStatsOf, type TensorStatsOutcome } from './checkpointStats';
import type { StatsService } from './statsProtocol';
import { DEFAULT_BINS } from './tensorStats';

/** A range (and a batch of small tensors) holds about this many bytes: small enough to spread, big enough to cost little per message. */
export const RANGE_BYTES = 64 << 20;
/**
 * The last `threads` ranges' worth of bytes go in jobs this many times smaller: a thread done with
 * its last job waits for the others only as long as a small one takes (a 128 MiB tensor's second
 * pass waits for both halves' first: the stats bench's timeline showed a thread idle 50-75 ms there).
 */
export const TAIL_SPLIT = 4;
/** At most this many tensors per batch, so a header of 200,000 tiny tensors still spreads. */
export const BATCH_TENSORS = 512;
/** A cancelled job stops between chunks (8 MiB, milliseconds); past this the worker is ended. */
const CANCEL_GRACE_MS = 2000;

export interface StatsProgress {
  /** Bytes of tensor data done (a two-pass tensor counts half its bytes per pass). */
  readonly doneBytes: number;
  readonly totalBytes: number;
  readonly tensorsDone: number;
  readonly tensors: number;
  /** On this thread: the tensor being computed (its index in the list). */
  readonly current?: number;
}

export interface CheckpointStatsOptions {
  readonly bins?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: StatsProgress) => void;
  /** Threads computing, this one included (default: threadsFor the tensors); 1: this thread only. */
  readonly threads?: number;
  /** The worker's script (dist/statsWorker.js); without it everything runs on this thread. */
  readonly workerEntry?: string;
  /** For tests: run a TypeScript entry under tsx. */
  readonly execArgv?: readonly string[];
  /** Bytes per range of a split tensor (default RANGE_BYTES; whole superblocks, at least one). */
  readonly rangeBytes?: number;
}

/**
 * Cores one computing thread keeps busy: it reads its own bytes (blocking reads, checkpointStats.ts),
 * so about one, plus its share of the collector: the stats bench's "cores busy" of one thread read
 * 1.07 (BF16) and 1.14 (F32). It read 1.2 and 1.5 while reads ran on libuv's threads.
 */
const CORES_PER_THREAD = 1.1;

/**
 * Below this many bytes of tensor data one thread does it all: a fresh worker takes 70-100 ms to
 * start and then runs cold, while this thread goes on (the stats bench: an 88 MB ViT-S ran at 408
 * MB/s with a worker and 593 alone; 256 MiB between 0.83x and 1.31x one thread, run to run, about
 * break-even; 1 GiB at 1.4x).
 */
export const WORKERS_FROM_BYTES = 256 << 20;

/**
 * Threads worth running for `tensors` on `cores` cores: as many as the cores feed (on 2 cores, 2; on
 * 16, 15) for WORKERS_FROM_BYTES or more; else one.
 */
export function threadsFor(tensors: readonly TensorInfo[], cores: number = availableParallelism()): number {
  if (computedBytes(tensors) < WORKERS_FROM_BYTES) return 1;
  return Math.max(1, Math.min(cores, Math.round(cores / CORES_PER_THREAD)));
}

/** Bytes of tensor data the statistics read: every tensor's but those of dtypes not decoded. */
function computedBytes(tensors: readonly TensorInfo[]): number {
  return tensors.reduce((s, t) => s + (skippedReason(t) ? 0 : t.bytes), 0);
}

/** A worker thread of the stats pool (`entry`: dist/statsWorker.js) with `path` opened: the pool's, and the inspector's helpers. */
export function statsWorkerHost(entry: string, path: string, name: string, execArgv?: readonly string[]): WorkerHost<StatsService, 'open'> {
  return new WorkerHost<StatsService, 'open'>({
    entry,
    name,
    ...(execArgv ? { execArgv } : {}),
    open: { method: 'open', params: { path } },
    cancelGraceMs: () => CANCEL_GRACE_MS,
    closedMessage: 'statistics were stopped',
  });
}

/** dist/statsWorker.js next to the running bundle (dist/cli.js, dist/extension.js), when it is there. */
export function bundledStatsWorker(dir: string = __dirname): string | undefined {
  // Only the bundle's script: from source the CLI computes on one thread (tests pass the .ts entry).
  return siblingWorkerEntry(dir, 'statsWorker', 'statsPool.js')?.entry;
}

/** Elements per range of a split tensor: a whole number of superblocks, about `rangeBytes`. */
export function rangeElements(t: TensorInfo, rangeBytes = RANGE_BYTES): number {
  const size = DTYPES[t.dtype].bits / 8;
  return Math.max(1, Math.floor(rangeBytes / size / SUPER)) * SUPER;
}

/** The statistics of `tensors` (of `checkpoint`), in their order; threads as the options say. */
export async function computeCheckpointStats(
  checkpoint: Checkpoint,
  tensors: readonly TensorInfo[],
  opts: CheckpointStatsOptions = {},
): Promise<TensorStatsOutcome[]> {
  opts.signal?.throwIfAborted();
  const work = tensors.filter((t) => !skippedReason(t) && t.params > 0);
  const threads = Math.max(1, Math.floor(opts.threads ?? threadsFor(work)));
  if (threads <= 1 || !opts.workerEntry || work.length === 0) return inThisThread(checkpoint, tensors, opts);
  return new Pool(checkpoint, tensors, opts, opts.workerEntry, threads).run();
}

/** One tensor after another on this thread. */
async function inThisThread(
  checkpoint: Checkpoint,
  tensors: readonly TensorInfo[],
  opts: CheckpointStatsOptions,
): Promise<TensorStatsOutcome[]> {
  const totalBytes = computedBytes(tensors);
  const out: TensorStatsOutcome[] = [];
  let before = 0;
  for (const [i, t] of tensors.entries()) {
    opts.signal?.throwIfAborted();
    const report = (done: number): void =>
      opts.onProgress?.({
        doneBytes: before + (done / Math.max(1, t.params)) * t.bytes,
        totalBytes,
        tensorsDone: i,
        tensors: tensors.length,
        current: i,
      });
    if (t.params > 0) report(0);
    out.push(await tensorStatsOf(checkpoint, t, { bins: opts.bins, signal: opts.signal, onProgress: report }));
    if (!skippedReason(t)) before += t.bytes;
  }
  opts.onProgress?.({ doneBytes: totalBytes, totalBytes, tensorsDone: tensors.length, tensors: tensors.length });
  return out;
}

/** Something that runs the pool's jobs: a worker (through the worker channel) or this thread. */
interface Runner {
  request<K extends MethodName<StatsService>>(
    method: K,
    params: ParamsOf<StatsService, K>,
    onProgress: (event: ProgressOf<StatsService, K>) => void,
  ): Cancellable<ResultOf<StatsService, K>>;
  /** A worker: starts it; settles once it can take a job. */
  open?(): Promise<unknown>;
  dispose(): void;
}

/** This thread as a runner: the workers' own jobs, called directly. */
class ThisThread implements Runner {
  private readonly jobs: StatsJobs;

  constructor(checkpoint: Checkpoint) {
    this.jobs = statsJobs(() => checkpoint);
  }

  request<K extends MethodName<StatsService>>(
    method: K,
    params: ParamsOf<StatsService, K>,
    onProgress: (event: ProgressOf<StatsService, K>) => void,
  ): Cancellable<ResultOf<StatsService, K>> {
    const controller = new AbortController();
    // One cast, as in serve.ts: a method and its params are correlated by the protocol's type.
    const job = this.jobs[method as Exclude<K, 'open'>] as (
      p: unknown,
      ctx: { signal: AbortSignal; progress: (e: unknown) => void },
    ) => Promise<ResultOf<StatsService, K>>;
    const done = Promise.resolve().then(() => job(params, { signal: controller.signal, progress: onProgress as (e: unknown) => void }));
    return { done, cancel: () => controller.abort() };
  }

  dispose(): void {}
}

export type PoolJob =
  | { readonly kind: 'whole'; readonly tensors: readonly number[]; readonly bytes: number }
  | { readonly kind: 'pass1'; readonly tensor: number; readonly part: number; readonly first: number; readonly last: number }
  | { readonly kind: 'pass2'; readonly tensor: number; readonly part: number; readonly first: number; readonly last: number };

/** The pool's first jobs: batches of whole tensors, and the first passes of the split ones with their ranges. */
export interface PoolPlan {
  readonly jobs: readonly PoolJob[];
  /** Per split tensor (its index), its element ranges in order. */
  readonly ranges: ReadonlyMap<number, readonly (readonly [number, number])[]>;
}

/**
 * Jobs for `tensors` (skipped ones left out) on `threads` threads: tensors up to `rangeBytes` in
 * batches of about that many bytes (at most BATCH_TENSORS), bigger ones in ranges of about that many;
 * the last `threads * rangeBytes` bytes in jobs TAIL_SPLIT times smaller.
 */
export function planPoolJobs(tensors: readonly TensorInfo[], threads: number, rangeBytes: number = RANGE_BYTES): PoolPlan {
  const jobs: PoolJob[] = [];
  const ranges = new Map<number, (readonly [number, number])[]>();
  let batch: number[] = [];
  let batchBytes = 0;
  const flush = (): void => {
    if (batch.length > 0) jobs.push({ kind: 'whole', tensors: batch, bytes: batchBytes });
    batch = [];
    batchBytes = 0;
  };
  // Bytes of this tensor and those after it.
  let remaining = computedBytes(tensors);
  for (const [i, t] of tensors.entries()) {
    if (skippedReason(t)) continue;
    const inTail = remaining <= threads * rangeBytes;
    if (inTail && batchBytes > rangeBytes / TAIL_SPLIT) flush(); // the tail's batches are small from its first
    const jobBytes = inTail ? rangeBytes / TAIL_SPLIT : rangeBytes;
    remaining -= t.bytes;
    const per = rangeElements(t, jobBytes);
    if (t.params <= per) {
      batch.push(i);
      batchBytes += t.bytes;
      if (batchBytes >= jobBytes || batch.length >= BATCH_TENSORS) flush();
      continue;
    }
    const own: (readonly [number, number])[] = [];
    for (let first = 0; first < t.params; first += per) own.push([first, Math.min(t.params, first + per)]);
    ranges.set(i, own);
    own.forEach(([first, last], part) => jobs.push({ kind: 'pass1', tensor: i, part, first, last }));
  }
  flush();
  return { jobs, ranges };
}

/** A split tensor's state between its passes. */
interface Split {
  readonly ranges: readonly (readonly [number, number])[];
  readonly parts: (Pass1Partial | undefined)[];
  partsLeft: number;
  after?: AfterPass1;
  counts?: Float64Array;
  /** Bytes one pass counts for (all of them for one-pass tables, half otherwise). */
  readonly passShare: number;
}

class Pool {
  private readonly bins: number;
  private readonly results: (TensorStatsOutcome | undefined)[];
  private readonly splits = new Map<number, Split>();
  private readonly queue: PoolJob[] = [];
  /** Tensors to compute again on this thread (their job failed in a worker). */
  private readonly retry = new Set<number>();
  private readonly runners: Runner[] = [];
  private readonly inFlight = new Map<Runner, { cancel(): void; progress: number }>();
  private readonly totalBytes: number;
  private doneBytes = 0;
  private tensorsDone = 0;

  constructor(
    private readonly checkpoint: Checkpoint,
    private readonly tensors: readonly TensorInfo[],
    private readonly opts: CheckpointStatsOptions,
    entry: string,
    threads: number,
  ) {
    this.bins = opts.bins ?? DEFAULT_BINS;
    this.results = new Array<TensorStatsOutcome | undefined>(tensors.length);
    for (const [i, t] of tensors.entries()) {
      const skipped = skippedReason(t);
      if (skipped) {
        this.results[i] = { skipped };
        this.tensorsDone++;
      }
    }
    const plan = planPoolJobs(tensors, threads, opts.rangeBytes);
    for (const [i, ranges] of plan.ranges) {
      const twoPasses = pathOf(tensors[i].dtype, tensors[i].params) !== 'table';
      this.splits.set(i, { ranges, parts: ranges.map(() => undefined), partsLeft: ranges.length, passShare: twoPasses ? 0.5 : 1 });
    }
    this.queue.push(...plan.jobs);
    this.totalBytes = computedBytes(tensors);
    this.runners.push(new ThisThread(checkpoint));
    const workers = Math.min(threads, this.queue.length) - 1;
    for (let w = 0; w < workers; w++) {
      this.runners.push(statsWorkerHost(entry, checkpoint.path, `mimicry-stats-${w + 1}`, opts.execArgv));
    }
  }

  async run(): Promise<TensorStatsOutcome[]> {
    const { signal } = this.opts;
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          for (const job of this.inFlight.values()) job.cancel();
          reject(signal?.reason ?? new DOMException('This operation was aborted', 'AbortError'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        const finish = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        // A worker takes jobs once it has started (70-100 ms here): a job handed to it before would
        // wait for it while this thread, done with its own, idles (a ViT-S ran at half the speed of
        // this thread alone). One that never starts takes none: this thread does its share.
        const ready = new Set<Runner>([this.runners[0]]);
        const pump = (): void => {
          if (signal?.aborted) return;
          // Workers first: this thread also answers their messages, so it takes a job only when they all have one.
          for (const runner of [...this.runners.slice(1), this.runners[0]]) {
            if (this.inFlight.has(runner) || !ready.has(runner)) continue;
            const job = this.queue.shift();
            if (!job) break;
            this.start(runner, job, () => {
              this.inFlight.delete(runner);
              if (this.queue.length === 0 && this.inFlight.size === 0) finish();
              else pump();
            });
          }
          if (this.queue.length === 0 && this.inFlight.size === 0) finish();
        };
        for (const runner of this.runners.slice(1))
          runner.open?.().then(
            () => {
              ready.add(runner);
              pump();
            },
            () => undefined,
          );
        pump();
      });
    } finally {
      for (const r of this.runners) r.dispose();
    }
    // Jobs that failed in a worker, again here in tensor order: the first error is thrown as the engine's.
    for (const i of [...this.retry].sort((a, b) => a - b)) {
      this.results[i] = await tensorStatsOf(this.checkpoint, this.tensors[i], { bins: this.bins, signal });
      this.tensorsDone++;
    }
    this.report();
    return this.results.map((r, i) => {
      if (!r) throw new Error(`statistics of ${this.tensors[i].name} are missing`);
      return r;
    });
  }

  private report(): void {
    let inFlight = 0;
    for (const j of this.inFlight.values()) inFlight += j.progress;
    this.opts.onProgress?.({
      doneBytes: Math.min(this.totalBytes, this.doneBytes + inFlight),
      totalBytes: this.totalBytes,
      tensorsDone: this.tensorsDone,
      tensors: this.tensors.length,
    });
  }

  /** Starts `job` on `runner`; `next` runs once it has settled and its result is recorded. */
  private start(runner: Runner, job: PoolJob, next: () => void): void {
    const state = { cancel: () => undefined as void, progress: 0 };
    this.inFlight.set(runner, state);
    const bins = this.bins;
    let done: Promise<void>;
    if (job.kind === 'whole') {
      const names = job.tensors.map((i) => this.tensors[i].name);
      const req = runner.request('whole', { names, bins }, (bytes) => {
        state.progress = bytes;
        this.report();
      });
      state.cancel = req.cancel;
      done = req.done.then((outcomes) => {
        job.tensors.forEach((i, k) => (this.results[i] = outcomes[k]));
        this.tensorsDone += job.tensors.length;
        this.doneBytes += job.bytes;
      });
      done = done.catch(() => this.failed(job.tensors, job.bytes));
    } else {
      const t = this.tensors[job.tensor];
      const split = this.splits.get(job.tensor) as Split;
      const size = DTYPES[t.dtype].bits / 8;
      const bytesOf = (elements: number): number => elements * size * split.passShare;
      const { name } = t;
      const onProgress = (elements: number): void => {
        state.progress = bytesOf(elements);
        this.report();
      };
      const range = { name, first: job.first, last: job.last };
      if (job.kind === 'pass1') {
        const req = runner.request('pass1', range, onProgress);
        state.cancel = req.cancel;
        done = req.done.then((partial) => this.pass1Done(job.tensor, split, job.part, partial));
      } else {
        const plan = split.after?.plan;
        if (!plan) throw new Error('a histogram pass without a plan');
        const req = runner.request('pass2', { ...range, plan }, onProgress);
        state.cancel = req.cancel;
        done = req.done.then((counts) => this.pass2Done(job.tensor, split, counts));
      }
      const jobBytes = bytesOf(job.last - job.first);
      done = done.then(
        () => void (this.doneBytes += jobBytes),
        () => this.failed([job.tensor], jobBytes),
      );
    }
    void done.then(() => {
      state.progress = 0; // now counted in doneBytes
      if (!this.opts.signal?.aborted) this.report();
      next();
    });
  }

  /** A job that failed: cancelled (the run is ending), or to be computed again here. */
  private failed(tensors: readonly number[], bytes: number): void {
    // Cancelled by this run's own signal: nothing to redo. Anything else (a worker that was lost
    // included, even when the channel reports it as cancelled) is computed again here.
    if (this.opts.signal?.aborted) return;
    for (const i of tensors) {
      if (this.retry.has(i)) continue;
      this.retry.add(i);
      // A split tensor's other jobs are dropped: it is done again whole.
      this.splits.delete(i);
      for (let q = this.queue.length - 1; q >= 0; q--) {
        const job = this.queue[q];
        if (job.kind !== 'whole' && job.tensor === i) this.queue.splice(q, 1);
      }
    }
    this.doneBytes += bytes;
  }

  private pass1Done(i: number, split: Split, part: number, partial: Pass1Partial): void {
    if (this.retry.has(i)) return;
    split.parts[part] = partial;
    if (--split.partsLeft > 0) return;
    const t = this.tensors[i];
    const after = afterPass1(t.dtype, mergePass1(split.parts as Pass1Partial[]), this.bins);
    split.parts.fill(undefined);
    if (!after.needsPass2 || !after.plan) {
      this.complete(i, split, after, new Float64Array(this.bins));
      return;
    }
    split.after = after;
    split.counts = new Float64Array(pass2Length(after.plan));
    split.partsLeft = split.ranges.length;
    // Ahead of other tensors' first passes, so this tensor's partials are freed soon.
    const jobs: PoolJob[] = split.ranges.map(([first, last], p) => ({ kind: 'pass2', tensor: i, part: p, first, last }));
    this.queue.unshift(...jobs);
  }

  private pass2Done(i: number, split: Split, counts: Float64Array): void {
    if (this.retry.has(i) || !split.counts || !split.after) return;
    for (let b = 0; b < counts.length; b++) split.counts[b] += counts[b];
    if (--split.partsLeft > 0) return;
    this.complete(i, split, split.after, split.counts);
  }

  private complete(i: number, split: Split, after: AfterPass1, counts: Float64Array): void {
    this.results[i] = finishStats(after, counts);
    this.tensorsDone++;
    // A pass that was not needed counts as done.
    if (split.passShare < 1 && !after.needsPass2) this.doneBytes += this.tensors[i].bytes * (1 - split.passShare);
    this.splits.delete(i);
  }
}
