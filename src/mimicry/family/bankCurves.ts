// Fidelity-vs-n curves of a bank's items from their Gram matrix (docs/RECAST.md section 6): the
// per-layer closed form fits the unit-norm items, so item l keeps cos_l(n)^2 = sum_{t<n} lambda_t U[l,t]^2
// of its energy; a member's curve pools its items weighted by their energy.
import { symmetricEigen } from '../recast/linalg';

/** The normalised Gram K = G_ab / (||x_a|| ||x_b||) of a bank's items (0 for a zero item) and its eigen-decomposition. */
export function normalisedEigen(
  g: Float64Array,
  L: number,
  norms: Float64Array,
): { k: Float64Array; values: Float64Array; vectors: Float64Array } {
  const k = new Float64Array(L * L);
  for (let a = 0; a < L; a++)
    for (let b = 0; b < L; b++) {
      const s = norms[a] * norms[b];
      k[a * L + b] = s > 0 ? g[a * L + b] / s : 0;
    }
  return { k, ...symmetricEigen(k, L) };
}

/** Cumulative fidelity of every item for n = 1..N templates: cos_l(n)^2 = sum_{t<n} lambda_t U[l,t]^2 (per-layer objective). */
export function itemCurves(values: Float64Array, vectors: Float64Array, L: number, norms: Float64Array, N: number): Float64Array {
  const out = new Float64Array(L * N); // out[l * N + (n - 1)] = cos_l(n)^2
  for (let l = 0; l < L; l++) {
    let acc = 0;
    for (let t = 0; t < N; t++) {
      const u = vectors[l * L + t];
      acc += Math.max(0, values[t]) * u * u;
      out[l * N + t] = norms[l] > 0 ? Math.min(1, acc) : 1;
    }
  }
  return out;
}

/** One member's cosine and relative error for n = 1..N from its items' energies and kept fractions (fraction(l, n - 1)). */
export function memberCurve(
  items: readonly number[],
  energy: (l: number) => number,
  fraction: (l: number, t: number) => number,
  N: number,
): { cosine: number[]; relError: number[] } {
  const total = items.reduce((s, l) => s + energy(l), 0);
  const cosine: number[] = [];
  const relError: number[] = [];
  for (let t = 0; t < N; t++) {
    const kept = items.reduce((s, l) => s + energy(l) * fraction(l, t), 0);
    cosine.push(total > 0 ? Math.min(1, Math.sqrt(kept / total)) : 1);
    relError.push(total > 0 ? Math.sqrt(Math.max(0, total - kept) / total) : 0);
  }
  return { cosine, relError };
}
