import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { fitSpectral, repeatSets } from '../../src/mimicry/recast/spectral';
import { compose } from '../../src/mimicry/recast/compose';
import { layerFidelity } from '../../src/mimicry/recast/metrics';
import { Random } from '../../src/mimicry/recast/random';
import { symmetricEigen } from '../../src/mimicry/recast/linalg';
import { symmetricEigenvalues } from '../../src/mimicry/linalg/symmetricEigenvalues';
import { Scratch } from '../../src/mimicry/recast/scratch';
import { withCheckpoint } from './helpers/temp-dir';

/** L rows of length d: a few shared directions plus noise, with a spread of row norms. */
function members(L: number, d: number, seed: number, scales?: number[]): Float32Array[] {
  const rng = new Random(seed);
  const basis = [0, 1, 2].map(() => rng.normals(d));
  return Array.from({ length: L }, (_, l) => {
    const row = rng.normals(d, 0.3);
    basis.forEach((b, j) => {
      const w = rng.normal();
      for (let i = 0; i < d; i++) row[i] += w * b[i] * (j + 1);
    });
    const s = scales?.[l] ?? 0.02 * (1 + l);
    for (let i = 0; i < d; i++) row[i] *= s;
    return row;
  });
}

function rebuild(rows: readonly Float32Array[], n: number, objective: 'total' | 'per-layer', K = 2) {
  const fit = fitSpectral(rows, n, objective);
  const out = rows.map((_, l) => compose(fit.templates, fit.n, repeatSets(fit.alpha, l, fit.n, K)));
  return { fit, out };
}

function squaredError(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let s = 0;
  a.forEach((r, l) => r.forEach((v, i) => (s += (v - b[l][i]) ** 2)));
  return s;
}

/** Independent route: ml-matrix's dense SVD of X (L x d). */
function denseSvd(rows: readonly Float32Array[]) {
  return new SingularValueDecomposition(new Matrix(rows.map((r) => Array.from(r))), { autoTranspose: true });
}

test('Gram route gives the dense SVD singular values', () => {
  const rows = members(6, 400, 1);
  const svd = denseSvd(rows);
  const { eigenvalues } = fitSpectral(rows, 6, 'total');
  const s = Array.from(eigenvalues, (v) => Math.sqrt(Math.max(0, v)));
  const ref = [...svd.diagonal].sort((a, b) => b - a);
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(s[i] - ref[i]) <= 1e-9 * ref[0], `s${i}: ${s[i]} vs ${ref[i]}`);
});

test('compressing: the rank-n reconstruction equals the truncated dense SVD, error = dropped s^2', () => {
  const rows = members(8, 300, 2);
  const svd = denseSvd(rows);
  const ref = [...svd.diagonal].sort((a, b) => b - a);
  for (const n of [1, 2, 3, 5]) {
    const { fit, out } = rebuild(rows, n, 'total');
    assert.equal(fit.n, n);
    const dropped = ref.slice(n).reduce((a, v) => a + v * v, 0);
    const err = squaredError(rows, out);
    assert.ok(Math.abs(err - dropped) <= 1e-5 * dropped + 1e-9, `n=${n}: error ${err} vs dropped ${dropped}`);
    // same matrix as U_n S_n V_n^T from the dense SVD
    const U = svd.leftSingularVectors,
      V = svd.rightSingularVectors;
    const order = svd.diagonal
      .map((v, i) => [v, i])
      .sort((a, b) => b[0] - a[0])
      .map((p) => p[1]);
    let maxDiff = 0,
      maxAbs = 0;
    for (let l = 0; l < rows.length; l++) {
      for (let i = 0; i < rows[0].length; i++) {
        let v = 0;
        for (const t of order.slice(0, n)) v += U.get(l, t) * svd.diagonal[t] * V.get(i, t);
        maxDiff = Math.max(maxDiff, Math.abs(v - out[l][i]));
        maxAbs = Math.max(maxAbs, Math.abs(v));
      }
    }
    assert.ok(maxDiff <= 1e-5 * maxAbs, `n=${n}: max |diff| ${maxDiff} (max ${maxAbs})`);
  }
});

test('n >= L is exact and n is capped at L', () => {
  const rows = members(4, 1000, 3);
  for (const objective of ['total', 'per-layer'] as const) {
    const { fit, out } = rebuild(rows, 7, objective);
    assert.equal(fit.n, 4);
    for (let l = 0; l < 4; l++) {
      const f = layerFidelity(rows[l], out[l]);
      assert.ok(f.cosine >= 0.999999, `${objective} layer ${l}: cos ${f.cosine}`);
      assert.ok(f.relError <= 1e-6, `${objective} layer ${l}: rel ${f.relError}`);
    }
  }
});

test('per-layer objective protects a small-norm layer; it maximises the mean squared cosine', () => {
  const rows = members(6, 300, 4, [1, 1, 1, 1, 1, 1e-3]);
  const cos = (objective: 'total' | 'per-layer') => {
    const { out } = rebuild(rows, 2, objective);
    return rows.map((r, l) => layerFidelity(r, out[l]).cosine);
  };
  const total = cos('total');
  const perLayer = cos('per-layer');
  const meanSq = (c: number[]) => c.reduce((a, v) => a + v * v, 0) / c.length;
  assert.ok(meanSq(perLayer) >= meanSq(total) - 1e-9, `${meanSq(perLayer)} < ${meanSq(total)}`);
  assert.ok(perLayer[5] > total[5], `small layer: per-layer ${perLayer[5]} vs total ${total[5]}`);
});

test('rank-deficient and zero members: no NaN, zero stays zero, exact where possible', () => {
  const [a, b] = members(2, 200, 5);
  const rows = [a, a.map((v) => 2 * v), new Float32Array(200), b];
  for (const objective of ['total', 'per-layer'] as const) {
    const { fit, out } = rebuild(rows, 4, objective);
    assert.equal(fit.rank, 2);
    assert.equal(fit.n, 2);
    for (const v of fit.templates) assert.ok(Number.isFinite(v));
    for (const v of fit.alpha) assert.ok(Number.isFinite(v));
    assert.ok(out[2].every((v) => v === 0));
    assert.deepEqual(layerFidelity(rows[2], out[2]), { cosine: 1, relError: 0 });
    for (const l of [0, 1, 3]) assert.ok(layerFidelity(rows[l], out[l]).cosine >= 0.999999);
  }
  const zero = fitSpectral([new Float32Array(10), new Float32Array(10)], 2);
  assert.equal(zero.n, 1);
  assert.equal(zero.rank, 0);
  assert.ok(zero.templates.every((v) => v === 0) && zero.alpha.every((v) => v === 0));
});

test('scale convention: every template has the RMS of the members', () => {
  const rows = members(5, 800, 6);
  const memberRms = Math.sqrt(rows.reduce((s, r) => s + r.reduce((a, v) => a + v * v, 0), 0) / (5 * 800));
  for (const objective of ['total', 'per-layer'] as const) {
    const fit = fitSpectral(rows, 3, objective);
    for (let t = 0; t < fit.n; t++) {
      const T = fit.templates.subarray(t * 800, (t + 1) * 800);
      const rms = Math.sqrt(T.reduce((a, v) => a + v * v, 0) / 800);
      assert.ok(Math.abs(rms - memberRms) <= 1e-5 * memberRms, `${objective} t${t}: ${rms} vs ${memberRms}`);
    }
  }
});

test('deterministic, and all K coefficient sets equal the fitted vector', () => {
  const rows = members(4, 300, 7);
  const a = fitSpectral(rows, 2);
  const b = fitSpectral(
    rows.map((r) => r.slice()),
    2,
  );
  assert.deepEqual(Buffer.from(a.templates.buffer), Buffer.from(b.templates.buffer));
  assert.deepEqual(Buffer.from(a.alpha.buffer), Buffer.from(b.alpha.buffer));
  const sets = repeatSets(a.alpha, 1, 2, 3);
  assert.deepEqual(Array.from(sets), [...a.alpha.subarray(2, 4), ...a.alpha.subarray(2, 4), ...a.alpha.subarray(2, 4)]);
});

test('compose follows the docs/FORMAT.md rule: mean over sets of the template mixtures', () => {
  const T = new Float32Array([1, 2, 3, 10, 20, 30]); // n = 2, d = 3
  const C = new Float32Array([1, 0, 0, 1, 3, 1]); // K = 3
  // mean coefficients: (4/3, 2/3)
  const w = compose(T, 2, C);
  const expect = [0, 1, 2].map((i) => Math.fround((4 / 3) * T[i] + (2 / 3) * T[3 + i]));
  assert.deepEqual(Array.from(w), expect);
});

test('eigenvalues-only solver agrees with ml-matrix on symmetric matrices (incl. repeated and zero eigenvalues)', () => {
  const rng = new Random(8);
  for (const n of [1, 2, 5, 40]) {
    const b = rng.normals(n * n);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
    const ref = symmetricEigen(a, n).values;
    const got = symmetricEigenvalues(a, n);
    const scale = Math.max(...Array.from(ref, Math.abs));
    ref.forEach((v, i) => assert.ok(Math.abs(v - got[i]) <= 1e-10 * scale, `n=${n} #${i}: ${got[i]} vs ${v}`));
  }
  const diag = new Float64Array([3, 0, 0, 0, 0, 0, 0, 0, 3]);
  assert.deepEqual(Array.from(symmetricEigenvalues(diag, 3)), [3, 3, 0]);
});

test('real GPT-2, every role over 4 blocks: error of the rank-n fit = dropped squared singular values of a dense SVD', async () => {
  await withCheckpoint('test/fixtures/real/capp-gpt2-4layer.safetensors', async (ck) => {
    for (const role of ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']) {
      const rows: Float32Array[] = [];
      for (let i = 0; i < 4; i++) rows.push((await ck.readValues(ck.tensor(`transformer.h.${i}.${role}.weight`)!)) as Float32Array);
      const s = [...denseSvd(rows).diagonal].sort((a, b) => b - a);
      for (const n of [1, 2, 3]) {
        const { out } = rebuild(rows, n, 'total');
        const dropped = s.slice(n).reduce((a, v) => a + v * v, 0);
        const err = squaredError(rows, out);
        assert.ok(Math.abs(err - dropped) <= 1e-5 * dropped, `${role} n=${n}: ${err} vs ${dropped}`);
      }
    }
  });
});

test('streaming the closed form in column chunks gives the in-memory fit (real GPT-2)', async () => {
  const { fitSpectralStreaming } = await import('../../src/mimicry/recast/stream');
  const { planGroups } = await import('../../src/mimicry/recast/grouping');
  const { reconstruct } = await import('../../src/mimicry/recast/reconstruct');
  await withCheckpoint('test/fixtures/real/capp-gpt2-4layer.safetensors', async (ck) => {
    const plan = planGroups(ck.tensors, { blocksPerGroup: 4, templates: 3 });
    for (const bank of plan.banks) {
      const rows = await Promise.all(bank.members.map(async (m) => (await ck.readValues(ck.tensor(m)!)) as Float32Array));
      const whole = fitSpectral(rows, 3, 'per-layer');
      // 1000 does not divide d
      const streamed = await fitSpectralStreaming(ck, bank, 'per-layer', bank.roles, new Scratch(), undefined, 1000);
      assert.equal(streamed.n, whole.n);
      let maxDiff = 0,
        maxAbs = 0;
      whole.templates.forEach((v, i) => {
        maxDiff = Math.max(maxDiff, Math.abs(v - streamed.templates[i]));
        maxAbs = Math.max(maxAbs, Math.abs(v));
      });
      assert.ok(maxDiff <= 1e-5 * maxAbs, `${bank.name}: templates differ by ${maxDiff}`);
      streamed.coefficients.forEach((c, l) =>
        c.forEach((v, j) => assert.ok(Math.abs(v - whole.alpha[l * 3 + (j % 3)]) <= 1e-5 * Math.abs(whole.alpha[l * 3 + (j % 3)]) + 1e-9)),
      );
    }
    const held = await reconstruct(ck, { blocksPerGroup: 4, templates: 3 });
    const streamedAll = await reconstruct(ck, { blocksPerGroup: 4, templates: 3, groupMemoryBytes: 1 });
    held.layers.forEach((l, i) => assert.ok(Math.abs(l.cosine - streamedAll.layers[i].cosine) < 1e-9));
  });
});
