// Statistics from raw bytes (tensorStatsOf, every decodable dtype) against numpy in float64, which
// reads the file on its own: NaN, Inf, -0, subnormals, constant, empty and 0-d tensors, tensors small
// and large enough for the table and bucket roads (accumulators.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { encodeBF16, encodeF16, encodeF64, encodeF32, decode } from '../../src/mimicry/safetensors/dtypes';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import type { Checkpoint, DType, TensorToWrite } from '../../src/mimicry/safetensors/types';
import { isStatsSkipped, KEEP_BYTES, tensorStatsOf } from '../../src/mimicry/stats/checkpointStats';
import { computeTensorStats, type TensorStats } from '../../src/mimicry/stats/tensorStats';
import { BUCKETS_FROM, SMALL } from '../../src/mimicry/stats/accumulators';
import { QUANTILE_PROBS } from '../../src/mimicry/stats/quantiles';
import { inTempDir, withCheckpoint } from './helpers/temp-dir';
import { rng } from './helpers/rng';

const HAS_NUMPY = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** n values: scaled normal, with the specials of `specials` written at fixed places. */
function values(seed: number, n: number, scale: number, offset = 0, specials: number[] = []): number[] {
  const rand = rng(seed);
  const out = Array.from({ length: n }, () => offset + scale * gaussian(rand));
  specials.forEach((v, i) => {
    if (n > 0) out[(i * 7919) % n] = v;
  });
  return out;
}

const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 0, NaN];
const BIG = SMALL * 4 + 123; // over SMALL, and not a whole number of blocks
const HUGE = BUCKETS_FROM + 4097; // F32 with buckets

function ints(seed: number, n: number, lo: number, hi: number): number[] {
  const rand = rng(seed);
  return Array.from({ length: n }, () => lo + Math.floor(rand() * (hi - lo + 1)));
}

function bytesOf(dtype: DType, v: number[]): Uint8Array {
  const n = v.length;
  const buf = new ArrayBuffer(n * (dtype === 'I64' ? 8 : dtype === 'I32' || dtype === 'U32' ? 4 : dtype.endsWith('16') ? 2 : 1));
  switch (dtype) {
    case 'F32':
      return encodeF32(v);
    case 'F64':
      return encodeF64(v);
    case 'BF16':
      return encodeBF16(v);
    case 'F16':
      return encodeF16(v);
    case 'I8':
      new Int8Array(buf).set(v);
      break;
    case 'U8':
    case 'BOOL':
    case 'F8_E4M3':
    case 'F8_E5M2':
      new Uint8Array(buf).set(v);
      break;
    case 'I16':
      new Int16Array(buf).set(v);
      break;
    case 'U16':
      new Uint16Array(buf).set(v);
      break;
    case 'I32':
      new Int32Array(buf).set(v);
      break;
    case 'I64':
      new BigInt64Array(buf).set(v.map((x) => BigInt(x)));
      break;
    default:
      throw new Error(dtype);
  }
  return new Uint8Array(buf);
}

function tensor(name: string, dtype: DType, v: number[], shape: number[] = [v.length]): TensorToWrite {
  return { name, dtype, shape, data: bytesOf(dtype, v) };
}

/** Bit patterns of BF16/F16 written as they are (subnormals, -0, NaN payloads). */
function patterns(name: string, dtype: 'BF16' | 'F16', bits: number[], repeat: number): TensorToWrite {
  const all = new Uint16Array(bits.length * repeat);
  for (let i = 0; i < all.length; i++) all[i] = bits[i % bits.length];
  return { name, dtype, shape: [all.length], data: new Uint8Array(all.buffer) };
}

const TENSORS: TensorToWrite[] = [
  tensor('f32.big', 'F32', values(1, BIG, 0.02, 0.001, [...SPECIALS, 1e-40, -3e-42, 1.4e-45])),
  tensor('f32.small', 'F32', values(2, 1000, 3, 0, SPECIALS)),
  tensor('f32.const', 'F32', new Array<number>(5000).fill(3.5)),
  tensor('f32.constbig', 'F32', new Array<number>(HUGE).fill(-1.25)),
  tensor('f32.huge', 'F32', values(17, HUGE, 0.02, 0.001, [...SPECIALS, 1e-40, -3e-42, 1.4e-45, 3e38, -3.2e38])),
  tensor('f32.empty', 'F32', [], [0, 4]),
  tensor('f32.scalar', 'F32', [2.5], []),
  tensor('f32.nan', 'F32', [NaN, Infinity, NaN, -Infinity]),
  tensor('f32.offset', 'F32', values(3, BIG, 1, 1000)),
  tensor('bf16.big', 'BF16', values(4, BIG, 0.02, 0, SPECIALS)),
  tensor('bf16.small', 'BF16', values(5, 777, 1, 0.5, SPECIALS)),
  patterns('bf16.subnormal', 'BF16', [0x0001, 0x8001, 0x0000, 0x8000, 0x007f, 0x3f80, 0x7fc1, 0xff80], 20000),
  tensor('f16.big', 'F16', values(6, BIG, 0.5, 0, SPECIALS)),
  patterns('f16.subnormal', 'F16', [0x0001, 0x8001, 0x0000, 0x8000, 0x03ff, 0x3c00, 0x7e01, 0x7c00, 0x7bff], 9000),
  tensor('f64.offset', 'F64', values(7, 50_000, 1, 1e8, SPECIALS)),
  tensor('f64.tiny', 'F64', [5e-324, 1e-323, 1.5e-323, -0, 0]),
  tensor('i8', 'I8', ints(8, BIG, -128, 127)),
  tensor('u8', 'U8', ints(9, 3000, 0, 255)),
  tensor('bool', 'BOOL', ints(10, 5000, 0, 3)),
  tensor('i16', 'I16', ints(11, BIG, -32768, 32767)),
  tensor('u16', 'U16', ints(12, 999, 0, 65535)),
  tensor('i32', 'I32', ints(13, 20_000, -2e9, 2e9)),
  tensor('i64', 'I64', ints(14, 5000, -1e15, 1e15)),
  tensor('e4m3', 'F8_E4M3', ints(15, BIG, 0, 255)),
  tensor('e5m2', 'F8_E5M2', ints(16, 4000, 0, 255)),
];

// numpy reads the file by itself and computes the definitions in float64 (math.fsum for the sums);
// histograms are counted on our edges with numpy.histogram's rule (last bin closed).
const NUMPY_REFERENCE = String.raw`
import json, math, struct, sys
import numpy as np
req = json.load(sys.stdin)
raw = open(req['file'], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
def e4m3(b):
    s = np.where(b & 0x80, -1.0, 1.0); e = (b >> 3) & 0xF; m = (b & 7).astype(np.float64)
    v = np.where(e == 0, m * 2.0 ** -9, (1 + m / 8) * 2.0 ** (e.astype(np.float64) - 7))
    return np.where((e == 15) & ((b & 7) == 7), np.nan, s * v)
out = {}
for name, spec in header.items():
    if name == '__metadata__': continue
    a, b = spec['data_offsets']
    buf = raw[8 + n + a: 8 + n + b]
    dt = spec['dtype']
    if dt == 'BF16': x = (np.frombuffer(buf, '<u2').astype(np.uint32) << 16).view(np.float32)
    elif dt == 'F8_E4M3': x = e4m3(np.frombuffer(buf, np.uint8))
    elif dt == 'F8_E5M2': x = (np.frombuffer(buf, np.uint8).astype(np.uint16) << 8).view(np.float16)
    elif dt == 'BOOL': x = (np.frombuffer(buf, np.uint8) != 0)
    else: x = np.frombuffer(buf, {'F32': '<f4', 'F64': '<f8', 'F16': '<f2', 'I8': 'i1', 'U8': 'u1', 'I16': '<i2',
                                   'U16': '<u2', 'I32': '<i4', 'I64': '<i8'}[dt])
    x = x.astype(np.float64)
    fin = x[np.isfinite(x)]
    r = {'count': int(x.size), 'finite': int(fin.size), 'nan': int(np.isnan(x).sum()), 'inf': int(np.isinf(x).sum())}
    if fin.size:
        mean = math.fsum(fin) / fin.size
        r.update(min=float(fin.min()), max=float(fin.max()), mean=mean,
                 std=math.sqrt(math.fsum((fin - mean) ** 2) / fin.size),
                 meanAbs=math.fsum(np.abs(fin)) / fin.size, zeros=int((fin == 0).sum()))
        edges = req['edges'].get(name)
        if edges: r['counts'] = np.histogram(fin, bins=np.array(edges, dtype=np.float64))[0].tolist()
        r['quantiles'] = np.quantile(fin, req['probs']).tolist()
    out[name] = r
json.dump(out, sys.stdout)
`;

interface Reference {
  count: number;
  finite: number;
  nan: number;
  inf: number;
  min?: number;
  max?: number;
  mean?: number;
  std?: number;
  meanAbs?: number;
  zeros?: number;
  counts?: number[];
  quantiles?: number[];
}

function numpyReference(file: string, edges: Record<string, number[]>): Record<string, Reference> {
  const r = spawnSync('python3', ['-c', NUMPY_REFERENCE], {
    input: JSON.stringify({ file, edges, probs: QUANTILE_PROBS }),
    maxBuffer: 1 << 26,
  });
  assert.equal(r.status, 0, r.stderr.toString());
  return JSON.parse(r.stdout.toString()) as Record<string, Reference>;
}

function near(actual: number | null, expected: number, tol: number, what: string): void {
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

/** Exact quantiles equal numpy's bit for bit (== : -0 and 0 alike); others are within their stated error. */
function checkQuantiles(name: string, s: TensorStats, ref: number[]): void {
  const q = s.quantiles;
  assert.ok(q, `${name} quantiles`);
  assert.deepEqual(q.probs, QUANTILE_PROBS);
  q.values.forEach((v, i) => {
    if (q.error === 0) assert.ok(v === ref[i], `${name} p${QUANTILE_PROBS[i] * 100}: ${v} vs numpy ${ref[i]}`);
    else assert.ok(Math.abs(v - ref[i]) <= q.error, `${name} p${QUANTILE_PROBS[i] * 100}: ${v} vs numpy ${ref[i]} (error ${q.error})`);
  });
}

function checkAgainst(name: string, s: TensorStats, ref: Reference): void {
  assert.equal(s.count, ref.count, `${name} count`);
  assert.equal(s.finiteCount, ref.finite, `${name} finite`);
  assert.equal(s.nanCount, ref.nan, `${name} nan`);
  assert.equal(s.infCount, ref.inf, `${name} inf`);
  if (ref.finite === 0) {
    assert.equal(s.mean, null);
    assert.equal(s.quantiles, null);
    assert.deepEqual(s.histogram, { edges: [], counts: [] });
    return;
  }
  const r = ref as Required<Reference>;
  // == rather than Object.is: with both zeros present, which of them is the minimum is not defined.
  assert.ok(s.min === r.min && s.max === r.max, `${name} min/max: ${s.min} ${s.max} vs ${r.min} ${r.max}`);
  const scale = Math.max(Math.abs(r.mean), r.std, Number.MIN_VALUE);
  near(s.mean, r.mean, 1e-13 * scale, `${name} mean`);
  near(s.std, r.std, 1e-11 * r.std + 1e-13 * scale, `${name} std`);
  near(s.meanAbs, r.meanAbs, 1e-13 * r.meanAbs, `${name} meanAbs`);
  assert.equal(s.zeroFraction, r.zeros / r.finite, `${name} zeroFraction`);
  assert.deepEqual(s.histogram.counts, r.counts, `${name} histogram`);
  checkQuantiles(name, s, r.quantiles);
  assert.equal(
    s.histogram.counts.reduce((a, b) => a + b, 0),
    r.finite,
  );
}

test('every decodable dtype from raw bytes matches numpy in float64 (NaN, Inf, -0, subnormals, constant, empty, 0-d)', async (t) => {
  if (!HAS_NUMPY) return t.skip('python3 with numpy is not available');
  await inTempDir(async (dir) => {
    const file = join(dir, 'all.safetensors');
    await writeSafetensors(file, TENSORS);
    await withCheckpoint(file, async (ck) => {
      const ours = new Map<string, TensorStats>();
      for (const info of ck.tensors) {
        const s = await tensorStatsOf(ck, info, { bins: 33 });
        assert.ok(!isStatsSkipped(s));
        ours.set(info.name, s);
      }
      const edges = Object.fromEntries([...ours].map(([n, s]) => [n, s.histogram.edges]));
      const ref = numpyReference(file, edges);
      for (const [name, s] of ours) checkAgainst(name, s, ref[name]);
      // Spot checks of the conventions.
      const c = ours.get('f32.constbig') as TensorStats;
      assert.deepEqual([c.histogram.edges[0], c.histogram.edges[33], c.std], [-1.75, -0.75, 0]);
      assert.equal(c.histogram.counts[16], HUGE);
      assert.equal((ours.get('f32.scalar') as TensorStats).count, 1);
      assert.equal((ours.get('f32.empty') as TensorStats).count, 0);
      assert.equal((ours.get('bf16.subnormal') as TensorStats).zeroFraction, 2 / 6); // +0 and -0 of 6 finite patterns
    });
  });
});

test('F32 from raw bytes equals the decoded-chunks API however it is chunked', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'f32.safetensors');
    await writeSafetensors(file, [TENSORS[0], TENSORS[4], TENSORS[8]]);
    await withCheckpoint(file, async (ck) => {
      for (const info of ck.tensors) {
        const fromBytes = await tensorStatsOf(ck, info, { chunkElements: 10_007 });
        assert.deepEqual(await tensorStatsOf(ck, info), fromBytes);
        const decoded = decode('F32', await ck.readBytes(info)) as Float32Array;
        for (const size of [4096, 333, decoded.length]) {
          const chunks = async function* () {
            for (let i = 0; i < decoded.length; i += size) yield decoded.subarray(i, Math.min(decoded.length, i + size));
          };
          assert.deepEqual(await computeTensorStats(chunks, { totalElements: info.params }), fromBytes, `${info.name} by ${size}`);
        }
      }
    });
  });
});

/** Counts the checkpoint's reads from now on, promised or blocking. */
function countReads(ck: Checkpoint): { n: number } {
  const reads = { n: 0 };
  const readBytes = ck.readBytes.bind(ck);
  ck.readBytes = (...args) => {
    reads.n++;
    return readBytes(...args);
  };
  const readBytesSync = ck.readBytesSync?.bind(ck);
  if (readBytesSync)
    ck.readBytesSync = (...args) => {
      reads.n++;
      return readBytesSync(...args);
    };
  return reads;
}

test('statistics from a table read the data once; F32 reads it again only for values near bin edges', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'once.safetensors');
    await writeSafetensors(file, [TENSORS[9], TENSORS[3]]);
    await withCheckpoint(file, async (ck) => {
      const reads = countReads(ck);
      for (const info of ck.tensors) {
        reads.n = 0;
        const seen: number[] = [];
        await tensorStatsOf(ck, info, { bins: 33, chunkElements: 1 << 16, onProgress: (d) => seen.push(d) });
        // bf16.big: one pass; f32.constbig: every value in one bin (the middle of 33), so no second pass either.
        assert.equal(reads.n, Math.ceil(info.params / (1 << 16)), info.name);
        assert.equal(seen.at(-1), info.params);
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1]);
      }
    });
  });
});

test('an F32 tensor with a second pass and at most KEEP_BYTES is read from the file once, with the same statistics', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'kept.safetensors');
    // f32.huge has values near bin edges: the histogram pass runs, over the kept bytes.
    await writeSafetensors(file, [TENSORS[8]]);
    await withCheckpoint(file, async (ck) => {
      const [info] = ck.tensors;
      assert.ok(info.bytes <= KEEP_BYTES);
      const decoded = decode('F32', await ck.readBytes(info)) as Float32Array;
      const chunks = async function* () {
        yield decoded;
      };
      const reference = await computeTensorStats(chunks, { totalElements: info.params, bins: 33 });
      const reads = countReads(ck);
      const seen: number[] = [];
      const kept = await tensorStatsOf(ck, info, { bins: 33, chunkElements: 1 << 16, onProgress: (d) => seen.push(d) });
      assert.equal(reads.n, Math.ceil(info.params / (1 << 16)));
      assert.deepEqual(kept, reference);
      assert.ok(
        seen.some((d) => d > info.params / 2),
        'the histogram pass reports progress',
      );
      assert.equal(seen.at(-1), info.params);
    });
  });
});

test('an F32 tensor over KEEP_BYTES keeps its last KEEP_BYTES: the rest is read twice, the same statistics', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'tail.safetensors');
    const n = KEEP_BYTES / 4 + 3 * 65_536 + 17;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.001) * (1 + (i % 13)) * 0.01;
    x[n - 5] = NaN;
    await writeSafetensors(file, [{ name: 'f32.tail', dtype: 'F32', shape: [n], data: encodeF32(x) }]);
    await withCheckpoint(file, async (ck) => {
      const [info] = ck.tensors;
      const chunks = async function* () {
        for (let i = 0; i < n; i += 1 << 20) yield x.subarray(i, i + (1 << 20));
      };
      const reference = await computeTensorStats(chunks, { totalElements: n, bins: 33 });
      const reads = countReads(ck);
      const chunk = 1 << 16;
      const stats = await tensorStatsOf(ck, info, { bins: 33, chunkElements: chunk });
      const head = n - KEEP_BYTES / 4;
      assert.equal(reads.n, Math.ceil(head / chunk) + Math.ceil(KEEP_BYTES / 4 / chunk) + Math.ceil(head / chunk));
      assert.deepEqual(stats, reference);
    });
  });
});

test('kept F32 tensors computed at once on one thread (one in the kernels keep area, the other in its own buffer) give their own statistics', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'two.safetensors');
    await writeSafetensors(file, [TENSORS[0], TENSORS[8]]);
    await withCheckpoint(file, async (ck) => {
      const [a, b] = ck.tensors;
      assert.ok(a.bytes <= KEEP_BYTES && b.bytes <= KEEP_BYTES);
      const alone = [await tensorStatsOf(ck, a, { chunkElements: 1 << 15 }), await tensorStatsOf(ck, b, { chunkElements: 1 << 15 })];
      // Interleaved chunk by chunk: each pass waits its turn at the gate, as the inspector's batch does.
      let turn = Promise.resolve();
      const gate = (): Promise<void> => (turn = turn.then(() => new Promise((r) => setImmediate(r))));
      const together = await Promise.all([a, b].map((t) => tensorStatsOf(ck, t, { chunkElements: 1 << 15, gate })));
      assert.deepEqual(together, alone);
      // And the area is free again: one more run alone gives the same.
      assert.deepEqual(await tensorStatsOf(ck, b, { chunkElements: 1 << 15 }), alone[1]);
    });
  });
});
