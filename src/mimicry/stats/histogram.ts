// Fixed-range histogram with linear bins, filled one chunk at a time (or one weighted value at a time,
// for statistics computed from a table of bit-pattern counts).
import { isPositiveInt } from '../positiveInt';

export interface Histogram {
  /** bins + 1 ascending edges; bin i is [edges[i], edges[i+1]), the last bin also holds edges[bins]. */
  readonly edges: number[];
  readonly counts: number[];
}

/**
 * The range the histogram spans. A constant tensor (min === max) gets [v - 0.5, v + 0.5], the
 * convention numpy.histogram uses, so the value lands in the middle bin; for |v| > 2^19 the
 * half-width grows with |v| so that the range never collapses to a point in float64.
 */
export function histogramRange(min: number, max: number): [number, number] {
  if (min !== max) return [min, max];
  const half = Math.max(0.5, Math.abs(min) * 2 ** -20);
  return [min - half, max + half];
}

/** Edges by interpolation, min*(1-t) + max*t: never overflows, even for ranges wider than Number.MAX_VALUE. */
export function linearEdges(lo: number, hi: number, bins: number): number[] {
  const edges = new Array<number>(bins + 1);
  for (let i = 0; i <= bins; i++) {
    const t = i / bins;
    edges[i] = lo * (1 - t) + hi * t;
  }
  edges[0] = lo;
  edges[bins] = hi;
  return edges;
}

export class HistogramBuilder {
  readonly edges: number[];
  readonly counts: Float64Array;
  private readonly lo: number;
  private readonly hi: number;
  /** The edges as a typed array, for the hot loops. */
  private readonly edgeArray: Float64Array;
  /** hi - lo; when that overflows (a range wider than Number.MAX_VALUE) both ends are halved first. */
  private readonly span: number;
  private readonly halved: boolean;
  /** bins / span when that is a finite, normal number (a multiply instead of a divide per value); else 0. */
  private readonly scale: number;

  constructor(
    lo: number,
    hi: number,
    readonly bins: number,
  ) {
    if (!isPositiveInt(bins)) throw new RangeError(`bins must be a positive integer, got ${bins}`);
    this.lo = lo;
    this.hi = hi;
    const span = hi - lo;
    this.halved = !Number.isFinite(span);
    this.span = this.halved ? hi / 2 - lo / 2 : span;
    const scale = bins / this.span;
    this.scale = !this.halved && Number.isFinite(scale) && scale > 0 ? scale : 0;
    this.edges = linearEdges(lo, hi, bins);
    this.edgeArray = new Float64Array(bins + 1);
    for (let i = 0; i <= bins; i++) this.edgeArray[i] = this.edges[i];
    this.counts = new Float64Array(bins);
  }

  /**
   * The bin of `v`, or -1 when v is outside [lo, hi] or NaN. The scaled position is only a guess;
   * the edges decide (as numpy does): bin i holds edges[i] <= v < edges[i+1], the last bin also hi.
   */
  binOf(v: number): number {
    if (!(v >= this.lo && v <= this.hi)) return -1;
    const { bins, edgeArray: edges, lo, span, halved, scale } = this;
    const last = bins - 1;
    // Divide before multiplying when there is no scale: bins / span overflows for ranges of subnormal numbers.
    let i = Math.floor(scale !== 0 ? (v - lo) * scale : ((halved ? v / 2 - lo / 2 : v - lo) / span) * bins);
    if (i > last) i = last;
    else if (i < 0) i = 0;
    while (i > 0 && v < edges[i]) i--;
    while (i < last && v >= edges[i + 1]) i++;
    return i;
  }

  /**
   * What `add` computes a bin from (lo, hi, scale and the edges), for a kernel that bins as `add`
   * does (statsKernels.wat, "marked"); null where `add` takes its slow road (no usable scale).
   */
  linearRule(): { readonly lo: number; readonly hi: number; readonly scale: number; readonly edges: Float64Array } | null {
    return this.scale === 0 ? null : { lo: this.lo, hi: this.hi, scale: this.scale, edges: this.edgeArray };
  }

  /** Adds `count` values equal to v (nothing when v is outside [lo, hi] or NaN). */
  addCount(v: number, count: number): void {
    const i = this.binOf(v);
    if (i >= 0) this.counts[i] += count;
  }

  /** Adds the finite values of a chunk that lie inside [lo, hi]; NaN, Inf and outliers are ignored. */
  add(values: ArrayLike<number>): void {
    if (this.scale === 0) {
      for (let k = 0; k < values.length; k++) this.addCount(values[k], 1);
      return;
    }
    const { bins, edgeArray: edges, counts, lo, hi, scale } = this;
    const last = bins - 1;
    for (let k = 0; k < values.length; k++) {
      const v = values[k];
      if (!(v >= lo && v <= hi)) continue; // also drops NaN
      let i = Math.floor((v - lo) * scale);
      if (i > last) i = last;
      while (i > 0 && v < edges[i]) i--;
      while (i < last && v >= edges[i + 1]) i++;
      counts[i]++;
    }
  }

  result(): Histogram {
    return { edges: this.edges.slice(), counts: Array.from(this.counts) };
  }
}
