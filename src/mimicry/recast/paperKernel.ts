// One fused pass of the authors' loop (docs/RECAST.md section 2) over a range of element chunks, in
// plain Float32Array loops with hand-derived gradients. The same code runs on the fitting thread and
// on the pool's workers (paperWorker.ts), each on its own chunks of the same shared buffers.
//
// A pass does, per element: the RMSprop update of the templates with the gradient the previous pass
// stored (when one is pending), then the forward model, the loss and the gradients at the updated
// state. What needs every element (the loss, the gradient norm for clipping, the coefficients'
// gradient) is summed per chunk in float64; the fitting thread adds the chunks up in order, so the
// result does not depend on how many threads ran them.
//
// With M[l,t] = (1/K) sum_k (C[l,k,t] + noise), W_l = sum_t M[l,t] T_t and x = W_l - W*_l:
//   loss        = sum_l w_l * (1/d) * sum_i rho(x[l,i])
//   G[l,i]      = dloss/dW[l,i] = (w_l / d) * rho'(x[l,i])
//   dloss/dT[t,i] = sum_l M[l,t] G[l,i]
//   dloss/dC[l,k,t] = (1/K) sum_i G[l,i] T[t,i]        (the same for every k)
// rho = SmoothL1(beta): rho'(x) = x / beta inside |x| < beta, sign(x) outside; or MSE: rho'(x) = 2x.

/** Elements per chunk: the unit of work split between threads and of the per-chunk sums. */
export const CHUNK = 2048;

/** PyTorch RMSprop defaults (alpha, eps): the authors' optimizer, as the float32 scalars tfjs uses. */
export const RMS_ALPHA = Math.fround(0.99);
export const RMS_ONE_MINUS_ALPHA = Math.fround(1 - 0.99);
export const RMS_EPS = Math.fround(1e-8);

/** What every thread of one bank sees: its size, the loss, and the large shared arrays. */
export interface KernelBank {
  /** Elements per member. */
  readonly d: number;
  /** Members. */
  readonly L: number;
  /** Templates. */
  readonly n: number;
  readonly mse: boolean;
  readonly beta: number;
  /** w_l, the member's loss weight. */
  readonly weights: Float64Array;
  /** [L, d] the original weights W*. */
  readonly target: Float32Array;
  /** [n, d] templates. */
  readonly T: Float32Array;
  /** [n, d] RMSprop's running mean of squared (clipped) gradients. */
  readonly sq: Float32Array;
  /** [n, d] the last pass's template gradient (unclipped), applied by the next pass. */
  readonly grad: Float32Array;
  /** [n, d] the kept (lowest-loss) templates. */
  readonly best: Float32Array;
  /** Pass parameters, written by the fitting thread before each pass (layout: PARAM_*). */
  readonly params: Float64Array;
  /** Per chunk: PARTIAL_LOSS, PARTIAL_NORM, then dloss/dM [L, n] (before the 1/K). */
  readonly partials: Float64Array;
}

export const PARAM_APPLY = 0; // 1: apply the pending update (grad * scale, lr) first
export const PARAM_SAVE = 1; // 1: copy the templates to `best` before that update
export const PARAM_SCALE = 2; // gradient clipping factor of the pending update
export const PARAM_LR = 3;
export const PARAM_GRAD = 4; // 1: compute gradients (0: the loss only)
export const PARAM_M = 5; // then M [L, n]

export const PARTIAL_LOSS = 0;
export const PARTIAL_NORM = 1;
export const PARTIAL_DM = 2;

export const paramsLength = (L: number, n: number) => PARAM_M + L * n;
export const partialStride = (L: number, n: number) => PARTIAL_DM + L * n;
export const chunkCount = (d: number) => Math.max(1, Math.ceil(d / CHUNK));

/** Per-thread working memory: the chunk's rebuilt weights, then their gradients, [L, CHUNK] in float64. */
export function kernelScratch(L: number): Float64Array {
  return new Float64Array(L * CHUNK);
}

/** Runs the pass on chunks [c0, c1) and writes their partial sums. */
export function fusedPass(b: KernelBank, c0: number, c1: number, work: Float64Array): void {
  if (b.L === 2 && b.n === 2) passTwoByTwo(b, c0, c1);
  else fusedPassGeneric(b, c0, c1, work);
}

/** The pass for any L and n: one loop per step and per member or template, over a chunk at a time. */
export function fusedPassGeneric(b: KernelBank, c0: number, c1: number, work: Float64Array): void {
  const { d, L, n, target, T, sq, grad, best, params, partials, weights } = b;
  const apply = params[PARAM_APPLY] === 1;
  const save = params[PARAM_SAVE] === 1;
  const scale = params[PARAM_SCALE];
  const lr = params[PARAM_LR];
  const wantGrad = params[PARAM_GRAD] === 1;
  const stride = partialStride(L, n);
  const mse = b.mse;
  const beta = b.beta;
  const halfOverBeta = 0.5 / beta;
  const halfBeta = 0.5 * beta;
  for (let c = c0; c < c1; c++) {
    const i0 = c * CHUNK;
    const len = Math.min(d, i0 + CHUNK) - i0;

    // 1. The previous step's RMSprop update, with the clipping factor known only after its pass.
    if (apply) {
      for (let t = 0; t < n; t++) {
        const o = t * d + i0;
        if (save) for (let j = 0; j < len; j++) best[o + j] = T[o + j];
        for (let j = 0; j < len; j++) {
          const g = grad[o + j] * scale;
          sq[o + j] = sq[o + j] * RMS_ALPHA + g * g * RMS_ONE_MINUS_ALPHA;
          T[o + j] -= (g * lr) / (Math.sqrt(sq[o + j]) + RMS_EPS);
        }
      }
    } else if (save) for (let t = 0; t < n; t++) best.set(T.subarray(t * d + i0, t * d + i0 + len), t * d + i0);

    // 2. Forward: W_l on this chunk, in `work`.
    for (let l = 0; l < L; l++) {
      const w = l * CHUNK;
      const m0 = params[PARAM_M + l * n];
      for (let j = 0; j < len; j++) work[w + j] = m0 * T[i0 + j];
      for (let t = 1; t < n; t++) {
        const m = params[PARAM_M + l * n + t];
        const o = t * d + i0;
        for (let j = 0; j < len; j++) work[w + j] += m * T[o + j];
      }
    }

    // 3. Loss, and G replacing W in `work`.
    const p = c * stride;
    let loss = 0;
    for (let l = 0; l < L; l++) {
      const w = l * CHUNK;
      const o = l * d + i0;
      const gl = Math.fround(Math.fround(weights[l]) / d);
      let s = 0;
      if (mse) {
        const g2 = 2 * gl;
        for (let j = 0; j < len; j++) {
          const x = Math.fround(work[w + j]) - target[o + j];
          s += x * x;
          work[w + j] = g2 * x;
        }
      } else {
        const gb = gl / beta;
        for (let j = 0; j < len; j++) {
          const x = Math.fround(work[w + j]) - target[o + j];
          const a = Math.abs(x);
          if (a < beta) {
            s += halfOverBeta * x * x;
            work[w + j] = gb * x;
          } else {
            s += a - halfBeta;
            work[w + j] = x > 0 ? gl : -gl;
          }
        }
      }
      loss += weights[l] * s;
    }
    partials[p + PARTIAL_LOSS] = loss;
    if (!wantGrad) continue;

    // 4. dloss/dM: chunk dot products of each member's G with each template.
    for (let l = 0; l < L; l++) {
      const w = l * CHUNK;
      for (let t = 0; t < n; t++) {
        const o = t * d + i0;
        let s = 0;
        for (let j = 0; j < len; j++) s += work[w + j] * T[o + j];
        partials[p + PARTIAL_DM + l * n + t] = s;
      }
    }

    // 5. dloss/dT, stored for the next pass, and its squared norm.
    let norm = 0;
    for (let t = 0; t < n; t++) {
      const o = t * d + i0;
      const m0 = params[PARAM_M + t];
      for (let j = 0; j < len; j++) grad[o + j] = m0 * work[j];
      for (let l = 1; l < L; l++) {
        const m = params[PARAM_M + l * n + t];
        const w = l * CHUNK;
        for (let j = 0; j < len; j++) grad[o + j] += m * work[w + j];
      }
      let normT = 0;
      for (let j = 0; j < len; j++) normT += grad[o + j] * grad[o + j];
      norm += normT;
    }
    partials[p + PARTIAL_NORM] = norm;
  }
}

/**
 * The pass for 2 members and 2 templates (the authors' setting: 2 blocks per group, n = 2), one
 * element at a time with everything in locals: about twice as fast as the generic pass, and the same
 * bits (the same operations in the same order, each sum in its own accumulator).
 */
function passTwoByTwo(b: KernelBank, c0: number, c1: number): void {
  const { d, target, T, sq, grad, best, params, partials, weights } = b;
  const apply = params[PARAM_APPLY] === 1;
  const save = params[PARAM_SAVE] === 1;
  const scale = params[PARAM_SCALE];
  const lr = params[PARAM_LR];
  const wantGrad = params[PARAM_GRAD] === 1;
  const stride = partialStride(2, 2);
  const mse = b.mse;
  const beta = b.beta;
  const halfOverBeta = 0.5 / beta;
  const halfBeta = 0.5 * beta;
  const m00 = params[PARAM_M],
    m01 = params[PARAM_M + 1],
    m10 = params[PARAM_M + 2],
    m11 = params[PARAM_M + 3];
  const w0 = weights[0],
    w1 = weights[1];
  const g0 = Math.fround(Math.fround(w0) / d),
    g1 = Math.fround(Math.fround(w1) / d);
  const gb0 = g0 / beta,
    gb1 = g1 / beta;
  for (let c = c0; c < c1; c++) {
    const i0 = c * CHUNK;
    const i1 = Math.min(d, i0 + CHUNK);
    let s0 = 0,
      s1 = 0,
      d00 = 0,
      d01 = 0,
      d10 = 0,
      d11 = 0,
      n0 = 0,
      n1 = 0;
    for (let i = i0; i < i1; i++) {
      const k = d + i;
      // Math.fround(v) is what storing v in a Float32Array keeps: the value is used without a reload.
      let t0 = T[i],
        t1 = T[k];
      if (save) {
        best[i] = t0;
        best[k] = t1;
      }
      if (apply) {
        const ga = grad[i] * scale;
        const qa = Math.fround(sq[i] * RMS_ALPHA + ga * ga * RMS_ONE_MINUS_ALPHA);
        sq[i] = qa;
        t0 = Math.fround(t0 - (ga * lr) / (Math.sqrt(qa) + RMS_EPS));
        T[i] = t0;
        const gb = grad[k] * scale;
        const qb = Math.fround(sq[k] * RMS_ALPHA + gb * gb * RMS_ONE_MINUS_ALPHA);
        sq[k] = qb;
        t1 = Math.fround(t1 - (gb * lr) / (Math.sqrt(qb) + RMS_EPS));
        T[k] = t1;
      }
      const x0 = Math.fround(m00 * t0 + m01 * t1) - target[i];
      const x1 = Math.fround(m10 * t0 + m11 * t1) - target[k];
      let G0: number, G1: number;
      if (mse) {
        s0 += x0 * x0;
        G0 = 2 * g0 * x0;
        s1 += x1 * x1;
        G1 = 2 * g1 * x1;
      } else {
        const a0 = Math.abs(x0);
        if (a0 < beta) {
          s0 += halfOverBeta * x0 * x0;
          G0 = gb0 * x0;
        } else {
          s0 += a0 - halfBeta;
          G0 = x0 > 0 ? g0 : -g0;
        }
        const a1 = Math.abs(x1);
        if (a1 < beta) {
          s1 += halfOverBeta * x1 * x1;
          G1 = gb1 * x1;
        } else {
          s1 += a1 - halfBeta;
          G1 = x1 > 0 ? g1 : -g1;
        }
      }
      if (!wantGrad) continue;
      d00 += G0 * t0;
      d01 += G0 * t1;
      d10 += G1 * t0;
      d11 += G1 * t1;
      const q0 = Math.fround(Math.fround(m00 * G0) + m10 * G1);
      const q1 = Math.fround(Math.fround(m01 * G0) + m11 * G1);
      grad[i] = q0;
      grad[k] = q1;
      n0 += q0 * q0;
      n1 += q1 * q1;
    }
    const p = c * stride;
    partials[p + PARTIAL_LOSS] = w0 * s0 + w1 * s1;
    if (!wantGrad) continue;
    partials[p + PARTIAL_NORM] = n0 + n1;
    partials[p + PARTIAL_DM] = d00;
    partials[p + PARTIAL_DM + 1] = d01;
    partials[p + PARTIAL_DM + 2] = d10;
    partials[p + PARTIAL_DM + 3] = d11;
  }
}
