// Template entropy (docs/RECAST.md section 4) for whole banks.
//
// Routes: the float64 Gram of the smaller side (stats/gram.ts) and its eigenvalues
// (linalg/symmetricEigenvalues.ts), both on the WebAssembly SIMD kernels of linalg/kernels.wat: exact,
// and about 60 ms for a 384 x 1536 template (measured on a busy 2-core machine). By default
// (entropyExact) the Gram is first made in float32 on the SIMD kernel (linalg/gram32.ts: twice the
// lanes, float32 sums over blocks of 256 values) and checked as below; a rejected one is redone in float64.
//
// With tfjs-node active (native BLAS) the Gram products go to it in float32 (gramEngine). Accuracy
// of a float32 Gram: it perturbs eigenvalues by about eps32 * ||G|| and so singular values near
// zero by sqrt of that: harmless for full-rank templates (measured |dH| <= 2.5e-6 on every ViT-S
// and GPT-2 fixture template, spectral and paper), badly wrong for (near) low-rank ones (a rank-1
// 384 x 1536 template: dH = 0.2). So each float32 result is checked:
// - the diagonal is recomputed in float64 (cheap: row norms); its relative error eps^ measures the
//   accumulation error of this very product, and the float64 values replace it;
// - the entropy is recomputed with every eigenvalue shifted by +-delta, delta = eps^ tr(G)/sqrt(n)
//   (the size of ||E||_2 for an error matrix with entries of that relative size); if H moves by
//   more than SENSITIVITY_LIMIT the template is redone on the float64 route.
// The shift overstates the real error (measured real error / estimate <= 0.27 on low-rank
// templates, ~0.01 on real ones); over 225 rank-r-plus-noise test spectra the worst accepted
// template was 3.2e-5 off in H, so the contract is 1e-4 (recast-entropy.test.ts). On tfjs and the
// GPU, near-square templates (a Marchenko-Pastur-like tail reaching zero: ViT-S attn.proj) go to
// float64 directly; the SIMD kernel's short float32 sums pass the check there too (entropyExact).
// Templates are scaled by a power of two (exact) when their values are far from 1 so the float32
// Gram neither overflows nor underflows whatever the weights' scale; entropy does not depend on scale.
import { symmetricEigenvalues } from '../linalg/symmetricEigenvalues';
import { gramFloat32 } from '../linalg/gram32';
import { gramOfMatrix } from '../stats/gram';
import type { Tf } from './tfjs';

export interface Entropy {
  /** H = -sum p_i ln p_i with p_i = s_i / sum(s); 0 for a zero template. */
  readonly entropy: number;
  /** H / ln(rank) in [0, 1], rank := min(out, rest) = the number of singular values (0 when that is 1). */
  readonly normalized: number;
  readonly rank: number;
  /** Present when estimated (entropyEstimate.ts), not computed exactly: how, and the error of H. */
  readonly estimated?: EntropyEstimated;
}

/** How an entropy was estimated and its error (|H - exact H| within `error` at about 95% confidence). */
export interface EntropyEstimated {
  readonly probes: number;
  readonly steps: number;
  readonly error: number;
}

/** Largest change of H under the +-delta eigenvalue shift accepted from the float32 route. */
export const SENSITIVITY_LIMIT = 3e-4;

/** H from the eigenvalues of a Gram matrix (negative round-off is clamped to 0). */
function entropyOf(eigenvalues: Float64Array, shift = 0): number {
  let total = 0;
  for (const v of eigenvalues) total += Math.sqrt(Math.max(0, v + shift));
  let h = 0;
  if (total > 0) {
    for (const v of eigenvalues) {
      const p = Math.sqrt(Math.max(0, v + shift)) / total;
      if (p > 0) h -= p * Math.log(p);
    }
  }
  return h;
}

export function result(h: number, rank: number): Entropy {
  return { entropy: h, normalized: rank > 1 ? h / Math.log(rank) : 0, rank };
}

/** Float64 route: JS Gram of the smaller side, then its eigenvalues. NaN for a non-finite template. */
export function entropyFloat64(template: ArrayLike<number>, rows: number, cols: number): Entropy {
  const { gram, n, nonFinite } = gramOfMatrix(template, rows, cols);
  if (nonFinite) return { entropy: Number.NaN, normalized: Number.NaN, rank: n };
  return result(entropyOf(symmetricEigenvalues(gram, n)), n);
}

/** Which route produced a value (tests and diagnostics only; never part of a report). */
export type EntropyRoute = 'float32' | 'float64' | 'float64-fallback' | 'estimate';

export interface RoutedEntropy extends Entropy {
  readonly route: EntropyRoute;
}

/** A template's float64 Gram diagonal, the scale that keeps its float32 Gram in range, and the scaled values. */
export interface Prepared {
  readonly n: number;
  readonly tall: boolean;
  readonly diag: Float64Array;
  readonly scale: number;
  readonly x32: Float32Array;
}

/**
 * The factor that keeps a float32 Gram of values up to `maxAbs` in range. A power of two: scaling
 * is exact, and puts the largest |value| in [0.5, 1). Weights of ordinary size (2^-20 .. 2^20)
 * need none: their float32 Gram can neither overflow nor underflow.
 */
export function gramScale(maxAbs: number): number {
  const e = maxAbs === 0 ? 0 : Math.ceil(Math.log2(maxAbs));
  return Number.isFinite(e) && (e < -20 || e > 20) ? 2 ** -e : 1;
}

/** Float64 row norms of the smaller side (the exact Gram diagonal), the scale, and the non-finite check, in one pass; null for NaN/Inf. */
export function prepare(template: Float32Array, rows: number, cols: number): Prepared | null {
  const n = Math.min(rows, cols);
  const tall = rows > cols;
  const diag = new Float64Array(n);
  const maxAbs = tall ? columnNorms(template, rows, cols, diag) : rowNorms(template, rows, cols, diag);
  if (Number.isNaN(maxAbs)) return null;
  const scale = gramScale(maxAbs);
  // Scaled here in float64, not on the engine: for tiny (denormal) weights the factor itself is
  // beyond float32's range, and a float32 Infinity would turn the Gram into NaN. A plain loop:
  // Float32Array.from with a callback cost more than the product itself.
  let x32 = template;
  if (scale !== 1) {
    x32 = new Float32Array(template.length);
    for (let i = 0; i < x32.length; i++) x32[i] = template[i] * scale;
  }
  return { n, tall, diag, scale, x32 };
}

/**
 * prepare()'s pass over a wide template: each row's sum of squares into `diag` (four partial sums
 * side by side, so no addition waits on the one before it) and the largest |value|; NaN as soon as
 * a value is not finite. (Separate loops for wide and tall: a test of the shape inside one loop, and
 * one running sum per row, made this pass about as slow as the template's float32 Gram.)
 */
function rowNorms(x: Float32Array, rows: number, cols: number, diag: Float64Array): number {
  let maxAbs = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    let c = 0;
    for (; c + 3 < cols; c += 4) {
      const a = x[o + c];
      const b = x[o + c + 1];
      const d = x[o + c + 2];
      const e = x[o + c + 3];
      // v - v is 0 for a finite value and NaN for NaN and +-Infinity.
      if (a - a + (b - b) + (d - d) + (e - e) !== 0) return Number.NaN;
      maxAbs = Math.max(maxAbs, Math.abs(a), Math.abs(b), Math.abs(d), Math.abs(e));
      s0 += a * a;
      s1 += b * b;
      s2 += d * d;
      s3 += e * e;
    }
    for (; c < cols; c++) {
      const a = x[o + c];
      if (a - a !== 0) return Number.NaN;
      if (Math.abs(a) > maxAbs) maxAbs = Math.abs(a);
      s0 += a * a;
    }
    diag[r] = s0 + s1 + (s2 + s3);
  }
  return maxAbs;
}

/** rowNorms for a tall template: each column's sum of squares (the rows' values add to their columns' sums). */
function columnNorms(x: Float32Array, rows: number, cols: number, diag: Float64Array): number {
  let maxAbs = 0;
  let r = 0;
  // Four rows at a time: one load and store of each column's sum per four values.
  for (; r + 3 < rows; r += 4) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      const a = x[o + c];
      const b = x[o + cols + c];
      const d = x[o + 2 * cols + c];
      const e = x[o + 3 * cols + c];
      if (a - a + (b - b) + (d - d) + (e - e) !== 0) return Number.NaN;
      maxAbs = Math.max(maxAbs, Math.abs(a), Math.abs(b), Math.abs(d), Math.abs(e));
      diag[c] += a * a + b * b + (d * d + e * e);
    }
  }
  for (; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = x[o + c];
      if (v - v !== 0) return Number.NaN;
      maxAbs = Math.max(maxAbs, Math.abs(v));
      diag[c] += v * v;
    }
  }
  return maxAbs;
}

/** The float32 Gram of the smaller side, on the engine (the caller reads it back and disposes it). */
export function gramTensor(engine: Tf, p: Pick<Prepared, 'tall' | 'x32'>, rows: number, cols: number): ReturnType<Tf['matMul']> {
  return engine.tidy(() => {
    const x = engine.tensor2d(p.x32, [rows, cols]);
    return p.tall ? engine.matMul(engine.transpose(x), x) : engine.matMul(x, engine.transpose(x));
  });
}

/** A float32 Gram made float64 with its exact diagonal put back, its eigenvalues, and the check's verdict. */
export interface CheckedGram {
  /** n x n, the exact float64 diagonal in place of the float32 one; in the units of the scaled values. */
  readonly gram: Float64Array;
  /** Descending. */
  readonly eigenvalues: Float64Array;
  /** Sum of the exact diagonal. */
  readonly trace: number;
  /** The perturbation the check applied to every eigenvalue (the size of the float32 error). */
  readonly delta: number;
  /** Whether H moved by at most SENSITIVITY_LIMIT under the +-delta shift. */
  readonly accepted: boolean;
}

/**
 * The float32 check (file comment): puts the exact diagonal back, measures the product's relative
 * error on it, and shifts every eigenvalue by +-delta. Shared by the entropy, the inspector's
 * spectra and the closed form's group Grams on the GPU (recast/groupGramGpu.ts).
 */
export function checkFloat32Gram(p: Pick<Prepared, 'n' | 'diag' | 'scale'>, g32: ArrayLike<number>): CheckedGram {
  const { n, diag, scale } = p;
  const gram = new Float64Array(n * n);
  const s2 = scale * scale;
  let relErr = 0;
  let trace = 0;
  gram.set(g32);
  for (let i = 0; i < n; i++) {
    const exact = diag[i] * s2;
    if (exact > 0) relErr = Math.max(relErr, Math.abs(gram[i * n + i] - exact) / exact);
    gram[i * n + i] = exact;
    trace += exact;
  }
  const eigenvalues = symmetricEigenvalues(gram, n);
  const h = entropyOf(eigenvalues);
  const delta = (Math.max(relErr, 2 ** -24) * trace) / Math.sqrt(n);
  const sensitivity = Math.max(Math.abs(entropyOf(eigenvalues, delta) - h), Math.abs(entropyOf(eigenvalues, -delta) - h));
  return { gram, eigenvalues, trace, delta, accepted: sensitivity <= SENSITIVITY_LIMIT };
}

/** Entropy from the engine's float32 Gram with the exact diagonal put back, or the float64 route when the check rejects it. */
export function finish(p: Prepared, g32: ArrayLike<number>, template: Float32Array, rows: number, cols: number): RoutedEntropy {
  const checked = checkFloat32Gram(p, g32);
  if (!checked.accepted) return { ...entropyFloat64(template, rows, cols), route: 'float64-fallback' };
  return { ...result(entropyOf(checked.eigenvalues), p.n), route: 'float32' };
}

export const NOT_FINITE = (n: number): RoutedEntropy => ({ entropy: Number.NaN, normalized: Number.NaN, rank: n, route: 'float64' });

/** Below this smaller side the float32 route saves nothing worth its check: float64 directly. */
const MIN_FLOAT32_SIDE = 128;

/**
 * One template on the CPU, the default route: the float32 Gram on the SIMD kernel (linalg/gram32.ts),
 * checked (checkFloat32Gram), else the float64 route; small or kernel-less ones go to float64
 * directly. Near-square ones take the float32 route too: the kernel's float32 sums run over 256
 * values only, and the check accepts them (measured: every ViT-S and ViT-B attention projection,
 * and Gaussian 256 x 256 to 768 x 768, within 2e-7 of float64), where a float32 product
 * summed whole (tfjs, the GPU) was rejected. Depends on the template alone (never on its
 * neighbours), so every thread computes the same bits for it.
 */
export function entropyExact(template: Float32Array, rows: number, cols: number): RoutedEntropy {
  const float64 = (): RoutedEntropy => ({ ...entropyFloat64(template, rows, cols), route: 'float64' });
  if (Math.min(rows, cols) < MIN_FLOAT32_SIDE) return float64();
  const p = prepare(template, rows, cols);
  if (!p) return NOT_FINITE(Math.min(rows, cols));
  if (p.diag.every((d) => d === 0)) return { ...result(0, p.n), route: 'float32' };
  const g32 = gramFloat32(p.x32, rows, cols);
  return g32 ? finish(p, g32, template, rows, cols) : float64();
}

/**
 * One template on `engine` (float32 Gram, float64 eigenvalues), or on the float64 JS route when
 * the check above rejects it. Deterministic for a given backend; leaves no tensors behind.
 */
export function entropyOnEngine(engine: Tf, template: Float32Array, rows: number, cols: number): RoutedEntropy {
  const p = prepare(template, rows, cols);
  if (!p) return NOT_FINITE(Math.min(rows, cols));
  if (p.diag.every((d) => d === 0)) return { ...result(0, p.n), route: 'float32' };
  const scaled = gramTensor(engine, p, rows, cols);
  let g32: Float32Array;
  try {
    g32 = scaled.dataSync() as Float32Array;
  } finally {
    scaled.dispose();
  }
  return finish(p, g32, template, rows, cols);
}

export interface BankEntropy {
  /** Means over the bank's templates (docs/RECAST.md: per bank, the mean). */
  readonly entropy: number;
  readonly normalized: number;
  /** Estimated templates: how, and the mean of their errors (a bound on the mean's error). */
  readonly estimated?: EntropyEstimated;
  readonly templates: readonly RoutedEntropy[];
}

/** One template's size, its matrix view, and whether it is near-square (longer side < 2x the shorter). */
export function bankShape(
  templates: Float32Array,
  n: number,
  shape: readonly number[],
): { size: number; rows: number; cols: number; square: boolean } {
  const size = templates.length / n;
  const rows = shape[0];
  const cols = size / rows;
  return { size, rows, cols, square: nearSquare(rows, cols) };
}

/** Longer side under twice the shorter (and not a vector): the float32 check rejects such matrices (bankEntropy). */
export function nearSquare(rows: number, cols: number): boolean {
  return Math.max(rows, cols) < 2 * Math.min(rows, cols) && Math.min(rows, cols) > 1;
}

/** The mean of a bank's template entropies, estimated or exact, with the estimates' mean error. */
export function bankMean(out: readonly RoutedEntropy[]): BankEntropy {
  const n = Math.max(1, out.length);
  let entropy = 0;
  let normalized = 0;
  let error = 0;
  let how: EntropyEstimated | undefined;
  for (const e of out) {
    entropy += e.entropy / n;
    normalized += e.normalized / n;
    if (e.estimated) {
      how ??= e.estimated;
      error += e.estimated.error / n;
    }
  }
  return { entropy, normalized, templates: out, ...(how ? { estimated: { probes: how.probes, steps: how.steps, error } } : {}) };
}

/**
 * Entropy of each of the `n` templates (each `shape`, concatenated in `templates`) and their mean.
 * `engine` null means this thread's CPU route (entropyExact). The signal is checked between templates.
 */
export function bankEntropy(
  templates: Float32Array,
  n: number,
  shape: readonly number[],
  engine: Tf | null,
  signal?: AbortSignal,
  /** Called after each template with the number done (progress inside the entropy phase). */
  onTemplate?: (done: number) => void,
): BankEntropy {
  const { size, rows, cols, square } = bankShape(templates, n, shape);
  const out: RoutedEntropy[] = [];
  // Templates of one bank share shape and origin, so one rejected by the float32 check predicts
  // the rest (ViT-S attn.proj: 11 of 12): they go straight to float64 instead of paying twice.
  // Near-square ones (longer side < 2x the shorter) start there: random-matrix theory puts their
  // smallest singular values near zero, where the check rejects a float32 Gram (every ViT-S
  // attn.proj bank did), and float32 would save them little.
  // Without an engine each template goes its own way (entropyExact), so the pool's threads
  // (entropyPool.ts) compute the same bits.
  let fellBack = false;
  for (let t = 0; t < n; t++) {
    signal?.throwIfAborted();
    const T = templates.subarray(t * size, (t + 1) * size);
    const e: RoutedEntropy = !engine
      ? entropyExact(T, rows, cols)
      : square
        ? { ...entropyFloat64(T, rows, cols), route: 'float64' }
        : fellBack
          ? { ...entropyFloat64(T, rows, cols), route: 'float64-fallback' }
          : entropyOnEngine(engine, T, rows, cols);
    if (e.route === 'float64-fallback') fellBack = true;
    out.push(e);
    onTemplate?.(t + 1);
  }
  return bankMean(out);
}
