// The other cores for the inspector's "compute all" (./schedule.ts): worker threads of the stats pool
// (dist/statsWorker.js, beside this worker's bundle), each computing runs of whole tensors. Started
// only where they pay: threads the cores can feed (statsPool's threadsFor), and a run's worth of bytes.
import type { Checkpoint } from '../../safetensors/types';
import { bundledStatsWorker, statsWorkerHost, threadsFor } from '../../stats/statsPool';
import { statsOrRefusal, tensorOf } from './jobs';
import { HELPER_RUN_BYTES, type BatchHelpers, type HelperOutcome, type StatsHelper } from './schedule';

/** At most this many helpers: the extension host and the editor keep a core. */
const MAX_HELPERS = 4;

export interface StatsHelpers {
  readonly lanes: BatchHelpers;
  dispose(): void;
}

export interface StatsHelpersOptions {
  /** The worker's script (default dist/statsWorker.js beside this bundle; tests pass a TypeScript bootstrap). */
  readonly entry?: string;
  /** Fewer bytes to do than this: no helper (default HELPER_RUN_BYTES). */
  readonly minBytes?: number;
  /** Threads in all, the inspector's worker included (default: threadsFor the batch's tensors; at most 5). */
  readonly threads?: number;
}

/**
 * Helpers for a batch of `names` of `checkpoint`: the threads beyond this one that pay (threadsFor:
 * one on 2 cores for 256 MiB or more), or none (a small batch, or no worker script: running from source).
 */
export function statsHelpers(checkpoint: Checkpoint, names: readonly string[], opts: StatsHelpersOptions = {}): StatsHelpers | undefined {
  const entry = opts.entry ?? bundledStatsWorker();
  const tensors = names.map((n) => checkpoint.tensor(n)).filter((t) => t !== undefined);
  const count = Math.min((opts.threads ?? threadsFor(tensors)) - 1, MAX_HELPERS);
  const bytesOf = (name: string): number => checkpoint.tensor(name)?.bytes ?? 0;
  const bytes = names.reduce((s, n) => s + bytesOf(n), 0);
  if (!entry || count < 1 || bytes < (opts.minBytes ?? HELPER_RUN_BYTES)) return undefined;
  const hosts = Array.from({ length: count }, (_, w) => statsWorkerHost(entry, checkpoint.path, `mimicry-inspector-stats-${w + 1}`));
  const helpers = hosts.map((host): StatsHelper => ({
    async whole(run, bins, signal): Promise<HelperOutcome[]> {
      signal.throwIfAborted();
      const req = host.request('whole', { names: run, bins }, () => undefined);
      const onAbort = (): void => req.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const outcomes = await req.done;
        return outcomes.map((o, i) => {
          try {
            return { stats: statsOrRefusal(tensorOf(checkpoint, run[i]), o) };
          } catch (error) {
            return { error };
          }
        });
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
  }));
  return { lanes: { helpers, bytesOf }, dispose: () => hosts.forEach((h) => h.dispose()) };
}
