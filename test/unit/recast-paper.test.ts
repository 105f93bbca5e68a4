import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paperFitter, paperFitterTfjs } from '../../src/mimicry/recast/paper';
import { kaimingStd, unitVector } from '../../src/mimicry/recast/paperInit';
import type { GroupFitter } from '../../src/mimicry/recast/fitting';
import { resolveFit } from '../../src/mimicry/recast/options';
import { planGroups } from '../../src/mimicry/recast/grouping';
import { compose } from '../../src/mimicry/recast/compose';
import { layerFidelity } from '../../src/mimicry/recast/metrics';
import { fitSpectral } from '../../src/mimicry/recast/spectral';
import { Random } from '../../src/mimicry/recast/random';
import type { ReconstructOptions } from '../../src/mimicry/recast/types';
import { Scratch } from '../../src/mimicry/recast/scratch';

/** 4 blocks of a [16, 24] role built from 2 shared directions plus a little noise. */
function smallCase() {
  const rng = new Random(21);
  const a = rng.normals(16 * 24, 0.05),
    b = rng.normals(16 * 24, 0.05);
  const rows = [0, 1, 2, 3].map((l) => {
    const r = rng.normals(16 * 24, 0.002);
    for (let i = 0; i < r.length; i++) r[i] += Math.cos(l) * a[i] + Math.sin(l + 0.3) * b[i];
    return r;
  });
  const plan = planGroups(
    rows.map((_, l) => ({ name: `blocks.${l}.mlp.fc1.weight`, dtype: 'F32' as const, shape: [16, 24] })),
    { blocksPerGroup: 4, templates: 2, sets: 2 },
  );
  return { rows, bank: plan.banks[0] };
}

/** Runs `fitter` (default: the dispatch, which on wasm is the fused CPU loop) on the small case. */
async function run(options: ReconstructOptions, fitter: GroupFitter = paperFitter) {
  const { rows, bank } = smallCase();
  const losses: number[] = [];
  const fit = await fitter(rows, bank, {
    fit: resolveFit({ backend: 'wasm', ...options }),
    scratch: new Scratch(),
    progress: (_s, _n, loss) => losses.push(loss),
  });
  const cos = rows.map((r, l) => layerFidelity(r, compose(fit.templates, fit.n, fit.coefficients[l])).cosine);
  return { fit, losses, cos, rows };
}

test('init follows the authors: kaiming-normal fan-in std and unit coefficient vectors', () => {
  assert.equal(kaimingStd([16, 24]), Math.sqrt(2 / 24));
  assert.equal(kaimingStd([8, 4, 3, 3]), Math.sqrt(2 / 36));
  const v = unitVector(5, new Random(1));
  assert.ok(Math.abs(v.reduce((a, x) => a + x * x, 0) - 1) < 1e-6);
});

test('paper method: the loss decreases, the best state is kept, and it is deterministic', async () => {
  const a = await run({ method: 'paper', steps: 300, seed: 3, lr: 0.01, lrStep: 100, lrGamma: 0.5 });
  assert.equal(a.fit.backend, 'fused-cpu');
  assert.equal(a.losses.length > 10, true);
  const first = a.losses[0];
  assert.ok(a.fit.loss < first * 0.05, `best loss ${a.fit.loss} vs first ${first}`);
  assert.ok(a.fit.loss <= Math.min(...a.losses) + 1e-12);
  assert.ok(Math.min(...a.cos) > 0.9, `cosines ${a.cos}`);
  assert.equal(a.fit.coefficients.length, 4);
  assert.equal(a.fit.coefficients[0].length, 2 * 2);
  const b = await run({ method: 'paper', steps: 300, seed: 3, lr: 0.01, lrStep: 100, lrGamma: 0.5 });
  assert.deepEqual(Array.from(b.fit.templates.slice(0, 16)), Array.from(a.fit.templates.slice(0, 16)));
});

test('spectral+refine starts at the closed form and never ends worse than it', async () => {
  const { rows } = smallCase();
  const s = fitSpectral(rows, 2, 'per-layer');
  let se = 0;
  rows.forEach((r, l) => {
    const w = compose(s.templates, s.n, s.alpha.slice(l * 2, l * 2 + 2));
    for (let i = 0; i < r.length; i++) se += (w[i] - r[i]) ** 2;
  });
  const r = await run({ method: 'spectral+refine', loss: 'mse', steps: 40, noise: 0 });
  assert.ok(r.fit.loss <= (se / (16 * 24)) * (1 + 1e-4), `${r.fit.loss} vs ${se / (16 * 24)}`);
  assert.ok(Math.min(...r.cos) > 0.99);
});

test("the authors' defaults (RMSprop 0.1, StepLR 200/0.1, clip 1, noise 1e-4, 1000 steps) drive the loss down", async () => {
  const r = await run({ method: 'paper' });
  assert.equal(resolveFit({ method: 'paper' }).steps, 1000);
  assert.equal(r.losses.length >= 100, true);
  assert.ok(r.fit.loss < r.losses[0] / 1000, `best ${r.fit.loss} vs first ${r.losses[0]}`);
  assert.ok(Math.min(...r.cos) > 0.99, `cosines ${r.cos}`);
});

test('the tfjs loop: the loss decreases and it names its backend', async () => {
  const a = await run({ method: 'paper', steps: 100, seed: 3, lr: 0.01 }, paperFitterTfjs);
  assert.equal(a.fit.backend, 'wasm');
  assert.ok(a.fit.loss < a.losses[0] * 0.2, `best loss ${a.fit.loss} vs first ${a.losses[0]}`);
});

test('the tfjs loop frees every tensor it made, also when cancelled mid-run', async () => {
  const tf = await import('@tensorflow/tfjs-core');
  await run({ method: 'paper', steps: 5 }, paperFitterTfjs); // backend loaded
  const before = tf.memory().numTensors;
  await run({ method: 'paper', steps: 20 }, paperFitterTfjs);
  assert.equal(tf.memory().numTensors, before);
  const { rows, bank } = smallCase();
  const ac = new AbortController();
  await assert.rejects(
    paperFitterTfjs(rows, bank, {
      fit: resolveFit({ backend: 'wasm', method: 'paper', steps: 500 }),
      signal: ac.signal,
      scratch: new Scratch(),
      progress: (step) => {
        if (step >= 10) ac.abort();
      },
    }),
    { name: 'AbortError' },
  );
  assert.equal(tf.memory().numTensors, before);
});
