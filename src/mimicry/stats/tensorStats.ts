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
//   tensor gets [v - 0.5, v + 0.5] (wider for |v| > 2^19). It needs min and max first, so the chunk
//   source is read twice.
//
// Numerics: finite values are taken in fixed blocks of 4096; each block's mean and squared
// deviations are computed in float64 with a corrected two-pass, and blocks are merged with Chan et
// al.'s pairwise update, which keeps the variance accurate even when |mean| >> std. The |x| sum is
// Kahan-compensated across blocks. Fixed blocks make the result independent of the chunk size.

import type { DecodedValues } from '../safetensors/types';
import { isPositiveInt } from '../positiveInt';
import { HistogramBuilder, histogramRange, type Histogram } from './histogram';

export interface TensorStats {
  /** All elements, finite or not. */
  readonly count: number;
  /** Elements that are neither NaN nor +-Inf: the population of the fields below. */
  readonly finiteCount: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  /** Population standard deviation sqrt(sum (x - mean)^2 / n). */
  readonly std: number | null;
  readonly meanAbs: number | null;
  /** Zeros / finiteCount. */
  readonly zeroFraction: number | null;
  readonly nanCount: number;
  readonly infCount: number;
  readonly histogram: Histogram;
}

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

/** Finite values are summarised in blocks of this many, whatever the reader's chunk size. */
const BLOCK = 4096;

/**
 * Running moments of the finite values. Values are regrouped into fixed blocks of BLOCK finite
 * values, so the result is bit-for-bit the same however the source is chunked.
 */
class Moments {
  n = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;
  zeros = 0;
  nan = 0;
  inf = 0;
  all = 0;
  private absSum = 0;
  private absComp = 0;
  /**
   * The block being filled: allocated on the first chunk, as small as that chunk allows and grown
   * up to BLOCK, so a checkpoint of many empty or tiny tensors costs no 32 KB per tensor.
   */
  private block: Float64Array | undefined;
  private filled = 0;

  addChunk(values: DecodedValues): void {
    const len = values.length;
    if (len === 0) return;
    this.all += len;
    let block = (this.block ??= new Float64Array(Math.min(BLOCK, Math.max(16, len))));
    let filled = this.filled;
    let min = this.min;
    let max = this.max;
    for (let k = 0; k < len; k++) {
      const v = values[k];
      if (v - v !== 0) {
        // NaN - NaN and Inf - Inf are both NaN: one test for "not finite".
        if (v !== v) this.nan++;
        else this.inf++;
        continue;
      }
      if (v < min) min = v;
      if (v > max) max = v;
      if (v === 0) this.zeros++;
      block[filled++] = v;
      if (filled === block.length) {
        if (filled === BLOCK) {
          this.mergeBlock(filled);
          filled = 0;
        } else {
          const bigger = new Float64Array(Math.min(BLOCK, 2 * filled));
          bigger.set(block);
          block = this.block = bigger;
        }
      }
    }
    this.filled = filled;
    this.min = min;
    this.max = max;
  }

  /** Flushes the last, partial block. */
  finish(): void {
    if (this.filled > 0) this.mergeBlock(this.filled);
    this.filled = 0;
  }

  private mergeBlock(n: number): void {
    const block = this.block as Float64Array;
    let sum = 0;
    let absSum = 0;
    for (let k = 0; k < n; k++) {
      const v = block[k];
      sum += v;
      absSum += v < 0 ? -v : v;
    }
    const roughMean = sum / n;
    let m2 = 0;
    let drift = 0;
    for (let k = 0; k < n; k++) {
      const d = block[k] - roughMean;
      m2 += d * d;
      drift += d;
    }
    // Corrected two-pass (Chan, Golub & LeVeque): the deviations' sum is the rounding left in the
    // first mean; it refines the mean and removes its effect from the squared deviations.
    const blockMean = roughMean + drift / n;
    m2 -= (drift * drift) / n;

    // Chan's pairwise merge of (this.n, this.mean, this.m2) with (n, blockMean, m2).
    const total = this.n + n;
    const delta = blockMean - this.mean;
    this.mean += delta * (n / total);
    this.m2 += m2 + delta * delta * ((this.n * n) / total);
    this.n = total;

    // Neumaier-compensated sum of the per-block |x| sums.
    const t = this.absSum + absSum;
    if (Math.abs(this.absSum) >= Math.abs(absSum)) this.absComp += this.absSum - t + absSum;
    else this.absComp += absSum - t + this.absSum;
    this.absSum = t;
  }

  meanAbs(): number {
    return (this.absSum + this.absComp) / this.n;
  }
}

/**
 * Statistics of one tensor. `chunks` is called twice (moments, then histogram) and must yield the
 * same values both times; each call should start a fresh read (e.g. `() => ckpt.chunks(t)`).
 */
export async function computeTensorStats(chunks: () => AsyncIterable<DecodedValues>, opts: TensorStatsOptions = {}): Promise<TensorStats> {
  const bins = opts.bins ?? DEFAULT_BINS;
  if (!isPositiveInt(bins)) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  const { signal, onProgress, totalElements } = opts;
  signal?.throwIfAborted();
  // An empty tensor has nothing to read: no reader is started (a checkpoint can hold 200,000 of them).
  if (totalElements === 0) {
    onProgress?.(0);
    return noFiniteValues(new Moments());
  }

  const m = new Moments();
  for await (const chunk of chunks()) {
    signal?.throwIfAborted();
    m.addChunk(chunk);
    onProgress?.(Math.floor(m.all / 2));
  }
  signal?.throwIfAborted();
  m.finish();
  if (totalElements !== undefined && totalElements !== m.all) {
    throw new Error(`tensor chunks yielded ${m.all} elements, expected ${totalElements}`);
  }

  if (m.n === 0) {
    onProgress?.(m.all);
    return noFiniteValues(m);
  }

  const [lo, hi] = histogramRange(m.min, m.max);
  const hist = new HistogramBuilder(lo, hi, bins);
  let seen = 0;
  for await (const chunk of chunks()) {
    signal?.throwIfAborted();
    hist.add(chunk);
    seen += chunk.length;
    onProgress?.(Math.floor((m.all + seen) / 2));
  }
  signal?.throwIfAborted();
  if (seen !== m.all) {
    throw new Error(`tensor chunks changed between passes: ${m.all} elements, then ${seen}`);
  }

  return {
    count: m.all,
    finiteCount: m.n,
    min: m.min,
    max: m.max,
    mean: m.mean,
    std: Math.sqrt(Math.max(0, m.m2) / m.n),
    meanAbs: m.meanAbs(),
    zeroFraction: m.zeros / m.n,
    nanCount: m.nan,
    infCount: m.inf,
    histogram: hist.result(),
  };
}

/** The statistics of a tensor without a finite value: counts only. */
function noFiniteValues(m: Moments): TensorStats {
  return {
    count: m.all,
    finiteCount: 0,
    min: null,
    max: null,
    mean: null,
    std: null,
    meanAbs: null,
    zeroFraction: null,
    nanCount: m.nan,
    infCount: m.inf,
    histogram: { edges: [], counts: [] },
  };
}
