// Entry of dist/inspectWorker.js: the inspector's engine in a worker thread, so reading and math never
// block the extension host. Serves InspectService (./protocol.ts) over the worker channel.
import { toWireError } from '../../errors';
import { openCheckpoint } from '../../safetensors/reader';
import type { Checkpoint } from '../../safetensors/types';
import { handedOver, serve } from '../channel/serve';
import { factorLayers, type FactorLayer } from '../../family/adapterView';
import { loraKind } from '../../family/members';
import { computeSpectrumOf, computeStatsOf, valuesPageOf } from './jobs';
import { overviewOf } from './overview';
import { columnBuffers } from './tensorColumns';
import { StatsScheduler } from './schedule';
import { statsHelpers } from './statsHelpers';
import type { InspectService } from './protocol';

let checkpoint: Checkpoint | undefined;
/**
 * An adapter's factor tensors and their layer updates (their spectra are the updates'), read on the
 * first spectrum of a factor (not at open: a big adapter's factors take a while); null otherwise.
 */
let factors: Promise<ReadonlyMap<string, FactorLayer> | null> | undefined;
let keepFactors = false;
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
    async open({ path, factors: keep }) {
      await checkpoint?.close();
      checkpoint = await openCheckpoint(path);
      keepFactors = keep === true;
      factors = undefined;
      scheduler = new StatsScheduler(scheduler.compute);
      const opened = overviewOf(checkpoint);
      // Built for this answer alone: its columns move to the host instead of being copied.
      return handedOver(opened, columnBuffers(opened.tensors));
    },
    stats({ name, bins }, { signal, progress }) {
      return scheduler.one(name, bins, signal, throttled(progress));
    },
    async spectrum({ name, spectrumMaxSide, backend }, { signal, progress }) {
      const ck = current();
      if (!keepFactors && loraKind([name])) factors ??= factorLayers(ck);
      const layers = factors ? await factors : null;
      return computeSpectrumOf(ck, name, spectrumMaxSide, signal, throttled(progress), layers, backend);
    },
    values(req) {
      return valuesPageOf(current(), req);
    },
    async statsBatch({ names, bins, threads }, { signal, progress }) {
      const total = names.length;
      const report = throttled((name: string, fraction: number, done: number) =>
        progress({ kind: 'progress', name, fraction, done, total }),
      );
      // The other cores help with big batches (worker threads of the stats pool).
      const helpers = statsHelpers(current(), names, threads ? { threads } : {});
      try {
        await scheduler.batch(
          names,
          bins,
          signal,
          report,
          (outcome) => {
            if ('stats' in outcome)
              progress({ kind: 'stats', name: outcome.name, stats: outcome.stats, ...(outcome.helper ? { helper: true as const } : {}) });
            else progress({ kind: 'failed', name: outcome.name, error: toWireError(outcome.error) });
          },
          helpers?.lanes,
        );
      } finally {
        helpers?.dispose();
      }
    },
  },
  async () => {
    await checkpoint?.close();
    checkpoint = undefined;
    factors = undefined;
  },
);
