// Template entropy on worker threads (entropyWorker.ts, over the project's worker channel) while the
// run's thread goes on with the next bank. Each template is one request running entropyExact, the
// same code as in this thread, so the values are the same bits. When the run's own work is done it
// takes the templates no worker has started (drain), then waits for the rest. Without the worker
// script, or on one core, there is no pool and bankEntropy runs in this thread as before.
import { closeSync, openSync, readSync } from 'node:fs';
import * as os from 'node:os';
import type { TemplatesOnDisk } from './store';
import { siblingWorkerEntry, type WorkerEntry } from '../worker/channel/entry';
import { WorkerHost } from '../worker/channel/host';
import type { Method } from '../worker/channel/protocol';
import { bankMean, entropyExact, type BankEntropy, type RoutedEntropy } from './entropy';
import { estimateEntropy, type EntropyEstimateOptions } from './entropyEstimate';

/**
 * One template, row-major rows x cols: its values (the pool owns them once queued), or where they lie
 * on disk (the run's template store), read by whichever thread computes it, so nothing waits in memory.
 */
export interface EntropyTemplate {
  readonly values?: Float32Array;
  readonly from?: TemplatesOnDisk;
  readonly rows: number;
  readonly cols: number;
  /** Estimated (entropyEstimate.ts) instead of exact: a template over the exact route's size limit. */
  readonly estimate?: EntropyEstimateOptions;
}

/** Where a thread reads a template of `length` values from disk: a reused buffer, or a new one. */
export type TemplateSlot = (length: number) => Float32Array;

const freshSlot: TemplateSlot = (length) => new Float32Array(length);

/**
 * One template's entropy as the task says: exact (float64 route) or estimated. The pool's threads all
 * run this. A template read from disk goes into `slot`: each thread reuses one buffer from template
 * to template (a fresh array each time would leave the dead ones for the collector, several
 * 7B-sized templates at once).
 */
export function templateEntropy(task: EntropyTemplate, slot: TemplateSlot = freshSlot): RoutedEntropy {
  const { rows, cols, estimate } = task;
  const values = task.values ?? readTemplate(task.from, slot(rows * cols));
  return estimate ? { ...estimateEntropy(values, rows, cols, estimate), route: 'estimate' } : entropyExact(values, rows, cols);
}

/** `out.length` float32 values from a store's file (synchronous: a template is one computation on its thread). */
function readTemplate(from: TemplatesOnDisk | undefined, out: Float32Array): Float32Array {
  if (!from) throw new Error('a template without values or a place on disk');
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  const fd = openSync(from.file, 'r');
  try {
    let done = 0;
    while (done < bytes.byteLength) {
      const n = readSync(fd, bytes, done, bytes.byteLength - done, from.offset + done);
      if (n === 0) throw new Error(`${from.file} is shorter than its templates`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Bytes a task holds in memory while it waits, and bytes it needs while it runs. */
function heldBytes(t: EntropyTemplate): number {
  return t.values?.byteLength ?? 0;
}
function taskBytes(t: EntropyTemplate): number {
  return t.rows * t.cols * 4;
}

export interface EntropyWorkerService {
  readonly open: Method<Record<string, never>, Record<string, never>>;
  readonly template: Method<EntropyTemplate, RoutedEntropy>;
}

/**
 * Below this much entropy work in a run (multiply-adds, entropyWork), worker threads are not worth
 * starting: about 0.2 s of work on one core, the order of a worker's start-up. A ViT-S run has ~1.4e10.
 */
export const POOL_MIN_WORK = 1e9;

/** Multiply-adds of one template's entropy, rows x cols: the Gram of the smaller side and its eigenvalues (order side^3). */
export function entropyWork(rows: number, cols: number): number {
  const side = Math.min(rows, cols);
  return side * side * Math.max(rows, cols) + side * side * side;
}

/** At most this many entropy workers: a run has a handful of templates in flight at a time. */
const MAX_WORKERS = 8;
/**
 * Templates sent to a worker before its answers are taken: the next is already there when one ends,
 * as this thread hands out work only between its own steps.
 */
const IN_FLIGHT_PER_WORKER = 2;
/**
 * A template bigger than this goes to a worker that has nothing else in flight: each one in flight is
 * held three times (here for a retry, the worker's copy, the SIMD kernels' copy), so two of a 7B MLP
 * template would be a gigabyte.
 */
const BIG_TEMPLATE_BYTES = 32 << 20;
/** A template is one synchronous computation (a second or so at 1024 side): a cancel waits for it at most this long. */
const CANCEL_GRACE_MS = 3000;

/** The worker script: dist/entropyWorker.js next to the bundle, or the TypeScript source under tsx. */
export function entropyWorkerEntry(): WorkerEntry | null {
  return siblingWorkerEntry(__dirname, 'entropyWorker', __filename);
}

interface Task extends EntropyTemplate {
  resolve(e: RoutedEntropy): void;
  reject(err: unknown): void;
}

type Host = WorkerHost<EntropyWorkerService, 'open'>;

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; resolve(): void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class EntropyPool {
  private readonly queue: Task[] = [];
  /** One entry per free slot of a worker (IN_FLIGHT_PER_WORKER each). */
  private readonly idle: Host[] = [];
  private readonly hosts: Host[] = [];
  private readonly inFlight = new Set<{ cancel(): void }>();
  /** Requests each worker has in flight. */
  private readonly busy = new Map<Host, number>();
  /** Bytes of the templates queued or in flight (what the run holds for entropy). */
  private backlog = 0;
  /** Resolved (and replaced) whenever a template is done, here or in a worker. */
  private progressed = signal();
  private closed = false;
  /** Set while this thread takes queued templates too (drain). */
  private draining = false;
  private readonly onAbort = (): void => this.stop(this.signal?.reason);

  /**
   * A pool of `workers` threads (default: the cores but this one, at most MAX_WORKERS), or null when
   * there would be none (one core, or the worker script is not there): then compute in this thread.
   */
  static start(opts: { workers?: number; entry?: WorkerEntry | null; signal?: AbortSignal } = {}): EntropyPool | null {
    const workers = Math.min(MAX_WORKERS, Math.floor(opts.workers ?? os.availableParallelism() - 1));
    const entry = opts.entry === undefined ? entropyWorkerEntry() : opts.entry;
    if (workers < 1 || !entry) return null;
    return new EntropyPool(workers, entry, opts.signal);
  }

  private constructor(
    workers: number,
    entry: WorkerEntry,
    private readonly signal: AbortSignal | undefined,
  ) {
    for (let w = 0; w < workers; w++) {
      const host: Host = new WorkerHost<EntropyWorkerService, 'open'>({
        entry: entry.entry,
        name: `mimicry-entropy-${w + 1}`,
        ...(entry.execArgv ? { execArgv: entry.execArgv } : {}),
        open: { method: 'open', params: {} },
        cancelGraceMs: () => CANCEL_GRACE_MS,
        closedMessage: 'the run ended',
      });
      this.hosts.push(host);
      try {
        // Started now: the thread boots while this one fits the first bank.
        host.open().catch(() => undefined);
        for (let k = 0; k < IN_FLIGHT_PER_WORKER; k++) this.idle.push(host);
      } catch {
        host.dispose(); // the thread could not be made: this one computes instead
      }
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Entropy of one template, computed by whichever thread gets to it first. */
  entropy(template: EntropyTemplate): Promise<RoutedEntropy> {
    if (this.closed) return Promise.reject(this.signal?.reason ?? new Error('the entropy pool is closed'));
    const bytes = heldBytes(template);
    this.backlog += bytes;
    return new Promise<RoutedEntropy>((resolve, reject) => {
      const settle = (): void => {
        this.backlog -= bytes;
        this.progressed.resolve();
        this.progressed = signal();
      };
      this.queue.push({
        ...template,
        resolve: (e) => {
          settle();
          resolve(e);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      });
      this.pump();
    });
  }

  /**
   * Waits until at most `maxBytes` of templates are queued or in flight, computing queued ones in this
   * thread meanwhile: the run fits its next bank only once the entropy work behind it is bounded, so
   * memory stays bounded when entropy is slower than fitting (estimates of 7B-sized templates).
   * Templates on disk are read into `slot` (the run's own template buffer: free between banks).
   */
  async relieve(maxBytes: number, slot?: TemplateSlot): Promise<void> {
    while (!this.closed && this.backlog > maxBytes) {
      const task = this.queue.shift();
      if (!task) {
        await this.progressed.promise;
        continue;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.signal?.aborted) task.reject(this.signal.reason);
      else task.resolve(templateEntropy(task, slot));
    }
    this.signal?.throwIfAborted();
  }

  /**
   * Computes, in this thread, every queued template no worker has started (this thread has nothing
   * else to do); templates on disk are read into `slot`.
   */
  async drain(slot?: TemplateSlot): Promise<void> {
    // Biggest first, here and in the workers: the last templates, which one thread may end up
    // waiting for alone, are then the smallest.
    this.queue.sort((a, b) => entropyWork(b.rows, b.cols) - entropyWork(a.rows, a.cols));
    this.draining = true;
    for (;;) {
      // Between templates, the workers' answers are taken (and they are given the next ones).
      await new Promise<void>((resolve) => setImmediate(resolve));
      const task = this.queue.shift();
      if (!task) return;
      if (this.signal?.aborted) task.reject(this.signal.reason);
      else task.resolve(templateEntropy(task, slot));
    }
  }

  /** Ends the workers; queued and running templates fail. */
  dispose(): void {
    this.stop(new Error('the entropy pool is closed'));
  }

  private stop(reason: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    for (const r of this.inFlight) r.cancel();
    for (const h of this.hosts) h.dispose();
    for (const task of this.queue.splice(0)) task.reject(reason);
  }

  private pump(): void {
    while (!this.closed && this.idle.length > 0 && this.queue.length > 0) {
      // While this thread drains, the last templates go to whichever thread is free, not into the
      // queue of a worker still busy with one: else the run could end on that worker's second template
      // while this thread waits with nothing to do.
      const last = this.draining && this.queue.length <= this.hosts.length + 1;
      const alone = last || taskBytes(this.queue[0]) > BIG_TEMPLATE_BYTES;
      const slot = alone ? this.idle.findIndex((h) => (this.busy.get(h) ?? 0) === 0) : 0;
      if (slot < 0) return;
      const host = this.idle.splice(slot, 1)[0];
      const task = this.queue.shift() as Task;
      this.busy.set(host, (this.busy.get(host) ?? 0) + 1);
      const { values, from, rows, cols, estimate } = task;
      const req = host.request('template', {
        rows,
        cols,
        ...(values ? { values } : {}),
        ...(from ? { from } : {}),
        ...(estimate ? { estimate } : {}),
      });
      this.inFlight.add(req);
      req.done.then(
        (e) => {
          this.busy.set(host, (this.busy.get(host) ?? 1) - 1);
          this.inFlight.delete(req);
          task.resolve(e);
          this.idle.push(host);
          this.pump();
        },
        (err: unknown) => {
          this.busy.set(host, (this.busy.get(host) ?? 1) - 1);
          this.inFlight.delete(req);
          if (this.closed) {
            task.reject(this.signal?.reason ?? err);
            return;
          }
          // A worker that failed (it could not start, or it died) is not used again; its template
          // goes back to the front of the queue for another thread (this one at the latest, in drain).
          host.dispose();
          for (let k = this.idle.indexOf(host); k >= 0; k = this.idle.indexOf(host)) this.idle.splice(k, 1);
          this.queue.unshift(task);
          this.pump();
        },
      );
    }
  }
}

/**
 * bankEntropy (entropy.ts) of a bank on the pool, on this thread's CPU route (entropyExact): the same
 * per-template values and the same mean (summed in template order). `templates` is copied, so the caller may reuse it at once.
 */
export function pooledBankEntropy(
  pool: EntropyPool,
  templates: Float32Array,
  n: number,
  shape: readonly number[],
  /** Called as templates finish with the number done (in any order of templates). */
  onTemplate?: (done: number) => void,
  /** Estimate instead of the exact route (templates over its size limit). */
  estimate?: EntropyEstimateOptions,
  /** Where the same templates lie on disk: the threads read them there instead of holding copies. */
  from?: TemplatesOnDisk,
): Promise<BankEntropy> {
  const size = templates.length / n;
  const rows = shape[0];
  const cols = size / rows;
  let done = 0;
  const parts: Promise<RoutedEntropy>[] = [];
  for (let t = 0; t < n; t++) {
    const source = from
      ? { from: { file: from.file, offset: from.offset + t * size * 4 } }
      : { values: templates.slice(t * size, (t + 1) * size) };
    parts.push(
      pool.entropy({ ...source, rows, cols, ...(estimate ? { estimate } : {}) }).then((e) => {
        onTemplate?.(++done);
        return e;
      }),
    );
  }
  return Promise.all(parts).then(bankMean);
}
