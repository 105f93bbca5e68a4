// The fused CPU loop of the paper method (paperFused.ts, paperKernel.ts): its hand-derived gradients
// against tfjs autograd, its loss trajectory against the tfjs loop on the real GPT-2 fixture, the
// same bits on one thread or two, cancellation with worker threads, and which loop runs where.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor, Scalar } from '@tensorflow/tfjs-core';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { parseWeightName, planGroups, type BankPlan } from '../../src/mimicry/recast/grouping';
import { memberInfos, readMember } from '../../src/mimicry/recast/stream';
import { paperFitterTfjs, paperLoopFor } from '../../src/mimicry/recast/paper';
import { fitPaperFused, FUSED_BACKEND } from '../../src/mimicry/recast/paperFused';
import {
  chunkCount,
  CHUNK,
  fusedPass,
  fusedPassGeneric,
  kernelScratch,
  paramsLength,
  partialStride,
  PARAM_APPLY,
  PARAM_GRAD,
  PARAM_M,
  PARAM_SAVE,
  PARTIAL_DM,
  PARTIAL_LOSS,
  PARTIAL_NORM,
  type KernelBank,
} from '../../src/mimicry/recast/paperKernel';
import { resolveFit } from '../../src/mimicry/recast/options';
import { reconstruct } from '../../src/mimicry/recast/reconstruct';
import { loadTf } from '../../src/mimicry/recast/tfjs';
import { Scratch } from '../../src/mimicry/recast/scratch';
import { compose } from '../../src/mimicry/recast/compose';
import { layerFidelity } from '../../src/mimicry/recast/metrics';
import { Random } from '../../src/mimicry/recast/random';
import { setKernelsEnabled } from '../../src/mimicry/linalg/kernels';
import type { GroupFitter } from '../../src/mimicry/recast/fitting';
import type { ReconstructOptions } from '../../src/mimicry/recast/types';
import { REAL } from './helpers/real-fixtures';

const GPT2 = `${REAL}/capp-gpt2-4layer.safetensors`;

/**
 * Loss trajectories, fused against tfjs, relative. Both are float32 loops that sum in different
 * orders (tfjs in float32: at this fixture's sizes, up to 16,384 elements, about 1e-5 off), and
 * RMSprop at the authors' lr 0.1 divides each gradient by its own running size, so rounding
 * differences can grow for a while: measured over these 40 steps, most steps agree to 1e-6 and the
 * worst bank (attn.c_attn.g1) drifts to 2.5e-4 around step 35 (mean 6.7e-5); seed 5 step 5 of
 * attn.c_attn.g0 jumps to 1.2e-4 for one step. Every step must agree to STEP_TOLERANCE and the mean
 * over a bank's steps to MEAN_TOLERANCE.
 */
const STEP_TOLERANCE = 1e-3;
const MEAN_TOLERANCE = 2e-4;

function assertSameTrajectory(got: readonly number[], want: readonly number[], what: string): void {
  assert.equal(got.length, want.length, `${what}: steps reported`);
  let sum = 0;
  got.forEach((loss, s) => {
    const rel = Math.abs(loss - want[s]) / Math.abs(want[s]);
    assert.ok(rel <= STEP_TOLERANCE, `${what} step ${s + 1}: fused ${loss}, tfjs ${want[s]}`);
    sum += rel;
  });
  assert.ok(sum / got.length <= MEAN_TOLERANCE, `${what}: mean relative difference ${sum / got.length}`);
}

/** One pass of the kernel at a random point, against tfjs autograd of the tfjs loop's loss. */
async function gradientCase(seed: number, L: number, n: number, K: number, d: number, loss: 'smoothl1' | 'mse', beta: number) {
  const { tf } = await loadTf('wasm');
  const rng = new Random(seed);
  const T = rng.normals(n * d, 0.3);
  const target = rng.normals(L * d, 0.3);
  const C = rng.normals(L * K * n, 0.7);
  const weights = Float64Array.from({ length: L }, () => 0.5 + 2 * rng.uniform());
  const kb: KernelBank = {
    d,
    L,
    n,
    mse: loss === 'mse',
    beta,
    weights,
    target,
    T: Float32Array.from(T),
    sq: new Float32Array(n * d),
    grad: new Float32Array(n * d),
    best: new Float32Array(n * d),
    params: new Float64Array(paramsLength(L, n)),
    partials: new Float64Array(chunkCount(d) * partialStride(L, n)),
  };
  kb.params[PARAM_APPLY] = 0;
  kb.params[PARAM_SAVE] = 0;
  kb.params[PARAM_GRAD] = 1;
  for (let l = 0; l < L; l++)
    for (let t = 0; t < n; t++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += C[(l * K + k) * n + t];
      kb.params[PARAM_M + l * n + t] = Math.fround(s / K);
    }
  fusedPass(kb, 0, chunkCount(d), kernelScratch(L));
  const stride = partialStride(L, n);
  let ours = 0;
  const dM = new Float64Array(L * n);
  for (let c = 0; c < chunkCount(d); c++) {
    ours += kb.partials[c * stride + PARTIAL_LOSS];
    for (let j = 0; j < L * n; j++) dM[j] += kb.partials[c * stride + PARTIAL_DM + j];
  }
  ours /= d;

  // The tfjs loop's loss, written out again here (paper.ts), differentiated by tfjs.
  const tT = tf.tensor2d(T, [n, d]);
  const tC = tf.tensor3d(C, [L, K, n]);
  const tTarget = tf.tensor2d(target, [L, d]);
  const tW = tf.tensor1d(Float32Array.from(weights));
  const lossOf = (templates: Tensor, coefs: Tensor): Scalar => {
    const diff = tf.sub(tf.matMul(tf.mean(coefs, 1), templates), tTarget);
    let elem: Tensor;
    if (loss === 'mse') elem = tf.square(diff);
    else {
      const a = tf.abs(diff);
      const q = tf.minimum(a, beta);
      elem = tf.add(tf.mul(tf.square(q), 0.5 / beta), tf.sub(a, q));
    }
    return tf.sum(tf.mul(tf.mean(elem, 1), tW));
  };
  const { value, grads } = tf.valueAndGrads((a: Tensor, b: Tensor) => lossOf(a, b))([tT, tC]);
  const want = (await value.data())[0];
  const wantT = await grads[0].data();
  const wantC = await grads[1].data();
  for (const x of [tT, tC, tTarget, tW, value, ...grads]) x.dispose();

  const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let diff = 0,
      scale = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    return diff / scale;
  };
  const oursC = Float64Array.from({ length: L * K * n }, (_, i) => {
    const l = Math.floor(i / (K * n)),
      t = i % n;
    return dM[l * n + t] / K;
  });
  let norm = 0;
  for (let c = 0; c < chunkCount(d); c++) norm += kb.partials[c * stride + PARTIAL_NORM];
  let wantNorm = 0;
  for (const g of wantT) wantNorm += g * g;
  return { loss: Math.abs(ours - want) / want, T: rel(kb.grad, wantT), C: rel(oursC, wantC), norm: Math.abs(norm - wantNorm) / wantNorm };
}

test('hand-derived gradients equal tfjs autograd: SmoothL1 on both sides of beta and MSE, several points and shapes', async () => {
  const cases: [number, number, number, number, number, 'smoothl1' | 'mse', number][] = [
    [1, 2, 2, 2, 300, 'smoothl1', 0.25],
    [2, 3, 2, 3, CHUNK * 2 + 77, 'smoothl1', 0.4], // three chunks, the last one short
    [3, 4, 3, 2, 1000, 'smoothl1', 1],
    [4, 2, 1, 1, 500, 'mse', 1],
    [5, 3, 4, 2, CHUNK + 5, 'mse', 1],
  ];
  for (const [seed, L, n, K, d, loss, beta] of cases) {
    const r = await gradientCase(seed, L, n, K, d, loss, beta);
    const what = `seed ${seed}, L ${L}, n ${n}, K ${K}, d ${d}, ${loss} beta ${beta}`;
    // float32 autograd against float64 sums: the loss to 1e-5, gradients to 1e-5 of their largest entry.
    assert.ok(r.loss < 1e-5, `${what}: loss ${r.loss}`);
    assert.ok(r.T < 1e-5, `${what}: template gradient ${r.T}`);
    assert.ok(r.C < 1e-5, `${what}: coefficient gradient ${r.C}`);
    assert.ok(r.norm < 1e-5, `${what}: squared norm ${r.norm}`);
  }
});

test("the 2 x 2 pass (the authors' setting) gives the same bits as the generic pass", () => {
  for (const [seed, mse, save, apply, wantGrad] of [
    [1, false, true, true, true],
    [2, true, false, true, true],
    [3, false, false, false, true],
    [4, false, true, true, false],
  ] as const) {
    const rng = new Random(seed);
    const d = CHUNK * 2 + 301;
    const make = (): KernelBank => {
      const r = new Random(seed + 100);
      return {
        d,
        L: 2,
        n: 2,
        mse,
        beta: 0.3,
        weights: Float64Array.of(2, 0.7),
        target: r.normals(2 * d, 0.3),
        T: r.normals(2 * d, 0.3),
        sq: r.normals(2 * d, 1e-3).map((v) => v * v),
        grad: r.normals(2 * d, 1e-4),
        best: new Float32Array(2 * d),
        params: new Float64Array(paramsLength(2, 2)),
        partials: new Float64Array(chunkCount(d) * partialStride(2, 2)),
      };
    };
    const a = make(),
      b = make();
    const params = [apply ? 1 : 0, save ? 1 : 0, 0.37, Math.fround(0.1), wantGrad ? 1 : 0, 0, ...rng.normals(4, 0.6)];
    a.params.set(params);
    b.params.set(params);
    fusedPass(a, 0, chunkCount(d), kernelScratch(2));
    fusedPassGeneric(b, 0, chunkCount(d), kernelScratch(2));
    for (const key of ['T', 'sq', 'grad', 'best', 'partials'] as const) assert.deepEqual(a[key], b[key], `seed ${seed}: ${key}`);
  }
});

async function gpt2Banks(grouping: ReconstructOptions = {}): Promise<{ plan: BankPlan; rows: Float32Array[] }[]> {
  const ck = await openCheckpoint(GPT2);
  try {
    const scratch = new Scratch();
    const out: { plan: BankPlan; rows: Float32Array[] }[] = [];
    for (const plan of planGroups(ck.tensors, grouping).banks) {
      const rows: Float32Array[] = [];
      for (const info of memberInfos(ck, plan))
        rows.push(
          Float32Array.from(await readMember(ck, info, parseWeightName(info.name)?.role ?? '', new Float32Array(plan.size), scratch)),
        );
      out.push({ plan, rows });
    }
    return out;
  } finally {
    await ck.close();
  }
}

async function runBank(fitter: GroupFitter, b: { plan: BankPlan; rows: Float32Array[] }, options: ReconstructOptions) {
  const losses: number[] = [];
  const fit = await fitter(b.rows, b.plan, {
    fit: resolveFit({ backend: 'wasm', ...options }),
    scratch: new Scratch(),
    progress: (_s, _n, loss) => losses.push(loss),
  });
  const cosines = b.rows.map((r, l) => layerFidelity(r, compose(fit.templates, fit.n, fit.coefficients[l])).cosine);
  return { fit, losses, cosines };
}

test("fused loop follows the tfjs loop on GPT-2 (the authors' settings, seed 5, 40 steps, every bank): losses to float32 rounding, cosines to 1e-3", async () => {
  const options: ReconstructOptions = { method: 'paper', steps: 40, seed: 5 };
  for (const b of await gpt2Banks()) {
    const ref = await runBank(paperFitterTfjs, b, options);
    const got = await runBank(fitPaperFused, b, options);
    assert.equal(got.fit.backend, FUSED_BACKEND);
    assert.equal(got.losses.length, 40);
    assertSameTrajectory(got.losses, ref.losses, b.plan.name);
    assert.ok(Math.abs(got.fit.loss - ref.fit.loss) <= STEP_TOLERANCE * ref.fit.loss, `${b.plan.name}: kept loss`);
    got.cosines.forEach((c, l) =>
      assert.ok(Math.abs(c - ref.cosines[l]) <= 1e-3, `${b.plan.name} member ${l}: cosine ${c} vs ${ref.cosines[l]}`),
    );
  }
});

test('spectral+refine (n = 1, so the closed form is not exact) runs the same loop: it follows the tfjs loop too', async () => {
  const options: ReconstructOptions = { method: 'spectral+refine', templates: 1, steps: 30 };
  const [b] = await gpt2Banks(options);
  assert.equal(b.plan.templates, 1);
  const ref = await runBank(paperFitterTfjs, b, options);
  const got = await runBank(fitPaperFused, b, options);
  assertSameTrajectory(got.losses, ref.losses, b.plan.name);
  got.cosines.forEach((c, l) => assert.ok(Math.abs(c - ref.cosines[l]) <= 1e-3));
});

/** One group of `scales.length` blocks of a `shape` role: block l is scales[l] times a shared base plus noise; 2 templates. */
function syntheticBank(seed: number, shape: [number, number], role: string, scales: readonly number[]) {
  const rng = new Random(seed);
  const d = shape[0] * shape[1];
  const base = rng.normals(d, 0.05);
  const rows = scales.map((scale) => {
    const r = rng.normals(d, 0.01);
    for (let i = 0; i < d; i++) r[i] += scale * base[i];
    return r;
  });
  const plan = planGroups(
    rows.map((_, l) => ({ name: `blocks.${l}.${role}.weight`, dtype: 'F32' as const, shape })),
    { blocksPerGroup: scales.length, templates: 2, sets: 2 },
  );
  return { rows, plan: plan.banks[0] };
}

/** 3 blocks of a [48, 1024] role: 12 chunks, so two threads each get some. */
const mediumBank = () => syntheticBank(8, [48, 1024], 'mlp.fc2', [1, 1.25, 1.5]);

test('the same bits on one thread and on two (chunk sums are added in a fixed order)', async () => {
  const b = mediumBank();
  const fit = resolveFit({ method: 'paper', steps: 25, seed: 2, backend: 'wasm' });
  const one = await fitPaperFused(b.rows, b.plan, { fit, scratch: new Scratch(), progress: () => {} }, { threads: 1 });
  const two = await fitPaperFused(b.rows, b.plan, { fit, scratch: new Scratch(), progress: () => {} }, { threads: 2 });
  assert.equal(one.threads, 1);
  assert.equal(two.threads, 2, 'a worker thread ran half of the chunks');
  assert.equal(two.loss, one.loss);
  assert.deepEqual(two.templates, one.templates);
  assert.deepEqual(two.coefficients, one.coefficients);
});

/** 2 blocks of a [37, 1001] role, 2 templates (the authors' setting): 19 chunks, the last one odd. */
const twoByTwoBank = () => syntheticBank(9, [37, 1001], 'mlp.fc1', [1, 1 - 1 / 3]);

test("the authors' setting on the SIMD kernel (each thread's chunks kept in its own memory) gives the JavaScript loop's bits, on one thread and two", async () => {
  const b = twoByTwoBank();
  assert.equal(b.plan.size % 2, 1);
  for (const loss of ['smoothl1', 'mse'] as const) {
    const fit = resolveFit({ method: 'paper', steps: 30, seed: 4, backend: 'wasm', loss });
    const run = (threads: number) => fitPaperFused(b.rows, b.plan, { fit, scratch: new Scratch(), progress: () => {} }, { threads });
    setKernelsEnabled(false);
    let plain;
    try {
      plain = await run(1);
    } finally {
      setKernelsEnabled(true);
    }
    for (const threads of [1, 2]) {
      const got = await run(threads);
      assert.equal(got.threads, threads);
      assert.equal(got.loss, plain.loss, `${loss}, ${threads} thread(s): loss`);
      assert.deepEqual(got.templates, plain.templates, `${loss}, ${threads} thread(s): templates`);
      assert.deepEqual(got.coefficients, plain.coefficients, `${loss}, ${threads} thread(s): coefficients`);
    }
  }
});

test('cancelling the fused loop mid-run stops it and its worker threads', async () => {
  const b = mediumBank();
  const ac = new AbortController();
  let seen = 0;
  await assert.rejects(
    fitPaperFused(
      b.rows,
      b.plan,
      {
        fit: resolveFit({ method: 'paper', steps: 10000, backend: 'wasm' }),
        signal: ac.signal,
        scratch: new Scratch(),
        progress: (step) => {
          seen = step;
          if (step >= 200) ac.abort();
        },
      },
      { threads: 2 },
    ),
    { name: 'AbortError' },
  );
  assert.ok(seen >= 200 && seen < 10000);
  // A worker left running would keep this test file's process alive: the runner would time out.
});

test('which loop runs: fused on the CPU backends, tfjs on the others; reports say fused-cpu', async () => {
  assert.equal(await paperLoopFor('wasm'), 'fused');
  assert.equal(await paperLoopFor('cpu'), 'fused');
  assert.equal(await paperLoopFor('tfjs-node'), 'tfjs');
  assert.equal(await paperLoopFor('tfjs-node-gpu'), 'tfjs');
  const auto = await paperLoopFor('auto');
  const { name } = await loadTf('auto');
  assert.equal(auto, name === 'wasm' || name === 'cpu' ? 'fused' : 'tfjs');
  const ck = await openCheckpoint(GPT2);
  try {
    const r = await reconstruct(ck, { method: 'spectral+refine', steps: 5, backend: 'cpu', modules: ['mlp.c_fc'] });
    assert.equal(r.method.backend, FUSED_BACKEND);
    await r.store.dispose();
  } finally {
    await ck.close();
  }
});
