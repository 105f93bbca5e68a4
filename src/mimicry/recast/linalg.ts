// Small dense float64 linear algebra: Gram matrices, symmetric eigen-decomposition, singular values.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** G = X X^T for the rows of X, accumulated in float64 (L x L, row-major). */
export function gram(rows: readonly ArrayLike<number>[]): Float64Array {
  const L = rows.length;
  const g = new Float64Array(L * L);
  for (let a = 0; a < L; a++) {
    const ra = rows[a];
    for (let b = a; b < L; b++) {
      const rb = rows[b];
      let s = 0;
      for (let i = 0; i < ra.length; i++) s += ra[i] * rb[i];
      g[a * L + b] = s;
      g[b * L + a] = s;
    }
  }
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

/**
 * Singular values (largest first) of a row-major rows x cols matrix, from the eigenvalues of the
 * smaller Gram matrix. Values below ~1e-8 of the largest are at float64 rounding level.
 */
export function singularValues(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const k = Math.min(rows, cols);
  const other = Math.max(rows, cols);
  // The k rows of the smaller side, contiguous in float64, so the Gram entries are plain dot products.
  const b = new Float64Array(k * other);
  if (rows <= cols) b.set(a as ArrayLike<number>);
  else for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) b[c * rows + r] = a[r * cols + c];
  const g = new Float64Array(k * k);
  for (let p = 0; p < k; p++) {
    const op = p * other;
    for (let q = p; q < k; q++) {
      const oq = q * other;
      let s0 = 0, s1 = 0;
      let i = 0;
      for (; i + 1 < other; i += 2) {
        s0 += b[op + i] * b[oq + i];
        s1 += b[op + i + 1] * b[oq + i + 1];
      }
      if (i < other) s0 += b[op + i] * b[oq + i];
      g[p * k + q] = s0 + s1;
      g[q * k + p] = s0 + s1;
    }
  }
  const values = symmetricEigenvalues(g, k);
  return values.map((v) => Math.sqrt(Math.max(0, v)));
}

/**
 * Eigenvalues only (largest first) of a symmetric matrix: Householder reduction to tridiagonal
 * form, then implicit QL (Numerical Recipes' tred2 without vectors + tqli). O(n^3) with a small
 * constant, unlike a full decomposition that also accumulates eigenvectors. `a` is left intact.
 */
export function symmetricEigenvalues(input: Float64Array, n: number): Float64Array {
  const a = Float64Array.from(input);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1;
    const ri = i * n;
    let h = 0;
    if (l > 0) {
      let scale = 0;
      for (let k = 0; k <= l; k++) scale += Math.abs(a[ri + k]);
      if (scale === 0) e[i] = a[ri + l];
      else {
        for (let k = 0; k <= l; k++) {
          a[ri + k] /= scale;
          h += a[ri + k] * a[ri + k];
        }
        let f = a[ri + l];
        let g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
        e[i] = scale * g;
        h -= f * g;
        a[ri + l] = f - g;
        f = 0;
        for (let j = 0; j <= l; j++) {
          const rj = j * n;
          g = 0;
          for (let k = 0; k <= j; k++) g += a[rj + k] * a[ri + k];
          for (let k = j + 1; k <= l; k++) g += a[k * n + j] * a[ri + k];
          e[j] = g / h;
          f += e[j] * a[ri + j];
        }
        const hh = f / (h + h);
        for (let j = 0; j <= l; j++) {
          const rj = j * n;
          f = a[ri + j];
          g = e[j] - hh * f;
          e[j] = g;
          for (let k = 0; k <= j; k++) a[rj + k] -= f * e[k] + g * a[ri + k];
        }
      }
    } else e[i] = a[ri + l];
    d[i] = h;
  }
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];
  // implicit QL on the tridiagonal (d, e)
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  if (n > 0) e[n - 1] = 0;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    let m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * dd) break;
      }
      if (m !== l) {
        if (iter++ === 100) throw new Error('symmetricEigenvalues: no convergence');
        let g = (d[l + 1] - d[l]) / (2 * e[l]);
        let r = Math.hypot(g, 1);
        g = d[m] - d[l] + e[l] / (g + (g >= 0 ? Math.abs(r) : -Math.abs(r)));
        let s = 1, c = 1, p = 0;
        let i: number;
        for (i = m - 1; i >= l; i--) {
          const f = s * e[i];
          const b = c * e[i];
          r = Math.hypot(f, g);
          e[i + 1] = r;
          if (r === 0) {
            d[i + 1] -= p;
            e[m] = 0;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1] - p;
          r = (d[i] - g) * s + 2 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
        }
        if (r === 0 && i >= l) continue;
        d[l] -= p;
        e[l] = g;
        e[m] = 0;
      }
    } while (m !== l);
  }
  return d.sort().reverse();
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
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa === 0 && bb === 0) return 1;
  if (aa === 0 || bb === 0) return 0;
  return Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)));
}
