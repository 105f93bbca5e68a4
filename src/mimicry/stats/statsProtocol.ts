// The stats pool's service (dist/statsWorker.js), spoken over the worker channel. Each worker opens
// the checkpoint itself (by path) and computes, on request, whole small tensors, or one pass over one
// element range of a big tensor; the host merges the ranges' partial results (accumulators.ts).
import type { Method } from '../worker/channel/protocol';
import type { HistogramPlan, Pass1Partial } from './accumulators';
import type { TensorStatsOutcome } from './checkpointStats';

export interface StatsService {
  /** Opens the checkpoint; answers its tensor count (a check that both sides see the same file). */
  readonly open: Method<{ readonly path: string }, { readonly tensors: number }>;
  /** Statistics of whole tensors, in order. Progress: bytes done within the job (each pass counts its bytes). */
  readonly whole: Method<{ readonly names: readonly string[]; readonly bins: number }, TensorStatsOutcome[], number>;
  /** The first pass over elements [first, last) of a tensor. Progress: elements done. */
  readonly pass1: Method<{ readonly name: string; readonly first: number; readonly last: number }, Pass1Partial, number>;
  /** The histogram pass over elements [first, last). Progress: elements done. */
  readonly pass2: Method<
    { readonly name: string; readonly first: number; readonly last: number; readonly plan: HistogramPlan },
    Float64Array,
    number
  >;
}
