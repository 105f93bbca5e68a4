// Entry of dist/inspectWorker.js: the inspector's engine in a worker thread, so reading and math never
// block the extension host. Serves InspectService (./protocol.ts) over the worker channel.
import { toWireError } from '../../errors';
import { openCheckpoint } from '../../safetensors/reader';
import type { Checkpoint } from '../../safetensors/types';
import { serve } from '../channel/serve';
import { factorLayers, type FactorLayer } from '../../family/adapterView';
import { computeSpectrumOf, computeStatsOf } from './jobs';
import { overviewOf } from './overview';
import { StatsScheduler } from './schedule';
import type { InspectService } from './protocol';

let checkpoint: Checkpoint | undefined;
/** An adapter's factor tensors and their layer updates (their spectra are the updates'); null otherwise. */
let factors: ReadonlyMap<string, FactorLayer> | null = null;
/** A tensor the user asks for goes before "compute all" (see ./schedule.ts). */
let scheduler = new StatsScheduler((name, bins, signal, onFraction, gate) =>
  computeStatsOf(current(), name, bins, signal, onFraction, gate),
);

function current(): Checkpoint {
  if (!checkpoint) throw new Error('no checkpoint is open');
  return checkpoint;
}

/** At most one call every 100 ms: enough for a smooth bar, cheap for the host. */
function throttled<A extends unknown[]>(fn: (...args: A) => void, intervalMs = 100): (...args: A) => void {
  let last = 0;
  return (...args) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    fn(...args);
  };
}

serve<InspectService>(
  {
    async open({ path, factors: keepFactors }) {
      await checkpoint?.close();
      checkpoint = await openCheckpoint(path);
      factors = keepFactors ? null : await factorLayers(checkpoint);
      scheduler = new StatsScheduler(scheduler.compute);
      return overviewOf(checkpoint);
    },
    stats({ name, bins }, { signal, progress }) {
      return scheduler.one(name, bins, signal, throttled(progress));
    },
    spectrum({ name, spectrumMaxSide }, { signal, progress }) {
      return computeSpectrumOf(current(), name, spectrumMaxSide, signal, throttled(progress), factors);
    },
    async statsBatch({ names, bins }, { signal, progress }) {
      const total = names.length;
      const report = throttled((name: string, fraction: number, done: number) =>
        progress({ kind: 'progress', name, fraction, done, total }),
      );
      await scheduler.batch(names, bins, signal, report, (outcome) => {
        if ('stats' in outcome) progress({ kind: 'stats', name: outcome.name, stats: outcome.stats });
        else progress({ kind: 'failed', name: outcome.name, error: toWireError(outcome.error) });
      });
    },
  },
  async () => {
    await checkpoint?.close();
    checkpoint = undefined;
    factors = null;
  },
);
