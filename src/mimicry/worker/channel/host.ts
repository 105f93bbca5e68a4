// Host side of the worker channel: spawns the worker thread, opens its one file with the service's
// `open` request, sends requests and routes their progress and answers. A cancel is a message; a
// request that has not stopped within its grace period (a long synchronous computation) is stopped
// the hard way: the worker is terminated, and the next request spawns and opens a fresh one.
// A worker that crashes fails every request in flight with an error, never as "cancelled".
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { codeCacheOff } from '../../io/codeCache';
import { CANCELLED, RemoteError, type WireError } from '../../errors';
import type { Cancellable, FromWorker, MethodName, ParamsOf, ProgressOf, ResultOf, Service, ToWorker } from './protocol';

/** Opening parses only a header (bounded by the reader); this is a last guard against a stuck open. */
const OPEN_TIMEOUT_MS = 60_000;
/** After `close`, the worker gets this long to close its file handles before it is terminated. */
const CLOSE_GRACE_MS = 1000;

/**
 * dist/bundleLoader.js beside a bundled worker (dist/*.js), which starts it through V8's code cache
 * (io/codeCache.ts); undefined for a TypeScript entry (tests), without the loader, or with the cache off.
 */
function bundleLoaderFor(entry: string): string | undefined {
  if (!entry.endsWith('.js') || codeCacheOff()) return undefined;
  const loader = path.join(path.dirname(entry), 'bundleLoader.js');
  return loader !== entry && existsSync(loader) ? loader : undefined;
}

export interface WorkerHostOptions<S, O extends MethodName<S>> {
  /** The worker's script (dist/*.js, or a bootstrap that registers tsx in tests). */
  readonly entry: string;
  /** Thread name, also used in messages ("<name> failed: ..."). */
  readonly name: string;
  /** Node options of the worker (tests: a TypeScript loader); none by default, not even the parent's. */
  readonly execArgv?: readonly string[];
  /** The request every fresh worker answers first (opening its file); others wait for it. */
  readonly open: { readonly method: O; readonly params: ParamsOf<S, O> };
  /** How long a cancelled request of each method may take to stop before the worker is terminated. */
  cancelGraceMs(method: MethodName<S>): number;
  /** Why requests fail once the host is disposed (shown to nobody: they count as cancelled). */
  readonly closedMessage: string;
  readonly openTimeoutMs?: number;
}

interface Pending {
  readonly method: string;
  cancelled: boolean;
  resolve(result: unknown): void;
  reject(error: RemoteError): void;
  onProgress?(event: unknown): void;
}

export class WorkerHost<S extends Service<S>, O extends MethodName<S>> {
  private worker: Worker | undefined;
  private opening: Promise<ResultOf<S, O>> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private disposed = false;
  private restarts = 0;

  constructor(private readonly options: WorkerHostOptions<S, O>) {}

  /** Changes whenever the worker (and whatever state it held) is lost. */
  get generation(): number {
    return this.restarts;
  }

  /** Spawns the worker if needed and answers its `open` request (once per worker). */
  open(): Promise<ResultOf<S, O>> {
    if (this.disposed) return Promise.reject(new RemoteError({ message: this.options.closedMessage, cancelled: true }));
    if (!this.opening) {
      const { method, params } = this.options.open;
      const opening = this.send(method, params, undefined).done;
      this.opening = opening;
      const timeoutMs = this.options.openTimeoutMs ?? OPEN_TIMEOUT_MS;
      const timer = setTimeout(() => {
        if (this.opening === opening)
          this.restart(() => ({ message: `${this.options.name}: opening took longer than ${timeoutMs / 1000} s`, cancelled: false }));
      }, timeoutMs);
      timer.unref();
      void opening.then(
        () => clearTimeout(timer),
        () => {
          clearTimeout(timer);
          if (this.opening === opening) this.opening = undefined; // the next request tries again
        },
      );
    }
    return this.opening;
  }

  /** Sends a request once the worker is open; `done` rejects with a RemoteError (cancelled or not). */
  request<K extends MethodName<S>>(
    method: K,
    params: ParamsOf<S, K>,
    onProgress?: (event: ProgressOf<S, K>) => void,
  ): Cancellable<ResultOf<S, K>> {
    let inner: Cancellable<ResultOf<S, K>> | undefined;
    let cancelled = false;
    const done = this.open().then(() => {
      if (cancelled) throw new RemoteError(CANCELLED);
      inner = this.send(method, params, onProgress);
      return inner.done;
    });
    return {
      done,
      cancel: () => {
        cancelled = true;
        inner?.cancel();
      },
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const w = this.worker;
    this.worker = undefined;
    this.opening = undefined;
    if (w) {
      w.postMessage({ type: 'close' } satisfies ToWorker<S>);
      setTimeout(() => void w.terminate(), CLOSE_GRACE_MS).unref();
    }
    this.failAll(() => ({ message: this.options.closedMessage, cancelled: true }));
  }

  private send<K extends MethodName<S>>(
    method: K,
    params: ParamsOf<S, K>,
    onProgress: ((event: ProgressOf<S, K>) => void) | undefined,
  ): Cancellable<ResultOf<S, K>> {
    const id = this.nextId++;
    const done = new Promise<ResultOf<S, K>>((resolve, reject) => {
      this.pending.set(id, {
        method,
        cancelled: false,
        resolve: (r) => resolve(r as ResultOf<S, K>),
        reject,
        onProgress: onProgress as ((e: unknown) => void) | undefined,
      });
    });
    const worker = this.spawned();
    if (!worker) this.settle(id, { message: this.options.closedMessage, cancelled: true });
    else worker.postMessage({ type: 'request', id, method, params } as ToWorker<S>);
    return { done, cancel: () => this.cancel(id) };
  }

  private cancel(id: number): void {
    const p = this.pending.get(id);
    if (!p || p.cancelled) return;
    p.cancelled = true;
    this.worker?.postMessage({ type: 'cancel', id } satisfies ToWorker<S>);
    const timer = setTimeout(
      () => {
        if (!this.pending.has(id)) return;
        const what = `${p.method} did not stop within ${this.options.cancelGraceMs(p.method as MethodName<S>)} ms of its cancel`;
        // Only the cancelled requests count as cancelled; the others were lost with the worker.
        this.restart((q) =>
          q.cancelled ? CANCELLED : { message: `${this.options.name} was restarted: ${what}; try again`, cancelled: false },
        );
      },
      this.options.cancelGraceMs(p.method as MethodName<S>),
    );
    timer.unref();
  }

  private spawned(): Worker | undefined {
    if (this.disposed) return undefined;
    if (this.worker) return this.worker;
    const { entry } = this.options;
    const loader = bundleLoaderFor(entry);
    const worker = new Worker(loader ?? entry, {
      name: this.options.name,
      // Never the parent's flags: a bundle runs as is, and a loader inherited from the parent (tsx's,
      // under the bench) would cost every worker start about 100 ms.
      execArgv: [...(this.options.execArgv ?? [])],
      ...(loader ? { workerData: { bundle: entry } } : {}),
    });
    this.worker = worker;
    worker.on('message', (m: FromWorker<S>) => {
      if (m.type === 'progress') this.pending.get(m.id)?.onProgress?.(m.progress);
      else if (m.type === 'result') this.settle(m.id, undefined, m.result);
      else this.settle(m.id, m.error);
    });
    const lost = (why: string): void => {
      if (this.worker === worker) this.restart(() => ({ message: `${this.options.name} failed: ${why}`, cancelled: false }));
    };
    worker.on('error', (e) => lost(e.message));
    worker.on('exit', (code) => lost(`it exited (code ${code})`));
    return worker;
  }

  private settle(id: number, error: WireError | undefined, result?: unknown): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (error) p.reject(new RemoteError(error));
    else p.resolve(result);
  }

  /** Terminates the worker; every request in flight fails with what `why` says for it. */
  private restart(why: (p: Pending) => WireError): void {
    const w = this.worker;
    this.worker = undefined;
    this.opening = undefined;
    this.restarts++;
    if (w) void w.terminate();
    this.failAll(why);
  }

  private failAll(why: (p: Pending) => WireError): void {
    for (const [id, p] of [...this.pending]) {
      this.pending.delete(id);
      p.reject(new RemoteError(why(p)));
    }
  }
}
