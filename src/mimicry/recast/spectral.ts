// The closed form (docs/RECAST.md section 3): the best rank-n fit of a group via its L x L Gram matrix.
// The pieces work on column chunks of all members at once, so a group can also be streamed.
import { gram, symmetricEigen } from './linalg';
import { combineRows } from '../linalg/combine';
import { isPositiveInt } from '../positiveInt';

export type Objective = 'total' | 'per-layer';

export interface SpectralFit {
  /** n templates of d elements each, row-major [n, d], scaled to the members' RMS. */
  readonly templates: Float32Array;
  /** One coefficient vector per member, row-major [L, n]; every coefficient set gets it. */
  readonly alpha: Float32Array;
  /** Templates kept: min(requested, L, numerical rank), at least 1. */
  readonly n: number;
  /** Numerical rank of the (normalised, for per-layer) member matrix. */
  readonly rank: number;
  /** All L eigenvalues of the Gram matrix the fit used, largest first (squared singular values). */
  readonly eigenvalues: Float64Array;
}

/** What the Gram matrix decides: how templates mix the members, and each member's coefficients. */
export interface SpectralSolution {
  readonly n: number;
  readonly rank: number;
  readonly eigenvalues: Float64Array;
  /** T_t = sum_l weights[l * n + t] * X_l */
  readonly weights: Float64Array;
  /** [L, n] */
  readonly alpha: Float32Array;
}

/** Eigenvalues below this fraction of the largest (times L) are float64 rounding noise of a zero direction. */
const RANK_TOLERANCE = 1e-13;

/** Adds the Gram matrix of one column chunk of every member (same range in each) to `g` (L x L). */
export function accumulateGram(g: Float64Array, chunks: readonly ArrayLike<number>[]): void {
  const part = gram(chunks);
  for (let i = 0; i < part.length; i++) g[i] += part[i];
}

/**
 * From G = X X^T: `total` is the plain truncated SVD; `per-layer` fits the rows normalised to unit
 * norm and multiplies each norm back into that member's coefficients. Templates get the members' RMS.
 */
/** The eigen-decomposition the closed form fits from: G with each member divided by its row weight, and its numerical rank. */
export interface ScaledGramEigen {
  /** What each member is divided by before the fit: 1 (total), or its norm (per-layer). */
  readonly rowScale: Float64Array;
  /** The scaled Gram matrix, L x L. */
  readonly target: Float64Array;
  readonly values: Float64Array;
  readonly vectors: Float64Array;
  /** Eigenvalues above top * L * RANK_TOLERANCE. */
  readonly rank: number;
}

export function scaledGramEigen(g: Float64Array, L: number, objective: Objective): ScaledGramEigen {
  const rowScale = Float64Array.from({ length: L }, (_, l) => (objective === 'per-layer' ? Math.sqrt(Math.max(0, g[l * L + l])) : 1));
  const target = new Float64Array(L * L);
  for (let a = 0; a < L; a++) {
    for (let b = 0; b < L; b++) {
      const s = rowScale[a] * rowScale[b];
      target[a * L + b] = s > 0 ? g[a * L + b] / s : 0;
    }
  }
  const { values, vectors } = symmetricEigen(target, L);
  const top = values[0];
  let rank = 0;
  if (top > 0) while (rank < L && values[rank] > top * L * RANK_TOLERANCE) rank++;
  return { rowScale, target, values, vectors, rank };
}

export function solveGram(g: Float64Array, L: number, templates: number, objective: Objective): SpectralSolution {
  if (!isPositiveInt(templates)) throw new Error(`templates must be a positive integer, got ${templates}`);
  const norms = new Float64Array(L);
  let sumSquares = 0;
  for (let l = 0; l < L; l++) {
    norms[l] = Math.sqrt(Math.max(0, g[l * L + l]));
    sumSquares += Math.max(0, g[l * L + l]);
  }
  const { rowScale, values, vectors, rank } = scaledGramEigen(g, L, objective);
  const kept = Math.min(templates, L, rank);
  const n = Math.max(1, kept);

  // Scale convention: each template's norm becomes the members' RMS norm (so its RMS is theirs).
  const rmsNorm = Math.sqrt(sumSquares / L);
  const c = rmsNorm > 0 ? rmsNorm : 1;

  // T_t = c * lambda_t^-1/2 * sum_l U[l,t] * X_l / rowScale_l ; alpha_l,t = U[l,t] * lambda_t^1/2 * rowScale_l / c
  const weights = new Float64Array(L * n);
  const alpha = new Float32Array(L * n);
  for (let t = 0; t < kept; t++) {
    const sq = Math.sqrt(values[t]);
    for (let l = 0; l < L; l++) {
      // A zero member keeps exactly zero coefficients (its eigenvector entries are only ~1e-17).
      if (norms[l] === 0) continue;
      const u = vectors[l * L + t];
      weights[l * n + t] = (c * u) / (sq * rowScale[l]);
      alpha[l * n + t] = (u * sq * rowScale[l]) / c;
    }
  }
  return { n, rank, eigenvalues: values, weights, alpha };
}

/**
 * Writes elements [offset, offset + chunk length) of every template from the members' chunks.
 * Each element is sum_l weights[l, t] * chunk_l[i], summed over l in order in float64 and rounded
 * once (combineRows: the SIMD kernel for float32 chunks, a JavaScript loop for float64 ones, the
 * same bits).
 */
export function writeTemplates(
  out: Float32Array,
  d: number,
  sol: SpectralSolution,
  chunks: readonly ArrayLike<number>[],
  offset: number,
): void {
  const { n, weights } = sol;
  combineRows(
    chunks,
    (t, l) => weights[l * n + t],
    n,
    (t, values, at) => out.set(values, t * d + offset + at),
  );
}

/**
 * Fits n templates to the member weights `rows` (each flattened, equal length d), all in memory.
 * `out(length)` may supply the templates' array (a reused buffer); by default a new one. `g`: their
 * Gram matrix when already computed (groupGramGpu.ts), else it is computed here in float64.
 */
export function fitSpectral(
  rows: readonly Float32Array[],
  templates: number,
  objective: Objective = 'per-layer',
  out: (length: number) => Float32Array = (length) => new Float32Array(length),
  g?: Float64Array,
): SpectralFit {
  const L = rows.length;
  if (L === 0) throw new Error('fitSpectral: no members');
  const d = rows[0].length;
  for (const r of rows) if (r.length !== d) throw new Error('fitSpectral: members differ in size');
  const sol = solveGram(g ?? gram(rows), L, templates, objective);
  const t = out(sol.n * d);
  writeTemplates(t, d, sol, rows, 0);
  return { templates: t, alpha: sol.alpha, n: sol.n, rank: sol.rank, eigenvalues: sol.eigenvalues };
}

/** K identical coefficient sets per member, [K, n] row-major: their mean is the fitted vector. */
export function repeatSets(alpha: Float32Array, member: number, n: number, sets: number): Float32Array {
  const out = new Float32Array(sets * n);
  for (let k = 0; k < sets; k++) out.set(alpha.subarray(member * n, (member + 1) * n), k * n);
  return out;
}
