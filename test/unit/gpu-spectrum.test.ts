// The inspector's spectra on the webgpu backend (stats/spectrumGpu.ts): the float32 Gram on the GPU
// with the template-entropy check, against the float64 route; the check's fallback; tiling under a
// lowered buffer limit (MIMICRY_GPU_MAX_BINDING_BYTES); which matrices go to the GPU at all.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { bundleEntry } from './helpers/cli-bundle';
import { join } from 'node:path';
import { computeSpectrumOf } from '../../src/mimicry/worker/inspect/jobs';
import { inspectHost } from '../../src/mimicry/worker/inspect/client';
import { Random } from '../../src/mimicry/recast/random';
import { releaseGpu } from '../../src/mimicry/recast/tfjs';
import { gramOfMatrix } from '../../src/mimicry/stats/gram';
import { isSpectrumSkipped, spectrumFromGram, type Spectrum, type SpectrumOutcome } from '../../src/mimicry/stats/spectrum';
import { spectrumGoesToGpu, spectrumOnGpu, SPECTRUM_GPU_MIN_SIDE } from '../../src/mimicry/stats/spectrumGpu';
import { adapterOrSkip, webgpuOrSkip, withGpuLimit } from './helpers/gpu';
import { craft, entry } from './helpers/safetensors-craft';
import { inTempDir, withCheckpoint } from './helpers/temp-dir';
/**
 * Each singular value against float64, relative to s_1: a float32 Gram moves every eigenvalue by
 * about delta ~ sqrt(m) eps32 ||G|| (m: the longer side), so s_i by at most delta / 2 s_i: for
 * these well-conditioned matrices (s_min > 0.2 s_1) under 2e-5 s_1. Measured on lavapipe: 6e-8.
 */
const TOL_S = 2e-6;
/** Entropy: the contract of the float32 route (entropy.ts; measured here: 6e-10). */
const TOL_H = 1e-4;

after(() => releaseGpu());

function chunksOf(values: Float32Array, size = 10_000): () => AsyncIterable<Float32Array> {
  return async function* () {
    for (let i = 0; i < values.length; i += size) yield values.subarray(i, i + size);
  };
}

function gaussian(rows: number, cols: number, seed: number): Float32Array {
  const rng = new Random(seed);
  const x = new Float32Array(rows * cols);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal() * 0.02;
  return x;
}

function assertClose(got: SpectrumOutcome, want: SpectrumOutcome, what: string): { worst: number } {
  assert.ok(!isSpectrumSkipped(got) && !isSpectrumSkipped(want), what);
  const g = got as Spectrum;
  const w = want as Spectrum;
  assert.equal(g.singularValues.length, w.singularValues.length);
  const s1 = w.singularValues[0];
  let worst = 0;
  g.singularValues.forEach((s, i) => (worst = Math.max(worst, Math.abs(s - w.singularValues[i]) / s1)));
  assert.ok(worst <= TOL_S, `${what}: a singular value off by ${worst} of s_1`);
  assert.equal(g.rank, w.rank, what);
  assert.ok(Math.abs((g.entropy ?? NaN) - (w.entropy ?? NaN)) <= TOL_H, `${what}: H ${g.entropy} vs ${w.entropy}`);
  assert.ok(Math.abs(g.frobeniusNorm - w.frobeniusNorm) <= 1e-12 * w.frobeniusNorm, `${what}: the Frobenius norm is the exact trace`);
  assert.ok(Math.abs((g.stableRank ?? NaN) - (w.stableRank ?? NaN)) <= 1e-4 * (w.stableRank ?? NaN), what);
  return { worst };
}

test('spectrumGoesToGpu: min side >= 256, float32-valued dtypes, not near-square, at most 2^27 elements', () => {
  assert.equal(SPECTRUM_GPU_MIN_SIDE, 256);
  assert.equal(spectrumGoesToGpu('F32', 256, 512), true);
  assert.equal(spectrumGoesToGpu('BF16', 3072, 768), true);
  assert.equal(spectrumGoesToGpu('F16', 768, 2304), true);
  assert.equal(spectrumGoesToGpu('F32', 255, 4096), false); // small: float64 takes milliseconds
  assert.equal(spectrumGoesToGpu('F32', 256, 511), false); // near-square: the check would reject it
  assert.equal(spectrumGoesToGpu('F32', 768, 768), false);
  assert.equal(spectrumGoesToGpu('F64', 256, 1024), false); // would lose bits as float32
  assert.equal(spectrumGoesToGpu('I8', 256, 1024), false);
  assert.equal(spectrumGoesToGpu('F32', 2048, 2 ** 16 + 1), false); // over 2^27 elements: streamed in float64
});

test('webgpu: spectra of wide and tall matrices match float64 (s_i within 2e-5 s_1), tiled or not, no tensor left behind', async (t) => {
  const gpu = await webgpuOrSkip(t);
  if (!gpu) return;
  for (const [rows, cols, seed] of [
    [256, 600, 1],
    [640, 256, 2],
  ]) {
    const x = gaussian(rows, cols, seed);
    const want = spectrumFromGram(gramOfMatrix(x, rows, cols), rows, cols);
    const whole = await withGpuLimit(2 ** 30, () => spectrumOnGpu(chunksOf(x), rows, cols));
    assert.equal(whole.value.route, 'float32-gpu', `${rows} x ${cols}`);
    assert.ok(whole.largest >= rows * cols * 4, 'the matrix went to the GPU in one buffer');
    assertClose(whole.value.outcome, want, `${rows} x ${cols}`);
    // Under a limit of half the matrix (the Gram still fits): panels, each buffer within the limit.
    const limit = rows * cols * 2;
    const tiled = await withGpuLimit(limit, () => spectrumOnGpu(chunksOf(x), rows, cols));
    assert.equal(tiled.value.route, 'float32-gpu');
    assert.ok(tiled.largest <= limit, `a ${tiled.largest}-byte buffer over the ${limit}-byte limit`);
    assertClose(tiled.value.outcome, want, `${rows} x ${cols} tiled`);
    // The Gram alone over the limit: the float64 route, the same numbers as it.
    const n = Math.min(rows, cols);
    const small = await withGpuLimit(n * n * 4 - 4, () => spectrumOnGpu(chunksOf(x), rows, cols));
    assert.equal(small.value.route, 'float64-fallback');
    assert.deepEqual(small.value.outcome, want);
  }
  // A zero matrix: no singular values, as on the float64 route.
  const zero = await spectrumOnGpu(chunksOf(new Float32Array(256 * 520)), 256, 520);
  assert.deepEqual(zero.outcome, spectrumFromGram(gramOfMatrix(new Float32Array(256 * 520), 256, 520), 256, 520));
  gpu.assertNoTensorsLeft();
});

test('webgpu: a rank-3 matrix is rejected by the float32 check and redone in float64 (same spectrum as the float64 route)', async (t) => {
  const gpu = await webgpuOrSkip(t);
  if (!gpu) return;
  const rows = 256;
  const cols = 600;
  const rng = new Random(7);
  const u = rng.normals(rows * 3, 1);
  const v = rng.normals(3 * cols, 1);
  const x = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++)
      x[i * cols + j] = u[i * 3] * v[j] + 0.5 * u[i * 3 + 1] * v[cols + j] + 0.25 * u[i * 3 + 2] * v[2 * cols + j];
  const got = await spectrumOnGpu(chunksOf(x), rows, cols);
  assert.equal(got.route, 'float64-fallback');
  assert.deepEqual(got.outcome, spectrumFromGram(gramOfMatrix(x, rows, cols), rows, cols));
  gpu.assertNoTensorsLeft();
});

test("webgpu: the inspector worker's spectrum job with backend webgpu (a 300 x 700 F32 weight) matches its float64 route", async (t) => {
  if (!(await adapterOrSkip(t))) return;
  const [rows, cols] = [300, 700];
  const x = gaussian(rows, cols, 3);
  await inTempDir(async (dir) => {
    const file = join(dir, 'w.safetensors');
    writeFileSync(file, craft({ w: entry('F32', [rows, cols], 0, x.byteLength) }, new Uint8Array(x.buffer)));
    await withCheckpoint(file, async (ck) => {
      const signal = new AbortController().signal;
      const want = await computeSpectrumOf(ck, 'w', 2048, signal, () => undefined);
      let fraction = 0;
      const got = await withGpuLimit(2 ** 30, () => computeSpectrumOf(ck, 'w', 2048, signal, (f) => (fraction = f), null, 'webgpu'));
      assert.ok(got.largest >= rows * cols * 4, 'its Gram ran on the GPU');
      assert.equal(fraction, 1);
      assert.equal(got.value.rows, rows);
      const s1 = want.singularValues[0];
      got.value.singularValues.forEach((s, i) =>
        assert.ok(Math.abs(s - want.singularValues[i]) <= TOL_S * s1, `s_${i}: ${s} vs ${want.singularValues[i]}`),
      );
      assert.equal(got.value.rank, want.rank);
      assert.ok(Math.abs((got.value.entropy ?? NaN) - (want.entropy ?? NaN)) <= TOL_H);
    });
  });
});

test('webgpu: the inspector worker (bundled), asked with backend webgpu over its channel, runs the GPU route (close to, not equal to, float64)', async (t) => {
  if (!(await adapterOrSkip(t))) return;
  const [rows, cols] = [280, 600];
  const x = gaussian(rows, cols, 4);
  await inTempDir(async (dir) => {
    const file = join(dir, 'w.safetensors');
    writeFileSync(file, craft({ w: entry('F32', [rows, cols], 0, x.byteLength) }, new Uint8Array(x.buffer)));
    // Bundled as esbuild.config.mjs does (dist/inspectWorker.js): the GPU route is loaded by a
    // dynamic import, which the bundle resolves (tsx's CommonJS hook in a worker does not).
    const worker = await bundleEntry('src/mimicry/worker/inspect/main.ts', join(dir, 'inspectWorker.js'));
    const host = inspectHost(worker, file);
    try {
      await host.open();
      const want = await host.request('spectrum', { name: 'w', spectrumMaxSide: 2048 }).done;
      const got = await host.request('spectrum', { name: 'w', spectrumMaxSide: 2048, backend: 'webgpu' }).done;
      const s1 = want.singularValues[0];
      got.singularValues.forEach((s, i) => assert.ok(Math.abs(s - want.singularValues[i]) <= TOL_S * s1, `s_${i}`));
      // The float64 route is deterministic: a difference in the last bits shows the float32 product ran.
      assert.ok(
        got.singularValues.some((s, i) => s !== want.singularValues[i]),
        'the GPU route ran',
      );
    } finally {
      host.dispose();
    }
  });
});
