// The authors' Neural Mimicry loop (docs/RECAST.md section 2), one group at a time: kaiming-normal
// templates, orthogonal (unit) coefficient sets, weighted SmoothL1 (or MSE), coefficient noise,
// RMSprop with StepLR, global grad-norm clipping, lowest-loss state kept. Groups share no
// parameters, so fitting them one by one equals the authors' joint loop except that clipping and
// the best-state choice apply per group.
//
// Two loops compute it: on a GPU backend of TensorFlow.js, the tfjs loop below (autograd, the
// state stays on the device); on the CPU, the fused loop of paperFused.ts (hand-derived gradients,
// one pass per step, every core), which follows the same trajectory to float32 rounding and is
// several times faster than tfjs' wasm or cpu backend. `paperLoopFor` is where that is decided.
import type { BankPlan } from './grouping';
import { hashString, Random } from './random';
import { type FitContext, type GroupFit, type GroupFitter } from './fitting';
import { fitPaperFused } from './paperFused';
import { initialState, memberWeights } from './paperInit';
import { assertFitsDevice, gpuBufferLimit, loadTf, readBack } from './tfjs';
import type { Backend } from './types';
import type { Tensor, Scalar, Variable } from '@tensorflow/tfjs-core';

/** PyTorch RMSprop defaults (alpha, eps): the authors' optimizer. */
const RMS_ALPHA = 0.99;
const RMS_EPS = 1e-8;
/** Optimizer steps per loss read-back in the tfjs loop. */
const READ_EVERY = 10;

/** tfjs backends whose loop is replaced by the fused CPU loop: the ones that run on the CPU in this process. */
const FUSED_INSTEAD_OF = new Set(['wasm', 'cpu']);

/**
 * Which loop the paper method runs for `backend`: `fused` for the CPU backends (wasm, cpu, or
 * auto when it lands on one of them), `tfjs` for the others (GPU and native TensorFlow backends).
 */
export async function paperLoopFor(backend: Backend): Promise<'fused' | 'tfjs'> {
  if (backend === 'wasm' || backend === 'cpu') return 'fused';
  if (backend !== 'auto') return 'tfjs';
  const { name } = await loadTf(backend);
  return FUSED_INSTEAD_OF.has(name) ? 'fused' : 'tfjs';
}

/** The paper method (and spectral+refine) on one bank, on the loop `paperLoopFor` picks. */
export const paperFitter: GroupFitter = async (rows, bank, ctx): Promise<GroupFit> =>
  (await paperLoopFor(ctx.fit.backend)) === 'fused' ? fitPaperFused(rows, bank, ctx) : paperFitterTfjs(rows, bank, ctx);

/** The loop on TensorFlow.js (autograd) on `ctx.fit.backend`: GPU backends, and the fused loop's reference in tests. */
export async function paperFitterTfjs(rows: Float32Array[], bank: BankPlan, ctx: FitContext): Promise<GroupFit> {
  const o = ctx.fit;
  const { tf, name: backend } = await loadTf(o.backend);
  const rng = new Random((o.seed ^ hashString(bank.name)) >>> 0);
  const init = initialState(rows, bank, o.method === 'spectral+refine', o.objective, rng);
  const L = rows.length,
    K = bank.sets,
    n = init.n,
    d = bank.size;

  // Column chunks: the loss and its gradients are sums over the members' elements, so members and
  // templates split by the same columns, each chunk its own tensors within the device's buffer
  // limit, the coefficients shared. The indivisible unit is the coefficients [L, K, n] (one column,
  // max(L, n) values, is never larger): only a bank whose coefficients exceed the limit is refused.
  assertFitsDevice(backend, L * K * n * 4, `group ${bank.name}'s coefficients (${L} members x ${K} sets x ${n} templates)`);
  const chunks = columnChunks(d, Math.floor(gpuBufferLimit(backend) / (4 * Math.max(L, n))));
  const flat = new Float32Array(L * d);
  rows.forEach((r, l) => flat.set(r, l * d));
  const targets = chunks.map((c) => tf.tensor2d(columns(flat, L, d, c), [L, c.width]));
  const weights = tf.tensor1d(memberWeights(bank, o.moduleWeights));
  // tidy frees the initial values; the variables keep their own reference to the data.
  const Ts = chunks.map((c) => tf.tidy(() => tf.variable(tf.tensor2d(columns(init.templates, n, d, c), [n, c.width]))));
  const C = tf.tidy(() => tf.variable(tf.tensor3d(init.coefficients, [L, K, n])));
  const vars: Variable[] = [...Ts, C];
  const sq = vars.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));

  // In turn, not tf.addN: its webgpu kernel binds every input at once, and a shader stage may
  // bind only a few storage buffers (8 on lavapipe), fewer than the chunks of a big bank.
  const addAll = <T extends Tensor>(ts: T[]): T => ts.reduce((a, b) => tf.add(a, b));
  const lossOf = (coefs: Tensor): Scalar =>
    tf.tidy(() => {
      const m = tf.mean(coefs, 1); // [L, n]: W = (1/K) sum_k sum_t C[l,k,t] T_t = m T
      const perMember = Ts.map((T, i) => {
        const diff = tf.sub(tf.matMul(m, T), targets[i]); // [L, chunk]
        let elem: Tensor;
        if (o.loss === 'mse') elem = tf.square(diff);
        else {
          // SmoothL1 without a branch: q = min(|x|, beta); 0.5 q^2 / beta + (|x| - q)
          const a = tf.abs(diff);
          const q = tf.minimum(a, o.beta);
          elem = tf.add(tf.mul(tf.square(q), 0.5 / o.beta), tf.sub(a, q));
        }
        // The mean over all d columns, as a sum of the chunks' parts (tf.mean is sum(x / d) too).
        return chunks.length === 1 ? tf.mean(elem, 1) : tf.sum(tf.div(elem, d), 1);
      });
      return tf.sum(tf.mul(addAll(perMember), weights)) as Scalar;
    });

  // The lowest-loss state is kept on the device (a select per step, no read-back), and the losses
  // are read back READ_EVERY steps at a time, so a GPU never waits for the CPU in between.
  const [bestLoss, bestC, ...bestTs] = tf.tidy(() => [
    tf.variable(tf.scalar(Number.POSITIVE_INFINITY), false),
    tf.variable(tf.clone(C), false),
    ...Ts.map((T) => tf.variable(tf.clone(T), false)),
  ]);
  const keepIfBest = (loss: Scalar) =>
    tf.tidy(() => {
      const better = tf.less(loss, bestLoss); // false for NaN: a NaN loss is never kept
      Ts.forEach((T, i) => bestTs[i].assign(tf.where(tf.broadcastTo(better, T.shape), T, bestTs[i])));
      bestC.assign(tf.where(tf.broadcastTo(better, C.shape), C, bestC));
      bestLoss.assign(tf.where(better, loss, bestLoss));
    });
  const every = Math.max(1, Math.floor(o.steps / 100));
  const pending: { step: number; loss: Scalar }[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const stacked = tf.stack(pending.map((p) => p.loss));
    const losses = await readBack(stacked);
    stacked.dispose();
    pending.forEach((p, i) => {
      if (p.step % every === 0 || p.step === o.steps - 1) ctx.progress(p.step + 1, o.steps, losses[i]);
      p.loss.dispose();
    });
    pending.length = 0;
    await new Promise((r) => setImmediate(r)); // a macrotask: cancellation and progress messages get through
  };
  try {
    for (let step = 0; step < o.steps; step++) {
      ctx.signal?.throwIfAborted();
      const lr = o.lr * Math.pow(o.lrGamma, Math.floor(step / o.lrStep));
      const noise = o.noise > 0 ? tf.tensor3d(rng.normals(L * K * n, o.noise), [L, K, n]) : null;
      const { value, grads } = tf.variableGrads(() => lossOf(noise ? tf.add(C, noise) : C), vars);
      noise?.dispose();
      keepIfBest(value); // the loss belongs to the state before this update
      pending.push({ step, loss: value });
      tf.tidy(() => {
        const g = vars.map((v) => grads[v.name]);
        // clip_grad_norm_: one global norm over all parameters, kept on the device (no sync).
        const total = tf.sqrt(addAll(g.map((x) => tf.sum(tf.square(x)))));
        const scale = tf.minimum(1, tf.div(o.clip, tf.add(total, 1e-6)));
        vars.forEach((v, i) => {
          const gi = tf.mul(g[i], scale);
          sq[i].assign(tf.add(tf.mul(sq[i], RMS_ALPHA), tf.mul(tf.square(gi), 1 - RMS_ALPHA)));
          v.assign(tf.sub(v, tf.div(tf.mul(gi, lr), tf.add(tf.sqrt(sq[i]), RMS_EPS))));
        });
      });
      for (const g of Object.values(grads)) g.dispose();
      // Each read-back also lets cancellation and progress through.
      if (pending.length >= READ_EVERY) await flush();
    }
    await flush();
    const last = lossOf(C);
    keepIfBest(last);
    last.dispose();
    const templates = new Float32Array(n * d);
    for (const [i, c] of chunks.entries()) {
      const part = await readBack(bestTs[i]);
      for (let t = 0; t < n; t++) templates.set(part.subarray(t * c.width, (t + 1) * c.width), t * d + c.start);
    }
    const cAll = await readBack(bestC);
    const coefficients = rows.map((_, l) => cAll.slice(l * K * n, (l + 1) * K * n));
    return { templates, coefficients, n, rank: null, loss: (await readBack(bestLoss))[0], backend };
  } finally {
    for (const t of [...targets, weights, ...Ts, C, ...sq, ...bestTs, bestC, bestLoss, ...pending.map((p) => p.loss)]) t.dispose();
  }
}

interface Chunk {
  readonly start: number;
  readonly width: number;
}

/** `d` columns in chunks of at most `most` (at least 1), of nearly equal width; one chunk when they all fit. */
export function columnChunks(d: number, most: number): Chunk[] {
  const count = Math.ceil(d / Math.max(1, Math.min(d, most)));
  const width = Math.ceil(d / count);
  const out: Chunk[] = [];
  for (let start = 0; start < d; start += width) out.push({ start, width: Math.min(width, d - start) });
  return out;
}

/** Columns `c` of a row-major [rows, d] matrix, as their own [rows, c.width] matrix (the whole matrix when c covers it). */
function columns(src: Float32Array, rows: number, d: number, c: Chunk): Float32Array {
  if (c.width === d) return src;
  const out = new Float32Array(rows * c.width);
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * d + c.start, r * d + c.start + c.width), r * c.width);
  return out;
}
