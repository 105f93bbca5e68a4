// The jobs of the stats pool (statsProtocol.ts), as handlers over one opened checkpoint: served by
// each worker thread (statsWorker.ts), and called directly by the pool's share on its own thread.
import { SafetensorsError } from '../safetensors/errors';
import type { Checkpoint, TensorInfo } from '../safetensors/types';
import type { Handlers } from '../worker/channel/serve';
import { pass1OfRange, pass2OfRange, tensorStatsOf, type TensorStatsOutcome } from './checkpointStats';
import type { StatsService } from './statsProtocol';

/** At most one call every 100 ms. */
function throttled(fn: (n: number) => void, intervalMs = 100): (n: number) => void {
  let last = 0;
  return (n) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    fn(n);
  };
}

export type StatsJobs = Omit<Handlers<StatsService>, 'open'>;

/** The jobs over the checkpoint `current()` returns (throws when none is open). */
export function statsJobs(current: () => Checkpoint): StatsJobs {
  const tensorOf = (name: string): TensorInfo => {
    const ckpt = current();
    const t = ckpt.tensor(name);
    if (!t) throw new SafetensorsError(ckpt.path, 'tensor-not-found', name);
    return t;
  };
  return {
    async whole({ names, bins }, { signal, progress }) {
      const report = throttled(progress);
      const out: TensorStatsOutcome[] = [];
      let before = 0;
      for (const name of names) {
        signal.throwIfAborted();
        const t = tensorOf(name);
        // Progress in the pool's units: a tensor counts its bytes once, over both passes.
        const onProgress = (done: number): void => report(before + (done / Math.max(1, t.params)) * t.bytes);
        out.push(await tensorStatsOf(current(), t, { bins, signal, onProgress }));
        before += t.bytes;
      }
      return out;
    },
    pass1({ name, first, last }, { signal, progress }) {
      return pass1OfRange(current(), tensorOf(name), first, last, signal, throttled(progress));
    },
    pass2({ name, first, last, plan }, { signal, progress }) {
      return pass2OfRange(current(), tensorOf(name), first, last, plan, signal, throttled(progress));
    },
  };
}
