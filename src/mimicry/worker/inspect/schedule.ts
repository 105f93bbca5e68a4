// Who goes first inside the inspector's worker: a tensor the user asked for (a click) runs at once,
// while "compute all" pauses between chunks until it is done; the batch then takes its result
// instead of reading the tensor again, and hands over the tensor it is reading when that is the one
// asked for. One worker serves one file, so one scheduler per worker.
import type { TensorStats } from '../../stats/tensorStats';
import { isAbortError } from '../../errors';

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

export type BatchOutcome = { readonly name: string; readonly stats: TensorStats } | { readonly name: string; readonly error: unknown };

export class StatsScheduler {
  /** Requests of the user in flight, by tensor and bins. */
  private readonly asked = new Map<string, Promise<TensorStats>>();
  /** What the user's requests computed (the batch reports these without reading again). */
  private readonly computed = new Map<string, TensorStats>();
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
   * Statistics of `names` in order, each reported as it is ready (a failure fails that tensor
   * only); a cancel of `signal` rejects. Tensors the user asked for meanwhile are not read twice.
   */
  async batch(
    names: readonly string[],
    bins: number,
    signal: AbortSignal,
    onFraction: (name: string, fraction: number, done: number) => void,
    onOutcome: (outcome: BatchOutcome) => void,
  ): Promise<void> {
    for (let done = 0; done < names.length; done++) {
      const name = names[done];
      signal.throwIfAborted();
      await abortable(this.gate(), signal);
      onFraction(name, 0, done);
      try {
        onOutcome({ name, stats: await this.batchOne(name, bins, signal, (f) => onFraction(name, f, done)) });
      } catch (error) {
        if (signal.aborted) throw error;
        onOutcome({ name, error });
      }
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
