// The other cores for the inspector's "compute all" (./schedule.ts): worker threads of the stats pool
// (dist/statsWorker.js, beside this worker's bundle), each computing runs of whole tensors. Started
// only where they pay for their start: more than one core, and at least a run's worth of bytes to do.
import { availableParallelism } from 'node:os';
import type { Checkpoint } from '../../safetensors/types';
import { bundledStatsWorker } from '../../stats/statsPool';
import type { StatsService } from '../../stats/statsProtocol';
import { WorkerHost } from '../channel/host';
import { statsOrRefusal, tensorOf } from './jobs';
import { HELPER_RUN_BYTES, type BatchHelpers, type HelperOutcome, type StatsHelper } from './schedule';

/** A cancelled run stops between chunks (8 MiB, milliseconds); past this its worker is ended. */
const CANCEL_GRACE_MS = 2000;

export interface StatsHelpers {
  readonly lanes: BatchHelpers;
  dispose(): void;
}

export interface StatsHelpersOptions {
  /** The worker's script (default dist/statsWorker.js beside this bundle; tests pass a TypeScript bootstrap). */
  readonly entry?: string;
  /** Fewer bytes to do than this: no helper (default HELPER_RUN_BYTES). */
  readonly minBytes?: number;
}

/**
 * Helpers for a batch of `names` of `checkpoint`: one per core beyond this thread's (at most 4), or
 * none (one core, a small batch, or no worker script: running from source).
 */
export function statsHelpers(checkpoint: Checkpoint, names: readonly string[], opts: StatsHelpersOptions = {}): StatsHelpers | undefined {
  const entry = opts.entry ?? bundledStatsWorker();
  const count = Math.min(availableParallelism() - 1, 4);
  const bytesOf = (name: string): number => checkpoint.tensor(name)?.bytes ?? 0;
  const bytes = names.reduce((s, n) => s + bytesOf(n), 0);
  if (!entry || count < 1 || bytes < (opts.minBytes ?? HELPER_RUN_BYTES)) return undefined;
  const hosts = Array.from(
    { length: count },
    (_, w) =>
      new WorkerHost<StatsService, 'open'>({
        entry,
        name: `mimicry-inspector-stats-${w + 1}`,
        open: { method: 'open', params: { path: checkpoint.path } },
        cancelGraceMs: () => CANCEL_GRACE_MS,
        closedMessage: 'statistics were stopped',
      }),
  );
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
