// Entry of dist/paperWorker.js: one thread of the fused paper loop's pool (paperPool.ts). It attaches
// to a bank's shared buffers (`open`), then `run` serves passes on its chunks until told to stop. The
// per-step hand-off is a shared-memory barrier, not a message: a step is a millisecond or two.
import { serve } from '../worker/channel/serve';
import { slicePasses } from './paperKernel';
import { CTL_CMD, CTL_DONE, CTL_ERR, CTL_GEN, CMD_STOP, type PaperWorkerService, type SliceSetup } from './paperPool';

let setup: SliceSetup | undefined;

serve<PaperWorkerService>(
  {
    open(params) {
      setup = params;
      return { chunks: params.c1 - params.c0 };
    },
    run() {
      const s = setup;
      if (!s) throw new Error('the paper worker has no bank attached');
      const ctl = s.control;
      const passes = slicePasses(s.bank, s.c0, s.c1);
      let seen = 0;
      let ran = 0;
      try {
        for (;;) {
          Atomics.wait(ctl, CTL_GEN, seen, 1000);
          const gen = Atomics.load(ctl, CTL_GEN);
          if (gen === seen) continue;
          seen = gen;
          if (Atomics.load(ctl, CTL_CMD) === CMD_STOP) return { passes: ran };
          passes.run();
          ran++;
          Atomics.add(ctl, CTL_DONE, 1);
          Atomics.notify(ctl, CTL_DONE);
        }
      } catch (e) {
        // Wake the fitting thread: it stops and reports this request's error.
        Atomics.store(ctl, CTL_ERR, 1);
        Atomics.add(ctl, CTL_DONE, 1);
        Atomics.notify(ctl, CTL_DONE);
        throw e;
      }
    },
  },
  () => {
    setup = undefined;
    return Promise.resolve();
  },
);
