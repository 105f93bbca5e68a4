import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { reconstruct } from '../../src/mimicry/recast/reconstruct';
import { spawnSync } from 'node:child_process';
import { bankEntropy, entropyExact, entropyFloat64, entropyOnEngine, prepare, type EntropyRoute } from '../../src/mimicry/recast/entropy';
import { gramEngine } from '../../src/mimicry/recast/entropyGpu';
import { templateEntropy } from '../../src/mimicry/recast/metrics';
import { loadTf } from '../../src/mimicry/recast/tfjs';
import { Random } from '../../src/mimicry/recast/random';
import { numpyMissing } from './helpers/family-craft';

const GPT2 = 'test/fixtures/real/capp-gpt2-4layer.safetensors';
/**
 * Contract of the float32 route: within 1e-4 of the float64 route on H (so within 1e-4 / ln(rank)
 * on H / ln(rank)). Measured: <= 2e-6 on H on the fixture's and ViT-S-sized templates.
 */
const TOL_H = 1e-4;

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

/** Trained-like [rows, cols]: a power-law head of rank 16 over an iid bulk (as bench/vitS.ts). */
function trainedLike(rows: number, cols: number, rng: Random, scale = 0.04): Float32Array {
  const r = 16;
  const a = rng.normals(rows * r),
    b = rng.normals(r * cols);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < r; k++) {
      const w = (a[i * r + k] * 0.7) / (k + 1);
      for (let j = 0; j < cols; j++) out[i * cols + j] += w * b[k * cols + j];
    }
    for (let j = 0; j < cols; j++) out[i * cols + j] = (out[i * cols + j] + 0.6 * rng.normal()) * scale;
  }
  return out;
}

function lowRank(rows: number, cols: number, rank: number, rng: Random, scale = 1): Float32Array {
  const a = rng.normals(rows * rank),
    b = rng.normals(rank * cols);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let k = 0; k < rank; k++) for (let j = 0; j < cols; j++) out[i * cols + j] += a[i * rank + k] * b[k * cols + j] * scale;
  return out;
}

test('float32 Gram route agrees with float64 on the real GPT-2 fixture templates (spectral and compressed)', async () => {
  const { tf: engine } = await loadTf('wasm');
  const ck = await openCheckpoint(GPT2);
  const tensorsBefore = engine.memory().numTensors;
  try {
    let checked = 0;
    for (const options of [{}, { blocksPerGroup: 4, templates: 3 }]) {
      const r = await reconstruct(ck, options);
      for (const b of r.banks) {
        const all = await r.store.get(b.plan.name);
        const rows = b.plan.shape[0];
        const cols = b.plan.size / rows;
        let mean = 0,
          meanN = 0;
        for (let t = 0; t < b.n; t++) {
          const T = all.subarray(t * b.plan.size, (t + 1) * b.plan.size);
          const ref = entropyFloat64(T, rows, cols);
          const got = entropyOnEngine(engine, T, rows, cols);
          assert.equal(got.rank, ref.rank);
          close(got.entropy, ref.entropy, TOL_H, `${b.plan.name}#${t} H`);
          close(got.normalized, ref.normalized, TOL_H / Math.log(ref.rank), `${b.plan.name}#${t} H/ln(rank)`);
          mean += ref.entropy / b.n;
          meanN += ref.normalized / b.n;
          checked++;
        }
        // What reconstruct reports per bank: the mean, within the same tolerance of float64.
        close(b.metrics.entropy ?? Number.NaN, mean, TOL_H, `${b.plan.name} bank mean H`);
        close(b.metrics.entropyNormalized ?? Number.NaN, meanN, TOL_H, `${b.plan.name} bank mean H/ln(rank)`);
      }
      await r.store.dispose();
    }
    assert.ok(checked >= 20);
    assert.equal(engine.memory().numTensors, tensorsBefore, 'reconstruct left tensors behind');
  } finally {
    await ck.close();
  }
});

test('float32 Gram route agrees with float64 on ViT-S-sized trained-like templates (wide, tall, square)', async () => {
  const { tf: engine } = await loadTf('wasm');
  const rng = new Random(11);
  for (const [rows, cols] of [
    [384, 1536],
    [1152, 384],
    [384, 384],
  ]) {
    const T = trainedLike(rows, cols, rng);
    const ref = entropyFloat64(T, rows, cols);
    const got = entropyOnEngine(engine, T, rows, cols);
    close(got.entropy, ref.entropy, TOL_H, `${rows}x${cols} H`);
    close(got.normalized, ref.normalized, TOL_H / Math.log(ref.rank), `${rows}x${cols} H/ln(rank)`);
    assert.ok(ref.normalized > 0.8 && ref.normalized < 1, `${ref.normalized}`);
  }
  // The tall one has no near-zero singular values: it must actually stay on the float32 route.
  assert.equal(entropyOnEngine(engine, trainedLike(1152, 384, rng), 1152, 384).route, 'float32');
});

/** H and H / ln(r) of each matrix by numpy's float64 SVD (singular values only). */
function numpyEntropies(mats: readonly { rows: number; cols: number; T: Float32Array }[]): { h: number; normalized: number }[] {
  const code = [
    'import sys, json, numpy as np',
    'out = []',
    'for spec in json.loads(sys.stdin.buffer.readline()):',
    '    a = np.frombuffer(sys.stdin.buffer.read(4 * spec[0] * spec[1]), dtype="<f4").reshape(spec).astype(np.float64)',
    '    s = np.linalg.svd(a, compute_uv=False)',
    '    p = s / s.sum()',
    '    p = p[p > 0]',
    '    h = float(-(p * np.log(p)).sum())',
    '    out.append({"h": h, "normalized": h / np.log(len(s))})',
    'print(json.dumps(out))',
  ].join('\n');
  const head = Buffer.from(JSON.stringify(mats.map((m) => [m.rows, m.cols])) + '\n');
  const input = Buffer.concat([head, ...mats.map((m) => Buffer.from(m.T.buffer, m.T.byteOffset, m.T.byteLength))]);
  const r = spawnSync('python3', ['-c', code], { input, encoding: 'utf8', maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { h: number; normalized: number }[];
}

test("entropyExact (the CPU route: float32 SIMD Gram, checked, else float64): within 1e-4 of numpy's float64 SVD; float64 where the check or the size asks", () => {
  const rng = new Random(29);
  const cases: { rows: number; cols: number; T: Float32Array; route: EntropyRoute }[] = [
    { rows: 256, cols: 1024, T: trainedLike(256, 1024, rng), route: 'float32' },
    { rows: 1152, cols: 384, T: trainedLike(1152, 384, rng), route: 'float32' },
    { rows: 130, cols: 301, T: trainedLike(130, 301, rng, 3e-9), route: 'float32' }, // odd sizes, tiny weights (scaled)
    { rows: 384, cols: 1536, T: lowRank(384, 1536, 1, rng), route: 'float64-fallback' },
    { rows: 600, cols: 200, T: lowRank(600, 200, 12, rng, 1e15), route: 'float64-fallback' },
    { rows: 384, cols: 384, T: trainedLike(384, 384, rng), route: 'float32' }, // near-square: accepted too
    { rows: 300, cols: 300, T: Float32Array.from(rng.normals(300 * 300, 0.02)), route: 'float32' }, // Gaussian: singular values down to ~0
    { rows: 96, cols: 384, T: trainedLike(96, 384, rng), route: 'float64' }, // small: nothing to save
  ];
  const ref = numpyMissing() ? null : numpyEntropies(cases);
  cases.forEach(({ rows, cols, T, route }, i) => {
    const got = entropyExact(T, rows, cols);
    const f64 = entropyFloat64(T, rows, cols);
    const what = `${rows}x${cols} (${route})`;
    assert.equal(got.route, route, what);
    assert.equal(got.rank, Math.min(rows, cols));
    // Not accepted: the float64 route's very values.
    if (route !== 'float32') assert.deepEqual({ entropy: got.entropy, normalized: got.normalized, rank: got.rank }, f64, what);
    close(got.entropy, f64.entropy, TOL_H, `${what} H vs float64`);
    if (ref) {
      close(got.entropy, ref[i].h, TOL_H, `${what} H vs numpy`);
      close(got.normalized, ref[i].normalized, TOL_H / Math.log(got.rank), `${what} H/ln(r) vs numpy`);
    }
  });
  // Whatever the scale (a power of two puts the values near 1 first): the same value.
  const T = trainedLike(200, 800, rng, 1);
  const base = entropyExact(T, 200, 800);
  assert.equal(base.route, 'float32');
  for (const s of [2 ** -100, 2 ** 100])
    assert.equal(
      entropyExact(
        T.map((v) => v * s),
        200,
        800,
      ).entropy,
      base.entropy,
      `scale ${s}`,
    );
  // A zero template, and one with a NaN.
  assert.deepEqual(entropyExact(new Float32Array(200 * 800), 200, 800), { entropy: 0, normalized: 0, rank: 200, route: 'float32' });
  const bad = T.slice();
  bad[12345] = Number.NaN;
  assert.ok(Number.isNaN(entropyExact(bad, 200, 800).entropy));
});

test("prepare: the smaller side's float64 sums of squares and the largest |value| of wide and tall templates (leftover columns and rows), null for NaN or Infinity anywhere", () => {
  const rng = new Random(8);
  for (const [rows, cols] of [
    [6, 11],
    [11, 6],
    [9, 9],
    [4, 4],
    [1, 7],
    [7, 1],
  ]) {
    const x = Float32Array.from(rng.normals(rows * cols));
    x[rows * cols - 1] = -7.5; // the largest |value|, in the last leftover position
    const p = prepare(x, rows, cols);
    assert.ok(p);
    const tall = rows > cols;
    const n = Math.min(rows, cols);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < (tall ? rows : cols); k++) s += (tall ? x[k * cols + i] : x[i * cols + k]) ** 2;
      assert.ok(Math.abs(p.diag[i] - s) <= 1e-15 * s, `${rows} x ${cols} diag[${i}] ${p.diag[i]} vs ${s}`);
    }
    assert.equal(p.scale, 1);
    for (const bad of [Number.NaN, Infinity, -Infinity])
      for (let at = 0; at < rows * cols; at++) {
        const y = x.slice();
        y[at] = bad;
        assert.equal(prepare(y, rows, cols), null, `${rows} x ${cols}: ${bad} at ${at}`);
      }
  }
  // The scale comes from the largest |value| wherever it lies.
  const big = new Float32Array(5 * 9).fill(1);
  big[4 * 9 + 8] = 2 ** 30;
  assert.equal(prepare(big, 5, 9)?.scale, 2 ** -30);
  assert.equal(prepare(big, 9, 5)?.scale, 2 ** -30);
});

test('low-rank templates (where a float32 Gram is badly off) fall back to float64, at any scale', async () => {
  const { tf: engine } = await loadTf('wasm');
  const rng = new Random(5);
  for (const [rows, cols, rank, scale] of [
    [384, 1536, 1, 1],
    [96, 384, 4, 1e-20],
    [128, 128, 40, 1e15],
    [64, 256, 2, 1],
  ]) {
    const T = lowRank(rows, cols, rank, rng, scale);
    const got = entropyOnEngine(engine, T, rows, cols);
    assert.equal(got.route, 'float64-fallback', `${rows}x${cols} rank ${rank}`);
    assert.deepEqual({ entropy: got.entropy, normalized: got.normalized, rank: got.rank }, entropyFloat64(T, rows, cols));
  }
  // Scale does not matter to the float32 route either (power-of-two scaling, no overflow/underflow).
  const T = trainedLike(64, 256, rng, 1);
  const base = entropyOnEngine(engine, T, 64, 256).entropy;
  for (const s of [2 ** -90, 2 ** 90])
    close(
      entropyOnEngine(
        engine,
        T.map((v) => v * s),
        64,
        256,
      ).entropy,
      base,
      1e-12,
      `scale ${s}`,
    );
});

test('edge cases: zero template, non-finite values, rank one side', async () => {
  const { tf: engine } = await loadTf('wasm');
  assert.deepEqual(entropyOnEngine(engine, new Float32Array(6), 2, 3), { entropy: 0, normalized: 0, rank: 2, route: 'float32' });
  const bad = new Float32Array([1, 2, Number.NaN, 4, 5, 6]);
  assert.ok(Number.isNaN(entropyOnEngine(engine, bad, 2, 3).entropy));
  assert.ok(Number.isNaN(entropyOnEngine(engine, new Float32Array([1, Infinity, 0, 1]), 2, 2).normalized));
  const row = entropyOnEngine(engine, new Float32Array([1, 2, 3]), 1, 3);
  assert.equal(row.entropy, 0);
  assert.equal(row.normalized, 0);
  // equal singular values: ln(rank)
  const eye = new Float32Array(16);
  for (let i = 0; i < 4; i++) eye[i * 5] = 2;
  close(entropyOnEngine(engine, eye, 4, 4).entropy, Math.log(4), 1e-9, 'identity');
});

test('bankEntropy: mean of the templates, float64 route equals templateEntropy, deterministic, no tensor left, abortable', async () => {
  const { tf: engine } = await loadTf('wasm');
  const rng = new Random(8);
  const shape = [48, 4, 4];
  const n = 3;
  const templates = new Float32Array(n * 48 * 16);
  for (let t = 0; t < n; t++) templates.set(trainedLike(48, 16, rng), t * 48 * 16);

  const js = bankEntropy(templates, n, shape, null);
  let mean = 0;
  for (let t = 0; t < n; t++) {
    const e = templateEntropy(templates.subarray(t * 768, (t + 1) * 768), shape);
    assert.deepEqual(js.templates[t], { ...e, route: 'float64' });
    mean += e.entropy / n;
  }
  close(js.entropy, mean, 1e-15, 'mean');

  // The engine's own counter: the test's module instance of tfjs-core may not be the engine's.
  const before = engine.memory().numTensors;
  const a = bankEntropy(templates, n, shape, engine);
  const b = bankEntropy(templates, n, shape, engine);
  assert.equal(engine.memory().numTensors, before);
  assert.deepEqual(a, b);
  close(a.entropy, js.entropy, TOL_H, 'bank H');
  close(a.normalized, js.normalized, TOL_H, 'bank H/ln(rank)');

  // A bank whose first template is rejected by the float32 check does the rest in float64 directly.
  const mixed = new Float32Array(2 * 96 * 384);
  mixed.set(lowRank(96, 384, 2, rng), 0);
  mixed.set(trainedLike(96, 384, rng), 96 * 384);
  const m = bankEntropy(mixed, 2, [96, 384], engine);
  assert.deepEqual(
    m.templates.map((e) => e.route),
    ['float64-fallback', 'float64-fallback'],
  );
  assert.deepEqual(m, { ...bankEntropy(mixed, 2, [96, 384], null), templates: m.templates });
  assert.equal(m.templates[1].entropy, templateEntropy(mixed.subarray(96 * 384), [96, 384]).entropy);

  const ac = new AbortController();
  ac.abort();
  assert.throws(() => bankEntropy(templates, n, shape, engine, ac.signal), { name: 'AbortError' });
  assert.equal(engine.memory().numTensors, before);
});

test('gramEngine: the float64 route unless tfjs-node is active (wasm active or not, cpu asked)', async () => {
  assert.equal(await gramEngine('cpu'), null);
  assert.equal(await gramEngine('auto'), null);
  await loadTf('wasm');
  assert.equal(await gramEngine('auto'), null);
  assert.equal(await gramEngine('wasm'), null);
});

test('denormal weights (below float32 normal range, where the scale factor itself overflows float32) give the float64 answer', async () => {
  const { tf: engine } = await loadTf('wasm');
  const rng = new Random(17);
  const T = trainedLike(32, 64, rng, 1).map((v) => v * 2 ** -140);
  assert.ok(
    T.some((v) => v !== 0 && Math.abs(v) < 2 ** -126),
    'the template holds denormals',
  );
  const ref = entropyFloat64(T, 32, 64);
  const got = entropyOnEngine(engine, T, 32, 64);
  assert.ok(Number.isFinite(got.entropy), `entropy ${got.entropy}`);
  close(got.entropy, ref.entropy, TOL_H, 'denormal H');
});
