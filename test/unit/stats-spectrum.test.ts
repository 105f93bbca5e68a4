import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import {
  computeSpectrum,
  isSpectrumSkipped,
  matrixView,
  spectrumFromMatrix,
  type Spectrum,
  type SpectrumOutcome,
} from '../../src/mimicry/stats/spectrum';
import { gramOfMatrix, streamGram } from '../../src/mimicry/stats/gram';
import { spectralMetrics } from '../../src/mimicry/stats/spectralMetrics';
import { isStatsSkipped, tensorStatsOf } from '../../src/mimicry/stats/checkpointStats';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import type { Checkpoint, DType, DecodedValues, TensorInfo } from '../../src/mimicry/safetensors/types';
import { rng } from './helpers/rng';

const GPT2 = 'test/fixtures/real/capp-gpt2-4layer.safetensors';
const CNN = 'test/fixtures/real/tinygrad-mnist-cnn.safetensors';

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const rand = rng(seed);
  return Float64Array.from({ length: rows * cols }, () => rand() * 2 - 1);
}

/** A = B C with B rows x k, C k x cols: rank k. */
function lowRank(rows: number, cols: number, k: number, seed: number): Float64Array {
  const b = randomMatrix(rows, k, seed);
  const c = randomMatrix(k, cols, seed + 1);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += b[i * k + t] * c[t * cols + j];
      out[i * cols + j] = s;
    }
  return out;
}

/** Independent reference: ml-matrix's dense one-sided SVD (Golub-Kahan), descending. */
function denseSingularValues(values: ArrayLike<number>, rows: number, cols: number): number[] {
  const m = Matrix.from1DArray(rows, cols, Array.from(values));
  const svd = new SingularValueDecomposition(m, {
    computeLeftSingularVectors: false,
    computeRightSingularVectors: false,
    autoTranspose: true,
  });
  return svd.diagonal.slice().sort((a, b) => b - a);
}

/** Metrics by their definitions, from a reference spectrum and the entries. */
function referenceMetrics(s: number[], values: ArrayLike<number>) {
  let frob2 = 0;
  for (let i = 0; i < values.length; i++) frob2 += values[i] ** 2;
  const sum = s.reduce((a, b) => a + b, 0);
  const h = -s.filter((x) => x / sum > 1e-300).reduce((acc, x) => acc + (x / sum) * Math.log(x / sum), 0);
  return { s1: s[0], frob: Math.sqrt(frob2), stable: frob2 / s[0] ** 2, entropy: h, effective: Math.exp(h) };
}

function assertSpectrum(outcome: SpectrumOutcome): Spectrum {
  assert.ok(!isSpectrumSkipped(outcome), `skipped: ${outcome.skipped}`);
  return outcome;
}

function close(actual: number | null, expected: number, tol: number, what: string): void {
  assert.ok(actual !== null, `${what} is null`);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

function compareWithDense(values: Float64Array | Float32Array, rows: number, cols: number, rankTol = 0): Spectrum {
  const sp = assertSpectrum(spectrumFromMatrix(values, rows, cols));
  const ref = denseSingularValues(values, rows, cols);
  assert.equal(sp.singularValues.length, Math.min(rows, cols));
  assert.equal(sp.rows, rows);
  assert.equal(sp.cols, cols);
  const s1 = ref[0];
  for (let i = 0; i < ref.length; i++) {
    // Through the Gram, absolute accuracy is ~sqrt(eps) * s1 at the bottom and ~eps * s1 at the top.
    const tol = ref[i] > 1e-3 * s1 ? 1e-10 * s1 : 1e-6 * s1;
    close(sp.singularValues[i], ref[i], tol, `s[${i}]`);
    if (i > 0) assert.ok(sp.singularValues[i] <= sp.singularValues[i - 1], 'descending');
  }
  const m = referenceMetrics(ref, values);
  close(sp.spectralNorm, m.s1, 1e-10 * m.s1, 'spectral norm');
  close(sp.frobeniusNorm, m.frob, 1e-10 * m.frob, 'frobenius norm');
  close(sp.stableRank, m.stable, 1e-9 * m.stable, 'stable rank');
  close(sp.entropy, m.entropy, 1e-6, 'entropy');
  close(sp.effectiveRank, m.effective, 1e-6 * m.effective, 'effective rank');
  const refRank = ref.filter((x) => x > 1e-6 * s1).length;
  assert.ok(Math.abs(sp.rank - refRank) <= rankTol, `rank ${sp.rank} vs ${refRank}`);
  if (sp.rank >= 2) close(sp.normalizedEntropy, sp.entropy! / Math.log(sp.rank), 1e-12, 'normalized entropy');
  return sp;
}

test('tall random matrix: singular values and metrics match a dense SVD', () => {
  compareWithDense(randomMatrix(60, 17, 1), 60, 17);
});

test('wide random matrix: singular values and metrics match a dense SVD', () => {
  compareWithDense(randomMatrix(13, 70, 2), 13, 70);
});

test('square float32 matrix matches a dense SVD', () => {
  compareWithDense(Float32Array.from(randomMatrix(25, 25, 3)), 25, 25);
});

test('rank-deficient matrices: the missing directions come out as (near) zero', () => {
  for (const [rows, cols] of [
    [40, 30],
    [30, 40],
  ] as const) {
    const sp = compareWithDense(lowRank(rows, cols, 5, 7), rows, cols);
    assert.equal(sp.rank, 5);
    for (let i = 5; i < sp.singularValues.length; i++) assert.ok(sp.singularValues[i] < 1e-6 * sp.spectralNorm);
  }
});

test('diagonal matrices: stable and effective rank by hand', () => {
  // diag(3, 4): ||W||_F^2 = 25, s1 = 4; p = (4/7, 3/7).
  const d = assertSpectrum(spectrumFromMatrix(new Float64Array([3, 0, 0, 4]), 2, 2));
  assert.deepEqual(d.singularValues, [4, 3]);
  assert.equal(d.spectralNorm, 4);
  close(d.stableRank, 25 / 16, 1e-15, 'stable rank');
  const h = -(4 / 7) * Math.log(4 / 7) - (3 / 7) * Math.log(3 / 7);
  close(d.entropy, h, 1e-15, 'entropy');
  close(d.effectiveRank, Math.exp(h), 1e-15, 'effective rank');
  close(d.normalizedEntropy, h / Math.log(2), 1e-15, 'normalized entropy');
  assert.equal(d.rank, 2);

  // Identity 4 x 4: every rank measure is 4, entropy ln 4, normalised 1.
  const eye = new Float64Array(16);
  for (let i = 0; i < 4; i++) eye[i * 5] = 1;
  const e = assertSpectrum(spectrumFromMatrix(eye, 4, 4));
  assert.deepEqual(e.singularValues, [1, 1, 1, 1]);
  close(e.stableRank, 4, 1e-15, 'stable rank');
  close(e.effectiveRank, 4, 1e-14, 'effective rank');
  close(e.normalizedEntropy, 1, 1e-15, 'normalized entropy');

  // diag(5, 0, 0) in a 3 x 4: rank 1, stable and effective rank 1, entropy 0.
  const one = new Float64Array(12);
  one[0] = 5;
  const o = assertSpectrum(spectrumFromMatrix(one, 3, 4));
  assert.deepEqual(o.singularValues, [5, 0, 0]);
  assert.equal(o.stableRank, 1);
  assert.equal(o.effectiveRank, 1);
  assert.equal(o.entropy, 0);
  assert.equal(o.normalizedEntropy, null);
  assert.equal(o.rank, 1);
});

test('spectralMetrics on given singular values follows the definitions', () => {
  const m = spectralMetrics([1, 2, 3, 0]);
  assert.equal(m.spectralNorm, 3);
  close(m.stableRank, 14 / 9, 1e-15, 'stable rank');
  const p = [1 / 6, 2 / 6, 3 / 6];
  const h = -p.reduce((a, x) => a + x * Math.log(x), 0);
  close(m.entropy, h, 1e-15, 'entropy');
  close(m.effectiveRank, Math.exp(h), 1e-15, 'effective rank');
  close(m.normalizedEntropy, h / Math.log(3), 1e-15, 'normalized');
  assert.equal(m.rank, 3);
  assert.throws(() => spectralMetrics([1, -1]), RangeError);
});

test('a zero matrix has norm 0 and undefined (null) ranks', () => {
  const z = assertSpectrum(spectrumFromMatrix(new Float32Array(6), 2, 3));
  assert.deepEqual(z.singularValues, [0, 0]);
  assert.equal(z.spectralNorm, 0);
  assert.equal(z.frobeniusNorm, 0);
  assert.equal(z.stableRank, null);
  assert.equal(z.effectiveRank, null);
  assert.equal(z.entropy, null);
  assert.equal(z.rank, 0);
});

test('NaN or Inf values, empty matrices and over-limit sizes are skipped with a reason', () => {
  const bad = randomMatrix(4, 4, 9);
  bad[5] = NaN;
  assert.match(String(spectrumFromMatrix(bad, 4, 4).skipped), /NaN or Inf/);
  bad[5] = -Infinity;
  assert.match(String(spectrumFromMatrix(bad, 4, 4).skipped), /NaN or Inf/);
  assert.match(String(spectrumFromMatrix(new Float32Array(0), 0, 5).skipped), /empty/);
  const big = spectrumFromMatrix(new Float32Array(20 * 30), 20, 30, { maxSide: 10 });
  assert.deepEqual(big, { skipped: 'smaller side 20 of 20 x 30 is over the spectrum size limit of 10', rows: 20, cols: 30 });
});

test('small panels (many passes for wide, many flushes for tall) give the same Gram', async () => {
  for (const [rows, cols] of [
    [23, 9],
    [9, 23],
    [10, 10],
  ] as const) {
    const values = randomMatrix(rows, cols, rows * 100 + cols);
    const ref = gramOfMatrix(values, rows, cols);
    for (const panel of [1, 7, 50]) {
      const g = gramOfMatrix(values, rows, cols, panel);
      for (let i = 0; i < g.gram.length; i++) close(g.gram[i], ref.gram[i], 1e-12, `panel ${panel} G[${i}]`);
      const streamed = await streamGram(chunksOf(values, 5), rows, cols, { panelElements: panel });
      for (let i = 0; i < g.gram.length; i++) close(streamed.gram[i], ref.gram[i], 1e-12, `streamed panel ${panel} G[${i}]`);
    }
    // and against a direct product
    const n = Math.min(rows, cols);
    const tall = rows > cols;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        if (tall) for (let r = 0; r < rows; r++) s += values[r * cols + i] * values[r * cols + j];
        else for (let c = 0; c < cols; c++) s += values[i * cols + c] * values[j * cols + c];
        close(ref.gram[i * n + j], s, 1e-12, `G[${i},${j}]`);
      }
  }
});

test('matrixView reshapes [out, ...rest] to out x prod(rest)', () => {
  assert.deepEqual(matrixView([32, 1, 5, 5]), { rows: 32, cols: 25 });
  assert.deepEqual(matrixView([64, 256]), { rows: 64, cols: 256 });
  assert.equal(matrixView([64]), null);
  assert.equal(matrixView([]), null);
});

function chunksOf(values: Float64Array | Float32Array, size: number): () => AsyncIterable<DecodedValues> {
  return async function* () {
    for (let i = 0; i < values.length; i += size) yield values.subarray(i, i + size);
  };
}

/** An in-memory Checkpoint, enough for the stats helpers. */
function memoryCheckpoint(entries: { name: string; dtype: DType; shape: number[]; values: Float64Array }[]): Checkpoint {
  const tensors: TensorInfo[] = entries.map((e) => {
    const params = e.shape.reduce((a, b) => a * b, 1);
    return { name: e.name, dtype: e.dtype, shape: e.shape, dataOffsets: [0, 0], params, bytes: 0, file: 'mem', fileOffset: 0 };
  });
  const data = new Map(entries.map((e) => [e.name, e.values]));
  return {
    path: 'mem',
    kind: 'single',
    files: ['mem'],
    totalBytes: 0,
    metadata: {},
    tensors,
    tensor: (name) => tensors.find((t) => t.name === name),
    readBytes: () => Promise.reject(new Error('not in memory')),
    readValues: (t) => Promise.resolve(data.get(t.name)!),
    chunks: (t, chunkElements = 3, signal) => {
      signal?.throwIfAborted();
      return chunksOf(data.get(t.name)!, chunkElements)();
    },
    close: () => Promise.resolve(),
  };
}

test('computeSpectrum on a checkpoint: matrices, conv kernels, vectors and undecoded dtypes', async () => {
  const w = randomMatrix(6, 8, 11);
  const k = randomMatrix(4, 2 * 3 * 3, 12);
  const ckpt = memoryCheckpoint([
    { name: 'w', dtype: 'F64', shape: [6, 8], values: w },
    { name: 'conv', dtype: 'F64', shape: [4, 2, 3, 3], values: k },
    { name: 'bias', dtype: 'F64', shape: [6], values: new Float64Array(6) },
    { name: 'packed', dtype: 'F4', shape: [4, 4], values: new Float64Array(16) },
  ]);
  const sw = assertSpectrum(await computeSpectrum(ckpt, ckpt.tensor('w')!));
  assert.deepEqual(sw, spectrumFromMatrix(w, 6, 8));
  const sc = assertSpectrum(await computeSpectrum(ckpt, ckpt.tensor('conv')!, { chunkElements: 5 }));
  assert.equal(sc.rows, 4);
  assert.equal(sc.cols, 18);
  assert.deepEqual(sc, spectrumFromMatrix(k, 4, 18));
  assert.deepEqual(await computeSpectrum(ckpt, ckpt.tensor('bias')!), {
    skipped: 'a 1-d tensor has no matrix spectrum',
    rows: null,
    cols: null,
  });
  assert.match(String((await computeSpectrum(ckpt, ckpt.tensor('packed')!)).skipped), /F4 is not decoded/);
  const st = await tensorStatsOf(ckpt, ckpt.tensor('packed')!);
  assert.ok(isStatsSkipped(st));
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(computeSpectrum(ckpt, ckpt.tensor('w')!, { signal: controller.signal }), { name: 'AbortError' });
});

test('real GPT-2 weights (attn.c_proj [64,64], mlp.c_fc [64,256]) match a dense SVD', async () => {
  const ckpt = await openCheckpoint(GPT2);
  try {
    for (const name of ['transformer.h.0.attn.c_proj.weight', 'transformer.h.2.mlp.c_fc.weight', 'transformer.h.3.mlp.c_proj.weight']) {
      const t = ckpt.tensor(name);
      assert.ok(t, name);
      const values = await ckpt.readValues(t);
      const [rows, cols] = t.shape;
      const ref = compareWithDense(values, rows, cols);
      // The streamed route, in small chunks, agrees with the in-memory one.
      const streamed = assertSpectrum(await computeSpectrum(ckpt, t, { chunkElements: 1000 }));
      for (let i = 0; i < ref.singularValues.length; i++)
        close(streamed.singularValues[i], ref.singularValues[i], 1e-12 * ref.spectralNorm, `${name} s[${i}]`);
      // Trained weights: full rank, spread out spectrum.
      assert.equal(streamed.rank, Math.min(rows, cols));
      assert.ok(streamed.stableRank! > 1 && streamed.stableRank! < Math.min(rows, cols));
      assert.ok(streamed.effectiveRank! > streamed.stableRank!);
    }
  } finally {
    await ckpt.close();
  }
});

test('real conv kernel [32, 32, 5, 5] reshaped to 32 x 800 matches a dense SVD', async () => {
  const ckpt = await openCheckpoint(CNN);
  try {
    const t = ckpt.tensor('layers.2.weight');
    assert.ok(t);
    assert.deepEqual(t.shape, [32, 32, 5, 5]);
    const values = await ckpt.readValues(t);
    const ref = compareWithDense(values, 32, 800);
    assert.deepEqual(assertSpectrum(await computeSpectrum(ckpt, t)).singularValues, ref.singularValues);
  } finally {
    await ckpt.close();
  }
});

test('streamGram stops between chunks on abort and refuses a source of the wrong length', async () => {
  const values = randomMatrix(30, 4, 21);
  const controller = new AbortController();
  let yielded = 0;
  const chunks = (): AsyncIterable<DecodedValues> =>
    (async function* () {
      for (let i = 0; i < values.length; i += 10) {
        if (++yielded === 3) controller.abort();
        yield values.subarray(i, i + 10);
      }
    })();
  await assert.rejects(streamGram(chunks, 30, 4, { signal: controller.signal }), { name: 'AbortError' });
  assert.equal(yielded, 3);
  await assert.rejects(streamGram(chunksOf(values, 7), 30, 5), /more than 150|expected 150/);
  await assert.rejects(streamGram(chunksOf(values, 7), 31, 4), /expected 124/);
});
