// The one request/reply protocol between the extension host (or the CLI, or a test) and an engine
// worker thread. A service names its methods, each with its parameters, its progress events and
// its result; the host and the worker are typed by the same service, so they cannot drift.
import type { WireError } from '../../errors';

/** One method of a service: what the request carries, what it reports on the way, what it answers. */
export interface Method<Params, Result, Progress = never> {
  readonly params: Params;
  readonly result: Result;
  readonly progress: Progress;
}

/** A service: every method by name. */
export type Service<S> = { readonly [K in keyof S]: Method<unknown, unknown, unknown> };

export type MethodName<S> = keyof S & string;
export type ParamsOf<S, K extends keyof S> = S[K] extends Method<infer P, unknown, unknown> ? P : never;
export type ResultOf<S, K extends keyof S> = S[K] extends Method<unknown, infer R, unknown> ? R : never;
export type ProgressOf<S, K extends keyof S> = S[K] extends Method<unknown, unknown, infer E> ? E : never;

/** Host to worker. `cancel` aborts the request's AbortSignal; `close` ends the worker cleanly. */
export type ToWorker<S> =
  | {
      readonly [K in MethodName<S>]: { readonly type: 'request'; readonly id: number; readonly method: K; readonly params: ParamsOf<S, K> };
    }[MethodName<S>]
  | { readonly type: 'cancel'; readonly id: number }
  | { readonly type: 'close' };

/** Worker to host: any number of progress events, then exactly one result or error per request. */
export type FromWorker<S> =
  | {
      readonly type: 'progress';
      readonly id: number;
      readonly progress: { readonly [K in MethodName<S>]: ProgressOf<S, K> }[MethodName<S>];
    }
  | { readonly type: 'result'; readonly id: number; readonly result: { readonly [K in MethodName<S>]: ResultOf<S, K> }[MethodName<S>] }
  | { readonly type: 'error'; readonly id: number; readonly error: WireError };

/** A request in flight: its answer, and a way to stop it. */
export interface Cancellable<T> {
  readonly done: Promise<T>;
  cancel(): void;
}
