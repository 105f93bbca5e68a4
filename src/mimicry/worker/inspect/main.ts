// Entry of dist/inspectWorker.js: the inspector's engine in a worker thread, so reading and math never
// block the extension host. Serves InspectService (./protocol.ts) over the worker channel.
import { toWireError } from '../../errors';
import { openCheckpoint } from '../../safetensors/reader';
import type { Checkpoint } from '../../safetensors/types';
import { serve } from '../channel/serve';
import { computeSpectrumOf, computeStatsOf } from './jobs';
import { overviewOf } from './overview';
import type { InspectService } from './protocol';

let checkpoint: Checkpoint | undefined;

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
    async open({ path }) {
      await checkpoint?.close();
      checkpoint = await openCheckpoint(path);
      return overviewOf(checkpoint);
    },
    stats({ name, bins }, { signal, progress }) {
      return computeStatsOf(current(), name, bins, signal, throttled(progress));
    },
    spectrum({ name, spectrumMaxSide }, { signal, progress }) {
      return computeSpectrumOf(current(), name, spectrumMaxSide, signal, throttled(progress));
    },
    async statsBatch({ names, bins }, { signal, progress }) {
      const ckpt = current();
      const total = names.length;
      const report = throttled((name: string, fraction: number, done: number) =>
        progress({ kind: 'progress', name, fraction, done, total }),
      );
      for (let done = 0; done < total; done++) {
        signal.throwIfAborted();
        const name = names[done];
        try {
          report(name, 0, done);
          const stats = await computeStatsOf(ckpt, name, bins, signal, (fraction) => report(name, fraction, done));
          progress({ kind: 'stats', name, stats });
        } catch (err) {
          const error = toWireError(err, signal);
          if (error.cancelled) throw err;
          progress({ kind: 'failed', name, error });
        }
      }
    },
  },
  async () => {
    await checkpoint?.close();
    checkpoint = undefined;
  },
);
