// Who goes first inside the inspector's worker: a tensor the user asked for (a click) runs at once,
// while "compute all" pauses between chunks until it is done; the batch then takes its result
// instead of reading the tensor again, and hands over the tensor it is reading when that is the one
// asked for. One worker serves one file, so one scheduler per worker. A batch may also have helpers
// (the stats pool's worker threads, the other cores): they take the queue's next tensors in runs,
// while this thread takes them one at a time; a tensor asked for while a helper computes it waits
// for that helper's result.
import type { TensorStats } from '../../stats/tensorStats';
import { isAbortError } from '../../errors';
import { BATCH_TENSORS, RANGE_BYTES } from '../../stats/statsPool';

/** Computes one tensor's statistics; awaits `gate` between chunks (the batch's way to yield). */
export type StatsCompute = (
  name: string,
  bins: number,
  signal: AbortSignal,
  onFraction: (fraction: number) => void,
  gate?: () => Promise<void>,
) => Promise<TensorStats>;

/** Settles with `promise`, or rejects as soon as `signal` aborts (the promise goes on for others). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** One tensor of a batch; `helper`: computed by a helper thread. */
export type BatchOutcome =
  | { readonly name: string; readonly stats: TensorStats; readonly helper?: true }
  | { readonly name: string; readonly error: unknown; readonly helper?: true };

/** What a helper gives for each tensor of a run. */
export type HelperOutcome = { readonly stats: TensorStats } | { readonly error: unknown };

/** Another thread computing whole tensors for a batch. */
export interface StatsHelper {
  /** The statistics of `names`, in order, as one job; rejects when the job fails as a whole (its tensors are then done here). */
  whole(names: readonly string[], bins: number, signal: AbortSignal): Promise<HelperOutcome[]>;
}

/** A batch's helpers, and the sizes that cut the queue into their runs. */
export interface BatchHelpers {
  readonly helpers: readonly StatsHelper[];
  bytesOf(name: string): number;
}

/** A helper's run ends after this many bytes or tensors: the stats pool's batches (little per message, still spread). */
export const HELPER_RUN_BYTES = RANGE_BYTES;
const HELPER_RUN_TENSORS = BATCH_TENSORS;

export class StatsScheduler {
  /** Requests of the user in flight, by tensor and bins. */
  private readonly asked = new Map<string, Promise<TensorStats>>();
  /** What the user's requests computed (the batch reports these without reading again). */
  private readonly computed = new Map<string, TensorStats>();
  /** Tensors a helper is computing now: their statistics, or undefined when the helper gave none. */
  private readonly helping = new Map<string, Promise<TensorStats | undefined>>();
  private waiting: (() => void)[] = [];
  private current: { key: string; controller: AbortController } | undefined;

  constructor(readonly compute: StatsCompute) {}

  private static key(name: string, bins: number): string {
    return `${bins}\u0000${name}`;
  }

  /** Resolves at once unless the user's requests are running; then when they are all done. */
  readonly gate = (): Promise<void> => (this.asked.size === 0 ? Promise.resolve() : new Promise((r) => this.waiting.push(r)));

  /** A tensor the user asked for: computed now; a batch pauses meanwhile, or hands it over if it is reading it. */
  one(name: string, bins: number, signal: AbortSignal, onFraction: (fraction: number) => void): Promise<TensorStats> {
    const key = StatsScheduler.key(name, bins);
    const known = this.computed.get(key);
    if (known) return Promise.resolve(known);
    const helping = this.helping.get(key);
    // Being computed on another thread: its result (computed here after all if that run fails).
    if (helping)
      return abortable(helping, signal).then((stats) => {
        if (stats) return stats;
        if (this.helping.get(key) === helping) this.helping.delete(key);
        return this.one(name, bins, signal, onFraction);
      });
    let job = this.asked.get(key);
    if (!job) {
      // The batch's reading of this very tensor stops; it waits for this one instead.
      if (this.current?.key === key) this.current.controller.abort();
      job = this.compute(name, bins, signal, onFraction);
      this.asked.set(key, job);
      void job
        .then(
          (stats) => this.computed.set(key, stats),
          () => undefined,
        )
        .finally(() => {
          this.asked.delete(key);
          if (this.asked.size === 0) {
            const go = this.waiting;
            this.waiting = [];
            for (const r of go) r();
          }
        });
    }
    return abortable(job, signal);
  }

  /**
   * Statistics of `names`, each reported as it is ready (a failure fails that tensor only); a cancel
   * of `signal` rejects. Tensors the user asked for meanwhile are not read twice. Without helpers
   * they come in order; with them, this thread and each helper take the next ones as they free up.
   */
  async batch(
    names: readonly string[],
    bins: number,
    signal: AbortSignal,
    onFraction: (name: string, fraction: number, done: number) => void,
    onOutcome: (outcome: BatchOutcome) => void,
    lanes?: BatchHelpers,
  ): Promise<void> {
    let next = 0;
    let done = 0;
    /** Tensors a helper handed back (its run failed, or the user was computing them): done here. */
    const back: string[] = [];
    let wake: (() => void) | undefined;
    const report = (outcome: BatchOutcome): void => {
      done++;
      onOutcome(outcome);
    };
    let running = 0;
    const helpers = (lanes?.helpers ?? []).map((h) =>
      this.helperLane(h, bins, signal, {
        take: () => (next < names.length ? names[next++] : undefined),
        bytesOf: (name) => lanes?.bytesOf(name) ?? 0,
        report,
        handBack: (taken) => {
          back.push(...taken);
          wake?.();
        },
      }).finally(() => {
        running--;
        wake?.();
      }),
    );
    running = helpers.length;
    // Their cancellations are this batch's (it rejects itself); they are awaited below.
    for (const h of helpers) h.catch(() => undefined);
    try {
      for (;;) {
        signal.throwIfAborted();
        const name = back.shift() ?? (next < names.length ? names[next++] : undefined);
        if (name === undefined) {
          if (running === 0) break;
          await abortable(new Promise<void>((r) => (wake = r)), signal);
          wake = undefined;
          continue;
        }
        await abortable(this.gate(), signal);
        onFraction(name, 0, done);
        try {
          report({ name, stats: await this.batchOne(name, bins, signal, (f) => onFraction(name, f, done)) });
        } catch (error) {
          if (signal.aborted) throw error;
          report({ name, error });
        }
      }
    } finally {
      await Promise.allSettled(helpers);
    }
    signal.throwIfAborted();
  }

  /** One helper's share of a batch: runs of the queue's next tensors until it is empty. */
  private async helperLane(
    helper: StatsHelper,
    bins: number,
    signal: AbortSignal,
    queue: {
      take(): string | undefined;
      bytesOf(name: string): number;
      report(outcome: BatchOutcome): void;
      handBack(names: readonly string[]): void;
    },
  ): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      const run: string[] = [];
      let bytes = 0;
      while (run.length < HELPER_RUN_TENSORS && bytes < HELPER_RUN_BYTES) {
        const name = queue.take();
        if (name === undefined) break;
        const key = StatsScheduler.key(name, bins);
        const known = this.computed.get(key);
        if (known) queue.report({ name, stats: known });
        else if (this.asked.has(key))
          queue.handBack([name]); // this thread waits for the user's request
        else {
          run.push(name);
          bytes += queue.bytesOf(name);
        }
      }
      if (run.length === 0) return;
      const job = helper.whole(run, bins, signal);
      const settled = job.then(
        (outs) => outs,
        () => undefined,
      );
      const keys = run.map((name) => StatsScheduler.key(name, bins));
      keys.forEach((key, i) =>
        this.helping.set(
          key,
          settled.then((outs) => {
            const o = outs?.[i];
            return o && 'stats' in o ? o.stats : undefined;
          }),
        ),
      );
      let outs: HelperOutcome[] | undefined;
      try {
        outs = await job;
      } catch (e) {
        if (signal.aborted) throw e;
      } finally {
        for (const key of keys) this.helping.delete(key);
      }
      signal.throwIfAborted();
      if (!outs || outs.length !== run.length) {
        queue.handBack(run);
        continue;
      }
      outs.forEach((o, i) =>
        queue.report('stats' in o ? { name: run[i], stats: o.stats, helper: true } : { name: run[i], error: o.error, helper: true }),
      );
    }
  }

  private async batchOne(name: string, bins: number, signal: AbortSignal, onFraction: (f: number) => void): Promise<TensorStats> {
    const key = StatsScheduler.key(name, bins);
    for (;;) {
      const known = this.computed.get(key);
      if (known) return known;
      const asked = this.asked.get(key);
      if (asked) {
        // The user's request for it is running: its result is this tensor's (a cancelled one is redone here).
        try {
          return await abortable(asked, signal);
        } catch (e) {
          if (signal.aborted || !isAbortError(e)) throw e;
          continue;
        }
      }
      const controller = new AbortController();
      const mine = AbortSignal.any([signal, controller.signal]);
      this.current = { key, controller };
      try {
        return await this.compute(name, bins, mine, onFraction, () => abortable(this.gate(), mine));
      } catch (e) {
        // Handed over to the user's request (see `one`): wait for that one on the next turn.
        if (signal.aborted || !controller.signal.aborted) throw e;
      } finally {
        this.current = undefined;
      }
    }
  }
}
