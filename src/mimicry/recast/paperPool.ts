// The fused paper loop's threads: the fitting thread runs the first share of a bank's chunks, worker
// threads (paperWorker.ts, over the project's worker channel) the others, all on shared buffers.
// Setup, errors and shutdown travel as channel requests; each pass is a shared-memory barrier
// (a generation counter the workers wait on, a done counter the fitting thread waits on), so a step
// costs no message and no copy. Banks are split by elements, not fitted side by side: a run holds
// one group's weights at a time (the memory bound of reconstruct()), and one big bank uses every core.
import * as os from 'node:os';
import { RemoteError } from '../errors';
import { siblingWorkerEntry } from '../worker/channel/entry';
import { WorkerHost } from '../worker/channel/host';
import type { Method } from '../worker/channel/protocol';
import { chunkCount, slicePasses, type KernelBank, type SlicePasses } from './paperKernel';

export const CTL_GEN = 0;
export const CTL_DONE = 1;
export const CTL_CMD = 2;
export const CTL_ERR = 3;
export const CMD_PASS = 1;
export const CMD_STOP = 2;

/** One worker's share of a bank: the bank's shared arrays, its chunks, the barrier's control words. */
export interface SliceSetup {
  readonly bank: KernelBank;
  readonly c0: number;
  readonly c1: number;
  readonly control: Int32Array;
}

export interface PaperWorkerService {
  /** Attaches the bank; answers the number of chunks this worker runs. */
  readonly open: Method<SliceSetup, { readonly chunks: number }>;
  /** Serves passes until the stop command; answers how many it ran. */
  readonly run: Method<Record<string, never>, { readonly passes: number }>;
}

/** Below this many template elements per thread, a pass is too short to be worth a barrier. */
const MIN_ELEMENTS_PER_THREAD = 1 << 17;
const MAX_THREADS = 8;
/** How long one wait for the workers lasts before it looks for a crashed one. */
const WAIT_SLICE_MS = 1000;

/** Threads a bank of n templates x d elements gets by default: the cores, if it is big enough. */
export function defaultThreads(n: number, d: number): number {
  return Math.max(1, Math.min(os.availableParallelism(), MAX_THREADS, chunkCount(d), Math.floor((n * d) / MIN_ELEMENTS_PER_THREAD)));
}

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeout: number,
) => { readonly async: boolean; readonly value: Promise<string> | string };

/** A bank's array of `length` float32s, shared when other threads will see it. */
export function floatArray(length: number, shared: boolean): Float32Array {
  return shared ? new Float32Array(new SharedArrayBuffer(4 * length)) : new Float32Array(length);
}

export function doubleArray(length: number, shared: boolean): Float64Array {
  return shared ? new Float64Array(new SharedArrayBuffer(8 * length)) : new Float64Array(length);
}

/** Runs passes over all of a bank's chunks on `threads` threads (at most one per chunk; one when the worker script is not found). */
export class PassRunner {
  /** This thread's share, made at its first pass (after the workers have started on theirs). */
  private own: SlicePasses | undefined;
  private readonly hosts: WorkerHost<PaperWorkerService, 'open'>[] = [];
  private readonly runs: Promise<unknown>[] = [];
  private readonly control: Int32Array;
  private failure: unknown = undefined;
  private mine: number;
  /** Threads that run passes (the fitting thread included). */
  readonly threads: number;

  constructor(
    private readonly bank: KernelBank,
    threads: number,
  ) {
    const chunks = chunkCount(bank.d);
    const entry = threads > 1 ? siblingWorkerEntry(__dirname, 'paperWorker', __filename) : null;
    const shared = bank.T.buffer instanceof SharedArrayBuffer;
    const t = entry && shared ? Math.min(threads, chunks) : 1;
    this.threads = t;
    this.control = new Int32Array(new SharedArrayBuffer(16));
    const bound = (j: number) => Math.round((j * chunks) / t);
    this.mine = bound(1);
    for (let j = 1; j < t && entry; j++) {
      const host = new WorkerHost<PaperWorkerService, 'open'>({
        entry: entry.entry,
        name: 'mimicry-paper',
        ...(entry.execArgv ? { execArgv: entry.execArgv } : {}),
        open: { method: 'open', params: { bank, c0: bound(j), c1: bound(j + 1), control: this.control } },
        cancelGraceMs: () => 1000,
        closedMessage: 'the fit ended',
      });
      this.hosts.push(host);
      const run = host.request('run', {}).done;
      this.runs.push(run);
      run.catch((e: unknown) => {
        this.failure ??= e;
      });
    }
    if (this.hosts.length === 0) this.mine = chunks;
  }

  /** One pass over every chunk; the partial sums are in `bank.partials` when it resolves. */
  async pass(): Promise<void> {
    const workers = this.hosts.length;
    const ctl = this.control;
    if (workers > 0) {
      Atomics.store(ctl, CTL_DONE, 0);
      Atomics.store(ctl, CTL_CMD, CMD_PASS);
      Atomics.add(ctl, CTL_GEN, 1);
      Atomics.notify(ctl, CTL_GEN);
    }
    this.own ??= slicePasses(this.bank, 0, this.mine);
    this.own.run();
    if (workers === 0) return;
    const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
    for (;;) {
      const done = Atomics.load(ctl, CTL_DONE);
      if (done >= workers) break;
      if (this.failure !== undefined) throw this.error();
      const r = waitAsync(ctl, CTL_DONE, done, WAIT_SLICE_MS);
      if (r.async) await r.value;
    }
    if (Atomics.load(ctl, CTL_ERR) !== 0) {
      await Promise.allSettled(this.runs);
      throw this.error();
    }
  }

  private error(): Error {
    const e = this.failure;
    if (e instanceof RemoteError) return new Error(`a thread of the paper loop failed: ${e.message}`);
    return e instanceof Error ? e : new Error(String(e));
  }

  /** Stops the workers (they finish their request and exit). */
  async close(): Promise<void> {
    if (this.hosts.length === 0) return;
    Atomics.store(this.control, CTL_CMD, CMD_STOP);
    Atomics.add(this.control, CTL_GEN, 1);
    Atomics.notify(this.control, CTL_GEN);
    await Promise.allSettled(this.runs);
    for (const h of this.hosts) h.dispose();
  }
}
