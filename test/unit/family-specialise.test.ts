// Specialisation of a family's templates: NNLS against brute force over every active set, the
// entropy of template use, the non-negative (semi-NMF) fit, and the whole analysis on adapters built
// so that each task owns one direction (specialised) or both share one (shared).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { nnlsGram, nonNegativeFit, useEntropy } from '../../src/mimicry/family/specialise';
import { loadFamily } from '../../src/mimicry/family/members';
import { analyzeFamily, type FamilyReport } from '../../src/mimicry/family/analyze';
import { rng } from './helpers/rng';
import { inTempDir } from './helpers/temp-dir';
import { peftConfig, randomValues, writeAdapter, type Tensors } from './helpers/family-craft';
import { EigenvalueDecomposition, Matrix, SingularValueDecomposition, solve } from 'ml-matrix';

const cost = (a: Float64Array, b: Float64Array, x: ArrayLike<number>, n: number) => {
  let s = 0;
  for (let i = 0; i < n; i++) {
    s -= 2 * b[i] * x[i];
    for (let j = 0; j < n; j++) s += x[i] * a[i * n + j] * x[j];
  }
  return s;
};

/** The best feasible point over every active set: the unconstrained minimiser on each subset, kept when >= 0. */
function bruteForce(a: Float64Array, b: Float64Array, n: number): Float64Array {
  let best = new Float64Array(n);
  let bestCost = 0;
  for (let mask = 1; mask < 1 << n; mask++) {
    const idx = Array.from({ length: n }, (_, i) => i).filter((i) => mask & (1 << i));
    const sol = solve(new Matrix(idx.map((i) => idx.map((j) => a[i * n + j]))), Matrix.columnVector(idx.map((i) => b[i])), true);
    const x = new Float64Array(n);
    idx.forEach((i, k) => (x[i] = sol.get(k, 0)));
    if (x.some((v) => v < -1e-12)) continue;
    const c = cost(a, b, x, n);
    if (c < bestCost) {
      bestCost = c;
      best = x;
    }
  }
  return best;
}

test('NNLS (Lawson-Hanson on the normal equations) finds the brute-force optimum over every active set', () => {
  const r = rng(7);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + (trial % 5);
    const rows = n + (trial % 3); // sometimes tall, sometimes just square
    const m = Array.from({ length: rows * n }, () => r() * 2 - 1);
    const y = Array.from({ length: rows }, () => r() * 2 - 1);
    const a = new Float64Array(n * n);
    const b = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < rows; k++) b[i] += m[k * n + i] * y[k];
      for (let j = 0; j < n; j++) for (let k = 0; k < rows; k++) a[i * n + j] += m[k * n + i] * m[k * n + j];
    }
    const x = nnlsGram(a, b, n);
    const ref = bruteForce(a, b, n);
    assert.ok(
      x.every((v) => v >= 0),
      'feasible',
    );
    assert.ok(Math.abs(cost(a, b, x, n) - cost(a, b, ref, n)) < 1e-10, `trial ${trial}: cost ${cost(a, b, x, n)} vs ${cost(a, b, ref, n)}`);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(x[i] - ref[i]) < 1e-7, `trial ${trial}: x[${i}] = ${x[i]} vs ${ref[i]}`);
  }
  // A singular A (a column of zeros: an unused template) and b pointing away: 0.
  assert.deepEqual([...nnlsGram(new Float64Array([1, 0, 0, 0]), new Float64Array([2, 0]), 2)], [2, 0]);
  assert.deepEqual([...nnlsGram(new Float64Array([2, 0, 0, 3]), new Float64Array([-1, -1]), 2)], [0, 0]);
});

test('entropy of use: 0 for a template one member uses, ln(M) (normalised 1) for equal use', () => {
  const u = useEntropy(
    [
      [4, 1, 0],
      [0, 1, 0],
    ],
    3,
  );
  assert.deepEqual(u.entropy, [0, Math.log(2), 0]);
  assert.deepEqual(u.normalized, [0, 1, 0]);
});

test('the non-negative fit: coefficients >= 0, cost no lower than the rank-n optimum, exact on non-negative data', () => {
  const r = rng(3);
  const L = 8;
  const d = 12;
  const n = 2;
  // Items that are non-negative mixtures of two directions, at unit norm.
  const dirs = [0, 1].map(() => Array.from({ length: d }, () => r() - 0.5));
  const items = Array.from({ length: L }, () => {
    const c = [r(), r()];
    const v = dirs[0].map((x, i) => c[0] * x + c[1] * dirs[1][i]);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
  const k = new Float64Array(L * L);
  for (let a = 0; a < L; a++) for (let b = 0; b < L; b++) k[a * L + b] = items[a].reduce((s, x, i) => s + x * items[b][i], 0);
  // Start from the two leading eigenvectors (the closed form's templates).
  const evd = new Matrix(Array.from({ length: L }, (_, a) => Array.from(k.subarray(a * L, (a + 1) * L))));
  const { realEigenvalues, eigenvectorMatrix } = new EigenvalueDecomposition(evd, { assumeSymmetric: true });
  const order = realEigenvalues.map((_: number, i: number) => i).sort((i: number, j: number) => realEigenvalues[j] - realEigenvalues[i]);
  const start = new Float64Array(n * L);
  for (let t = 0; t < n; t++)
    for (let l = 0; l < L; l++) start[t * L + l] = eigenvectorMatrix.get(l, order[t]) / Math.sqrt(realEigenvalues[order[t]]);
  const fit = nonNegativeFit(k, L, start, n);
  assert.ok(fit.coefficients.every((c) => c >= 0));
  assert.ok(fit.cost < 1e-12, `cost ${fit.cost}`);
  // Data with a third direction: the rank-2 optimum is a lower bound.
  const noisy = items.map((v) => {
    const w = v.map((x) => x + (r() - 0.5) * 0.5);
    const norm = Math.hypot(...w);
    return w.map((x) => x / norm);
  });
  for (let a = 0; a < L; a++) for (let b = 0; b < L; b++) k[a * L + b] = noisy[a].reduce((s, x, i) => s + x * noisy[b][i], 0);
  const m2 = new Matrix(noisy);
  const sv = new SingularValueDecomposition(m2, {
    computeLeftSingularVectors: false,
    computeRightSingularVectors: false,
  }).diagonal as number[];
  const optimum = sv.slice(n).reduce((s, x) => s + x * x, 0) / L;
  const fit2 = nonNegativeFit(k, L, start, n);
  assert.ok(fit2.coefficients.every((c) => c >= 0));
  assert.ok(fit2.cost >= optimum - 1e-12, `${fit2.cost} >= ${optimum}`);
  assert.ok(fit2.cost < 0.5, `${fit2.cost}`);
});

/** A LoRA adapter whose every c_attn update is a positive multiple of one direction (rows `support` only). */
function directed(seed: number, support: [number, number], scales: number[]): Tensors {
  const t: Tensors = {};
  const a = randomValues(seed, 2 * 5);
  const b = randomValues(seed + 1, 8 * 2).map((v, i) => (Math.floor(i / 2) >= support[0] && Math.floor(i / 2) < support[1] ? v : 0));
  scales.forEach((s, i) => {
    t[`base_model.model.h.${i}.attn.c_attn.lora_A.weight`] = { shape: [2, 5], values: a.map((v) => v * s) };
    t[`base_model.model.h.${i}.attn.c_attn.lora_B.weight`] = { shape: [8, 2], values: b };
  });
  return t;
}

async function analyze(paths: string[], templates: number): Promise<FamilyReport> {
  const family = await loadFamily(paths);
  try {
    return await analyzeFamily(family, { templates });
  } finally {
    await family.close();
  }
}

test('a template per task: shares 1 and 0, entropy 0, exact non-negative fit, nothing captured from the other task', () =>
  inTempDir(async (dir) => {
    const a = await writeAdapter(join(dir, 'a'), directed(1, [0, 4], [1, 2, 3]), peftConfig());
    const b = await writeAdapter(join(dir, 'b'), directed(2, [4, 8], [0.5, 0.7, 0.9]), peftConfig());
    const report = await analyze([a, b], 2);
    const bank = report.banks[0];
    assert.equal(bank.rank, 2);
    const [sa, sb] = [bank.share.a, bank.share.b];
    assert.ok(Math.abs(Math.max(...sa) - 1) < 1e-9 && Math.abs(Math.max(...sb) - 1) < 1e-9, `${sa} ${sb}`);
    assert.notEqual(sa.indexOf(Math.max(...sa)), sb.indexOf(Math.max(...sb)), 'different templates');
    bank.use.normalized.forEach((h) => assert.ok(h !== null && h < 1e-9, `entropy ${h}`));
    assert.ok(bank.nonNegative.cost < 1e-12 && bank.nonNegative.unconstrainedCost < 1e-12);
    bank.nonNegative.use.normalized.forEach((h) => assert.ok(h !== null && h < 1e-6, `non-negative entropy ${h}`));
    assert.ok(Math.abs(bank.nonNegative.cosine.a - 1) < 1e-9);
    assert.ok(bank.captured.a < 1e-9 && bank.captured.b < 1e-9, 'orthogonal tasks explain nothing of each other');
    assert.deepEqual(report.specialisation.templates, [
      { bank: bank.name, template: 0 },
      { bank: bank.name, template: 1 },
    ]);
    assert.deepEqual(
      report.specialisation.share.a.map((x) => Math.round(x)),
      sa.map((x) => Math.round(x)),
    );
  }));

test('one shared direction: one template used evenly (normalised entropy 1), fully captured by the other member', () =>
  inTempDir(async (dir) => {
    const a = await writeAdapter(join(dir, 'a'), directed(1, [0, 8], [1, 2, 3]), peftConfig());
    const b = await writeAdapter(join(dir, 'b'), directed(1, [0, 8], [3, 2, 1]), peftConfig());
    const report = await analyze([a, b], 2);
    const bank = report.banks[0];
    assert.equal(bank.rank, 1);
    assert.equal(bank.templates, 1);
    assert.ok(Math.abs((bank.use.normalized[0] ?? 0) - 1) < 1e-9);
    assert.ok(Math.abs(bank.captured.a - 1) < 1e-9 && Math.abs(bank.captured.b - 1) < 1e-9);
    report.layers.forEach((l) => assert.ok(Math.abs(l.cosine[0][1] - 1) < 1e-9));
    // Whole model: the layers' scales 1, 2, 3 against 3, 2, 1: (3 + 4 + 3) / 14.
    assert.ok(Math.abs(report.cosine[0][1] - 10 / 14) < 1e-6); // factors stored in float32
  }));
