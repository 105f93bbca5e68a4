// Worker side of the worker channel: answers each request with its handler, gives every request an
// AbortSignal that the host's `cancel` fires, and turns whatever a handler throws into a WireError.
import { parentPort } from 'node:worker_threads';
import { toWireError } from '../../errors';
import type { FromWorker, MethodName, ParamsOf, ProgressOf, ResultOf, Service, ToWorker } from './protocol';

/** What a handler gets besides its parameters. */
export interface JobContext<Progress> {
  /** Fires when the host cancels the request or closes the worker. */
  readonly signal: AbortSignal;
  progress(event: Progress): void;
}

export type Handlers<S> = {
  readonly [K in MethodName<S>]: (params: ParamsOf<S, K>, job: JobContext<ProgressOf<S, K>>) => Promise<ResultOf<S, K>> | ResultOf<S, K>;
};

/** Buffers a result hands over to the host instead of having them copied; see `handedOver`. */
const handOvers = new WeakMap<object, readonly ArrayBuffer[]>();

/**
 * Marks `result` so that `buffers` move to the host when it is posted (a transfer: no copy, and they
 * are unusable here afterwards). Only for results built for this one answer, never for anything the
 * worker keeps (a cache would be left holding detached buffers).
 */
export function handedOver<T extends object>(result: T, buffers: readonly ArrayBuffer[]): T {
  handOvers.set(result, buffers);
  return result;
}

/** Serves the service on this worker thread's parent port; `onClose` releases what the worker holds. */
export function serve<S extends Service<S>>(handlers: Handlers<S>, onClose: () => Promise<void>): void {
  const port = parentPort;
  if (!port) throw new Error('an engine worker must run inside a worker thread');
  const post = (m: FromWorker<S>, transfer?: readonly ArrayBuffer[]): void => port.postMessage(m, transfer);
  const jobs = new Map<number, AbortController>();

  async function run(id: number, method: MethodName<S>, params: unknown): Promise<void> {
    const controller = new AbortController();
    jobs.set(id, controller);
    const { signal } = controller;
    // One cast, here: a request's method and params are correlated by the protocol's type.
    const handler = handlers[method] as (p: unknown, job: JobContext<unknown>) => Promise<unknown> | unknown;
    try {
      const result = await handler(params, { signal, progress: (progress) => post({ type: 'progress', id, progress } as FromWorker<S>) });
      signal.throwIfAborted();
      const transfer = typeof result === 'object' && result !== null ? handOvers.get(result) : undefined;
      post({ type: 'result', id, result } as FromWorker<S>, transfer);
    } catch (err) {
      post({ type: 'error', id, error: toWireError(err, signal) });
    } finally {
      jobs.delete(id);
    }
  }

  port.on('message', (m: ToWorker<S>) => {
    switch (m.type) {
      case 'request':
        void run(m.id, m.method, m.params);
        return;
      case 'cancel':
        jobs.get(m.id)?.abort();
        return;
      case 'close':
        for (const c of jobs.values()) c.abort();
        void onClose()
          .catch(() => undefined)
          .finally(() => port.close());
        return;
    }
  });
}
