import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeTensorStats, computeTensorStatsFromBytes, type TensorStats } from '../../src/mimicry/stats/tensorStats';
import type { DecodedValues } from '../../src/mimicry/safetensors/types';
import { rng } from './helpers/rng';

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** A chunk source over an array, `size` elements at a time; counts how often it is opened. */
function source(values: DecodedValues, size = values.length || 1) {
  const src = {
    opened: 0,
    chunks: (): AsyncIterable<DecodedValues> => {
      src.opened++;
      return (async function* () {
        for (let i = 0; i < values.length; i += size) yield values.subarray(i, Math.min(values.length, i + size));
      })();
    },
  };
  return src;
}

/** The plain definition: two passes in float64 over the finite values. */
function naive(values: ArrayLike<number>) {
  const finite: number[] = [];
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) nan++;
    else if (!Number.isFinite(v)) inf++;
    else finite.push(v);
  }
  const n = finite.length;
  let sum = 0;
  let abs = 0;
  let zeros = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of finite) {
    sum += v;
    abs += Math.abs(v);
    if (v === 0) zeros++;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / n;
  let ss = 0;
  for (const v of finite) ss += (v - mean) ** 2;
  return { finite, n, nan, inf, min, max, mean, std: Math.sqrt(ss / n), meanAbs: abs / n, zeroFraction: zeros / n };
}

function close(actual: number | null, expected: number, rel: number, what: string): void {
  assert.ok(actual !== null, `${what} is null`);
  const tol = rel * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

/** Histogram counts recounted from the returned edges: [e_i, e_i+1), the last bin closed. */
function recount(finite: number[], edges: number[]): number[] {
  const bins = edges.length - 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of finite) {
    for (let i = 0; i < bins; i++) {
      if (v >= edges[i] && (v < edges[i + 1] || (i === bins - 1 && v <= edges[bins]))) {
        counts[i]++;
        break;
      }
    }
  }
  return counts;
}

function checkAgainstNaive(stats: TensorStats, values: ArrayLike<number>, bins: number): void {
  const ref = naive(values);
  assert.equal(stats.count, values.length);
  assert.equal(stats.finiteCount, ref.n);
  assert.equal(stats.nanCount, ref.nan);
  assert.equal(stats.infCount, ref.inf);
  assert.equal(stats.min, ref.min);
  assert.equal(stats.max, ref.max);
  close(stats.mean, ref.mean, 1e-12, 'mean');
  close(stats.std, ref.std, 1e-10, 'std');
  close(stats.meanAbs, ref.meanAbs, 1e-12, 'meanAbs');
  assert.equal(stats.zeroFraction, ref.zeroFraction);
  const { edges, counts } = stats.histogram;
  assert.equal(edges.length, bins + 1);
  assert.equal(counts.length, bins);
  assert.equal(edges[0], ref.min);
  assert.equal(edges[bins], ref.max);
  for (let i = 0; i <= bins; i++) close(edges[i], ref.min + ((ref.max - ref.min) * i) / bins, 1e-12, `edge ${i}`);
  assert.deepEqual(counts, recount(ref.finite, edges));
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    ref.n,
  );
}

test('random float32 data with NaN, Inf and zeros matches a naive two-pass float64 computation', async () => {
  const rand = rng(1);
  const values = new Float32Array(20_000);
  for (let i = 0; i < values.length; i++) values[i] = 0.02 * gaussian(rand) + 0.001;
  for (let i = 0; i < 50; i++) values[Math.floor(rand() * values.length)] = 0;
  values[17] = NaN;
  values[4000] = NaN;
  values[12345] = Infinity;
  values[19999] = -Infinity;
  const stats = await computeTensorStats(source(values, 999).chunks);
  checkAgainstNaive(stats, values, 64);
  assert.equal(stats.nanCount, 2);
  assert.equal(stats.infCount, 2);
  assert.ok(stats.zeroFraction !== null && stats.zeroFraction > 0);
});

test('float64 data with a large offset keeps the variance accurate', async () => {
  const rand = rng(2);
  const values = new Float64Array(50_000);
  for (let i = 0; i < values.length; i++) values[i] = 1e8 + gaussian(rand);
  const stats = await computeTensorStats(source(values, 4097).chunks, { bins: 10 });
  // Reference on the exactly shifted data (x - 1e8 is exact here), where naive sums lose nothing.
  const ref = naive(values.map((v) => v - 1e8));
  close(stats.mean, 1e8 + ref.mean, 1e-15, 'mean');
  close(stats.std, ref.std, 1e-12, 'std');
  assert.equal(stats.min, 1e8 + ref.min);
  assert.equal(stats.max, 1e8 + ref.max);
});

test('the result is identical however the source is chunked', async () => {
  const rand = rng(3);
  const values = new Float32Array(30_001);
  for (let i = 0; i < values.length; i++) values[i] = rand() < 0.01 ? NaN : gaussian(rand) * 3;
  const whole = await computeTensorStats(source(values).chunks);
  for (const size of [1, 7, 4096, 10_000]) {
    assert.deepEqual(await computeTensorStats(source(values, size).chunks), whole, `chunk size ${size}`);
  }
});

test('a constant tensor gets std 0 and one sensible bin range around the value', async () => {
  const values = new Float32Array(1000).fill(3.5);
  const stats = await computeTensorStats(source(values, 300).chunks);
  assert.equal(stats.min, 3.5);
  assert.equal(stats.max, 3.5);
  assert.equal(stats.mean, 3.5);
  assert.equal(stats.std, 0);
  assert.equal(stats.meanAbs, 3.5);
  assert.equal(stats.zeroFraction, 0);
  assert.equal(stats.histogram.edges[0], 3);
  assert.equal(stats.histogram.edges[64], 4);
  assert.equal(stats.histogram.counts[32], 1000);
  assert.equal(
    stats.histogram.counts.reduce((a, b) => a + b, 0),
    1000,
  );
});

test('an all-zero tensor has zeroFraction 1', async () => {
  const stats = await computeTensorStats(source(new Float32Array(10)).chunks, { bins: 4 });
  assert.equal(stats.zeroFraction, 1);
  assert.equal(stats.std, 0);
  assert.deepEqual(stats.histogram.edges, [-0.5, -0.25, 0, 0.25, 0.5]);
  assert.deepEqual(stats.histogram.counts, [0, 0, 10, 0]);
});

test('an empty tensor: count 0, null statistics, empty histogram, read once', async () => {
  const src = source(new Float32Array(0));
  const stats = await computeTensorStats(src.chunks);
  assert.deepEqual(stats, {
    count: 0,
    finiteCount: 0,
    min: null,
    max: null,
    mean: null,
    std: null,
    meanAbs: null,
    zeroFraction: null,
    nanCount: 0,
    infCount: 0,
    histogram: { edges: [], counts: [] },
    quantiles: null,
  });
  assert.equal(src.opened, 1);
});

test('a tensor of only NaN and Inf counts them and leaves the finite statistics null', async () => {
  const stats = await computeTensorStats(source(new Float32Array([NaN, Infinity, -Infinity, NaN])).chunks);
  assert.equal(stats.count, 4);
  assert.equal(stats.finiteCount, 0);
  assert.equal(stats.nanCount, 2);
  assert.equal(stats.infCount, 2);
  assert.equal(stats.mean, null);
  assert.deepEqual(stats.histogram, { edges: [], counts: [] });
});

test('values on bin edges land in the bin that starts there; the maximum in the last bin', async () => {
  const values = new Float32Array([0, 1, 2, 3, 4, 4, 2.5]);
  const stats = await computeTensorStats(source(values).chunks, { bins: 4 });
  assert.deepEqual(stats.histogram.edges, [0, 1, 2, 3, 4]);
  assert.deepEqual(stats.histogram.counts, [1, 1, 2, 3]);
});

test('extreme float64 ranges do not overflow the histogram', async () => {
  const values = new Float64Array([-Number.MAX_VALUE, 0, Number.MAX_VALUE]);
  const stats = await computeTensorStats(source(values).chunks, { bins: 2 });
  assert.deepEqual(stats.histogram.edges, [-Number.MAX_VALUE, 0, Number.MAX_VALUE]);
  assert.deepEqual(stats.histogram.counts, [1, 2]);
  const tiny = new Float64Array([5e-324, 1e-323, 1.5e-323]);
  const t = await computeTensorStats(source(tiny).chunks, { bins: 2 });
  assert.equal(
    t.histogram.counts.reduce((a, b) => a + b, 0),
    3,
  );
});

test('progress rises to the element count over both passes', async () => {
  const values = new Float32Array(1000).map((_, i) => i);
  const seen: number[] = [];
  await computeTensorStats(source(values, 100).chunks, { onProgress: (d) => seen.push(d) });
  assert.equal(seen.length, 20);
  assert.equal(seen.at(-1), 1000);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1]);
});

test('a source that yields a different number of elements than expected is an error', async () => {
  await assert.rejects(computeTensorStats(source(new Float32Array(5)).chunks, { totalElements: 6 }), /expected 6/);
  // Raw bytes: fewer, and more (in one chunk and across chunks: a partial block is never carried past the count).
  for (const [held, chunk] of [
    [5, 5],
    [7, 7],
    [5000, 4097],
  ]) {
    const bytes = new Uint8Array(held * 4);
    const from = async function* (): AsyncIterable<Uint8Array> {
      for (let b = 0; b < bytes.length; b += chunk * 4) yield bytes.subarray(b, Math.min(bytes.length, b + chunk * 4));
    };
    await assert.rejects(computeTensorStatsFromBytes('F32', from, { elements: 6 }), /expected|more than the 6/, `${held} elements`);
  }
});

test('an abort between chunks stops the run with an AbortError and closes the source', async () => {
  const controller = new AbortController();
  let yielded = 0;
  let closed = false;
  const chunks = (): AsyncIterable<DecodedValues> =>
    (async function* () {
      try {
        for (let i = 0; i < 100; i++) {
          yielded++;
          if (i === 2) controller.abort();
          yield new Float32Array(10).fill(i);
        }
      } finally {
        closed = true;
      }
    })();
  await assert.rejects(computeTensorStats(chunks, { signal: controller.signal }), { name: 'AbortError' });
  assert.equal(yielded, 3);
  assert.ok(closed);
});

test('an already aborted signal never opens the source', async () => {
  const controller = new AbortController();
  controller.abort();
  const src = source(new Float32Array(10));
  await assert.rejects(computeTensorStats(src.chunks, { signal: controller.signal }), { name: 'AbortError' });
  assert.equal(src.opened, 0);
});

test('invalid bin counts are refused', async () => {
  await assert.rejects(computeTensorStats(source(new Float32Array(3)).chunks, { bins: 0 }), RangeError);
  await assert.rejects(computeTensorStats(source(new Float32Array(3)).chunks, { bins: 2.5 }), RangeError);
});
