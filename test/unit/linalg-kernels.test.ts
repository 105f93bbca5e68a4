import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { gramFloat32 } from '../../src/mimicry/linalg/gram32';
import { kernels, kernelsFlavor, setKernelsEnabled, type KernelsFlavor } from '../../src/mimicry/linalg/kernels';
import { KERNELS_WAT_SHA256 } from '../../src/mimicry/linalg/kernelsWasm';
import { symmetricEigenvalues } from '../../src/mimicry/linalg/symmetricEigenvalues';
import { gramOfMatrix, streamGram } from '../../src/mimicry/stats/gram';
import { Random } from '../../src/mimicry/recast/random';
import { solveGram, writeTemplates } from '../../src/mimicry/recast/spectral';
import { compose } from '../../src/mimicry/recast/compose';
import { composeWithFidelity } from '../../src/mimicry/recast/metrics';

function withKernels<T>(on: boolean, f: () => T): T {
  const before = kernelsFlavor() ?? undefined;
  setKernelsEnabled(on);
  try {
    return f();
  } finally {
    setKernelsEnabled(true, before);
  }
}

/** f() on one binary of the kernels, then back to the automatic choice. */
function withFlavor<T>(flavor: KernelsFlavor, f: () => T): T {
  setKernelsEnabled(true, flavor);
  try {
    return f();
  } finally {
    setKernelsEnabled(true);
  }
}

const FLAVORS: readonly KernelsFlavor[] = ['fused', 'plain'];

test('the compiled kernels are those of kernels.wat (run scripts/build-kernels.mjs after editing it) and load here, both binaries', () => {
  const sha = createHash('sha256').update(readFileSync('src/mimicry/linalg/kernels.wat')).digest('hex');
  assert.equal(KERNELS_WAT_SHA256, sha, 'kernels.wat changed: run node scripts/build-kernels.mjs');
  assert.ok(kernels(), 'WebAssembly SIMD kernels did not load on this Node');
  // Node 20 has relaxed SIMD behind a flag the loader turns on: the fused binary is the one chosen.
  assert.equal(kernelsFlavor(), 'fused');
  for (const flavor of FLAVORS)
    assert.ok(
      withFlavor(flavor, () => kernels()),
      `the ${flavor} binary loads`,
    );
});

test("unfuse: relaxed multiply-adds, nested ones too, become a multiply and an add (the plain binary's text)", async () => {
  const { unfuse } = await import('../../scripts/build-kernels.mjs');
  assert.equal(
    unfuse('(local.set $s (f32x4.relaxed_madd (local.get $x) (v128.load offset=16 (local.get $t)) (local.get $s)))'),
    '(local.set $s (f32x4.add (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $t))) (local.get $s)))',
  );
  assert.equal(
    unfuse('(f64x2.relaxed_nmadd (local.get $b) (local.get $u) (f64x2.relaxed_nmadd (local.get $a) (local.get $q) (local.get $r)))'),
    '(f64x2.sub (f64x2.sub (local.get $r) (f64x2.mul (local.get $a) (local.get $q))) (f64x2.mul (local.get $b) (local.get $u)))',
  );
  const plain = unfuse(readFileSync('src/mimicry/linalg/kernels.wat', 'utf8'));
  assert.ok(!/\((f32x4|f64x2)\.relaxed_/.test(plain), 'no relaxed instruction is left');
  assert.throws(() => unfuse('(f32x4.relaxed_madd $a $b $c $d)'), /more than three operands/);
});

for (const flavor of FLAVORS)
  test(`SIMD Gram kernel agrees with the JavaScript loop and a direct product (odd sizes, odd panel widths, tall and wide), ${flavor} binary`, async () => {
    setKernelsEnabled(true, flavor);
    try {
      const rng = new Random(21);
      for (const [rows, cols, panel] of [
        [40, 77, 1 << 20],
        [77, 40, 1 << 20],
        [33, 129, 33 * 7], // wide: many passes of odd width
        [301, 35, 35 * 9], // tall: many flushes, the last one partial
        [64, 64, 1 << 20],
      ]) {
        const values = Float64Array.from(rng.normals(rows * cols));
        const n = Math.min(rows, cols);
        const js = withKernels(false, () => gramOfMatrix(values, rows, cols, panel));
        const simd = gramOfMatrix(values, rows, cols, panel);
        const streamed = await streamGram(
          async function* () {
            for (let i = 0; i < values.length; i += 1000) yield values.subarray(i, i + 1000);
          },
          rows,
          cols,
          { panelElements: panel },
        );
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            if (rows > cols) for (let r = 0; r < rows; r++) s += values[r * cols + i] * values[r * cols + j];
            else for (let c = 0; c < cols; c++) s += values[i * cols + c] * values[j * cols + c];
            const tol = 1e-13 * Math.max(rows, cols);
            for (const [what, g] of [
              ['js', js],
              ['simd', simd],
              ['streamed', streamed],
            ] as const)
              assert.ok(Math.abs(g.gram[i * n + j] - s) <= tol, `${rows}x${cols} ${what} G[${i},${j}] ${g.gram[i * n + j]} vs ${s}`);
          }
      }
    } finally {
      setKernelsEnabled(true);
    }
  });

for (const flavor of FLAVORS)
  test(`float32 SIMD Gram (gram32): within float32 rounding of a float64 product, blocks keeping long rows as accurate as short ones, ${flavor} binary`, () => {
    withFlavor(flavor, () => {
      const rng = new Random(23);
      for (const [rows, cols] of [
        [40, 77], // wide, odd width (zero-padded to 80)
        [301, 35], // tall, odd sizes (transposed)
        [33, 1024], // rows 4 KiB apart: padded stride
        [7, 70000], // 274 blocks of 256 values, the last one partial
        [130, 130], // square (n = 130: leftover columns after the 4-wide tiles)
        [1, 9],
      ]) {
        const values = Float32Array.from(rng.normals(rows * cols));
        const g = gramFloat32(values, rows, cols);
        assert.ok(g, 'the kernels are there');
        const n = Math.min(rows, cols);
        const ref = new Float64Array(n * n);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            if (rows > cols) for (let r = 0; r < rows; r++) s += values[r * cols + i] * values[r * cols + j];
            else for (let c = 0; c < cols; c++) s += values[i * cols + c] * values[j * cols + c];
            ref[i * n + j] = s;
          }
        let worst = 0;
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            assert.equal(g[i * n + j], g[j * n + i], 'symmetric');
            worst = Math.max(worst, Math.abs(g[i * n + j] - ref[i * n + j]) / Math.sqrt(ref[i * n + i] * ref[j * n + j]));
          }
        // A float32 sum of all 70,000 products would be off by ~1e-5 here; blocks of 256 keep it ~1e-7.
        assert.ok(worst < 1e-6, `${rows} x ${cols}: relative error ${worst}`);
      }
      assert.equal(
        withKernels(false, () => gramFloat32(new Float32Array(12), 3, 4)),
        null,
      );
    });
  });

for (const flavor of FLAVORS)
  test(`SIMD tridiagonalization sweep: eigenvalues agree with the JavaScript loop and ml-matrix (odd and even sizes), ${flavor} binary`, () => {
    withFlavor(flavor, () => {
      const rng = new Random(4);
      for (const n of [32, 33, 64, 97, 150]) {
        const b = Float64Array.from(rng.normals(n * n));
        const a = new Float64Array(n * n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
        const js = withKernels(false, () => symmetricEigenvalues(a, n));
        const simd = symmetricEigenvalues(a, n);
        const rows = Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, (i + 1) * n)));
        const ref = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true }).realEigenvalues.sort((x, y) => y - x);
        const scale = Math.max(Math.abs(ref[0]), Math.abs(ref[n - 1]));
        for (let i = 0; i < n; i++) {
          assert.ok(Math.abs(simd[i] - ref[i]) <= 1e-12 * scale, `n=${n} simd λ${i} ${simd[i]} vs ${ref[i]}`);
          assert.ok(Math.abs(simd[i] - js[i]) <= 1e-12 * scale, `n=${n} simd vs js λ${i}`);
        }
      }
    });
  });

/** f() on the JavaScript loops (the kernels switched off for it). */
function withoutKernels<T>(f: () => T): T {
  setKernelsEnabled(false);
  try {
    return f();
  } finally {
    setKernelsEnabled(true);
  }
}

test("writeTemplates through the combine kernel gives the JavaScript loop's float32 values bit for bit (odd lengths, offsets, signed zeros)", () => {
  const rng = new Random(5);
  for (const [L, n, len] of [
    [1, 1, 3],
    [2, 2, 16387],
    [5, 3, 40_001],
    [12, 4, 33_000],
  ]) {
    const chunks = Array.from({ length: L }, () => Float32Array.from(rng.normals(len, 0.05)));
    for (const c of chunks) c.fill(-0, 0, 8); // all members -0: the sums start from +0 in both
    const g = new Float64Array(L * L);
    for (let a = 0; a < L; a++) for (let b = 0; b < L; b++) g[a * L + b] = chunks[a].reduce((s, v, i) => s + v * chunks[b][i], 0);
    const sol = solveGram(g, L, n, 'per-layer');
    const d = len + 5;
    const simd = new Float32Array(sol.n * d);
    const js = new Float32Array(sol.n * d);
    writeTemplates(simd, d, sol, chunks, 5);
    withoutKernels(() => writeTemplates(js, d, sol, chunks, 5));
    assert.ok(
      simd.every((v, i) => Object.is(v, js[i])),
      `L=${L} n=${n} len=${len}`,
    );
  }
});

test("compose through the combine kernel gives the JavaScript loop's float32 values bit for bit", () => {
  const rng = new Random(6);
  for (const [n, K, d] of [
    [1, 1, 5],
    [2, 3, 16390],
    [4, 2, 40_003],
  ]) {
    const templates = Float32Array.from(rng.normals(n * d, 0.1));
    const coefficients = Float32Array.from(rng.normals(K * n, 1));
    const simd = compose(templates, n, coefficients);
    const js = withoutKernels(() => compose(templates, n, coefficients));
    assert.ok(
      simd.every((v, i) => Object.is(v, js[i])),
      `n=${n} K=${K} d=${d}`,
    );
  }
});

test('composeWithFidelity through the combine kernel: the same rebuilt bits and the same sums as its JavaScript loop', () => {
  const rng = new Random(8);
  for (const [n, K, d] of [
    [1, 1, 7],
    [2, 2, 16395],
    [3, 1, 50_001],
  ]) {
    const templates = Float32Array.from(rng.normals(n * d, 0.1));
    const coefficients = Float32Array.from(rng.normals(K * n, 1));
    const original = Float32Array.from(rng.normals(d, 0.1));
    const simdRebuilt = new Float32Array(d);
    const simd = composeWithFidelity(templates, n, coefficients, original, simdRebuilt, 0.5);
    const alone = composeWithFidelity(templates, n, coefficients, original, null, 0.5);
    const jsRebuilt = new Float32Array(d);
    const js = withoutKernels(() => composeWithFidelity(templates, n, coefficients, original, jsRebuilt, 0.5));
    assert.deepStrictEqual(simd, js, `n=${n} d=${d}`);
    assert.deepStrictEqual(alone, js);
    assert.ok(simdRebuilt.every((v, i) => Object.is(v, jsRebuilt[i])));
  }
});
