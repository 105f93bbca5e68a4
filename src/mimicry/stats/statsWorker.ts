// Entry of dist/statsWorker.js: one thread of the stats pool (statsPool.ts). Serves StatsService over
// the worker channel on the checkpoint it opens.
import { SafetensorsError } from '../safetensors/errors';
import { openCheckpoint } from '../safetensors/reader';
import type { Checkpoint, TensorInfo } from '../safetensors/types';
import { serve } from '../worker/channel/serve';
import { pass1OfRange, pass2OfRange, tensorStatsOf, type TensorStatsOutcome } from './checkpointStats';
import type { StatsService } from './statsProtocol';

let checkpoint: Checkpoint | undefined;

function tensorOf(name: string): TensorInfo {
  if (!checkpoint) throw new Error('no checkpoint is open');
  const t = checkpoint.tensor(name);
  if (!t) throw new SafetensorsError(checkpoint.path, 'tensor-not-found', name);
  return t;
}

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

serve<StatsService>(
  {
    async open({ path }) {
      await checkpoint?.close();
      checkpoint = await openCheckpoint(path);
      return { tensors: checkpoint.tensors.length };
    },
    async whole({ names, bins }, { signal, progress }) {
      const report = throttled(progress);
      const out: TensorStatsOutcome[] = [];
      let before = 0;
      for (const name of names) {
        signal.throwIfAborted();
        const t = tensorOf(name);
        const ckpt = checkpoint as Checkpoint;
        // Progress in the host's units: a tensor counts its bytes once, over both passes.
        const onProgress = (done: number): void => report(before + (done / Math.max(1, t.params)) * t.bytes);
        out.push(await tensorStatsOf(ckpt, t, { bins, signal, onProgress }));
        before += t.bytes;
      }
      return out;
    },
    pass1({ name, first, last }, { signal, progress }) {
      return pass1OfRange(checkpoint as Checkpoint, tensorOf(name), first, last, signal, throttled(progress));
    },
    pass2({ name, first, last, plan }, { signal, progress }) {
      return pass2OfRange(checkpoint as Checkpoint, tensorOf(name), first, last, plan, signal, throttled(progress));
    },
  },
  async () => {
    await checkpoint?.close();
    checkpoint = undefined;
  },
);
