// The authors' loop (docs/RECAST.md section 2) as one fused pass per step over a bank's elements
// (paperKernel.ts), split over threads (paperPool.ts): the same initial state, noise stream, loss,
// clipping, RMSprop, StepLR and kept state as the tfjs loop in paper.ts, with hand-derived gradients.
// Small values (coefficients, their optimizer state) are updated here between passes, in float32
// as tfjs does; the sums over all elements are float64.
import type { BankPlan } from './grouping';
import type { FitContext, GroupFit } from './fitting';
import {
  chunkCount,
  partialStride,
  paramsLength,
  PARAM_APPLY,
  PARAM_FLUSH,
  PARAM_GRAD,
  PARAM_LR,
  PARAM_M,
  PARAM_SAVE,
  PARAM_SCALE,
  PARTIAL_DM,
  PARTIAL_LOSS,
  PARTIAL_NORM,
  RMS_ALPHA,
  RMS_EPS,
  RMS_ONE_MINUS_ALPHA,
  type KernelBank,
} from './paperKernel';
import { initialState, memberWeights } from './paperInit';
import { defaultThreads, doubleArray, floatArray, PassRunner } from './paperPool';
import { hashString, Random } from './random';

/** What method.backend says for this loop. */
export const FUSED_BACKEND = 'fused-cpu';

export interface FusedOptions {
  /** Threads for the passes (default: the cores, for a bank big enough to gain from them). */
  readonly threads?: number;
}

const f32 = Math.fround;

/** M[l,t] = mean over k of (C + noise)[l,k,t], in float32 as tfjs' add and mean compute it. */
function writeMeans(params: Float64Array, C: Float32Array, noise: Float32Array | null, L: number, K: number, n: number): void {
  for (let l = 0; l < L; l++) {
    for (let t = 0; t < n; t++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const i = (l * K + k) * n + t;
        s = f32(s + (noise ? f32(C[i] + noise[i]) : C[i]));
      }
      params[PARAM_M + l * n + t] = f32(s / K);
    }
  }
}

/** Fits one bank with the fused loop; the result matches the tfjs loop's to float32 rounding. */
export async function fitPaperFused(
  rows: Float32Array[],
  bank: BankPlan,
  ctx: FitContext,
  options: FusedOptions = {},
): Promise<GroupFit & { readonly threads: number }> {
  const o = ctx.fit;
  const rng = new Random((o.seed ^ hashString(bank.name)) >>> 0);
  const init = initialState(rows, bank, o.method === 'spectral+refine', o.objective, rng);
  const L = rows.length,
    K = bank.sets,
    n = init.n,
    d = bank.size;
  const threads = Math.max(1, Math.floor(options.threads ?? defaultThreads(n, d)));
  const shared = threads > 1;
  const chunks = chunkCount(d);
  const stride = partialStride(L, n);

  const kb: KernelBank = {
    d,
    L,
    n,
    mse: o.loss === 'mse',
    beta: o.beta,
    weights: Float64Array.from(memberWeights(bank, o.moduleWeights)),
    target: floatArray(L * d, shared),
    T: floatArray(n * d, shared),
    sq: floatArray(n * d, shared),
    grad: floatArray(n * d, shared),
    best: floatArray(n * d, shared),
    params: doubleArray(paramsLength(L, n), shared),
    partials: doubleArray(chunks * stride, shared),
  };
  rows.forEach((r, l) => kb.target.set(r, l * d));
  kb.T.set(init.templates);
  kb.best.set(init.templates);
  const C = Float32Array.from(init.coefficients);
  const sqC = new Float32Array(C.length);
  const bestC = Float32Array.from(C);
  const dM = new Float64Array(L * n);
  const p = kb.params;

  const runner = new PassRunner(kb, threads);
  /** One pass; returns the loss and the template gradient's squared norm, and fills dM. */
  const pass = async (): Promise<{ loss: number; norm: number }> => {
    await runner.pass();
    let loss = 0,
      norm = 0;
    dM.fill(0);
    for (let c = 0; c < chunks; c++) {
      const q = c * stride;
      loss += kb.partials[q + PARTIAL_LOSS];
      if (p[PARAM_GRAD] !== 1) continue;
      norm += kb.partials[q + PARTIAL_NORM];
      for (let j = 0; j < L * n; j++) dM[j] += kb.partials[q + PARTIAL_DM + j];
    }
    return { loss: loss / d, norm };
  };

  let bestLoss = Number.POSITIVE_INFINITY;
  const every = Math.max(1, Math.floor(o.steps / 100));
  let yielded = performance.now();
  try {
    for (let step = 0; step < o.steps; step++) {
      ctx.signal?.throwIfAborted();
      const lr = f32(o.lr * Math.pow(o.lrGamma, Math.floor(step / o.lrStep)));
      writeMeans(p, C, o.noise > 0 ? rng.normals(L * K * n, o.noise) : null, L, K, n);
      p[PARAM_GRAD] = 1;
      const { loss, norm } = await pass();
      // The loss belongs to the state before this step's update: T is still in the buffer (the
      // next pass copies it to `best` before updating), C is copied now.
      const isBest = loss < bestLoss;
      if (isBest) {
        bestLoss = loss;
        bestC.set(C);
      }
      // clip_grad_norm_ over templates and coefficients: dloss/dC[l,k,t] = dM[l,t] / K for every k.
      let normC = 0;
      for (let j = 0; j < L * n; j++) {
        const g = f32(f32(dM[j]) / K);
        dM[j] = g;
        normC += K * g * g;
      }
      const total = f32(Math.sqrt(f32(norm) + f32(normC)));
      const scale = Math.min(1, f32(f32(o.clip) / f32(total + f32(1e-6))));
      for (let l = 0; l < L; l++)
        for (let k = 0; k < K; k++)
          for (let t = 0; t < n; t++) {
            const i = (l * K + k) * n + t;
            const g = f32(dM[l * n + t] * scale);
            sqC[i] = f32(sqC[i] * RMS_ALPHA) + f32(f32(g * g) * RMS_ONE_MINUS_ALPHA);
            C[i] -= f32(g * lr) / (Math.sqrt(sqC[i]) + RMS_EPS);
          }
      p[PARAM_APPLY] = 1;
      p[PARAM_SAVE] = isBest ? 1 : 0;
      p[PARAM_SCALE] = scale;
      p[PARAM_LR] = lr;
      if (step % every === 0 || step === o.steps - 1) ctx.progress(step + 1, o.steps, loss);
      // A single thread never waits on anything: let cancellation and progress through now and then.
      if (performance.now() - yielded > 50) {
        await new Promise((r) => setImmediate(r));
        yielded = performance.now();
      }
    }
    // The last update, and the final state scored without noise.
    writeMeans(p, C, null, L, K, n);
    p[PARAM_GRAD] = 0;
    // Threads that keep their chunks' state to themselves write it back to the bank after this pass.
    p[PARAM_FLUSH] = 1;
    const { loss: last } = await pass();
    const final = last < bestLoss;
    if (final) bestLoss = last;
    // Handed out as they are (the store copies them): members, their copy and 4 template-sized
    // arrays are what reconstruct()'s memory estimate counts for this method.
    const templates = final ? kb.T : kb.best;
    const coefs = final ? C : bestC;
    const coefficients = rows.map((_, l) => coefs.slice(l * K * n, (l + 1) * K * n));
    return { templates, coefficients, n, rank: null, loss: bestLoss, backend: FUSED_BACKEND, threads: runner.threads };
  } finally {
    await runner.close();
  }
}
