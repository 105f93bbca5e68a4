// Estimated template entropy (stochastic Lanczos quadrature, recast/entropyEstimate.ts) against the
// exact route (float64 Gram and its eigenvalues) on templates shaped like real ones: noise, and
// low rank plus noise, wide and tall; and its edge cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  estimateEntropy,
  estimateCost,
  DEFAULT_ENTROPY_ESTIMATE,
  setEstimateKernelsEnabled,
} from '../../src/mimicry/recast/entropyEstimate';
import { entropyFloat64 } from '../../src/mimicry/recast/entropy';
import { Random } from '../../src/mimicry/recast/random';

function template(rows: number, cols: number, seed: number, rank: number): Float32Array {
  const r = new Random(seed);
  const a = new Float32Array(rows * cols);
  for (let i = 0; i < a.length; i++) a[i] = r.normal() * 0.02;
  for (let t = 0; t < rank; t++) {
    const u = Float64Array.from({ length: rows }, () => r.normal());
    const v = Float64Array.from({ length: cols }, () => r.normal());
    const w = 0.01 / (t + 1);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) a[i * cols + j] += w * u[i] * v[j];
  }
  return a;
}

test('the estimate agrees with the exact entropy within its stated error on noise and low-rank-plus-noise templates', () => {
  const cases: [number, number, number][] = [
    [256, 1024, 0],
    [1024, 256, 0],
    [384, 1536, 8],
    [1536, 384, 8],
    [512, 640, 4],
  ];
  // About 95% intervals from 4 probes: over these 10 (seeded, so fixed) cases at most 2 may fall outside their own, none outside 3x.
  let outside = 0;
  for (const [rows, cols, rank] of cases) {
    for (const seed of [1, 2]) {
      const a = template(rows, cols, seed, rank);
      const exact = entropyFloat64(a, rows, cols);
      const est = estimateEntropy(a, rows, cols, { ...DEFAULT_ENTROPY_ESTIMATE, seed });
      const what = `${rows} x ${cols}, rank ${rank}, seed ${seed}: ${est.entropy} ± ${est.estimated.error} vs ${exact.entropy}`;
      const off = Math.abs(est.entropy - exact.entropy);
      if (off > est.estimated.error) outside++;
      assert.ok(off <= 3 * est.estimated.error, what);
      assert.ok(est.estimated.error < 0.15, `a useful error (< 0.15 nats, 2.5% of H here): ${what}`);
      assert.equal(est.rank, Math.min(rows, cols));
      assert.ok(Math.abs(est.normalized - est.entropy / Math.log(est.rank)) < 1e-12);
      assert.deepEqual([est.estimated.probes, est.estimated.steps], [DEFAULT_ENTROPY_ESTIMATE.probes, DEFAULT_ENTROPY_ESTIMATE.steps]);
    }
  }
  assert.ok(outside <= 2, `${outside} of 10 outside their interval`);
});

test('the estimate does not depend on scale, is deterministic for a seed, and handles zero and non-finite templates', () => {
  const a = template(200, 600, 3, 2);
  const big = Float32Array.from(a, (x) => x * 1024);
  const e1 = estimateEntropy(a, 200, 600);
  const e2 = estimateEntropy(big, 200, 600);
  assert.ok(Math.abs(e1.entropy - e2.entropy) < 1e-9);
  assert.deepEqual(estimateEntropy(a, 200, 600), e1);
  assert.deepEqual(estimateEntropy(new Float32Array(50 * 70), 50, 70), {
    entropy: 0,
    normalized: 0,
    rank: 50,
    estimated: { probes: 4, steps: 24, error: 0 },
  });
  const bad = a.slice();
  bad[17] = Number.NaN;
  assert.ok(Number.isNaN(estimateEntropy(bad, 200, 600).entropy));
  // A rank-1 template (H = 0): Lanczos stops after two steps (an invariant subspace), and the probes'
  // spread (each sees a different share of the one direction) is what the stated error covers.
  const r1 = new Float32Array(64 * 96);
  for (let i = 0; i < 64; i++) for (let j = 0; j < 96; j++) r1[i * 96 + j] = (i + 1) * Math.cos(j);
  const one = estimateEntropy(r1, 64, 96);
  assert.ok(Math.abs(one.entropy) <= one.estimated.error, `${one.entropy} ± ${one.estimated.error}`);
  assert.equal(estimateCost(4096, 11008), 2 * 4096 * 11008 * 4 * 24);
});

test('an estimate is cancelled between Lanczos steps', () => {
  const controller = new AbortController();
  controller.abort();
  assert.throws(() => estimateEntropy(template(64, 128, 1, 0), 64, 128, DEFAULT_ENTROPY_ESTIMATE, controller.signal), /abort/i);
});

test('over 8 MiB the kernels take the template in row panels: the same estimate as the JavaScript loops, wide and tall', () => {
  for (const [rows, cols] of [
    [521, 4100],
    [4100, 521],
  ]) {
    const a = template(rows, cols, 5, 0);
    const opts = { probes: 4, steps: 4, seed: 3 };
    const fast = estimateEntropy(a, rows, cols, opts);
    setEstimateKernelsEnabled(false);
    try {
      const loops = estimateEntropy(a, rows, cols, opts);
      assert.ok(Math.abs(fast.entropy - loops.entropy) < 1e-9, `${rows} x ${cols}: ${fast.entropy} vs ${loops.entropy}`);
    } finally {
      setEstimateKernelsEnabled(true);
    }
  }
});

test('the SIMD kernels (4 probes) give the estimate of the JavaScript loops, wide and tall, odd sizes', () => {
  for (const [rows, cols] of [
    [33, 71],
    [71, 33],
    [64, 64],
    [1, 9],
  ]) {
    const a = template(rows, cols, rows + cols, 2);
    const fast = estimateEntropy(a, rows, cols);
    setEstimateKernelsEnabled(false);
    try {
      const loops = estimateEntropy(a, rows, cols);
      assert.ok(Math.abs(fast.entropy - loops.entropy) < 1e-9, `${rows} x ${cols}: ${fast.entropy} vs ${loops.entropy}`);
      assert.ok(Math.abs(fast.estimated.error - loops.estimated.error) < 1e-6);
    } finally {
      setEstimateKernelsEnabled(true);
    }
  }
});
