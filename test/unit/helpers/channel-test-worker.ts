// A worker that serves a small test service over the real worker channel (see worker-channel.test.ts).
import { handedOver, serve } from '../../../src/mimicry/worker/channel/serve';
import { SafetensorsError } from '../../../src/mimicry/safetensors/errors';
import type { Method } from '../../../src/mimicry/worker/channel/protocol';

export interface TestService {
  readonly open: Method<{ readonly path: string }, string>;
  readonly echo: Method<{ readonly text: string; readonly steps: number }, string, number>;
  /** Waits for its cancel, checking the signal every 5 ms. */
  readonly wait: Method<Record<string, never>, never>;
  /** Blocks the thread (a long synchronous computation that never sees its cancel). */
  readonly block: Method<{ readonly ms: number }, string>;
  /** Kills the worker thread. */
  readonly crash: Method<Record<string, never>, never>;
  readonly refuse: Method<{ readonly file: string }, never>;
  /** 0, 1, ..., n - 1, its buffer handed over (moved, not copied). */
  readonly handOver: Method<{ readonly n: number }, { readonly values: Float64Array }>;
  /** The byte length the last handed-over array has here now: 0 once it moved. */
  readonly leftBehind: Method<Record<string, never>, number>;
}

let opened = '';
let handed: Float64Array | undefined;

serve<TestService>(
  {
    open({ path }) {
      opened = path;
      return `opened ${path}`;
    },
    echo({ text, steps }, { progress }) {
      for (let i = 1; i <= steps; i++) progress(i / steps);
      return `${opened}: ${text}`;
    },
    async wait(_params, { signal }) {
      for (;;) {
        signal.throwIfAborted();
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    block({ ms }) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        // busy: the thread cannot read its cancel
      }
      return 'finished';
    },
    crash() {
      process.exit(3);
    },
    refuse({ file }) {
      throw new SafetensorsError(file, 'header-not-json', 'at byte 9');
    },
    handOver({ n }) {
      handed = Float64Array.from({ length: n }, (_, i) => i);
      return handedOver({ values: handed }, [handed.buffer as ArrayBuffer]);
    },
    leftBehind() {
      return handed?.byteLength ?? -1;
    },
  },
  async () => undefined,
);
