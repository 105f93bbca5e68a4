// One fused pass of the authors' loop (docs/RECAST.md section 2) over a range of element chunks, in
// plain Float32Array loops with hand-derived gradients; the loop's threads (slicePasses) run the
// authors' setting (2 members, 2 templates) on a WebAssembly SIMD kernel where it loads
// (linalg/kernels.wat, paper22: the same bits as its JavaScript loop). The same code runs on the
// fitting thread and on the pool's workers (paperWorker.ts), each on its own chunks of the same
// shared buffers.
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

import { ownKernels, reserve, type Kernels } from '../linalg/kernels';

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
export const PARAM_FLUSH = 5; // 1: a thread that keeps its chunks' state to itself (slicePasses) writes it back after this pass
export const PARAM_M = 6; // then M [L, n]

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

/** Runs the pass on chunks [c0, c1) in JavaScript and writes their partial sums (slicePasses takes the kernel where it can). */
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

/** Float64 params the kernel reads (kernels.wat, paper22), then its eight sums. */
const KERNEL_PARAMS = 18;

/** Writes this pass's kernel params (paper22's layout) into `out`; answers its flags. */
function kernelParams(b: KernelBank, out: Float64Array): number {
  const { d, params, weights, beta } = b;
  const g0 = Math.fround(Math.fround(weights[0]) / d),
    g1 = Math.fround(Math.fround(weights[1]) / d);
  out.set([
    params[PARAM_SCALE],
    params[PARAM_LR],
    params[PARAM_M],
    params[PARAM_M + 1],
    params[PARAM_M + 2],
    params[PARAM_M + 3],
    beta,
    0.5 / beta,
    0.5 * beta,
    g0,
    g1,
    g0 / beta,
    g1 / beta,
    2 * g0,
    2 * g1,
    RMS_ALPHA,
    RMS_ONE_MINUS_ALPHA,
    RMS_EPS,
  ]);
  return (params[PARAM_APPLY] === 1 ? 1 : 0) | (params[PARAM_GRAD] === 1 ? 2 : 0) | (b.mse ? 4 : 0);
}

/** Writes a chunk's eight kernel sums (at `sums` in `f64`) as its partials, as passTwoByTwo does. */
function kernelPartials(b: KernelBank, c: number, f64: Float64Array, sums: number): void {
  const { partials, weights } = b;
  const p = c * partialStride(2, 2);
  partials[p + PARTIAL_LOSS] = weights[0] * f64[sums] + weights[1] * f64[sums + 1];
  if (b.params[PARAM_GRAD] !== 1) return;
  partials[p + PARTIAL_NORM] = f64[sums + 6] + f64[sums + 7];
  partials[p + PARTIAL_DM] = f64[sums + 2];
  partials[p + PARTIAL_DM + 1] = f64[sums + 3];
  partials[p + PARTIAL_DM + 2] = f64[sums + 4];
  partials[p + PARTIAL_DM + 3] = f64[sums + 5];
}

/** One thread's passes over its chunks [c0, c1) of a bank, once per step of the loop. */
export interface SlicePasses {
  run(): void;
}

/** The most bytes of state a thread keeps to itself (ten float32 per element of its chunks). */
export const RESIDENT_MAX_BYTES = 512 << 20;

/**
 * The passes of a thread over chunks [c0, c1) of `b`. In the authors' setting (2 members, 2 templates)
 * on the SIMD kernel (linalg/kernels.wat, paper22: passTwoByTwo's operations two elements at a time),
 * the chunks' state (templates, squares, gradients, kept templates) and targets live in a kernel
 * memory of the thread's own from the first pass on, so a pass copies nothing: the bank's T, sq, grad
 * and best hold the state again only after a pass with PARAM_FLUSH set. Otherwise (no SIMD, another
 * setting, more state than RESIDENT_MAX_BYTES) each run is fusedPass. The same bits either way.
 */
export function slicePasses(b: KernelBank, c0: number, c1: number): SlicePasses {
  const elements = Math.min(b.d, c1 * CHUNK) - c0 * CHUNK;
  if (b.L === 2 && b.n === 2 && elements > 0 && elements * 40 <= RESIDENT_MAX_BYTES) {
    const k = ownKernels();
    try {
      if (k) return new ResidentTwoByTwo(k, b, c0, c1);
    } catch {
      // Its memory could not grow that far: the JavaScript pass instead.
    }
  }
  const work = kernelScratch(b.L);
  return { run: () => fusedPass(b, c0, c1, work) };
}

/** The kernel's state of a slice: T0 T1 SQ0 SQ1 GRAD0 GRAD1 TARGET0 TARGET1 BEST0 BEST1, then params and sums. */
class ResidentTwoByTwo implements SlicePasses {
  private readonly i0: number;
  private readonly len: number;
  /** Bytes between the slice's arrays. */
  private readonly stride: number;
  private readonly f32: Float32Array;
  private readonly f64: Float64Array;

  constructor(
    private readonly k: Kernels,
    private readonly b: KernelBank,
    private readonly c0: number,
    private readonly c1: number,
  ) {
    this.i0 = c0 * CHUNK;
    this.len = Math.min(b.d, c1 * CHUNK) - this.i0;
    // One spare element per array for an odd tail's second lane, rounded to 16 bytes.
    this.stride = Math.ceil(((this.len + 1) * 4) / 16) * 16;
    const buffer = reserve(k, 10 * this.stride + (KERNEL_PARAMS + 8) * 8);
    this.f32 = new Float32Array(buffer, 0, (10 * this.stride) / 4);
    this.f64 = new Float64Array(buffer, 10 * this.stride, KERNEL_PARAMS + 8);
    const { d, T, sq, grad, target, best } = b;
    [T, T, sq, sq, grad, grad, target, target, best, best].forEach((from, slot) => {
      const o = (slot % 2) * d + this.i0;
      this.f32.set(from.subarray(o, o + this.len), this.at(slot));
    });
  }

  /** Where array `slot` starts, in float32s. */
  private at(slot: number): number {
    return (slot * this.stride) / 4;
  }

  run(): void {
    const { b, f32, f64, stride } = this;
    const flags = kernelParams(b, f64);
    const save = b.params[PARAM_SAVE] === 1;
    const params = 10 * stride;
    for (let c = this.c0; c < this.c1; c++) {
      const from = (c - this.c0) * CHUNK;
      const n = Math.min(this.len - from, CHUNK);
      if (save) for (const t of [0, 1]) f32.copyWithin(this.at(8 + t) + from, this.at(t) + from, this.at(t) + from + n);
      this.k.paper22(from * 4, n, stride, params, flags);
      kernelPartials(b, c, f64, KERNEL_PARAMS);
    }
    if (b.params[PARAM_FLUSH] !== 1) return;
    const { d, T, sq, grad, best } = b;
    for (const [slot, to] of [
      [0, T],
      [1, T],
      [2, sq],
      [3, sq],
      [4, grad],
      [5, grad],
      [8, best],
      [9, best],
    ] as const)
      to.set(f32.subarray(this.at(slot), this.at(slot) + this.len), (slot % 2) * d + this.i0);
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
