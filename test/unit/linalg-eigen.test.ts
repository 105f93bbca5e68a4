import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EigenvalueDecomposition, Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import { symmetricEigenvalues } from '../../src/mimicry/linalg/symmetricEigenvalues';
import { rng } from './helpers/rng';

function uniform(length: number, seed: number): Float64Array {
  const rand = rng(seed);
  return Float64Array.from({ length }, () => rand() * 2 - 1);
}

/** (B + B^T) / 2 for a random B: indefinite, eigenvalues of both signs. */
function randomSymmetric(n: number, seed: number): Float64Array {
  const b = uniform(n * n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = (b[i * n + j] + b[j * n + i]) / 2;
  return a;
}

/** W W^T (rows x rows) of a row-major rows x cols W. */
function gramOf(w: Float64Array, rows: number, cols: number): Float64Array {
  const g = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += w[i * cols + k] * w[j * cols + k];
      g[i * rows + j] = s;
      g[j * rows + i] = s;
    }
  return g;
}

/** A random orthogonal n x n matrix (Q of a QR factorization). */
function randomOrthogonal(n: number, seed: number): Matrix {
  return new QrDecomposition(Matrix.from1DArray(n, n, uniform(n * n, seed))).orthogonalMatrix;
}

/** Q diag(values) Q^T, symmetrized exactly. */
function withEigenvalues(values: readonly number[], seed: number): Float64Array {
  const n = values.length;
  const q = randomOrthogonal(n, seed);
  const a = q.mmul(Matrix.diag(values)).mmul(q.transpose());
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      const v = (a.get(i, j) + a.get(j, i)) / 2;
      out[i * n + j] = v;
      out[j * n + i] = v;
    }
  return out;
}

function mlEigenvalues(a: Float64Array, n: number): number[] {
  const evd = new EigenvalueDecomposition(Matrix.from1DArray(n, n, a), { assumeSymmetric: true });
  return evd.realEigenvalues.slice().sort((x, y) => y - x);
}

function mlSingularValues(w: Float64Array, rows: number, cols: number): number[] {
  const svd = new SingularValueDecomposition(Matrix.from1DArray(rows, cols, w), {
    computeLeftSingularVectors: false,
    computeRightSingularVectors: false,
    autoTranspose: true,
  });
  return svd.diagonal.slice().sort((x, y) => y - x);
}

function assertDescending(values: Float64Array, what: string): void {
  for (let i = 1; i < values.length; i++) assert.ok(values[i - 1] >= values[i], `${what}: not descending at ${i}`);
}

/** Every value within rel * max|expected| of its counterpart (same order). */
function assertClose(got: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string): void {
  assert.equal(got.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(got[i] - expected[i]);
    assert.ok(err <= rel * scale, `${what} #${i}: ${got[i]} vs ${expected[i]} (|err| ${err} > ${rel} * ${scale})`);
  }
}

const REL = 1e-10;

test('random symmetric matrices: agrees with ml-matrix EigenvalueDecomposition, descending, input untouched', () => {
  for (const n of [1, 2, 3, 10, 100, 300]) {
    const a = randomSymmetric(n, 100 + n);
    const before = a.slice();
    const got = symmetricEigenvalues(a, n);
    assert.deepEqual(a, before, `n=${n}: input was modified`);
    assertDescending(got, `n=${n}`);
    assertClose(got, mlEigenvalues(a, n), REL, `n=${n}`);
    // ml-matrix's SVD of the same matrix gives |lambda|.
    const abs = Array.from(got, Math.abs).sort((x, y) => y - x);
    assertClose(abs, mlSingularValues(a, n, n), REL, `n=${n} |lambda| vs SVD`);
  }
});

test('Gram matrices: eigenvalues are the squared singular values of a dense SVD (both shapes)', () => {
  for (const [rows, cols] of [
    [1, 1],
    [1, 5],
    [2, 7],
    [3, 3],
    [10, 40],
    [100, 150],
    [300, 310],
  ]) {
    const w = uniform(rows * cols, rows * 1000 + cols);
    const got = symmetricEigenvalues(gramOf(w, rows, cols), rows);
    assertDescending(got, `${rows}x${cols}`);
    const s2 = mlSingularValues(w, rows, cols).map((s) => s * s);
    while (s2.length < rows) s2.push(0);
    assertClose(got, s2, REL, `${rows}x${cols}`);
  }
});

test('only the lower triangle is read', () => {
  const n = 30;
  const a = randomSymmetric(n, 7);
  const ref = symmetricEigenvalues(a, n);
  const junk = a.slice();
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) junk[i * n + j] = 1e6 * (i - j);
  assert.deepEqual(symmetricEigenvalues(junk, n), ref);
});

test('diagonal and zero matrices are exact', () => {
  const values = [3, -1, 0, 7.5, 1e-3, -20, 3];
  const n = values.length;
  const a = new Float64Array(n * n);
  values.forEach((v, i) => (a[i * n + i] = v));
  assert.deepEqual(
    Array.from(symmetricEigenvalues(a, n)),
    values.slice().sort((x, y) => y - x),
  );
  for (const m of [1, 2, 5, 64])
    assert.deepEqual(Array.from(symmetricEigenvalues(new Float64Array(m * m), m)), new Array<number>(m).fill(0));
  assert.deepEqual(symmetricEigenvalues(new Float64Array(0), 0), new Float64Array(0));
});

test('rank-deficient Gram (rank 5): five positive eigenvalues, the rest at rounding level', () => {
  const n = 60;
  const k = 5;
  const cols = 80;
  // W = B C with B n x k, C k x cols.
  const b = uniform(n * k, 11);
  const c = uniform(k * cols, 12);
  const w = new Float64Array(n * cols);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += b[i * k + t] * c[t * cols + j];
      w[i * cols + j] = s;
    }
  const got = symmetricEigenvalues(gramOf(w, n, cols), n);
  const s2 = mlSingularValues(w, n, cols).map((s) => s * s);
  assertClose(got, s2, REL, 'rank 5');
  for (let i = 0; i < k; i++) assert.ok(got[i] > 1e-3 * got[0], `#${i} should be well above zero: ${got[i]}`);
  for (let i = k; i < n; i++) assert.ok(Math.abs(got[i]) <= 1e-12 * got[0], `#${i} should be rounding noise: ${got[i]}`);
});

test('repeated eigenvalues (clusters of equal values, both signs)', () => {
  const values = [5, 5, 5, 5, 2, 2, 0, 0, 0, -1, -1, -1, 7];
  const a = withEigenvalues(values, 21);
  const n = values.length;
  const got = symmetricEigenvalues(a, n);
  assertClose(
    got,
    values.slice().sort((x, y) => y - x),
    1e-13,
    'clusters',
  );
  assertClose(got, mlEigenvalues(a, n), REL, 'clusters vs ml-matrix');
  // The identity times a constant, rotated: one eigenvalue of multiplicity n.
  const same = withEigenvalues(new Array<number>(40).fill(-2.5), 22);
  assertClose(symmetricEigenvalues(same, 40), new Array<number>(40).fill(-2.5), 1e-13, 'multiplicity 40');
});

test('huge dynamic range: eigenvalues from 1e-12 to 1e12, and matrices near the ends of float64', () => {
  const values = Array.from({ length: 25 }, (_, i) => (i % 2 ? -1 : 1) * 10 ** (i - 12));
  const n = values.length;
  const a = withEigenvalues(values, 31);
  const got = symmetricEigenvalues(a, n);
  assertDescending(got, 'wide');
  assertClose(got, mlEigenvalues(a, n), REL, 'wide vs ml-matrix');
  assertClose(
    got,
    values.slice().sort((x, y) => y - x),
    REL,
    'wide vs exact',
  );
  // Graded Gram: columns of W scaled by 10^-j, singular values spanning ~8 decades.
  const rows = 12;
  const cols = 20;
  const w = uniform(rows * cols, 32);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) w[i * cols + j] *= 10 ** -(i / 1.5);
  const s2 = mlSingularValues(w, rows, cols).map((s) => s * s);
  assertClose(symmetricEigenvalues(gramOf(w, rows, cols), rows), s2, REL, 'graded Gram');
  // Entries near overflow and underflow: the power-of-two pre-scaling keeps relative accuracy.
  const base = randomSymmetric(20, 33);
  const ref = symmetricEigenvalues(base, 20);
  for (const f of [2 ** 900, 2 ** -900, 1e300, 1e-300]) {
    const scaled = base.map((v) => v * f);
    const got2 = symmetricEigenvalues(scaled, 20);
    assertClose(
      got2,
      Array.from(ref, (v) => v * f),
      1e-13,
      `scaled by ${f}`,
    );
  }
});

test('a 2 x 2 by formula, and a tridiagonal with known eigenvalues', () => {
  // [[a, b], [b, c]]: (a + c)/2 +- sqrt(((a - c)/2)^2 + b^2)
  const [x, y, z] = [1.5, -0.25, -3];
  const r = Math.hypot((x - z) / 2, y);
  assertClose(symmetricEigenvalues(new Float64Array([x, y, y, z]), 2), [(x + z) / 2 + r, (x + z) / 2 - r], 1e-15, '2x2');
  // The second-difference matrix tridiag(-1, 2, -1): 2 - 2 cos(k pi / (n + 1)).
  const n = 50;
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    t[i * n + i] = 2;
    if (i > 0) t[i * n + i - 1] = t[(i - 1) * n + i] = -1;
  }
  const exact = Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1))).sort((p, q) => q - p);
  assertClose(symmetricEigenvalues(t, n), exact, 1e-13, 'second difference');
});

test('bad input is refused', () => {
  assert.throws(() => symmetricEigenvalues(new Float64Array(5), 2), RangeError);
  assert.throws(() => symmetricEigenvalues(new Float64Array(4), -2), RangeError);
  assert.throws(() => symmetricEigenvalues(new Float64Array([1, 0, Number.NaN, 1]), 2), RangeError);
  assert.throws(() => symmetricEigenvalues(new Float64Array([Infinity]), 1), RangeError);
  // A NaN in the ignored upper triangle does not matter.
  assert.deepEqual(Array.from(symmetricEigenvalues(new Float64Array([1, Number.NaN, 0, 1]), 2)), [1, 1]);
});
