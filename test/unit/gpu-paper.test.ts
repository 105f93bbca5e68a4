// The paper loop on webgpu against wasm on the real GPT-2 fixture: same seed, 30 steps. Both are
// float32 but sum in different orders, so the loss curves agree to float32 rounding grown over 30
// RMSprop steps (relative 1e-4) and the final per-layer cosines to 1e-3.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { reconstruct } from '../../src/mimicry/recast/reconstruct';
import { releaseGpu } from '../../src/mimicry/recast/tfjs';
import type { ProgressEvent, ReconstructOptions } from '../../src/mimicry/recast/types';
import { adapterOrSkip, withGpuLimit } from './helpers/gpu';
import { REAL } from './helpers/real-fixtures';

const GPT2 = `${REAL}/capp-gpt2-4layer.safetensors`;
/** Two banks (mlp.c_fc, blocks 0-1 and 2-3) keep it short on a software GPU. */
const OPTIONS: ReconstructOptions = { method: 'paper', steps: 30, seed: 7, modules: ['mlp.c_fc'], lr: 0.01 };
/** Relative; measured here (lavapipe): at most 4e-6 over the 30 steps. */
const LOSS_TOLERANCE = 1e-4;

after(() => releaseGpu());

async function run(backend: 'webgpu' | 'wasm', extra: ReconstructOptions = {}) {
  const ck = await openCheckpoint(GPT2);
  try {
    const curves = new Map<string, Map<number, number>>();
    const r = await reconstruct(
      ck,
      { ...OPTIONS, ...extra, backend },
      {
        onProgress: (ev: ProgressEvent) => {
          if (ev.steps === 0) return;
          if (!curves.has(ev.group)) curves.set(ev.group, new Map());
          curves.get(ev.group)?.set(ev.step, ev.loss);
        },
      },
    );
    return { r, curves };
  } finally {
    await ck.close();
  }
}

test('paper loop: webgpu against wasm on GPT-2 (seed 7, 30 steps): loss curves and final cosines agree', async (t) => {
  if (!(await adapterOrSkip(t))) return;
  const gpu = await run('webgpu');
  const cpu = await run('wasm');
  assert.equal(gpu.r.method.backend, 'webgpu');
  assert.ok(gpu.r.method.device, 'method.device is recorded');
  assert.notEqual(cpu.r.method.backend, 'webgpu'); // wasm, or the fused CPU loop that replaces it
  assert.deepEqual([...gpu.curves.keys()], [...cpu.curves.keys()]);
  for (const [group, curve] of gpu.curves) {
    const ref = cpu.curves.get(group) ?? new Map<number, number>();
    assert.equal(curve.size, 30, `${group}: a loss for every step`);
    assert.deepEqual([...curve.keys()], [...ref.keys()]);
    for (const [step, loss] of curve) {
      const want = ref.get(step) ?? Number.NaN;
      assert.ok(Math.abs(loss - want) <= LOSS_TOLERANCE * Math.abs(want), `${group} step ${step}: webgpu ${loss}, wasm ${want}`);
    }
    assert.ok((curve.get(30) ?? Infinity) < (curve.get(1) ?? 0), `${group}: the loss falls`);
  }
  assert.equal(gpu.r.layers.length, cpu.r.layers.length);
  gpu.r.layers.forEach((l, i) => {
    assert.equal(l.name, cpu.r.layers[i].name);
    assert.ok(Math.abs(l.cosine - cpu.r.layers[i].cosine) <= 1e-3, `${l.name}: cosine ${l.cosine} vs ${cpu.r.layers[i].cosine}`);
  });
});

test('spectral+refine on webgpu starts at the closed form and never ends worse than it', async (t) => {
  if (!(await adapterOrSkip(t))) return;
  // One template for two members: the closed form is not exact, so there is something to refine.
  const refine = await run('webgpu', { method: 'spectral+refine', loss: 'mse', noise: 0, steps: 20, templates: 1 });
  const closed = await run('wasm', { method: 'spectral', steps: undefined, lr: undefined, templates: 1 });
  assert.equal(refine.r.method.backend, 'webgpu');
  refine.r.banks.forEach((b, i) => {
    // The loop's loss sums the members' mean squared errors; the closed form reports their mean.
    const refined = b.metrics.loss / b.plan.members.length;
    const base = closed.r.banks[i].metrics.loss;
    assert.ok(refined <= base * (1 + 1e-4), `${b.plan.name}: refined ${refined} vs closed form ${base}`);
  });
});

test('paper loop on webgpu under a lowered buffer limit (column chunks, Gram panels): the unchunked run to float32 tolerance', async (t) => {
  if (!(await adapterOrSkip(t))) return;
  const extra: ReconstructOptions = { steps: 12 };
  // Members [64, 256]: a bank of 2 is 128 KiB, a template 64 KiB and its Gram 16 KiB. Under 24 KiB
  // a bank takes 6 column chunks and each template's Gram 3 panels.
  const limit = 24 * 1024;
  const { value: whole, largest: wholeLargest } = await withGpuLimit(2 ** 30, () => run('webgpu', extra));
  assert.ok(wholeLargest >= 128 * 1024, `unchunked, a bank's members are one ${wholeLargest}-byte buffer`);
  const { value: chunked, largest } = await withGpuLimit(limit, () => run('webgpu', extra));
  assert.ok(largest <= limit, `a ${largest}-byte buffer over the ${limit}-byte limit`);
  assert.deepEqual([...chunked.curves.keys()], [...whole.curves.keys()]);
  for (const [group, curve] of chunked.curves) {
    const ref = whole.curves.get(group) ?? new Map<number, number>();
    assert.equal(curve.size, 12);
    for (const [step, loss] of curve) {
      const want = ref.get(step) ?? Number.NaN;
      assert.ok(Math.abs(loss - want) <= LOSS_TOLERANCE * Math.abs(want), `${group} step ${step}: chunked ${loss}, whole ${want}`);
    }
  }
  chunked.r.layers.forEach((l, i) => assert.ok(Math.abs(l.cosine - whole.r.layers[i].cosine) <= 1e-3, l.name));
  chunked.r.banks.forEach((b, i) => {
    const want = whole.r.banks[i].metrics.entropy ?? Number.NaN;
    assert.ok(Math.abs((b.metrics.entropy ?? Number.NaN) - want) <= 1e-4, `${b.plan.name}: entropy ${b.metrics.entropy} vs ${want}`);
  });
});
