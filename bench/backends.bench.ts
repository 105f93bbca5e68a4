// `npm run bench -- --only backends`: every TensorFlow.js backend that loads here, side by side in
// one run: the paper loop's seconds per step on one bank (what `--backend X` runs: the tfjs loop on
// webgpu and tfjs-node(-gpu), the fused CPU loop on wasm/cpu) and the float32 Gram product's
// GFLOP/s (X X^T, the closed form's and the metrics' heavy product). A software adapter (lavapipe,
// SwiftShader) is measured too and labelled "software": it is the CPU, and the slowest.
// Targets (PASS/FAIL): on a hardware adapter, webgpu's step and Gram at least as fast as the
// fastest CPU backend. Without one they cannot be judged here and say so.
import * as tf from '@tensorflow/tfjs-core';
import { planGroups, type BankPlan } from '../src/mimicry/recast/grouping';
import { paperFitter } from '../src/mimicry/recast/paper';
import { resolveFit } from '../src/mimicry/recast/options';
import { loadTf, releaseGpu } from '../src/mimicry/recast/tfjs';
import { Random } from '../src/mimicry/recast/random';
import { Scratch } from '../src/mimicry/recast/scratch';
import { webGpuState, describeDevice } from '../src/mimicry/gpu/webgpu';
import type { Backend } from '../src/mimicry/recast/types';

const BACKENDS: readonly Exclude<Backend, 'auto'>[] = ['webgpu', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];
/** One ViT-S fc1 bank (2 blocks of [1536, 384], n = 2, K = 2): the authors' group. */
const SHAPE = [1536, 384];
const STEPS = { full: 30, quick: 10 };
/** A software adapter takes seconds per step (tfjs' tiled matmul on lavapipe): a few steps give the figure. */
const SOFTWARE_STEPS = { full: 5, quick: 2 };
/** Gram of [rows, cols] float32: 2 rows^2 cols flops. */
const GRAM = { rows: 768, cols: 3072 };
const GRAM_REPEATS = { full: 8, quick: 3 };

interface Row {
  readonly backend: string;
  readonly label: string;
  readonly stepSeconds: number | null;
  readonly loop: string;
  readonly gramGflops: number | null;
  readonly note: string;
}

function bank(): { rows: Float32Array[]; plan: BankPlan } {
  const rng = new Random(11);
  const rows = [0, 1].map(() => rng.normals(SHAPE[0] * SHAPE[1], 0.02));
  const plan = planGroups(
    rows.map((_, l) => ({ name: `blocks.${l}.mlp.fc1.weight`, dtype: 'F32' as const, shape: SHAPE })),
    { blocksPerGroup: 2, templates: 2, sets: 2 },
  );
  return { rows, plan: plan.banks[0] };
}

async function paperStep(backend: Backend, steps: number): Promise<{ seconds: number; loop: string }> {
  const { rows, plan } = bank();
  const ctx = (n: number) => ({
    fit: resolveFit({ backend, method: 'paper', steps: n, seed: 1 }),
    scratch: new Scratch(),
    progress: () => undefined,
  });
  await paperFitter(rows, plan, ctx(3)); // warm-up: kernels compiled, workers started
  const t0 = performance.now();
  const fit = await paperFitter(rows, plan, ctx(steps));
  return { seconds: (performance.now() - t0) / 1000 / steps, loop: fit.backend };
}

async function gramGflops(repeats: number): Promise<number> {
  const x = tf.tensor2d(new Random(3).normals(GRAM.rows * GRAM.cols, 1), [GRAM.rows, GRAM.cols]);
  try {
    const warm = tf.matMul(x, x, false, true);
    await warm.data();
    warm.dispose();
    const t0 = performance.now();
    const out: tf.Tensor[] = [];
    for (let i = 0; i < repeats; i++) out.push(tf.matMul(x, x, false, true));
    await out[out.length - 1].data(); // one read-back: the products queue on the device
    const seconds = (performance.now() - t0) / 1000;
    out.forEach((t) => t.dispose());
    return (2 * GRAM.rows ** 2 * GRAM.cols * repeats) / seconds / 1e9;
  } finally {
    x.dispose();
  }
}

async function measure(b: Exclude<Backend, 'auto'>, quick: boolean): Promise<Row | null> {
  let name: string;
  try {
    name = (await loadTf(b)).name;
  } catch {
    return null;
  }
  if (name !== b && !(b.startsWith('tfjs-node') && name === `@tensorflow/${b}`)) return null; // fell back: not this backend
  const st = b === 'webgpu' ? webGpuState() : null;
  const label = st ? `webgpu (${st.report.software ? 'software' : 'hardware'})` : b;
  const gram = await gramGflops(quick ? GRAM_REPEATS.quick : GRAM_REPEATS.full);
  const steps = st?.report.software ? SOFTWARE_STEPS : STEPS;
  const step = await paperStep(b, quick ? steps.quick : steps.full);
  return {
    backend: b,
    label,
    stepSeconds: step.seconds,
    loop: step.loop,
    gramGflops: gram,
    note: st ? describeDevice(st.report.device, st.report.software) : '',
  };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export async function benchBackends(quick: boolean): Promise<void> {
  console.log(
    `paper loop: one ViT-S fc1 bank (2 x [${SHAPE.join(', ')}], n = 2, K = 2), ${quick ? STEPS.quick : STEPS.full} steps ` +
      `(a software adapter ${quick ? SOFTWARE_STEPS.quick : SOFTWARE_STEPS.full}) after 3 warm-up; ` +
      `Gram: X X^T of [${GRAM.rows}, ${GRAM.cols}] float32, ${quick ? GRAM_REPEATS.quick : GRAM_REPEATS.full} products after one warm-up`,
  );
  const rows: Row[] = [];
  const missing: string[] = [];
  for (const b of BACKENDS) {
    const r = await measure(b, quick);
    if (r) rows.push(r);
    else missing.push(b);
  }
  releaseGpu();
  console.log(`${pad('backend', 20)} ${pad('loop', 12)} ${pad('s/step', 10)} ${pad('Gram GFLOP/s', 13)} adapter`);
  for (const r of rows)
    console.log(
      `${pad(r.label, 20)} ${pad(r.loop, 12)} ${pad(r.stepSeconds === null ? '-' : r.stepSeconds.toFixed(4), 10)} ` +
        `${pad(r.gramGflops === null ? '-' : r.gramGflops.toFixed(2), 13)} ${r.note}`,
    );
  if (missing.length) console.log(`not loaded here: ${missing.join(', ')}`);
  const gpu = rows.find((r) => r.backend === 'webgpu');
  const cpu = rows.filter((r) => r.backend === 'wasm' || r.backend === 'cpu' || r.backend === 'tfjs-node');
  const best = (f: (r: Row) => number | null, low: boolean) =>
    cpu.map(f).reduce<number | null>((a, x) => (x === null ? a : a === null ? x : low ? Math.min(a, x) : Math.max(a, x)), null);
  const bestStep = best((r) => r.stepSeconds, true);
  const bestGram = best((r) => r.gramGflops, false);
  const judge = (what: string, ok: boolean, by: string) => console.log(`${ok ? 'PASS' : 'FAIL'} ${what}${ok ? '' : `: missed by ${by}`}`);
  if (!gpu || gpu.label.includes('software') || bestStep === null || bestGram === null) {
    console.log(
      `n/a  webgpu on a hardware adapter: paper step <= fastest CPU backend's, Gram GFLOP/s >= fastest CPU backend's ` +
        `(${gpu ? 'only a software adapter here' : 'no webgpu adapter here'}; run on a machine with a GPU)`,
    );
    return;
  }
  const s = gpu.stepSeconds ?? Infinity;
  const g = gpu.gramGflops ?? 0;
  judge(`webgpu paper step ${s.toFixed(4)} s <= fastest CPU ${bestStep.toFixed(4)} s`, s <= bestStep, `${(s / bestStep).toFixed(2)}x`);
  judge(`webgpu Gram ${g.toFixed(1)} GFLOP/s >= fastest CPU ${bestGram.toFixed(1)}`, g >= bestGram, `${(bestGram / g).toFixed(2)}x`);
}
