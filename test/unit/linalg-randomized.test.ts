import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import { orthonormalize, topKPasses, topKSingularValues, DEFAULT_TOP_K } from '../../src/mimicry/linalg/randomizedSvd';
import { computeSpectrum, isSpectrumSkipped, type Spectrum } from '../../src/mimicry/stats/spectrum';
import type { Checkpoint, DecodedValues, TensorInfo } from '../../src/mimicry/safetensors/types';
import { Random } from '../../src/mimicry/recast/random';

/** An m x k matrix with orthonormal columns (Q of a Gaussian matrix, by ml-matrix's Householder QR). */
function orthonormal(m: number, k: number, rng: Random): Matrix {
  const g = Matrix.from1DArray(m, k, Array.from(rng.normals(m * k)));
  return new QrDecomposition(g).orthogonalMatrix.subMatrix(0, m - 1, 0, k - 1);
}

/** W = U diag(s) V^T with random orthonormal U, V: singular values exactly s (to rounding). */
function withSpectrum(rows: number, cols: number, s: readonly number[], seed: number): Float64Array {
  const rng = new Random(seed);
  const r = s.length;
  const u = orthonormal(rows, r, rng);
  const v = orthonormal(cols, r, rng);
  const us = u.clone();
  for (let i = 0; i < rows; i++) for (let j = 0; j < r; j++) us.set(i, j, u.get(i, j) * s[j]);
  return Float64Array.from(us.mmul(v.transpose()).to1DArray());
}

function denseSingularValues(values: ArrayLike<number>, rows: number, cols: number): number[] {
  const svd = new SingularValueDecomposition(Matrix.from1DArray(rows, cols, Array.from(values)), {
    computeLeftSingularVectors: false,
    computeRightSingularVectors: false,
    autoTranspose: true,
  });
  return svd.diagonal.slice().sort((a, b) => b - a);
}

/** Chunks of `size` values, row boundaries ignored (as a checkpoint's reader yields them). */
function chunked(values: Float64Array, size: number): () => Iterable<Float64Array> {
  return function* () {
    for (let i = 0; i < values.length; i += size) yield values.subarray(i, i + size);
  };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

test('randomized top-k of a decaying spectrum (s_i = 0.9^i) matches a dense SVD; estimates are lower bounds', async () => {
  for (const [rows, cols] of [
    [240, 400],
    [400, 240],
  ]) {
    const s = Array.from({ length: 240 }, (_, i) => 3 * 0.9 ** i);
    const w = withSpectrum(rows, cols, s, rows);
    const ref = denseSingularValues(w, rows, cols);
    const k = 24;
    const got = await topKSingularValues(chunked(w, 1000), rows, cols, { ...DEFAULT_TOP_K, k });
    assert.equal(got.nonFinite, false);
    assert.equal(got.singularValues.length, k);
    let frob2 = 0;
    for (const v of w) frob2 += v * v;
    assert.ok(rel(got.frobeniusSquared, frob2) < 1e-12, 'Frobenius norm is exact');
    for (let i = 0; i < k; i++) {
      // s_(l+1) / s_i = 0.9^(k + 8 - i): the error shrinks like its (2q + 1)th power and faster.
      const tol = i < 12 ? 1e-8 : 2e-3;
      assert.ok(rel(got.singularValues[i], ref[i]) <= tol, `s[${i}]: ${got.singularValues[i]} vs ${ref[i]}`);
      assert.ok(got.singularValues[i] <= ref[i] * (1 + 1e-12), `s[${i}] is a lower bound`);
      if (i > 0) assert.ok(got.singularValues[i] <= got.singularValues[i - 1], 'descending');
    }
  }
});

test('randomized top-k: slow (power-law) decay, exact low rank, same seed same values, bad input', async () => {
  const rows = 200,
    cols = 300;
  // s_i = 1 / (i + 1): slowly decaying; the power iterations carry the top values.
  const w = withSpectrum(
    rows,
    cols,
    Array.from({ length: 200 }, (_, i) => 1 / (i + 1)),
    7,
  );
  const ref = denseSingularValues(w, rows, cols);
  const a = await topKSingularValues(chunked(w, 777), rows, cols, { ...DEFAULT_TOP_K, k: 16 });
  const b = await topKSingularValues(chunked(w, 64), rows, cols, { ...DEFAULT_TOP_K, k: 16 });
  for (let i = 0; i < 4; i++) assert.ok(rel(a.singularValues[i], ref[i]) < 1e-4, `power law s[${i}]: ${a.singularValues[i]} vs ${ref[i]}`);
  assert.ok(rel(a.singularValues[15], ref[15]) < 0.05);
  // Chunking changes only how values pair up in the sums: rounding, nothing more.
  for (let i = 0; i < 16; i++) assert.ok(rel(a.singularValues[i], b.singularValues[i]) < 1e-12, `chunking s[${i}]`);

  // Rank 5 with k = 10: five values exact, the rest zero.
  const low = withSpectrum(rows, cols, [5, 4, 3, 2, 1], 9);
  const r = await topKSingularValues(chunked(low, 500), rows, cols, { ...DEFAULT_TOP_K, k: 10 });
  for (let i = 0; i < 5; i++) assert.ok(rel(r.singularValues[i], 5 - i) < 1e-10, `low rank s[${i}] = ${r.singularValues[i]}`);
  for (let i = 5; i < 10; i++) assert.ok(r.singularValues[i] < 1e-6, `low rank s[${i}] = ${r.singularValues[i]}`);

  const bad = new Float64Array(12);
  bad[5] = Number.NaN;
  assert.equal((await topKSingularValues(chunked(bad, 5), 3, 4, { ...DEFAULT_TOP_K, k: 2 })).nonFinite, true);
  await assert.rejects(topKSingularValues(chunked(new Float64Array(11), 5), 3, 4), /11 elements, expected 12/);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(topKSingularValues(chunked(w, 500), rows, cols, DEFAULT_TOP_K, { signal: ac.signal }), { name: 'AbortError' });
});

test('orthonormalize: orthonormal columns, dependent columns become zero', () => {
  const m = 50,
    l = 6;
  const rng = new Random(3);
  const a = Float64Array.from(rng.normals(m * l));
  for (let i = 0; i < m; i++) a[i * l + 4] = 2 * a[i * l + 1] - a[i * l + 0]; // column 4 depends on 0 and 1
  orthonormalize(a, m, l);
  for (let p = 0; p < l; p++)
    for (let q = 0; q < l; q++) {
      let d = 0;
      for (let i = 0; i < m; i++) d += a[i * l + p] * a[i * l + q];
      const want = p === q && p !== 4 ? 1 : 0;
      assert.ok(Math.abs(d - want) < 1e-13, `<q${p}, q${q}> = ${d}`);
    }
});

function memoryCheckpoint(name: string, shape: number[], values: Float64Array): Checkpoint {
  const info = { name, dtype: 'F64', shape, params: values.length } as unknown as TensorInfo;
  return {
    tensors: [info],
    tensor: (n: string) => (n === name ? info : undefined),
    chunks: (_t: TensorInfo, chunkElements = 4096, signal?: AbortSignal) =>
      (async function* () {
        for (let i = 0; i < values.length; i += chunkElements) {
          signal?.throwIfAborted();
          yield values.subarray(i, i + chunkElements) as DecodedValues;
        }
      })(),
  } as unknown as Checkpoint;
}

test('computeSpectrum over the size limit: the top k, marked estimated, with progress; without topK still skipped', async () => {
  const rows = 120,
    cols = 260;
  const s = Array.from({ length: 120 }, (_, i) => 2 * 0.85 ** i);
  const w = withSpectrum(rows, cols, s, 5);
  const ref = denseSingularValues(w, rows, cols);
  const ck = memoryCheckpoint('w', [rows, cols], w);
  const t = ck.tensor('w')!;
  assert.match(String((await computeSpectrum(ck, t, { maxSide: 100 })).skipped), /over the spectrum size limit of 100/);
  const seen: number[] = [];
  const out = await computeSpectrum(ck, t, { maxSide: 100, topK: 20, chunkElements: 1000, onProgress: (d) => seen.push(d) });
  assert.ok(!isSpectrumSkipped(out));
  const sp = out as Spectrum;
  assert.deepEqual(sp.estimated, { topK: 20, powerIterations: DEFAULT_TOP_K.powerIterations, oversampling: DEFAULT_TOP_K.oversampling });
  assert.equal(sp.singularValues.length, 20);
  for (let i = 0; i < 10; i++) assert.ok(rel(sp.singularValues[i], ref[i]) < 1e-8, `s[${i}]`);
  let frob2 = 0;
  for (const v of w) frob2 += v * v;
  assert.ok(rel(sp.frobeniusNorm, Math.sqrt(frob2)) < 1e-12);
  assert.ok(rel(sp.stableRank!, frob2 / ref[0] ** 2) < 1e-8, 'stable rank from the exact norm and s1');
  // Entropy and effective rank are those of the top 20 values alone.
  const top = ref.slice(0, 20);
  const sum = top.reduce((x, y) => x + y, 0);
  const h = -top.reduce((acc, x) => acc + (x / sum) * Math.log(x / sum), 0);
  assert.ok(Math.abs(sp.entropy! - h) < 1e-4, `entropy ${sp.entropy} vs ${h}`);
  assert.ok(seen.length > 0 && seen.every((d, i) => d <= rows * cols && (i === 0 || d >= seen[i - 1])), 'progress rises');
  assert.equal(seen[seen.length - 1], rows * cols);
  assert.equal(topKPasses(DEFAULT_TOP_K), 6);
  // The exact route under the limit is untouched by topK.
  const exact = await computeSpectrum(ck, t, { maxSide: 200, topK: 20 });
  assert.ok(!isSpectrumSkipped(exact) && exact.estimated === undefined && exact.singularValues.length === 120);
});
