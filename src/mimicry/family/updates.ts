// One layer's weight update dW as a family member carries it: low-rank factors (a LoRA layer,
// dW = U V^T, never formed whole) or a dense difference W - W_base read from disk in row blocks.
// Everything here is float64. Inner products, norms and singular values of factor updates come
// from r x r products of the factors (docs/RECAST.md section 6).
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import { symmetricEigenvalues } from '../linalg/symmetricEigenvalues';
import { spectrumFromMatrix, isSpectrumSkipped } from '../stats/spectrum';

/** dW = U V^T: U is rows x rank, V is cols x rank, both row-major. */
export interface FactorUpdate {
  readonly kind: 'factors';
  readonly rows: number;
  readonly cols: number;
  readonly rank: number;
  readonly u: Float64Array;
  readonly v: Float64Array;
}

/** dW read on demand: rows [start, end) of the rows x cols matrix, row-major. */
export interface DenseUpdate {
  readonly kind: 'dense';
  readonly rows: number;
  readonly cols: number;
  rowBlock(start: number, end: number, signal?: AbortSignal): Promise<Float64Array>;
}

export type LayerUpdate = FactorUpdate | DenseUpdate;

/** A^T B for row-major A (n x p) and B (n x q): p x q. */
function crossProduct(a: Float64Array, p: number, b: Float64Array, q: number, n: number): Float64Array {
  const out = new Float64Array(p * q);
  for (let i = 0; i < n; i++) {
    const ra = i * p;
    const rb = i * q;
    for (let x = 0; x < p; x++) {
      const av = a[ra + x];
      if (av === 0) continue;
      const o = x * q;
      for (let y = 0; y < q; y++) out[o + y] += av * b[rb + y];
    }
  }
  return out;
}

/** Rows [start, end) of U V^T, row-major. */
export function factorRows(f: FactorUpdate, start: number, end: number): Float64Array {
  const { cols, rank, u, v } = f;
  const out = new Float64Array((end - start) * cols);
  for (let i = start; i < end; i++) {
    const o = (i - start) * cols;
    const ui = i * rank;
    for (let j = 0; j < cols; j++) {
      const vj = j * rank;
      let s = 0;
      for (let k = 0; k < rank; k++) s += u[ui + k] * v[vj + k];
      out[o + j] = s;
    }
  }
  return out;
}

function toMatrix(values: Float64Array, rows: number, cols: number): Matrix {
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.set(i, j, values[i * cols + j]);
  return m;
}

/**
 * Singular values of U V^T, descending, min(rows, cols, rank) of them. With U = Q_u R_u and
 * V = Q_v R_v they are those of the rank x rank matrix R_u R_v^T (an SVD that small is exact to
 * rounding); when a side is shorter than the rank, the eigenvalues of that side's small Gram.
 */
export function factorSingularValues(f: FactorUpdate): number[] {
  const { rows, cols, rank, u, v } = f;
  if (rank === 0 || rows === 0 || cols === 0) return [];
  if (Math.min(rows, cols) < rank) {
    // dW dW^T = U (V^T V) U^T on the shorter side (or dW^T dW = V (U^T U) V^T).
    const [a, aRows, b, bRows] = rows <= cols ? [u, rows, v, cols] : [v, cols, u, rows];
    const bb = crossProduct(b, rank, b, rank, bRows);
    const g = new Float64Array(aRows * aRows);
    for (let i = 0; i < aRows; i++) {
      for (let j = i; j < aRows; j++) {
        let s = 0;
        for (let x = 0; x < rank; x++) for (let y = 0; y < rank; y++) s += a[i * rank + x] * bb[x * rank + y] * a[j * rank + y];
        g[i * aRows + j] = s;
        g[j * aRows + i] = s;
      }
    }
    const lambda = symmetricEigenvalues(g, aRows);
    const floor = Math.max(lambda[0], 0) * aRows * Number.EPSILON;
    return Array.from(lambda, (l) => (l > floor ? Math.sqrt(l) : 0));
  }
  const ru = new QrDecomposition(toMatrix(u, rows, rank)).upperTriangularMatrix;
  const rv = new QrDecomposition(toMatrix(v, cols, rank)).upperTriangularMatrix;
  const core = ru.mmul(rv.transpose());
  const svd = new SingularValueDecomposition(core, { computeLeftSingularVectors: false, computeRightSingularVectors: false });
  return [...svd.diagonal].map((s) => Math.max(0, s)).sort((x, y) => y - x);
}

/** Singular values of a dense update (read whole: one layer at a time), or null with the reason. */
export async function denseSingularValues(
  d: DenseUpdate,
  maxSide: number,
  signal?: AbortSignal,
): Promise<{ values: number[] } | { skipped: string }> {
  if (Math.min(d.rows, d.cols) > maxSide)
    return { skipped: `smaller side ${Math.min(d.rows, d.cols)} is over the spectrum size limit of ${maxSide}` };
  const values = await d.rowBlock(0, d.rows, signal);
  const s = spectrumFromMatrix(values, d.rows, d.cols, { maxSide });
  return isSpectrumSkipped(s) ? { skipped: s.skipped } : { values: s.singularValues };
}
