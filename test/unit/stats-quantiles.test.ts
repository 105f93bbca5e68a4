// Quantiles (quantiles.ts): the radix selection against a sort, both F32 bucket roads (picked values,
// counts per low bits) against a sort, and the fine-histogram road of big 32/64-bit tensors against
// numpy within its stated error bound. The exact roads (tables, refined F32
// buckets, kept values) are checked bit for bit against numpy in stats-bytes.test.ts, and one thread
// against the stats pool in stats-pool.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { encodeF32, encodeF64 } from '../../src/mimicry/safetensors/dtypes';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import { isStatsSkipped, tensorStatsOf } from '../../src/mimicry/stats/checkpointStats';
import { bucketShift, BUCKETS_FROM, SUPER } from '../../src/mimicry/stats/accumulators';
import {
  FINE_BINS,
  QUANTILE_PROBS,
  quantileRanks,
  quantilesOf,
  selectInF32Bucket,
  selectRanks,
  selectRanksF32,
} from '../../src/mimicry/stats/quantiles';
import { computeTensorStats } from '../../src/mimicry/stats/tensorStats';
import { inTempDir, withCheckpoint } from './helpers/temp-dir';
import { rng } from './helpers/rng';

const HAS_NUMPY = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

test('selection (radix, and quickselect below 4,097 values) finds the values a sort puts at each rank (duplicates, -0 and 0, negatives, tiny and huge)', () => {
  const rand = rng(5);
  const cases: Float64Array[] = [
    Float64Array.from({ length: 100_003 }, () => (rand() - 0.5) * 10 ** Math.floor(rand() * 20 - 10)),
    Float64Array.from({ length: 50_000 }, () => Math.floor(rand() * 7) - 3), // few distinct values: every level of the radix
    Float64Array.from({ length: 20_000 }, (_, i) => (i % 2 ? -0 : 0)),
    Float64Array.from({ length: 9_000 }, () => 1e300 * (rand() - 0.5) + 5e-324),
    Float64Array.from({ length: 77 }, () => rand()),
    // Quickselect's sizes (up to 4096): ties, both zeros, sorted and reversed runs, one value.
    Float64Array.from({ length: 4096 }, () => [0, -0, 1, -1, 2][Math.floor(rand() * 5)]),
    Float64Array.from({ length: 3000 }, (_, i) => i),
    Float64Array.from({ length: 2999 }, (_, i) => -i * 1e-310),
    Float64Array.from({ length: 1500 }, () => 0.25),
    Float64Array.from({ length: 1537 }, () => Math.fround(rand() - 0.5) * (rand() < 0.1 ? 0 : 1)),
    Float64Array.from({ length: 2 }, (_, i) => (i ? -0 : 0)),
  ];
  for (const x of cases) {
    const sorted = x.slice().sort();
    const ranks = [...new Set([0, 1, ...quantileRanks(x.length), x.length - 2, x.length - 1])].sort((a, b) => a - b);
    const found = selectRanks(x.slice(), ranks);
    ranks.forEach((r, k) => assert.ok(Object.is(found[k], sorted[r]), `rank ${r} of ${x.length}: ${found[k]} vs ${sorted[r]}`));
  }
});

test('selection of float32 values by radix sort of their order keys finds the values a sort puts at each rank (-0 and 0, subnormals, ties, one value)', () => {
  const rand = rng(11);
  const f32 = (n: number, value: (i: number) => number): Float64Array => Float64Array.from({ length: n }, (_, i) => Math.fround(value(i)));
  const cases: Float64Array[] = [
    f32(384, () => (rand() + rand() - 1) * 0.05), // a bias: every pass of the sort moves keys
    f32(1537, () => [0, -0, 1, -1, 2.5, -2.5][Math.floor(rand() * 6)]),
    f32(4097, () => (rand() - 0.5) * 1e-40), // subnormals of both signs
    f32(20_000, (i) => (i % 3 === 0 ? -0 : i % 3 === 1 ? 0 : 3e38 * (rand() - 0.5))),
    f32(65_536, () => (rand() - 0.5) * 10 ** Math.floor(rand() * 60 - 30)),
    f32(1000, () => 0.25), // one key: every pass skipped
    f32(700, (i) => 1 + i * 2 ** -23), // keys that differ in their low byte only
    f32(1, () => -0),
    f32(2, (i) => (i ? 0 : -0)),
  ];
  for (const x of cases) {
    const sorted = x.slice().sort();
    const ranks = [...new Set([0, 1, ...quantileRanks(x.length), x.length - 2, x.length - 1].filter((r) => r >= 0 && r < x.length))].sort(
      (a, b) => a - b,
    );
    const found = selectRanksF32(x, ranks);
    ranks.forEach((r, k) => assert.ok(Object.is(found[k], sorted[r]), `rank ${r} of ${x.length}: ${found[k]} vs ${sorted[r]}`));
  }
  assert.deepEqual(selectRanksF32(Float64Array.of(1, 2), []), []);
  assert.throws(() => selectRanksF32(Float64Array.of(1, 2), [2]), RangeError);
});

test("selection within one F32 bucket (by the values' low bits) finds the values a sort puts at each rank: positive, negative, -0 and subnormal buckets", () => {
  const rand = rng(23);
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  for (const shift of [15, 12, 8]) {
    // A normal positive and negative bucket, and the buckets of +0 and -0 (with subnormals of that sign).
    for (const top of [0x3c23d70a, 0xbd4ccccd, 0, 0x80000000]) {
      const bucket = (top & ~((1 << shift) - 1)) >>> 0;
      for (const n of [1, 2, 7, 300, 5000]) {
        const x = new Float64Array(n);
        for (let k = 0; k < n; k++) {
          // Few distinct low bits for small n too: duplicates.
          bits[0] = (bucket | Math.floor(rand() * (k % 3 === 0 ? 4 : 1 << shift))) >>> 0;
          x[k] = f[0];
        }
        const ranks = [...new Set([0, n - 1, Math.floor(n / 2), Math.floor(n / 3), Math.min(n - 1, Math.floor(n / 3) + 1)])].sort(
          (a, b) => a - b,
        );
        assert.deepStrictEqual(
          selectInF32Bucket(x, shift, ranks),
          selectRanks(x, ranks),
          `shift ${shift} bucket ${bucket.toString(16)} n ${n}`,
        );
        assert.deepStrictEqual(selectInF32Bucket(x, shift, []), []);
      }
    }
  }
  // Values of two buckets are refused (a bucket's values changed between passes).
  assert.throws(() => selectInF32Bucket(Float64Array.of(0.5, -0.5), 15, [0]), /another bucket/);
  assert.throws(() => selectInF32Bucket(Float64Array.of(0.5, 0.5), 15, [2]), RangeError);
});

test("numpy's linear rule: h = (n - 1) q between the neighbouring order statistics", () => {
  const q = quantilesOf(5, (r) => [10, 20, 30, 40, 50][r]);
  assert.deepEqual(q.probs, QUANTILE_PROBS);
  // numpy.quantile([10, 20, 30, 40, 50], [.01, .1, .25, .5, .75, .9, .99])
  assert.deepEqual(q.values, [10.4, 14, 20, 30, 40, 46, 49.6]);
  assert.equal(q.error, 0);
  assert.deepEqual(quantilesOf(1, () => 7).values, [7, 7, 7, 7, 7, 7, 7]);
});

test('decoded chunks give the same quantiles as one sort, NaN and Inf left out', async () => {
  const rand = rng(9);
  const x = Float32Array.from({ length: 30_001 }, () => rand() * 2 - 1);
  x[5] = NaN;
  x[77] = Infinity;
  x[1000] = -Infinity;
  const s = await computeTensorStats(async function* () {
    for (let i = 0; i < x.length; i += 4096) yield x.subarray(i, i + 4096);
  });
  const finite = Float64Array.from(x.filter(Number.isFinite)).sort();
  assert.deepEqual(
    s.quantiles,
    quantilesOf(finite.length, (r) => finite[r]),
  );
});

test('F32 quantiles through the buckets equal a sort: values picked from coarse buckets (at most SUPER values), counted per low bits (more)', async () => {
  const rand = rng(13);
  const sizes = [BUCKETS_FROM + 3, 3 * BUCKETS_FROM, SUPER, SUPER + 4097];
  assert.deepEqual(
    sizes.map((n) => bucketShift(n)),
    [15, 15, 15, 12],
  );
  await inTempDir(async (dir) => {
    const file = join(dir, 'f32.safetensors');
    const tensors = sizes.flatMap((n, k) => {
      // Spread values with ±0, subnormals and huge ones; and one where most values share a bucket
      // (a quantile bucket with hundreds of thousands of values to pick from) beside a few ranks elsewhere.
      const spread = Float32Array.from({ length: n }, (_, i) =>
        i % 97 === 0 ? (i % 2 ? -0 : 0) : i % 101 === 0 ? 1e-42 * (rand() - 0.5) : (rand() + rand() - 1) * 10 ** Math.floor(rand() * 6 - 4),
      );
      spread[7] = 3e38;
      spread[8] = NaN;
      const lumpy = Float32Array.from({ length: n }, () => (rand() < 0.8 ? 1 + 2 ** -20 * Math.floor(rand() * 64) : rand() * 4 - 2));
      return [
        { name: `spread.${k}`, dtype: 'F32' as const, shape: [n], data: encodeF32(spread) },
        { name: `lumpy.${k}`, dtype: 'F32' as const, shape: [n], data: encodeF32(lumpy) },
      ];
    });
    await writeSafetensors(file, tensors);
    await withCheckpoint(file, async (ck) => {
      for (const [i, t] of ck.tensors.entries()) {
        const s = await tensorStatsOf(ck, t);
        assert.ok(!isStatsSkipped(s), t.name);
        const data = tensors.find((w) => w.name === t.name)?.data as Uint8Array;
        const x = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
        const finite = Float64Array.from(x.filter(Number.isFinite)).sort();
        assert.deepEqual(
          s.quantiles,
          quantilesOf(finite.length, (r) => finite[r]),
          `${t.name} (${i})`,
        );
      }
    });
  });
});

test('big F64 and I32 tensors: quantiles from a fine histogram, within the stated error of numpy', async (t) => {
  if (!HAS_NUMPY) return t.skip('python3 with numpy is not available');
  const n = SUPER + 1001; // over SUPER: the fine road
  const rand = rng(3);
  const f64 = Float64Array.from({ length: n }, () => (rand() + rand() + rand() - 1.5) * 3 + 100);
  f64[10] = NaN;
  const i32 = Int32Array.from({ length: n }, () => Math.floor((rand() - 0.5) * 4e9));
  await inTempDir(async (dir) => {
    const file = join(dir, 'fine.safetensors');
    await writeSafetensors(file, [
      { name: 'f64', dtype: 'F64', shape: [n], data: encodeF64(f64) },
      { name: 'i32', dtype: 'I32', shape: [n], data: new Uint8Array(i32.buffer) },
    ]);
    const py = `
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8 + n])
out = {}
for name in ('f64', 'i32'):
    a, b = h[name]['data_offsets']
    x = np.frombuffer(raw[8 + n + a: 8 + n + b], {'f64': '<f8', 'i32': '<i4'}[name]).astype(np.float64)
    out[name] = np.quantile(x[np.isfinite(x)], json.loads(sys.argv[2])).tolist()
print(json.dumps(out))`;
    const r = spawnSync('python3', ['-c', py, file, JSON.stringify(QUANTILE_PROBS)], { maxBuffer: 1 << 24 });
    assert.equal(r.status, 0, r.stderr.toString());
    const ref = JSON.parse(r.stdout.toString()) as Record<string, number[]>;
    await withCheckpoint(file, async (ck) => {
      for (const info of ck.tensors) {
        const s = await tensorStatsOf(ck, info);
        assert.ok(!isStatsSkipped(s) && s.quantiles && s.min !== null && s.max !== null);
        const { values, error } = s.quantiles;
        // One fine bin: (max - min) / FINE_BINS, up to rounding of the edges.
        assert.ok(error > 0 && Math.abs(error - (s.max - s.min) / FINE_BINS) <= 1e-9 * (s.max - s.min), `${info.name} error ${error}`);
        values.forEach((v, i) =>
          assert.ok(Math.abs(v - ref[info.name][i]) <= error, `${info.name} p${QUANTILE_PROBS[i] * 100}: ${v} vs ${ref[info.name][i]}`),
        );
      }
    });
  });
});
