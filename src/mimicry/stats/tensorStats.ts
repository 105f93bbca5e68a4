// Summary statistics of one tensor, streamed chunk by chunk so memory stays bounded.
//
// Definitions (shown to users, keep in step with docs/RECAST.md section 4 and the docs):
// - count counts every element; nanCount and infCount count NaN and +-Inf.
// - min, max, mean, std (population, divide by n), meanAbs and zeroFraction are over the FINITE
//   values only (n = finiteCount); NaN/Inf are reported by their counts instead of poisoning them.
//   -0 counts as a zero.
// - When there is no finite value (an empty tensor, or only NaN/Inf) those fields are null and the
//   histogram has no edges and no counts.
// - The histogram has `bins` linear bins over [min, max] (the last bin is closed); a constant
//   tensor gets [v - 0.5, v + 0.5] (wider for |v| > 2^19). It needs min and max first, so the
//   source may be read twice.
// - quantiles: the 1st ... 99th percentiles of the finite values by numpy's default (linear) rule,
//   with an error bound (0: exact); see quantiles.ts. Null when there is no finite value.
//
// Numerics (src/mimicry/stats/accumulators.ts): finite values are summarised in float64 in fixed
// blocks of 4096 elements, merged with Chan et al.'s pairwise update, which keeps the variance accurate
// even when |mean| >> std; the |x| sum is compensated. BF16, F16, 16-bit and 8-bit integers are
// counted per bit pattern and every statistic follows exactly from the table. Fixed blocks make the
// result independent of the chunk size, and of how a tensor is split into ranges for threads.

import type { DType, DecodedValues } from '../safetensors/types';
import { isPositiveInt } from '../positiveInt';
import {
  afterPass1,
  emptyTensorStats,
  finishStats,
  pass1Accumulator,
  Pass2Accumulator,
  pathOf,
  valuesAccumulator,
  type FinishedStats,
  type Pass1Accumulator,
} from './accumulators';

/** Statistics of one tensor (the fields are defined in accumulators.ts's FinishedStats). */
export type TensorStats = FinishedStats;

export interface TensorStatsOptions {
  /** Histogram bins (default 64). */
  bins?: number;
  /** Checked between chunks; an aborted run rejects with an AbortError. */
  signal?: AbortSignal;
  /**
   * Called after each chunk with the elements done so far, from 0 to the tensor's element count.
   * Each of the two passes counts for half, so the number rises steadily over the whole run.
   */
  onProgress?: (doneElements: number) => void;
  /**
   * The element count the source should yield, when known (e.g. TensorInfo.params). A source that
   * yields a different number is an error rather than silently wrong statistics.
   */
  totalElements?: number;
}

export const DEFAULT_BINS = 64;

/**
 * Statistics of one tensor from its decoded values. `chunks` is called twice (moments, then
 * histogram) and must yield the same values both times; each call should start a fresh read (e.g.
 * `() => ckpt.chunks(t)`). For Float32Array chunks the second read only looks at values near bin
 * edges, and is skipped when there are none. Raw bytes are faster still: computeTensorStatsFromBytes.
 */
export async function computeTensorStats(chunks: () => AsyncIterable<DecodedValues>, opts: TensorStatsOptions = {}): Promise<TensorStats> {
  const bins = checkedBins(opts.bins);
  const { signal, onProgress, totalElements } = opts;
  signal?.throwIfAborted();
  // An empty tensor has nothing to read: no reader is started (a checkpoint can hold 200,000 of them).
  if (totalElements === 0) {
    onProgress?.(0);
    return emptyTensorStats();
  }

  let acc: Pass1Accumulator | undefined;
  for await (const chunk of chunks()) {
    signal?.throwIfAborted();
    if (chunk.length === 0) continue;
    acc ??= valuesAccumulator(chunk, totalElements ?? chunk.length);
    acc.addValues(chunk);
    onProgress?.(Math.floor(acc.seen / 2));
  }
  signal?.throwIfAborted();
  const all = acc?.seen ?? 0;
  if (totalElements !== undefined && totalElements !== all) {
    throw new Error(`tensor chunks yielded ${all} elements, expected ${totalElements}`);
  }
  const after = afterPass1('values', acc ? acc.result() : { kind: 'f64', supers: [] }, bins);
  if (!after.needsPass2 || !after.plan) {
    onProgress?.(all);
    return finishStats(after, new Float64Array(bins));
  }
  const hist = new Pass2Accumulator('values', after.plan);
  for await (const chunk of chunks()) {
    signal?.throwIfAborted();
    hist.addValues(chunk);
    onProgress?.(Math.floor((all + hist.seen) / 2));
  }
  signal?.throwIfAborted();
  if (hist.seen !== all) {
    throw new Error(`tensor chunks changed between passes: ${all} elements, then ${hist.seen}`);
  }
  return finishStats(after, hist.counts());
}

/** A source of a tensor's raw bytes: elements [first, last) in chunks of whole elements. */
export type ByteSource = (first: number, last: number) => AsyncIterable<Uint8Array>;

export interface ByteStatsOptions extends Omit<TensorStatsOptions, 'totalElements'> {
  /** Elements in the tensor. */
  readonly elements: number;
}

/**
 * Statistics of one tensor of `dtype` (decodable) from its raw little-endian bytes. One pass for
 * table dtypes (BF16, F16, 16- and 8-bit integers); otherwise a second read for the histogram, as
 * computeTensorStats. Progress counts elements; a second pass, when there is one, counts half.
 */
export async function computeTensorStatsFromBytes(dtype: DType, bytes: ByteSource, opts: ByteStatsOptions): Promise<TensorStats> {
  const bins = checkedBins(opts.bins);
  const { signal, onProgress, elements } = opts;
  signal?.throwIfAborted();
  if (elements === 0) {
    onProgress?.(0);
    return emptyTensorStats();
  }
  const acc = pass1Accumulator(dtype, elements);
  const twoPasses = pathOf(dtype, elements) !== 'table';
  const share = twoPasses ? 0.5 : 1;
  for await (const chunk of bytes(0, elements)) {
    signal?.throwIfAborted();
    acc.addBytes(chunk);
    onProgress?.(Math.floor(acc.seen * share));
  }
  signal?.throwIfAborted();
  if (acc.seen !== elements) throw new Error(`tensor bytes held ${acc.seen} elements, expected ${elements}`);
  const after = afterPass1(dtype, acc.result(), bins);
  if (!after.needsPass2 || !after.plan) {
    onProgress?.(elements);
    return finishStats(after, new Float64Array(bins));
  }
  const hist = new Pass2Accumulator(dtype, after.plan);
  for await (const chunk of bytes(0, elements)) {
    signal?.throwIfAborted();
    hist.addBytes(chunk);
    onProgress?.(Math.floor((elements + hist.seen) / 2));
  }
  signal?.throwIfAborted();
  return finishStats(after, hist.counts());
}

function checkedBins(bins = DEFAULT_BINS): number {
  if (!isPositiveInt(bins)) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  return bins;
}
