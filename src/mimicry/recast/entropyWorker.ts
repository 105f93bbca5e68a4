// Entry of dist/entropyWorker.js: one thread of the entropy pool (entropyPool.ts). Each request is one
// template's entropy on the float64 route, the same function the run's thread calls.
import { serve } from '../worker/channel/serve';
import { templateEntropy, type EntropyWorkerService } from './entropyPool';
import { Scratch } from './scratch';

/** This thread's template buffer, reused by every request. */
const scratch = new Scratch();

serve<EntropyWorkerService>(
  {
    open: () => ({}),
    template: (task) => templateEntropy(task, (length) => scratch.floats('template', length)),
  },
  () => Promise.resolve(),
);
