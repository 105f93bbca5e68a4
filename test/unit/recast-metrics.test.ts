import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import {
  coefficientSimilarity,
  inputLayout,
  layerFidelity,
  probeFidelity,
  templateDiversity,
  templateEntropy,
} from '../../src/mimicry/recast/metrics';
import { Random } from '../../src/mimicry/recast/random';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('layer fidelity: cosine and relative error by hand', () => {
  const f = layerFidelity([3, 4, 0], [3, 0, 4]);
  close(f.cosine, 9 / 25);
  close(f.relError, Math.sqrt(32) / 5);
  assert.deepEqual(layerFidelity([1, 2], [1, 2]), { cosine: 1, relError: 0 });
  close(layerFidelity([1, 2], [-1, -2]).cosine, -1);
  assert.deepEqual(layerFidelity([0, 0], [0, 0]), { cosine: 1, relError: 0 });
  const z = layerFidelity([0, 0], [3, 4]);
  assert.equal(z.cosine, 0);
  close(z.relError, 5);
});

test('template diversity: orthogonal templates of norm c are sqrt(2) c apart', () => {
  const c = 0.7;
  const T = new Float32Array([c, 0, 0, 0, c, 0, 0, 0, c]);
  const d = templateDiversity(T, 3);
  close(d.diversity, Math.sqrt(2) * Math.fround(c), 1e-7);
  close(d.relative, Math.sqrt(2), 1e-7);
  assert.deepEqual(templateDiversity(new Float32Array([1, 2]), 1), { diversity: 0, relative: 0 });
  // mean over the three pairs
  const U = new Float32Array([0, 0, 3, 0, 0, 4]);
  close(templateDiversity(U, 3).diversity, (3 + 4 + 5) / 3);
});

test('template entropy: equal singular values give ln(rank), rank one gives 0, random matches a dense SVD', () => {
  const eye = new Float32Array(16);
  for (let i = 0; i < 4; i++) eye[i * 5] = 2;
  const e = templateEntropy(eye, [4, 4]);
  close(e.entropy, Math.log(4), 1e-9);
  close(e.normalized, 1, 1e-9);
  const r1 = new Float32Array(12);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) r1[i * 4 + j] = (i + 1) * (j - 1.5);
  assert.ok(templateEntropy(r1, [3, 4]).entropy < 1e-6);
  assert.deepEqual(templateEntropy(new Float32Array(6), [2, 3]), { entropy: 0, normalized: 0, rank: 2 });
  // a conv-like [out, in, k, k] template is viewed as out x (in*k*k); both orientations of the Gram route
  const rng = new Random(3);
  for (const shape of [
    [6, 2, 3, 3],
    [40, 5],
  ]) {
    const rows = shape[0];
    const cols = shape.slice(1).reduce((a, b) => a * b, 1);
    const T = rng.normals(rows * cols);
    const m: number[][] = [];
    for (let i = 0; i < rows; i++) m.push(Array.from(T.subarray(i * cols, (i + 1) * cols)));
    const s = new SingularValueDecomposition(new Matrix(m), { autoTranspose: true }).diagonal;
    const sum = s.reduce((a, v) => a + v, 0);
    const H = -s.reduce((a, v) => a + (v / sum) * Math.log(v / sum), 0);
    const got = templateEntropy(T, shape);
    close(got.entropy, H, 1e-9);
    close(got.normalized, H / Math.log(Math.min(rows, cols)), 1e-9);
  }
});

test('coefficient similarity: blocks x blocks cosines of concatenated sets', () => {
  // two members per block (roles sharing a bank), K = 2, n = 1
  const c = [
    [1, 1],
    [0, 0],
    [2, 2],
    [0, 0],
    [0, 0],
    [1, 1],
  ].map((v) => new Float32Array(v));
  const sim = coefficientSimilarity(c, [0, 0, 1, 1, 2, 2]);
  assert.deepEqual(sim.blocks, [0, 1, 2]);
  close(sim.matrix[0][1], 1);
  close(sim.matrix[0][2], 0);
  close(sim.matrix[1][1], 1);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) close(sim.matrix[i][j], sim.matrix[j][i]);
});

test('probe fidelity: 1 for the same weight, -1 for its negative, layouts agree on a transpose', () => {
  const rng = new Random(1);
  const W = rng.normals(6 * 5);
  const V = W.map((v, i) => v + (i % 3 === 0 ? 0.5 : 0));
  close(probeFidelity(W, W, [6, 5], 'out-in', 4, new Random(9)), 1);
  close(
    probeFidelity(
      W,
      W.map((v) => -v),
      [6, 5],
      'out-in',
      4,
      new Random(9),
    ),
    -1,
  );
  const t = (a: Float32Array) => {
    const o = new Float32Array(30);
    for (let r = 0; r < 6; r++) for (let c = 0; c < 5; c++) o[c * 6 + r] = a[r * 5 + c];
    return o;
  };
  const outIn = probeFidelity(W, V, [6, 5], 'out-in', 8, new Random(4));
  const inOut = probeFidelity(t(W), t(V), [5, 6], 'in-out', 8, new Random(4));
  close(outIn, inOut, 1e-12);
  assert.ok(outIn < 1 && outIn > 0);
  assert.equal(inputLayout('transformer.h.0.mlp.c_fc.weight'), 'in-out');
  assert.equal(inputLayout('model.layers.20.self_attn.q_proj.lora_a'), 'in-out');
  assert.equal(inputLayout('blocks.0.mlp.fc1.weight'), 'out-in');
  assert.equal(inputLayout('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight'), 'out-in');
});

test('one-pass kernels give the same bits as the plain loops (compose + fidelity, diversity, member Gram, template writing)', async () => {
  const { compose } = await import('../../src/mimicry/recast/compose');
  const { composeWithFidelity } = await import('../../src/mimicry/recast/metrics');
  const { gram } = await import('../../src/mimicry/recast/linalg');
  const { solveGram, writeTemplates } = await import('../../src/mimicry/recast/spectral');
  const rng = new Random(31);
  // Sizes that do not divide the kernels' blocks (8192, 4096), and n = 1, 2, 3.
  for (const [n, K, d] of [
    [1, 1, 20000],
    [2, 2, 17001],
    [3, 2, 9000],
  ]) {
    const templates = Float32Array.from(rng.normals(n * d));
    templates.fill(-0, 0, 7); // products of -0: compose() turns them into +0
    const coefficients = Float32Array.from(rng.normals(K * n));
    const original = Float32Array.from(rng.normals(d));
    const plain = compose(templates, n, coefficients);
    let se = 0.25;
    for (let i = 0; i < d; i++) se += (plain[i] - original[i]) ** 2;
    const rebuilt = new Float32Array(d);
    const got = composeWithFidelity(templates, n, coefficients, original, rebuilt, 0.25);
    assert.deepEqual(rebuilt, plain);
    for (let i = 0; i < 7; i++) assert.ok(Object.is(rebuilt[i], plain[i]), `sign of zero at ${i}`);
    assert.deepEqual(got, { ...layerFidelity(original, plain), squaredError: se });
    // Measured only (no rebuilt member held): the same numbers.
    assert.deepEqual(composeWithFidelity(templates, n, coefficients, original, null, 0.25), got);

    let normSum = 0,
      sum = 0,
      pairs = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += templates[i * d + k] ** 2;
      normSum += Math.sqrt(s);
      for (let j = i + 1; j < n; j++) {
        let e = 0;
        for (let k = 0; k < d; k++) e += (templates[i * d + k] - templates[j * d + k]) ** 2;
        sum += Math.sqrt(e);
        pairs++;
      }
    }
    const div = pairs > 0 ? sum / pairs : 0;
    assert.deepEqual(templateDiversity(templates, n), { diversity: div, relative: normSum > 0 ? div / (normSum / n) : 0 });

    const rows = Array.from({ length: n + 1 }, () => Float32Array.from(rng.normals(d)));
    const g = gram(rows);
    for (let a = 0; a <= n; a++)
      for (let b = 0; b <= n; b++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += rows[a][i] * rows[b][i];
        assert.equal(g[a * (n + 1) + b], s, `G[${a}, ${b}]`);
      }
    const sol = solveGram(g, n + 1, n, 'per-layer');
    const out = new Float32Array(sol.n * d);
    writeTemplates(out, d, sol, rows, 0);
    for (let t = 0; t < sol.n; t++)
      for (let i = 0; i < d; i += 97) {
        let s = 0;
        for (let l = 0; l <= n; l++) s += sol.weights[l * sol.n + t] * rows[l][i];
        assert.equal(out[t * d + i], Math.fround(s));
      }
  }
});
