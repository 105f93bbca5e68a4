// Top-k singular values of a matrix too large for the exact route (an n x n Gram and its O(n^3)
// eigenvalues), by randomized subspace iteration (Halko, Martinsson and Tropp 2011, "Finding
// structure with randomness", Algorithm 4.4), reading the row-major values in passes:
//   Q = orth(W Omega)                       Omega: cols x l Gaussian, fixed seed, l = k + oversampling
//   repeat q times: Q = orth(W orth(W^T Q))   (power iterations: sharpen a slowly decaying spectrum)
//   Z = W^T Q;  s = sqrt(eig(Z^T Z))        (the singular values of Q^T W, an l x cols matrix)
// and the top k of s are kept. Every product is accumulated in float64; a pass costs rows * cols * l
// multiply-adds and there are 2q + 2 passes. The estimates are lower bounds of the true values,
// s_i(Q^T W) <= s_i(W), with relative error of order (s_{l+1} / s_i)^(2q+1) for a decaying spectrum.
// ||W||_F^2 is exact: it is summed on the first pass.
import { Random } from '../recast/random';
import { symmetricEigenvalues } from './symmetricEigenvalues';

export interface TopKOptions {
  /** Singular values wanted. */
  readonly k: number;
  /** Extra directions sampled beyond k (Halko et al.: 5 to 10 are enough). */
  readonly oversampling: number;
  /** Power iterations q. */
  readonly powerIterations: number;
  readonly seed: number;
}

export const DEFAULT_TOP_K: TopKOptions = { k: 64, oversampling: 8, powerIterations: 2, seed: 1 };

export interface TopKResult {
  /** min(k, rows, cols) values, descending, each >= 0. */
  readonly singularValues: Float64Array;
  /** Sum of squares of every entry (exact, not estimated). */
  readonly frobeniusSquared: number;
  /** A NaN or Inf was seen: nothing else is meaningful. */
  readonly nonFinite: boolean;
  readonly options: TopKOptions;
}

/** One read of the values, in row-major order, in chunks of any size; called once per pass. */
export type ChunkSource = () => AsyncIterable<ArrayLike<number>> | Iterable<ArrayLike<number>>;

interface PassOptions {
  readonly signal?: AbortSignal;
  /** Called after each chunk with the pass index and the elements of this pass done. */
  readonly onChunk?: (pass: number, done: number) => void;
}

/** Passes that `topKSingularValues` makes over the values. */
export function topKPasses(options: TopKOptions): number {
  return 2 * options.powerIterations + 2;
}

/**
 * Top-k singular values of the rows x cols matrix read through `source`. Throws on a source that
 * yields the wrong number of values; an AbortError between chunks when `signal` is aborted.
 */
export async function topKSingularValues(
  source: ChunkSource,
  rows: number,
  cols: number,
  options: TopKOptions = DEFAULT_TOP_K,
  pass: PassOptions = {},
): Promise<TopKResult> {
  const total = rows * cols;
  const l = Math.min(options.k + options.oversampling, rows, cols);
  const k = Math.min(options.k, l);
  let passIndex = 0;
  let frobeniusSquared = 0;
  let nonFinite = false;

  /** One read of the values; `row` gets each run of a chunk that lies in one row. */
  const read = async (row: (values: ArrayLike<number>, from: number, to: number, r: number, c0: number) => void): Promise<void> => {
    let pos = 0;
    for await (const chunk of source()) {
      pass.signal?.throwIfAborted();
      const len = chunk.length;
      if (pos + len > total) throw new Error(`tensor chunks yielded more than ${total} elements`);
      let k0 = 0;
      while (k0 < len) {
        const r = Math.floor((pos + k0) / cols);
        const c0 = pos + k0 - r * cols;
        const take = Math.min(cols - c0, len - k0);
        row(chunk, k0, k0 + take, r, c0);
        k0 += take;
      }
      pos += len;
      pass.onChunk?.(passIndex, pos);
    }
    pass.signal?.throwIfAborted();
    if (pos !== total) throw new Error(`tensor chunks yielded ${pos} elements, expected ${total}`);
    passIndex++;
  };

  /** Y = W M: M is cols x l, Y rows x l (both row-major). The first pass also sums squares. */
  const times = async (m: Float64Array, first: boolean): Promise<Float64Array> => {
    const y = new Float64Array(rows * l);
    await read((values, from, to, r, c0) => {
      if (first) {
        const f = sumSquares(values, from, to);
        if (f - f !== 0 && hasNonFinite(values, from, to)) nonFinite = true;
        frobeniusSquared += f;
      }
      rowTimes(values, from, to, c0, m, y, r * l, l);
    });
    return y;
  };

  /** Z = W^T Q: Q is rows x l, Z cols x l. */
  const transposeTimes = async (q: Float64Array): Promise<Float64Array> => {
    const z = new Float64Array(cols * l);
    await read((values, from, to, r, c0) => rowTransposeTimes(values, from, to, c0, q, z, r * l, l));
    return z;
  };

  const rng = new Random(options.seed);
  const omega = new Float64Array(cols * l);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();

  let q = await times(omega, true);
  if (nonFinite) return { singularValues: new Float64Array(0), frobeniusSquared: Number.NaN, nonFinite, options };
  orthonormalize(q, rows, l);
  for (let it = 0; it < options.powerIterations; it++) {
    const z = await transposeTimes(q);
    orthonormalize(z, cols, l);
    q = await times(z, false);
    orthonormalize(q, rows, l);
  }
  const z = await transposeTimes(q);
  // Z^T Z (l x l) = (Q^T W)(Q^T W)^T: its eigenvalues are the squared singular values of Q^T W.
  const g = new Float64Array(l * l);
  for (let c = 0; c < cols; c++) {
    const zo = c * l;
    for (let a = 0; a < l; a++) {
      const za = z[zo + a];
      if (za === 0) continue;
      const ga = a * l;
      for (let b = 0; b <= a; b++) g[ga + b] += za * z[zo + b];
    }
  }
  const lambda = symmetricEigenvalues(g, l);
  const singularValues = new Float64Array(k);
  // Eigenvalues under l * eps * lambda_max are rounding noise of a zero direction.
  const floor = Math.max(lambda[0], 0) * l * Number.EPSILON;
  for (let i = 0; i < k; i++) singularValues[i] = lambda[i] > floor ? Math.sqrt(lambda[i]) : 0;
  return { singularValues, frobeniusSquared, nonFinite: false, options };
}

function sumSquares(values: ArrayLike<number>, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += values[i] * values[i];
  return s;
}

function hasNonFinite(values: ArrayLike<number>, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (values[i] - values[i] !== 0) return true;
  return false;
}

/** y[yo .. yo + l) += sum over i of values[i] * m[(c0 + i - from) l .. + l), two values at a time. */
export function rowTimes(
  values: ArrayLike<number>,
  from: number,
  to: number,
  c0: number,
  m: Float64Array,
  y: Float64Array,
  yo: number,
  l: number,
): void {
  let i = from;
  let mo = c0 * l;
  for (; i + 1 < to; i += 2, mo += 2 * l) {
    const v0 = values[i];
    const v1 = values[i + 1];
    const m1 = mo + l;
    for (let j = 0; j < l; j++) y[yo + j] += v0 * m[mo + j] + v1 * m[m1 + j];
  }
  if (i < to) {
    const v0 = values[i];
    for (let j = 0; j < l; j++) y[yo + j] += v0 * m[mo + j];
  }
}

/** z[(c0 + i - from) l .. + l) += values[i] * q[qo .. qo + l). */
export function rowTransposeTimes(
  values: ArrayLike<number>,
  from: number,
  to: number,
  c0: number,
  q: Float64Array,
  z: Float64Array,
  qo: number,
  l: number,
): void {
  let zo = c0 * l;
  for (let i = from; i < to; i++, zo += l) {
    const v = values[i];
    if (v === 0) continue;
    for (let j = 0; j < l; j++) z[zo + j] += v * q[qo + j];
  }
}

/**
 * Orthonormal columns, in place, for an m x l row-major matrix (column j is a[i * l + j]):
 * modified Gram-Schmidt run twice ("twice is enough", Giraud et al. 2005), which keeps the columns
 * orthogonal to working precision. A column that vanishes (the matrix has rank < l) becomes zero.
 * Works on a column-major copy so every loop runs over contiguous memory.
 */
export function orthonormalize(a: Float64Array, m: number, l: number): void {
  const cols = new Float64Array(m * l);
  for (let i = 0; i < m; i++) for (let j = 0; j < l; j++) cols[j * m + i] = a[i * l + j];
  const before = new Float64Array(l);
  for (let j = 0; j < l; j++) before[j] = Math.sqrt(dotAt(cols, j * m, j * m, m));
  for (let sweep = 0; sweep < 2; sweep++) {
    for (let j = 0; j < l; j++) {
      const oj = j * m;
      for (let p = 0; p < j; p++) {
        const op = p * m;
        const d = dotAt(cols, op, oj, m);
        if (d !== 0) for (let i = 0; i < m; i++) cols[oj + i] -= d * cols[op + i];
      }
      const norm = Math.sqrt(dotAt(cols, oj, oj, m));
      // What is left after projection, relative to the column before it, is rounding noise.
      if (!(norm > 1e-13 * before[j])) {
        cols.fill(0, oj, oj + m);
        before[j] = 0;
        continue;
      }
      for (let i = 0; i < m; i++) cols[oj + i] /= norm;
      before[j] = 1;
    }
  }
  for (let i = 0; i < m; i++) for (let j = 0; j < l; j++) a[i * l + j] = cols[j * m + i];
}

function dotAt(v: Float64Array, a: number, b: number, m: number): number {
  let s = 0;
  for (let i = 0; i < m; i++) s += v[a + i] * v[b + i];
  return s;
}
