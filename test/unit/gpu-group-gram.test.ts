// The closed form's group Gram on the webgpu backend (recast/groupGramGpu.ts): column chunks on the
// GPU through gramOnGpu, summed in float64, the float32 check, the float64 fallback; against the
// float64 route (linalg.ts gram), and a spectral run on --backend webgpu against one on the CPU.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_PANEL_LINES } from '../../src/mimicry/recast/entropyGpu';
import { groupGram, GROUP_GRAM_GPU_MIN_ELEMENTS } from '../../src/mimicry/recast/groupGramGpu';
import { gram } from '../../src/mimicry/recast/linalg';
import { Random } from '../../src/mimicry/recast/random';
import { reconstruct } from '../../src/mimicry/recast/reconstruct';
import { fitSpectral } from '../../src/mimicry/recast/spectral';
import { releaseGpu } from '../../src/mimicry/recast/tfjs';
import { adapterOrSkip, webgpuOrSkip, withGpuLimit } from './helpers/gpu';
import { craft, entry } from './helpers/safetensors-craft';
import { inTempDir, withCheckpoint } from './helpers/temp-dir';

/**
 * A Gram entry against float64, relative to sqrt(G_aa G_bb): float32 sums over a chunk of 2^16
 * columns, about sqrt(2^16) eps32 = 1.5e-5 for random signs. Measured on lavapipe: 7e-9. Diagonal
 * entries are the exact float64 ones.
 */
const TOL_GRAM = 1e-5;

after(() => releaseGpu());

/** L members sharing a common part (as a stack's layers do) plus their own noise. */
function members(L: number, d: number, seed: number, scale = 0.02): Float32Array[] {
  const rng = new Random(seed);
  const base = rng.normals(d, scale);
  return Array.from({ length: L }, () => {
    const noise = rng.normals(d, scale);
    return Float32Array.from(base, (b, i) => 0.6 * b + noise[i]);
  });
}

function worstRelative(got: Float64Array, want: Float64Array, L: number): number {
  let worst = 0;
  for (let a = 0; a < L; a++)
    for (let b = 0; b < L; b++)
      worst = Math.max(worst, Math.abs(got[a * L + b] - want[a * L + b]) / Math.sqrt(want[a * L + a] * want[b * L + b]));
  return worst;
}

test('groupGram: the float64 route unless webgpu and at least 2^22 values', async () => {
  assert.equal(GROUP_GRAM_GPU_MIN_ELEMENTS, 2 ** 22);
  const rows = members(3, 1000, 1);
  assert.deepEqual(await groupGram(rows, 'wasm', { minElements: 0 }), { gram: gram(rows), route: 'float64' });
  assert.deepEqual(await groupGram(rows, 'auto', { minElements: 0 }), { gram: gram(rows), route: 'float64' });
  assert.deepEqual(await groupGram(rows, 'webgpu'), { gram: gram(rows), route: 'float64' }); // 3000 values: below the threshold
});

test('webgpu: a group Gram in column chunks on the GPU matches float64 to 1e-5 (tiled or not); fitSpectral from it matches', async (t) => {
  const gpu = await webgpuOrSkip(t);
  if (!gpu) return;
  const L = 6;
  const d = 150_000;
  for (const [rows, what] of [
    [members(L, d, 2), 'weights of ordinary size'],
    [members(L, d, 3, 1e-9), 'tiny weights (scaled by a power of two)'],
  ] as const) {
    const want = gram(rows);
    const whole = await withGpuLimit(2 ** 30, () => groupGram(rows, 'webgpu', { minElements: 0, chunk: 2 ** 16 }));
    assert.equal(whole.value.route, 'float32-gpu', what);
    assert.ok(whole.largest >= L * 2 ** 16 * 4, 'a chunk went to the GPU whole');
    const worst = worstRelative(whole.value.gram, want, L);
    assert.ok(worst <= TOL_GRAM, `${what}: an entry off by ${worst} of sqrt(G_aa G_bb)`);
    for (let a = 0; a < L; a++) assert.equal(whole.value.gram[a * L + a], want[a * L + a], 'the diagonal is the exact float64 one');
    // A limit of a third of a chunk: each chunk split into panels that fit.
    const limit = Math.floor((L * 2 ** 16 * 4) / 3);
    const tiled = await withGpuLimit(limit, () => groupGram(rows, 'webgpu', { minElements: 0, chunk: 2 ** 16 }));
    assert.equal(tiled.value.route, 'float32-gpu');
    assert.ok(tiled.largest <= limit, `a ${tiled.largest}-byte buffer over the ${limit}-byte limit`);
    assert.ok(worstRelative(tiled.value.gram, want, L) <= TOL_GRAM);
    // The closed form from the GPU's Gram: the same templates and coefficients to float32 accuracy.
    const cpu = fitSpectral(rows, 3, 'per-layer');
    const gpu = fitSpectral(rows, 3, 'per-layer', undefined, whole.value.gram);
    assert.equal(gpu.rank, cpu.rank);
    cpu.alpha.forEach((v, i) =>
      assert.ok(Math.abs(gpu.alpha[i] - v) <= 1e-4 * Math.max(1, Math.abs(v)), `alpha ${i}: ${gpu.alpha[i]} vs ${v}`),
    );
    for (let k = 0; k < gpu.n; k++) {
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = k * d; i < (k + 1) * d; i++) {
        dot += gpu.templates[i] * cpu.templates[i];
        na += gpu.templates[i] ** 2;
        nb += cpu.templates[i] ** 2;
      }
      assert.ok(dot / Math.sqrt(na * nb) >= 1 - 1e-6, `${what}: template ${k} cosine ${dot / Math.sqrt(na * nb)}`);
    }
  }
  // A chunk longer than MAX_PANEL_LINES is split although its buffer fits (tfjs' transpose dispatch limit).
  const long = members(2, MAX_PANEL_LINES * 2 + 5, 8);
  const split = await groupGram(long, 'webgpu', { minElements: 0, chunk: MAX_PANEL_LINES * 4 });
  assert.equal(split.route, 'float32-gpu');
  assert.ok(worstRelative(split.gram, gram(long), 2) <= TOL_GRAM);
  gpu.assertNoTensorsLeft();
});

test('webgpu: a group with a repeated member is rejected by the float32 check and redone in float64; a Gram over the limit stays in float64', async (t) => {
  const gpu = await webgpuOrSkip(t);
  if (!gpu) return;
  const [a, b, c] = members(3, 40_000, 4);
  const rows = [a, b, c, a.slice()];
  const dependent = await groupGram(rows, 'webgpu', { minElements: 0 });
  assert.deepEqual(dependent, { gram: gram(rows), route: 'float64-fallback' });
  const over = await withGpuLimit(4 * 4 * 4 - 4, () => groupGram([a, b, c, members(1, 40_000, 5)[0]], 'webgpu', { minElements: 0 }));
  assert.equal(over.value.route, 'float64');
  gpu.assertNoTensorsLeft();
});

/** A checkpoint of four GPT-2-style `mlp.c_fc` members, [rows, cols] each, in `dir`. */
function stack(dir: string, weights: readonly Float32Array[], rows: number, cols: number): string {
  const header: Record<string, object> = {};
  const data = new Uint8Array(weights.length * rows * cols * 4);
  weights.forEach((w, i) => {
    header[`transformer.h.${i}.mlp.c_fc.weight`] = entry('F32', [rows, cols], i * w.byteLength, (i + 1) * w.byteLength);
    data.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), i * w.byteLength);
  });
  const file = join(dir, 'stack.safetensors');
  writeFileSync(file, craft(header, data));
  return file;
}

const OPTIONS = { modules: ['mlp.c_fc'], blocksPerGroup: 4, templates: 2, entropyMaxSide: 1, entropyEstimate: false, probes: 0 };

test('webgpu: spectral runs on --backend webgpu fit a 4 x 2^20 group from the GPU Gram, in memory and streamed; cosines as on the CPU to 1e-6', async (t) => {
  const gpu = await webgpuOrSkip(t);
  if (!gpu) return;
  const [rows, cols] = [256, 4096];
  await inTempDir(async (dir) => {
    const file = stack(dir, members(4, rows * cols, 6), rows, cols);
    await withCheckpoint(file, async (ck) => {
      const cpu = await reconstruct(ck, { ...OPTIONS, backend: 'cpu' });
      assert.equal(cpu.method.backend, 'js-float64');
      // 1 MiB of group memory: the 16 MiB group is streamed in column chunks.
      for (const groupMemoryBytes of [undefined, 2 ** 20]) {
        const gpu = await reconstruct(ck, { ...OPTIONS, backend: 'webgpu', groupMemoryBytes });
        assert.equal(gpu.method.backend, 'webgpu', `group memory ${groupMemoryBytes}`);
        assert.ok(gpu.method.device, 'the adapter is reported');
        assert.equal(gpu.layers.length, 4);
        gpu.layers.forEach((l, i) =>
          assert.ok(Math.abs(l.cosine - cpu.layers[i].cosine) <= 1e-6, `${l.name}: ${l.cosine} vs ${cpu.layers[i].cosine}`),
        );
        assert.equal(gpu.banks[0].metrics.rank, cpu.banks[0].metrics.rank);
      }
    });
  });
  gpu.assertNoTensorsLeft('no tensor left behind by the runs');
});

test('webgpu: a streamed group with a repeated member: the check rejects the GPU Gram, a float64 pass gives the CPU fit', async (t) => {
  if (!(await adapterOrSkip(t))) return;
  const [rows, cols] = [64, 16384];
  const [a, b, c] = members(3, rows * cols, 9);
  await inTempDir(async (dir) => {
    await withCheckpoint(stack(dir, [a, b, c, a], rows, cols), async (ck) => {
      const options = { ...OPTIONS, groupMemoryBytes: 2 ** 20 };
      const gpu = await reconstruct(ck, { ...options, backend: 'webgpu' });
      const cpu = await reconstruct(ck, { ...options, backend: 'cpu' });
      assert.equal(gpu.method.backend, 'js-float64');
      assert.deepEqual(
        gpu.layers.map((l) => l.cosine),
        cpu.layers.map((l) => l.cosine),
      );
    });
  });
});
