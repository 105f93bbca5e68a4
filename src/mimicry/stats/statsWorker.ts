// Entry of dist/statsWorker.js: one thread of the stats pool (statsPool.ts). Serves StatsService over
// the worker channel on the checkpoint it opens.
import { openCheckpoint } from '../safetensors/reader';
import type { Checkpoint } from '../safetensors/types';
import { serve } from '../worker/channel/serve';
import { statsJobs } from './statsJobs';
import type { StatsService } from './statsProtocol';

let checkpoint: Checkpoint | undefined;

serve<StatsService>(
  {
    async open({ path }) {
      await checkpoint?.close();
      checkpoint = await openCheckpoint(path);
      return { tensors: checkpoint.tensors.length };
    },
    ...statsJobs(() => {
      if (!checkpoint) throw new Error('no checkpoint is open');
      return checkpoint;
    }),
  },
  async () => {
    await checkpoint?.close();
    checkpoint = undefined;
  },
);
