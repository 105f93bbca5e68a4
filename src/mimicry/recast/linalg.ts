// Small dense float64 linear algebra: Gram matrices, symmetric eigen-decomposition, singular values.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** Elements per block of gram(): every pair of rows is summed over one block while it is in cache. */
const GRAM_BLOCK = 8192;

/**
 * G = X X^T for the rows of X, accumulated in float64 (L x L, row-major). Each entry is one
 * running sum in element order, as a plain dot product; blocks only change which entry is
 * summed when, so members are read from memory once instead of L times.
 */
export function gram(rows: readonly ArrayLike<number>[]): Float64Array {
  const L = rows.length;
  const g = new Float64Array(L * L);
  const d = L > 0 ? rows[0].length : 0;
  if (L === 2) {
    // Two members (the paper's groups): the three sums in one pass, side by side; each is the
    // same running sum in element order as below.
    const [r0, r1] = rows;
    let s00 = 0,
      s01 = 0,
      s11 = 0;
    for (let i = 0; i < d; i++) {
      const x = r0[i];
      const y = r1[i];
      s00 += x * x;
      s01 += x * y;
      s11 += y * y;
    }
    g[0] = s00;
    g[1] = g[2] = s01;
    g[3] = s11;
    return g;
  }
  for (let i0 = 0; i0 < d; i0 += GRAM_BLOCK) {
    const i1 = Math.min(d, i0 + GRAM_BLOCK);
    for (let a = 0; a < L; a++) {
      const ra = rows[a];
      let b = a;
      // Four (then two) entries per pass: independent sums run side by side instead of one waiting
      // on its own additions; each is still its plain running sum in element order.
      for (; b + 3 < L; b += 4) {
        const r0 = rows[b];
        const r1 = rows[b + 1];
        const r2 = rows[b + 2];
        const r3 = rows[b + 3];
        const o = a * L + b;
        let s0 = g[o];
        let s1 = g[o + 1];
        let s2 = g[o + 2];
        let s3 = g[o + 3];
        for (let i = i0; i < i1; i++) {
          const x = ra[i];
          s0 += x * r0[i];
          s1 += x * r1[i];
          s2 += x * r2[i];
          s3 += x * r3[i];
        }
        g[o] = s0;
        g[o + 1] = s1;
        g[o + 2] = s2;
        g[o + 3] = s3;
      }
      for (; b + 1 < L; b += 2) {
        const r0 = rows[b];
        const r1 = rows[b + 1];
        const o = a * L + b;
        let s0 = g[o];
        let s1 = g[o + 1];
        for (let i = i0; i < i1; i++) {
          const x = ra[i];
          s0 += x * r0[i];
          s1 += x * r1[i];
        }
        g[o] = s0;
        g[o + 1] = s1;
      }
      for (; b < L; b++) {
        const rb = rows[b];
        let s = g[a * L + b];
        for (let i = i0; i < i1; i++) s += ra[i] * rb[i];
        g[a * L + b] = s;
      }
    }
  }
  for (let a = 0; a < L; a++) for (let b = a + 1; b < L; b++) g[b * L + a] = g[a * L + b];
  return g;
}

export interface SymmetricEigen {
  /** Eigenvalues, largest first. */
  readonly values: Float64Array;
  /** Eigenvectors as columns, row-major: vectors[row * size + column]. */
  readonly vectors: Float64Array;
  readonly size: number;
}

/**
 * Eigen-decomposition of a symmetric matrix, sorted largest first. Each eigenvector's sign is fixed
 * (its largest-magnitude entry is positive) so results do not flip between runs or platforms.
 */
export function symmetricEigen(a: Float64Array, size: number): SymmetricEigen {
  const rows: number[][] = [];
  for (let i = 0; i < size; i++) rows.push(Array.from(a.subarray(i * size, (i + 1) * size)));
  const evd = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const raw = evd.realEigenvalues;
  const vec = evd.eigenvectorMatrix;
  const order = raw.map((_, i) => i).sort((i, j) => raw[j] - raw[i] || i - j);
  const values = new Float64Array(size);
  const vectors = new Float64Array(size * size);
  order.forEach((src, dst) => {
    values[dst] = raw[src];
    let big = 0;
    for (let r = 0; r < size; r++) if (Math.abs(vec.get(r, src)) > Math.abs(big)) big = vec.get(r, src);
    const sign = big < 0 ? -1 : 1;
    for (let r = 0; r < size; r++) vectors[r * size + dst] = sign * vec.get(r, src);
  });
  return { values, vectors, size };
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** Cosine of two vectors; 0 when either is zero (and 1 when both are: nothing was lost). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa === 0 && bb === 0) return 1;
  if (aa === 0 || bb === 0) return 0;
  return Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)));
}
