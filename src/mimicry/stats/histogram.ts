// Fixed-range histogram with linear bins, filled one chunk at a time.
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
  /** hi - lo; when that overflows (a range wider than Number.MAX_VALUE) both ends are halved first. */
  private readonly span: number;
  private readonly halved: boolean;

  constructor(
    lo: number,
    hi: number,
    readonly bins: number,
  ) {
    if (!isPositiveInt(bins)) throw new RangeError(`bins must be a positive integer, got ${bins}`);
    this.lo = lo;
    const span = hi - lo;
    this.halved = !Number.isFinite(span);
    this.span = this.halved ? hi / 2 - lo / 2 : span;
    this.edges = linearEdges(lo, hi, bins);
    this.counts = new Float64Array(bins);
  }

  /** Adds the finite values of a chunk that lie inside [lo, hi]; NaN, Inf and outliers are ignored. */
  add(values: ArrayLike<number>): void {
    const { bins, edges, counts, lo, span, halved } = this;
    const hi = edges[bins];
    const last = bins - 1;
    for (let k = 0; k < values.length; k++) {
      const v = values[k];
      if (!(v >= lo && v <= hi)) continue; // also drops NaN
      // Divide before multiplying: bins / span overflows for ranges of subnormal numbers.
      let i = Math.floor(((halved ? v / 2 - lo / 2 : v - lo) / span) * bins);
      if (i > last) i = last;
      else if (i < 0) i = 0;
      // Rounding in the scale can put a value next to an edge one bin off; the edges decide (as numpy does).
      if (v < edges[i]) i--;
      else if (i < last && v >= edges[i + 1]) i++;
      counts[i]++;
    }
  }

  result(): Histogram {
    return { edges: this.edges.slice(), counts: Array.from(this.counts) };
  }
}
