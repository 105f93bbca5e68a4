// Specialisation of a bank's shared templates (docs/RECAST.md section 6.6): each member's share of
// coefficient energy per template, the entropy of a template's use across members, and a
// non-negative variant (templates shared, coefficients >= 0: semi-NMF by alternating least squares
// with NNLS) with its fit cost next to the unconstrained closed form's. All in the Gram space of the
// bank's unit-norm items: templates are T = W Y (n x L weights over the items), never formed.
import { Matrix, pseudoInverse, solve } from 'ml-matrix';

/**
 * Non-negative least squares in normal-equation form: argmin over x >= 0 of x^T A x - 2 b^T x
 * (A = M^T M symmetric positive semi-definite, b = M^T y), by Lawson and Hanson's active set method.
 */
export function nnlsGram(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const x = new Float64Array(n);
  if (n === 0) return x;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(a[i]));
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(b[i]));
  const tol = 1e-12 * Math.max(scale, Number.MIN_VALUE);
  const passive = new Array<boolean>(n).fill(false);
  const gradient = () =>
    Float64Array.from({ length: n }, (_, i) => b[i] - a.subarray(i * n, (i + 1) * n).reduce((s, v, j) => s + v * x[j], 0));
  /** The unconstrained minimiser over the passive set (zeros elsewhere); SVD solve: A's block may be singular. */
  const subproblem = (): Float64Array => {
    const idx = passive.flatMap((p, i) => (p ? [i] : []));
    const s = new Float64Array(n);
    if (idx.length === 0) return s;
    const sub = new Matrix(idx.map((i) => idx.map((j) => a[i * n + j])));
    const rhs = Matrix.columnVector(idx.map((i) => b[i]));
    const sol = solve(sub, rhs, true);
    idx.forEach((i, k) => (s[i] = sol.get(k, 0)));
    return s;
  };
  for (let outer = 0; outer < 3 * n + 3; outer++) {
    const w = gradient();
    let j = -1;
    for (let i = 0; i < n; i++) if (!passive[i] && w[i] > tol && (j < 0 || w[i] > w[j])) j = i;
    if (j < 0) break;
    passive[j] = true;
    for (let inner = 0; inner < 3 * n + 3; inner++) {
      const s = subproblem();
      let step = 1;
      for (let i = 0; i < n; i++) if (passive[i] && s[i] <= tol) step = Math.min(step, x[i] / Math.max(x[i] - s[i], Number.MIN_VALUE));
      for (let i = 0; i < n; i++) x[i] = passive[i] ? x[i] + step * (s[i] - x[i]) : 0;
      if (step >= 1) break;
      for (let i = 0; i < n; i++) {
        if (passive[i] && x[i] <= tol) {
          passive[i] = false;
          x[i] = 0;
        }
      }
    }
  }
  for (let i = 0; i < n; i++) if (x[i] < 0) x[i] = 0;
  return x;
}

/** Entropy (nats) of each template's use across members, and that over ln(members) (0 = one member uses it). */
export function useEntropy(
  energy: readonly (readonly number[])[],
  templates: number,
): { entropy: number[]; normalized: (number | null)[] } {
  const M = energy.length;
  const entropy: number[] = [];
  const normalized: (number | null)[] = [];
  for (let t = 0; t < templates; t++) {
    const total = energy.reduce((s, e) => s + e[t], 0);
    let h = 0;
    if (total > 0)
      for (const e of energy) {
        const p = e[t] / total;
        if (p > 0) h -= p * Math.log(p);
      }
    entropy.push(h);
    normalized.push(M >= 2 ? h / Math.log(M) : null);
  }
  return { entropy, normalized };
}

export interface NonNegativeFit {
  /** [L, n] coefficients, all >= 0. */
  readonly coefficients: Float64Array;
  /** Mean over items of ||y_l - y^_l||^2 (items at unit norm: the mean squared relative error). */
  readonly cost: number;
  /** <y_l, y^_l> and ||y^_l||^2 per item, for fidelities. */
  readonly inner: Float64Array;
  readonly fitted: Float64Array;
  /** ||T_t||^2 of the fitted templates. */
  readonly templateNorms2: Float64Array;
  readonly iterations: number;
}

const MAX_ITERATIONS = 200;

/** (W K W^T, W K): template Gram and template-item products for T = W Y, with K = Y Y^T. */
function products(w: Float64Array, k: Float64Array, n: number, L: number): { tt: Float64Array; ty: Float64Array } {
  const ty = new Float64Array(n * L);
  for (let t = 0; t < n; t++)
    for (let l = 0; l < L; l++) {
      let s = 0;
      for (let j = 0; j < L; j++) s += w[t * L + j] * k[j * L + l];
      ty[t * L + l] = s;
    }
  const tt = new Float64Array(n * n);
  for (let t = 0; t < n; t++)
    for (let u = 0; u < n; u++) {
      let s = 0;
      for (let l = 0; l < L; l++) s += ty[t * L + l] * w[u * L + l];
      tt[t * n + u] = s;
    }
  return { tt, ty };
}

/**
 * Semi-NMF of the unit-norm items: Y ~ C T with C >= 0 (L x n) and T (n x d) free, by alternating
 * least squares (T = pinv(C) Y in weight form, then each item's row of C by NNLS), started from the
 * closed form's templates with each one's sign chosen so that most of its coefficient mass is
 * positive and the negative coefficients cut to 0. Each step lowers the cost; stops when it changes
 * by less than 1e-12 or after 200 rounds.
 * `k` is the L x L Gram of the unit-norm items, `start` the closed form's template weights (n x L).
 */
export function nonNegativeFit(k: Float64Array, L: number, start: Float64Array, n: number): NonNegativeFit {
  let w = Float64Array.from(start);
  let c = new Float64Array(L * n);
  {
    const { tt, ty } = products(w, k, n, L);
    for (let t = 0; t < n; t++) {
      const c2 = tt[t * n + t];
      let mass = 0;
      for (let l = 0; l < L; l++) mass += c2 > 0 ? ty[t * L + l] / c2 : 0;
      const sign = mass < 0 ? -1 : 1;
      for (let l = 0; l < L; l++) {
        w[t * L + l] *= sign;
        c[l * n + t] = c2 > 0 ? Math.max(0, (sign * ty[t * L + l]) / c2) : 0;
      }
    }
  }
  const costOf = (tt: Float64Array, ty: Float64Array, coef: Float64Array) => {
    let cost = 0;
    for (let l = 0; l < L; l++) {
      let cb = 0;
      let cac = 0;
      for (let t = 0; t < n; t++) {
        cb += coef[l * n + t] * ty[t * L + l];
        for (let u = 0; u < n; u++) cac += coef[l * n + t] * tt[t * n + u] * coef[l * n + u];
      }
      cost += Math.max(0, k[l * L + l] - 2 * cb + cac);
    }
    return cost / L;
  };
  let previous = Infinity;
  let iterations = 0;
  for (; iterations < MAX_ITERATIONS; iterations++) {
    // T-step: T = pinv(C) Y, i.e. W = pinv(C) (n x L).
    const cm = new Matrix(L, n);
    for (let l = 0; l < L; l++) for (let t = 0; t < n; t++) cm.set(l, t, c[l * n + t]);
    const pinv = pseudoInverse(cm);
    w = new Float64Array(n * L);
    for (let t = 0; t < n; t++) for (let l = 0; l < L; l++) w[t * L + l] = pinv.get(t, l);
    // C-step: each item's coefficients by NNLS against the new templates.
    const { tt, ty } = products(w, k, n, L);
    const next = new Float64Array(L * n);
    for (let l = 0; l < L; l++) {
      const b = Float64Array.from({ length: n }, (_, t) => ty[t * L + l]);
      next.set(nnlsGram(tt, b, n), l * n);
    }
    c = next;
    const cost = costOf(tt, ty, c);
    const settled = Math.abs(previous - cost) <= 1e-12 * Math.max(1, cost);
    previous = cost;
    if (settled) {
      iterations++;
      break;
    }
  }
  const { tt, ty } = products(w, k, n, L);
  const inner = new Float64Array(L);
  const fitted = new Float64Array(L);
  for (let l = 0; l < L; l++) {
    for (let t = 0; t < n; t++) {
      inner[l] += c[l * n + t] * ty[t * L + l];
      for (let u = 0; u < n; u++) fitted[l] += c[l * n + t] * tt[t * n + u] * c[l * n + u];
    }
  }
  const templateNorms2 = Float64Array.from({ length: n }, (_, t) => tt[t * n + t]);
  return { coefficients: c, cost: costOf(tt, ty, c), inner, fitted, templateNorms2, iterations };
}
