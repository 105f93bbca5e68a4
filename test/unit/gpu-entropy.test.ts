// Template entropy's Gram products on the webgpu backend (entropyGpu.ts): the float32 route with its
// check, read back asynchronously, against the exact float64 route; and a spectral run on
// `--backend webgpu` reports the same entropies as on the CPU to the route's contract (1e-4).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { reconstruct } from '../../src/mimicry/recast/reconstruct';
import { entropyFloat64 } from '../../src/mimicry/recast/entropy';
import { bankEntropyOnGpu, entropyOnGpu, gramEngine, onGpu } from '../../src/mimicry/recast/entropyGpu';
import { Random } from '../../src/mimicry/recast/random';
import { releaseGpu } from '../../src/mimicry/recast/tfjs';
import { adapterOrSkip } from './helpers/gpu';
import { REAL } from './helpers/real-fixtures';

const GPT2 = `${REAL}/capp-gpt2-4layer.safetensors`;
const TOL_H = 1e-4;

after(() => releaseGpu());

test('webgpu: each template entropy within 1e-4 of float64 (or the float64 fallback), no tensor left behind', async (t) => {
  if (!(await adapterOrSkip(t))) return;
  const engine = await gramEngine('webgpu');
  assert.ok(engine && onGpu(engine), 'the webgpu backend is the Gram engine');
  const before = engine.memory().numTensors;
  const rng = new Random(5);
  const shapes: [number, number][] = [
    [64, 256],
    [256, 64],
    [96, 384],
  ];
  for (const [rows, cols] of shapes) {
    const T = new Float32Array(rows * cols);
    for (let i = 0; i < T.length; i++) T[i] = rng.normal() * 0.02;
    const got = await entropyOnGpu(engine, T, rows, cols);
    const ref = entropyFloat64(T, rows, cols);
    assert.ok(Math.abs(got.entropy - ref.entropy) <= TOL_H, `${rows} x ${cols}: ${got.entropy} vs ${ref.entropy} (${got.route})`);
    assert.equal(got.rank, ref.rank);
  }
  // Zero and non-finite templates, as on the other engines.
  assert.deepEqual(await entropyOnGpu(engine, new Float32Array(6), 2, 3), { entropy: 0, normalized: 0, rank: 2, route: 'float32' });
  assert.ok(Number.isNaN((await entropyOnGpu(engine, new Float32Array([1, Number.NaN, 0, 1]), 2, 2)).entropy));
  // A bank: the caller may reuse its buffer at once (the route copies it).
  const bank = new Float32Array(3 * 64 * 256);
  for (let i = 0; i < bank.length; i++) bank[i] = rng.normal() * 0.02;
  const expected = [0, 1, 2].map((k) => entropyFloat64(bank.subarray(k * 64 * 256, (k + 1) * 64 * 256), 64, 256).entropy);
  const pending = bankEntropyOnGpu(bank, 3, [64, 256], engine);
  bank.fill(0);
  const got = await pending;
  got.templates.forEach((e, k) => assert.ok(Math.abs(e.entropy - expected[k]) <= TOL_H));
  assert.equal(engine.memory().numTensors, before);
});

test('webgpu: a spectral run on --backend webgpu reports the entropies of the CPU run to 1e-4', async (t) => {
  if (!(await adapterOrSkip(t))) return;
  const ck = await openCheckpoint(GPT2);
  try {
    const options = { modules: ['mlp.c_fc', 'attn.c_proj'], blocksPerGroup: 4, templates: 3 };
    const gpu = await reconstruct(ck, { ...options, backend: 'webgpu' });
    const cpu = await reconstruct(ck, { ...options, backend: 'cpu' });
    assert.equal(gpu.banks.length, cpu.banks.length);
    gpu.banks.forEach((b, i) => {
      const want = cpu.banks[i].metrics.entropy ?? Number.NaN;
      assert.ok(Math.abs((b.metrics.entropy ?? Number.NaN) - want) <= TOL_H, `${b.plan.name}: ${b.metrics.entropy} vs ${want}`);
    });
  } finally {
    await ck.close();
  }
});
