// Estimated template entropy (docs/RECAST.md section 4.4) for templates too large for the exact route
// (an n x n Gram, n = the smaller side, and its O(n^3) eigenvalues; a 4096 x 11008 template is about
// 370 GFLOP), by stochastic Lanczos quadrature (Ubaru, Chen and Saad 2017):
//
//   H = ln S1 - S2 / S1,   S1 = sum s_i = tr(G^1/2),   S2 = sum s_i ln s_i = tr(f(G)),  f(x) = sqrt(x) ln sqrt(x)
//
// with G = A A^T on the smaller side. Each trace is estimated as the mean over Rademacher probes z of
// z^T f(G) z, and each quadratic form by m Lanczos steps on G from z: n * sum_k tau_k f(theta_k), with
// theta_k the Ritz values and tau_k the squared first components of their eigenvectors. The probes
// advance together, so each step reads the template twice for all of them (A^T Z, then A (A^T Z)),
// and every product is accumulated in float64. Lanczos vectors are reorthogonalized in full (m is
// small), which keeps the Ritz values clean.
//
// The error stated is a ~95% interval of the probe noise (jackknife over the probes, below) plus how
// far H moved between two thirds of the steps and all of them (Lanczos' quadrature error, which
// matters for spectra that reach near zero, where sqrt is not smooth). Checked against the exact route
// in recast-entropy-estimate.test.ts: with 4 probes the interval is a rough guide (its own spread is
// large), covering the exact value in 9 of the 10 test cases and within 3x of it in all.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { kernels, reserve } from '../linalg/kernels';
import { rowTimes, rowTransposeTimes } from '../linalg/randomizedSvd';
import { Random } from './random';
import { bankMean, bankShape, type BankEntropy, type Entropy, type EntropyEstimated, type RoutedEntropy } from './entropy';

export interface EntropyEstimateOptions {
  /** Rademacher probes (at least 2: the error comes from their spread). */
  readonly probes: number;
  /** Lanczos steps per probe. */
  readonly steps: number;
  readonly seed: number;
}

export const DEFAULT_ENTROPY_ESTIMATE: EntropyEstimateOptions = { probes: 4, steps: 24, seed: 1 };

export interface EntropyEstimate extends Entropy {
  /** How it was estimated, and its error: |H - true H| is within `error` with about 95% confidence (see the file comment). */
  readonly estimated: EntropyEstimated;
}

/** Multiply-adds an estimate costs (two passes over the template per Lanczos step, for every probe). */
export function estimateCost(rows: number, cols: number, opts: EntropyEstimateOptions = DEFAULT_ENTROPY_ESTIMATE): number {
  return 2 * rows * cols * opts.probes * opts.steps;
}

/** out[o..o+4) += the row's dot products with the 4 interleaved columns of m (p = 4 kept in registers). */
function rowTimes4(a: Float32Array, from: number, to: number, m: Float64Array, out: Float64Array, o: number): void {
  let y0 = 0;
  let y1 = 0;
  let y2 = 0;
  let y3 = 0;
  for (let i = from, mo = 0; i < to; i++, mo += 4) {
    const v = a[i];
    y0 += v * m[mo];
    y1 += v * m[mo + 1];
    y2 += v * m[mo + 2];
    y3 += v * m[mo + 3];
  }
  out[o] += y0;
  out[o + 1] += y1;
  out[o + 2] += y2;
  out[o + 3] += y3;
}

/** z[4c..4c+4) += row[c] * q[o..o+4) for every column c of the row. */
function rowTransposeTimes4(a: Float32Array, from: number, to: number, q: Float64Array, o: number, z: Float64Array): void {
  const q0 = q[o];
  const q1 = q[o + 1];
  const q2 = q[o + 2];
  const q3 = q[o + 3];
  for (let i = from, zo = 0; i < to; i++, zo += 4) {
    const v = a[i];
    z[zo] += v * q0;
    z[zo + 1] += v * q1;
    z[zo + 2] += v * q2;
    z[zo + 3] += v * q3;
  }
}

/** out += A^T v (A row-major rows x cols, v and out probe-interleaved with p probes). */
function transposeTimes(a: Float32Array, rows: number, cols: number, v: Float64Array, out: Float64Array, p: number): void {
  for (let r = 0; r < rows; r++) {
    if (p === 4) rowTransposeTimes4(a, r * cols, (r + 1) * cols, v, r * 4, out);
    else rowTransposeTimes(a, r * cols, (r + 1) * cols, 0, v, out, r * p, p);
  }
}

/** out += A v. */
function times(a: Float32Array, rows: number, cols: number, v: Float64Array, out: Float64Array, p: number): void {
  for (let r = 0; r < rows; r++) {
    if (p === 4) rowTimes4(a, r * cols, (r + 1) * cols, v, out, r * 4);
    else rowTimes(a, r * cols, (r + 1) * cols, 0, v, out, r * p, p);
  }
}

/** The 97.5% quantile of Student's t with `dof` degrees of freedom. */
function studentT975(dof: number): number {
  const table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
  return dof <= table.length ? table[Math.max(1, dof) - 1] : 1.96 + 2.5 / dof;
}

/** w = G v for the probe-interleaved v (n x p), G = A A^T (wide) or A^T A (tall), unscaled. */
type GramTimes = (v: Float64Array, w: Float64Array) => void;

/**
 * The template's rows go through the kernels' memory in panels of about this many bytes: a 7B MLP
 * template (172 MB) copied whole would stay in every thread's WebAssembly memory (which never shrinks);
 * the copies cost about a quarter of the products' time.
 */
const PANEL_BYTES = 8 << 20;

/** On the SIMD kernels (4 probes): each product passes over the template in row panels. */
function kernelGramTimes(template: Float32Array, rows: number, cols: number, n: number, other: number): GramTimes | null {
  const k = kernels();
  if (!k) return null;
  const panelRows = Math.max(1, Math.min(rows, Math.floor(PANEL_BYTES / (cols * 4))));
  // A template that fits one panel is copied once; a bigger one panel by panel, each pass.
  const whole = panelRows === rows;
  const panelAt = 0;
  const vAt = Math.ceil((panelRows * cols * 4) / 16) * 16;
  const midAt = vAt + n * 32;
  const wAt = midAt + other * 32;
  reserve(k, wAt + n * 32);
  const load = (r0: number, r1: number): void => {
    if (!whole) new Float32Array(k.memory.buffer, panelAt, (r1 - r0) * cols).set(template.subarray(r0 * cols, r1 * cols));
  };
  if (whole) new Float32Array(k.memory.buffer, panelAt, template.length).set(template);
  const wide = rows <= cols;
  return (v, w) => {
    const buffer = k.memory.buffer;
    new Float64Array(buffer, vAt, n * 4).set(v);
    new Float64Array(buffer, midAt, other * 4).fill(0);
    new Float64Array(buffer, wAt, n * 4).fill(0);
    // wide: mid = A^T v, then w = A mid; tall: mid = A v, then w = A^T mid (mid has a row per template row).
    for (let r0 = 0; r0 < rows; r0 += panelRows) {
      const r1 = Math.min(rows, r0 + panelRows);
      load(r0, r1);
      if (wide) k.atv4(panelAt, r1 - r0, cols, vAt + r0 * 32, midAt);
      else k.av4(panelAt, r1 - r0, cols, vAt, midAt + r0 * 32);
    }
    for (let r0 = 0; r0 < rows; r0 += panelRows) {
      const r1 = Math.min(rows, r0 + panelRows);
      load(r0, r1);
      if (wide) k.av4(panelAt, r1 - r0, cols, midAt, wAt + r0 * 32);
      else k.atv4(panelAt, r1 - r0, cols, midAt + r0 * 32, wAt);
    }
    w.set(new Float64Array(buffer, wAt, n * 4));
  };
}

/** The JavaScript loops, any number of probes. */
function loopGramTimes(template: Float32Array, rows: number, cols: number, p: number, other: number): GramTimes {
  const mid = new Float64Array(other * p);
  const wide = rows <= cols;
  return (v, w) => {
    mid.fill(0);
    w.fill(0);
    if (wide) {
      transposeTimes(template, rows, cols, v, mid, p);
      times(template, rows, cols, mid, w, p);
    } else {
      times(template, rows, cols, v, mid, p);
      transposeTimes(template, rows, cols, mid, w, p);
    }
  };
}

/** Tests and benches: the estimate without the SIMD kernels (the JavaScript loops). */
let useKernels = true;
export function setEstimateKernelsEnabled(on: boolean): void {
  useKernels = on;
}

/** s and s ln s from an eigenvalue of G (negative round-off counts as 0). */
function sqrtOf(x: number): number {
  return x > 0 ? Math.sqrt(x) : 0;
}
function sLogS(x: number): number {
  if (!(x > 0)) return 0;
  const s = Math.sqrt(x);
  return s * Math.log(s);
}

/**
 * Estimated entropy of one rows x cols template (row-major float32). NaN when a value is not finite;
 * 0 for a zero template. `signal` is checked between Lanczos steps.
 */
export function estimateEntropy(
  template: Float32Array,
  rows: number,
  cols: number,
  opts: EntropyEstimateOptions = DEFAULT_ENTROPY_ESTIMATE,
  signal?: AbortSignal,
): EntropyEstimate {
  const n = Math.min(rows, cols);
  const wide = rows <= cols;
  const other = wide ? cols : rows;
  const p = Math.max(2, Math.floor(opts.probes));
  const m = Math.max(1, Math.min(n, Math.floor(opts.steps)));
  const none = { probes: p, steps: m, error: 0 };
  let frob = 0;
  for (let i = 0; i < template.length; i++) {
    const v = template[i];
    if (v - v !== 0) return { entropy: Number.NaN, normalized: Number.NaN, rank: n, estimated: { ...none, error: Number.NaN } };
    frob += v * v;
  }
  if (frob === 0) return { entropy: 0, normalized: 0, rank: n, estimated: none };
  // G scaled by n / ||A||_F^2 (mean eigenvalue 1): H does not depend on scale, and sizes stay ordinary.
  const scale = n / frob;

  // Lanczos vectors, probe-interleaved: q[j][i * p + k] is entry i of vector j of probe k.
  const q: Float64Array[] = [];
  const rnd = new Random(opts.seed);
  const z = new Float64Array(n * p);
  const invNorm = 1 / Math.sqrt(n);
  for (let i = 0; i < z.length; i++) z[i] = (rnd.uniform() < 0.5 ? -1 : 1) * invNorm;
  q.push(z);
  const alpha = Array.from({ length: p }, () => [] as number[]);
  const beta = Array.from({ length: p }, () => [] as number[]);
  const live = new Array<boolean>(p).fill(true);
  const gramTimes =
    (p === 4 && useKernels ? kernelGramTimes(template, rows, cols, n, other) : null) ?? loopGramTimes(template, rows, cols, p, other);
  const w = new Float64Array(n * p);
  for (let j = 0; j < m; j++) {
    signal?.throwIfAborted();
    const v = q[j];
    // w = G v = A (A^T v) (wide) or A^T (A v) (tall), all probes at once.
    gramTimes(v, w);
    for (let i = 0; i < w.length; i++) w[i] *= scale;
    const next = new Float64Array(n * p);
    for (let k = 0; k < p; k++) {
      if (!live[k]) continue;
      let a = 0;
      for (let i = 0; i < n; i++) a += v[i * p + k] * w[i * p + k];
      alpha[k].push(a);
      // Full reorthogonalization, twice ("twice is enough"), against every earlier vector of this probe.
      for (let pass = 0; pass < 2; pass++) {
        for (const u of q) {
          let d = 0;
          for (let i = 0; i < n; i++) d += u[i * p + k] * w[i * p + k];
          for (let i = 0; i < n; i++) w[i * p + k] -= d * u[i * p + k];
        }
      }
      let b = 0;
      for (let i = 0; i < n; i++) b += w[i * p + k] * w[i * p + k];
      b = Math.sqrt(b);
      // An invariant subspace (the spectrum has fewer distinct values than steps): the quadrature is exact.
      if (j === m - 1 || b <= 1e-10 * Math.max(1, Math.abs(a))) {
        if (j < m - 1) live[k] = false;
        continue;
      }
      beta[k].push(b);
      for (let i = 0; i < n; i++) next[i * p + k] = w[i * p + k] / b;
    }
    if (j < m - 1 && live.some((x) => x)) q.push(next);
    else break;
  }

  // Per probe: n * sum_k tau_k f(theta_k) for both functions, from the first `steps` Lanczos steps.
  const quadrature = (steps: number): { s1: Float64Array; s2: Float64Array } => {
    const s1 = new Float64Array(p);
    const s2 = new Float64Array(p);
    for (let k = 0; k < p; k++) {
      const a = alpha[k].slice(0, steps);
      const t = Matrix.zeros(a.length, a.length);
      for (let i = 0; i < a.length; i++) {
        t.set(i, i, a[i]);
        if (i + 1 < a.length) {
          t.set(i, i + 1, beta[k][i]);
          t.set(i + 1, i, beta[k][i]);
        }
      }
      const evd = new EigenvalueDecomposition(t, { assumeSymmetric: true });
      const theta = evd.realEigenvalues;
      const vectors = evd.eigenvectorMatrix;
      for (let i = 0; i < theta.length; i++) {
        const tau = vectors.get(0, i) ** 2;
        s1[k] += n * tau * sqrtOf(theta[i]);
        s2[k] += n * tau * sLogS(theta[i]);
      }
    }
    return { s1, s2 };
  };
  const h = (a: number, b: number): number => Math.log(a) - b / a;
  const mean = (x: Float64Array): number => x.reduce((sum, v) => sum + v, 0) / p;
  const { s1, s2 } = quadrature(m);
  const entropy = h(mean(s1), mean(s2));
  // Probe noise: the jackknife standard error of H over the probes (leave one out), times Student's t
  // for probes - 1 degrees of freedom (so few probes give a rough standard error).
  const loo = Array.from({ length: p }, (_, k) => h((p * mean(s1) - s1[k]) / (p - 1), (p * mean(s2) - s2[k]) / (p - 1)));
  const looMean = loo.reduce((sum, x) => sum + x, 0) / p;
  const se = Math.sqrt(((p - 1) / p) * loo.reduce((sum, x) => sum + (x - looMean) ** 2, 0));
  // Lanczos' own error: how far the estimate still moved over the last third of the steps (0 once converged).
  const fewer = quadrature(Math.max(1, Math.ceil((2 * m) / 3)));
  const moved = Math.abs(h(mean(fewer.s1), mean(fewer.s2)) - entropy);
  return {
    entropy,
    normalized: n > 1 ? entropy / Math.log(n) : 0,
    rank: n,
    estimated: { probes: p, steps: m, error: studentT975(p - 1) * se + moved },
  };
}

/** Estimated entropy of each of a bank's `n` templates (concatenated, each `shape`) on this thread, and their mean. */
export function estimatedBankEntropy(
  templates: Float32Array,
  n: number,
  shape: readonly number[],
  opts: EntropyEstimateOptions = DEFAULT_ENTROPY_ESTIMATE,
  signal?: AbortSignal,
  onTemplate?: (done: number) => void,
): BankEntropy {
  const { size, rows, cols } = bankShape(templates, n, shape);
  const out: RoutedEntropy[] = [];
  for (let t = 0; t < n; t++) {
    signal?.throwIfAborted();
    out.push({ ...estimateEntropy(templates.subarray(t * size, (t + 1) * size), rows, cols, opts, signal), route: 'estimate' });
    onTemplate?.(t + 1);
  }
  return bankMean(out);
}
