// Template entropy's Gram products on the webgpu backend (entropyGpu.ts): the float32 route with its
// check, read back asynchronously, against the exact float64 route; and a spectral run on
// `--backend webgpu` reports the same entropies as on the CPU to the route's contract (1e-4). A
// template over the device's buffer limit (lowered by MIMICRY_GPU_MAX_BINDING_BYTES) is tiled.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { reconstruct } from '../../src/mimicry/recast/reconstruct';
import { entropyFloat64, prepare, type RoutedEntropy } from '../../src/mimicry/recast/entropy';
import { bankEntropyOnGpu, entropyOnGpu, gramOnGpu, onGpu } from '../../src/mimicry/recast/entropyGpu';
import { Random } from '../../src/mimicry/recast/random';
import { readBack, releaseGpu } from '../../src/mimicry/recast/tfjs';
import { gramOfMatrix } from '../../src/mimicry/stats/gram';
import { adapterOrSkip, webgpuOrSkip, withGpuLimit } from './helpers/gpu';
import { REAL } from './helpers/real-fixtures';

const GPT2 = `${REAL}/capp-gpt2-4layer.safetensors`;
const TOL_H = 1e-4;
/**
 * A float32 Gram entry against float64 and tiled against untiled, relative to sqrt(G_ii G_jj) (the
 * entry's largest possible size): sums of ~1000 products, about sqrt(1000) eps32 = 2e-6 (measured
 * on lavapipe: 1.1e-6); tiled and untiled sum in different orders.
 */
const TOL_GRAM = 1e-5;
/** Entropy from the tiled Gram against the untiled one (measured on lavapipe: 2e-10; diagonals are exact in both). */
const TOL_H_TILED = 1e-6;

after(() => releaseGpu());

test('webgpu: each template entropy within 1e-4 of float64 (or the float64 fallback), no tensor left behind', async (t) => {
  const gpu = await webgpuOrSkip(t);
  if (!gpu) return;
  const { engine } = gpu;
  assert.ok(engine && onGpu(engine), 'the webgpu backend is the Gram engine');
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
  gpu.assertNoTensorsLeft();
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

test('webgpu: a template over the buffer limit is tiled into panels; Gram and entropy agree with untiled and float64', async (t) => {
  const gpu = await webgpuOrSkip(t);
  if (!gpu) return;
  const { engine } = gpu;
  assert.ok(engine && onGpu(engine));
  const rng = new Random(11);
  const cases = [
    { rows: 47, cols: 1001, limit: 40_000, panels: 5 }, // wide: column panels, n = 47
    { rows: 903, cols: 41, limit: 40_000, panels: 4 }, // tall: row panels, n = 41
  ];
  for (const { rows, cols, limit, panels } of cases) {
    const T = new Float32Array(rows * cols);
    for (let i = 0; i < T.length; i++) T[i] = rng.normal() * 0.02;
    const p = prepare(T, rows, cols);
    assert.ok(p);
    const n = p.n;
    const ref = gramOfMatrix(T, rows, cols).gram;
    // Untiled, the template is one buffer over the limit (a check that the spy sees it).
    const wholeRun = await withGpuLimit(2 ** 30, async () => {
      const whole = gramOnGpu(engine, p, rows, cols, Number.POSITIVE_INFINITY);
      assert.equal(whole?.panels, 1);
      try {
        return await readBack(whole.gram);
      } finally {
        whole.gram.dispose();
      }
    });
    assert.ok(wholeRun.largest >= rows * cols * 4 && wholeRun.largest > limit);
    const g1 = wholeRun.value;
    const tiledRun = await withGpuLimit(limit, async () => {
      const tiled = gramOnGpu(engine, p, rows, cols, limit);
      assert.ok(tiled);
      try {
        return { panels: tiled.panels, g: await readBack(tiled.gram) };
      } finally {
        tiled.gram.dispose();
      }
    });
    assert.equal(tiledRun.value.panels, panels, `${rows} x ${cols}`);
    assert.ok(tiledRun.largest <= limit, `${rows} x ${cols}: a ${tiledRun.largest}-byte buffer over the ${limit}-byte limit`);
    const g2 = tiledRun.value.g;
    let worst = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        const scale = Math.sqrt(ref[i * n + i] * ref[j * n + j]);
        const k = i * n + j;
        worst = Math.max(worst, Math.abs(g2[k] - ref[k]) / scale, Math.abs(g1[k] - ref[k]) / scale, Math.abs(g2[k] - g1[k]) / scale);
      }
    assert.ok(worst <= TOL_GRAM, `${rows} x ${cols}: Gram off by ${worst} of sqrt(G_ii G_jj)`);
    // The entropy route: tiled under the limit, the float32 check as before.
    const untiled = await entropyOnGpu(engine, T, rows, cols);
    const onGpuTiled = (bytes: number): Promise<{ value: RoutedEntropy; largest: number }> =>
      withGpuLimit(bytes, (): Promise<RoutedEntropy> => entropyOnGpu(engine, T, rows, cols));
    const { value: tiledH, largest } = await onGpuTiled(limit);
    assert.ok(largest <= limit);
    const exact = entropyFloat64(T, rows, cols);
    assert.equal(tiledH.route, 'float32');
    assert.ok(Math.abs(tiledH.entropy - untiled.entropy) <= TOL_H_TILED, `${tiledH.entropy} vs untiled ${untiled.entropy}`);
    assert.ok(Math.abs(tiledH.entropy - exact.entropy) <= TOL_H, `${tiledH.entropy} vs float64 ${exact.entropy}`);
    // The Gram itself is the indivisible unit: below it, the float64 route.
    const { value: small } = await onGpuTiled(n * n * 4 - 4);
    assert.deepEqual(small, { ...exact, route: 'float64-fallback' });
  }
  // A rank-1 template is still rejected by the float32 check when tiled, and redone in float64.
  const u = rng.normals(40, 1);
  const v = rng.normals(1003, 1);
  const low = new Float32Array(40 * 1003);
  for (let i = 0; i < 40; i++) for (let j = 0; j < 1003; j++) low[i * 1003 + j] = u[i] * v[j];
  const { value: lowH } = await withGpuLimit(40_000, () => entropyOnGpu(engine, low, 40, 1003));
  assert.deepEqual(lowH, { ...entropyFloat64(low, 40, 1003), route: 'float64-fallback' });
  gpu.assertNoTensorsLeft();
});
