// The F32 statistics kernels (stats/statsKernels.wat): the compiled bytes are those of the .wat, and
// the statistics they give equal the JavaScript loops' bit for bit (NaN, Inf, ±0 as min or max,
// constant blocks, any chunking, passes of several tensors interleaved on one thread).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  BUCKETS_FROM,
  SUPER,
  bucketShift,
  pass1Accumulator,
  afterPass1,
  binBuckets,
  Pass2Accumulator,
  finishStats,
  type FinishedStats,
} from '../../src/mimicry/stats/accumulators';
import { MAX_KERNEL_BINS, SUB, statsKernels, setStatsKernelsEnabled } from '../../src/mimicry/stats/statsKernels';
import { STATS_KERNELS_WASM_BASE64, STATS_KERNELS_WAT_SHA256 } from '../../src/mimicry/stats/statsKernelsWasm';
import { instantiateEmbedded } from '../../src/mimicry/linalg/embeddedWasm';
import { computeTensorStatsFromBytes, type TensorStats } from '../../src/mimicry/stats/tensorStats';
import { HistogramBuilder } from '../../src/mimicry/stats/histogram';
import { rng } from './helpers/rng';

async function withKernels<T>(on: boolean, f: () => Promise<T>): Promise<T> {
  setStatsKernelsEnabled(on);
  try {
    return await f();
  } finally {
    setStatsKernelsEnabled(true);
  }
}

/** n float32 values: normal, with runs of zeros of both signs (a block whose max or min is ±0), NaN and Inf in some blocks. */
function data(seed: number, n: number): Float32Array {
  const rand = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()) * 0.02;
  // block 3: only non-positive values and zeros of both signs, -0 first (max is a zero)
  for (let i = 3 * 4096; i < 4 * 4096; i++) x[i] = i % 5 === 0 ? (i % 2 ? 0 : -0) : -Math.abs(x[i]);
  // block 5: non-negative, +0 first (min is a zero)
  for (let i = 5 * 4096; i < 6 * 4096; i++) x[i] = i % 3 === 0 ? (i % 2 ? -0 : 0) : Math.abs(x[i]);
  // block 7: constant; block 9: NaN; block 11: Inf; block 13: all -0
  x.fill(0.5, 7 * 4096, 8 * 4096);
  x[9 * 4096 + 17] = NaN;
  x[11 * 4096 + 4000] = -Infinity;
  x.fill(-0, 13 * 4096, 14 * 4096);
  return x;
}

function source(x: Float32Array, chunk: number, offset = 0) {
  // `offset`: bytes that start off a 4-byte boundary, as a reader's buffer can.
  const bytes = new Uint8Array(x.byteLength + offset).subarray(offset);
  bytes.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  return async function* (first: number, last: number): AsyncIterable<Uint8Array> {
    for (let b = first * 4; b < last * 4; b += chunk * 4) yield bytes.subarray(b, Math.min(last * 4, b + chunk * 4));
  };
}

test('the compiled statistics kernels are those of statsKernels.wat (run scripts/build-kernels.mjs after editing it) and load here', () => {
  const sha = createHash('sha256').update(readFileSync('src/mimicry/stats/statsKernels.wat')).digest('hex');
  assert.equal(STATS_KERNELS_WAT_SHA256, sha, 'statsKernels.wat changed: run node scripts/build-kernels.mjs');
  assert.ok(statsKernels(), 'WebAssembly SIMD statistics kernels did not load on this Node');
});

test('the kernels compiled for a constant shift give what the shift-taking ones give, for every shift compiled', async () => {
  const { STATS_SHIFTS, specializeShifts } = await import('../../scripts/build-kernels.mjs');
  // The shifts the statistics use are among those compiled (else they would take the slower kernels).
  for (const elements of [BUCKETS_FROM, SUPER, SUPER + 1]) assert.ok(STATS_SHIFTS.includes(bucketShift(elements)));
  const text = specializeShifts(readFileSync('src/mimicry/stats/statsKernels.wat', 'utf8'));
  type Kernel = (...args: number[]) => number;
  const e = instantiateEmbedded<{ memory: WebAssembly.Memory } & Record<string, Kernel>>(STATS_KERNELS_WASM_BASE64);
  assert.ok(e);
  const mem = e.memory.buffer;
  const [DATA, TOP, OUT, MARKS, INDEX, EDGES, BIN] = [
    9 << 20,
    0,
    7 << 20,
    4 << 20,
    6 << 20,
    (7 << 20) + (64 << 10),
    (7 << 20) + (512 << 10),
  ];
  const n = 8 * 4096;
  new Float32Array(mem, DATA, n).set(data(5, n));
  const top = new Int32Array(mem, TOP, 1 << 20);
  const out = new Float64Array(mem, OUT, 8 * 8);
  const marks = new Uint8Array(mem, MARKS, 1 << 20);
  const index = new Int32Array(mem, INDEX, n);
  const hist = new HistogramBuilder(-0.1, 0.1, 16);
  const rule = hist.linearRule();
  assert.ok(rule);
  new Float64Array(mem, EDGES, 17).set(rule.edges);
  const bin = new Int32Array(mem, BIN, 16);
  for (const shift of STATS_SHIFTS) {
    assert.ok(text.includes(`(export "blocks_${shift}")`) && text.includes(`(export "marked_${shift}")`));
    const run = (blocks: Kernel, marked: Kernel) => {
      top.fill(0);
      marks.fill(0);
      bin.fill(0);
      blocks(DATA, 8, TOP, 1, OUT, shift);
      // Buckets with an odd count reported, those with a count of 2 mod 4 binned: some values both, most neither.
      top.forEach((c, b) => (marks[b] = (c & 1 ? 2 : 0) | (c & 2 ? 1 : 0)));
      const found = marked(DATA, n - 3, MARKS, INDEX, shift, EDGES, BIN, 16, rule.lo, rule.hi, rule.scale);
      return {
        top: Array.from(top.subarray(0, 2 ** (32 - shift))),
        out: Array.from(out),
        found: Array.from(index.subarray(0, found)),
        binned: Array.from(bin),
      };
    };
    const generic = run(e.blocks, e.marked);
    assert.ok(generic.found.length > 100 && generic.found.length < n - 100, `${generic.found.length} values found`);
    const binned = generic.binned.reduce((a, b) => a + b, 0);
    assert.ok(binned > 100 && binned < n - 100, `${binned} values binned`);
    assert.deepStrictEqual(run(e[`blocks_${shift}`], e[`marked_${shift}`]), generic, `shift ${shift}`);
  }
});

test('F32 values of every magnitude (where the order of the float64 additions shows) give the same statistics with the kernels and without', async () => {
  // Sums of float32 values of a narrow range are exact in float64 whatever the order; these are not.
  const rand = rng(7);
  const n = BUCKETS_FROM + 3 * 4096;
  const wide = new Float32Array(n);
  for (let i = 0; i < n; i++) wide[i] = (rand() < 0.5 ? -1 : 1) * 10 ** (60 * rand() - 30);
  // Blocks whose four interleaved sums are 0, 1e33, 1024 and -1e33 (less each block's first value):
  // added up as (0 + 2) + (1 + 3) they give 1024, as (0 + 1) + (2 + 3) they give 0.
  const ordered = Float32Array.from({ length: n }, (_, i) => [1, 1e30, 2, -1e30][i % 4]);
  for (const x of [wide, ordered]) {
    const js = await withKernels(false, () => computeTensorStatsFromBytes('F32', source(x, 1 << 20), { elements: n }));
    const simd = await computeTensorStatsFromBytes('F32', source(x, 1 << 20), { elements: n });
    assert.deepStrictEqual(simd, js);
  }
});

test('F32 statistics with the SIMD kernels equal the JavaScript loops bit for bit, however chunked', async () => {
  for (const [n, chunk, offset] of [
    [BUCKETS_FROM + 4097, 1 << 21, 0], // buckets and pass 2, a partial last block
    [BUCKETS_FROM + 4097, 1000, 0], // chunks smaller than a block: the carried blocks
    [(1 << 18) + 4097, 1 << 21, 0], // every special block of data(): NaN, Inf, all -0
    [3 * (1 << 18) + 12345, 300_001, 1], // unaligned bytes, chunks over SUB
    [BUCKETS_FROM - 1000, 7777, 0], // no buckets
  ]) {
    const x = data(n, n);
    const js = await withKernels(false, () => computeTensorStatsFromBytes('F32', source(x, chunk, offset), { elements: n }));
    const simd = await computeTensorStatsFromBytes('F32', source(x, chunk, offset), { elements: n });
    assert.deepStrictEqual(simd, js, `n=${n} chunk=${chunk}`);
    assert.equal(js.nanCount, n > 9 * 4096 + 17 ? 1 : 0); // where data() puts them
    assert.equal(js.infCount, n > 11 * 4096 + 4000 ? 1 : 0);
  }
});

test('F32 histograms with the kernel binning edge values equal the JavaScript loops for any bin count, past what the kernel bins too', async () => {
  const n = BUCKETS_FROM + 4097;
  const x = data(11, n);
  for (const bins of [1, 7, 1000, MAX_KERNEL_BINS, MAX_KERNEL_BINS + 1]) {
    const js = await withKernels(false, () => computeTensorStatsFromBytes('F32', source(x, 1 << 20), { elements: n, bins }));
    const simd = await computeTensorStatsFromBytes('F32', source(x, 1 << 20), { elements: n, bins });
    assert.deepStrictEqual(simd, js, `bins=${bins}`);
    assert.equal(
      js.histogram.counts.reduce((a, b) => a + b, 0),
      js.finiteCount,
    );
  }
});

test("chunks read into the kernels' read slots are taken where they are, with the statistics of chunks copied in", async () => {
  const k = statsKernels();
  assert.ok(k, 'the kernels load here');
  const n = BUCKETS_FROM + 3 * 4096 + 5; // buckets and pass 2, a partial last block
  const x = data(7, n);
  const chunk = k.slots[0].byteLength / 4 - 4096; // each slot's chunk, and a last one that is not whole
  // Chunks in two of the kernels' read slots (alternating, as the reader's double buffer does).
  const inSlots = async function* (first: number, last: number): AsyncIterable<Uint8Array> {
    let which = 0;
    for (let at = first; at < last; at += chunk) {
      const len = Math.min(last, at + chunk) - at;
      const view: Float32Array = new Float32Array(k.slots[which].buffer, k.slots[which].byteOffset, len);
      view.set(x.subarray(at, at + len));
      assert.equal(k.addressOf(view), k.slots[which].byteOffset);
      yield new Uint8Array(view.buffer, view.byteOffset, len * 4);
      which ^= 1;
    }
  };
  assert.equal(k.addressOf(x), -1);
  const copied = await computeTensorStatsFromBytes('F32', source(x, chunk), { elements: n });
  const inPlace = await computeTensorStatsFromBytes('F32', inSlots, { elements: n });
  assert.deepStrictEqual(inPlace, copied);
  const js = await withKernels(false, () => computeTensorStatsFromBytes('F32', source(x, chunk), { elements: n }));
  assert.deepStrictEqual(inPlace, js);
});

test('a block whose min or max is a zero keeps the sign of its first zero, as the sequential loop does', async () => {
  const n = BUCKETS_FROM;
  for (const first of [0, -0]) {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = (((i * 7919) % 1000) + 1) / 1000; // > 0 but the zeros below: the min is a zero
    for (let i = 0; i < n; i += 4096) x[i + 1] = first;
    for (let i = 0; i < n; i += 4096) x[i + 2] = first === 0 ? -0 : 0;
    const js = await withKernels(false, () => computeTensorStatsFromBytes('F32', source(x, 1 << 20), { elements: n }));
    const simd = await computeTensorStatsFromBytes('F32', source(x, 1 << 20), { elements: n });
    assert.ok(Object.is(js.min, first), `min ${js.min}`);
    assert.deepStrictEqual(simd, js);
  }
});

test('passes over two F32 tensors interleaved on one thread (the bucket table switches owners) give each its own statistics', async () => {
  const n = BUCKETS_FROM + 999;
  const xs = [data(1, n), data(2, n)];
  const alone = await Promise.all(
    xs.map((x) => withKernels(false, () => computeTensorStatsFromBytes('F32', source(x, 1 << 19), { elements: n }))),
  );
  const accs = xs.map(() => pass1Accumulator('F32', n));
  const chunk = 1 << 19;
  for (let at = 0; at < n; at += chunk)
    xs.forEach((x, t) => accs[t].addBytes(new Uint8Array(x.buffer, at * 4, Math.min(chunk, n - at) * 4)));
  const stats: FinishedStats[] = [];
  // Pass 2 of both, interleaved too (the marks switch).
  const afters = accs.map((a) => afterPass1('F32', a.result(), 64));
  const hists = afters.map((after) => new Pass2Accumulator('F32', after.plan ?? assert.fail('no plan')));
  for (let at = 0; at < n; at += chunk)
    xs.forEach((x, t) => hists[t].addBytes(new Uint8Array(x.buffer, at * 4, Math.min(chunk, n - at) * 4)));
  afters.forEach((after, t) => stats.push(finishStats(after, hists[t].counts())));
  stats.forEach((s, t) => assert.deepStrictEqual(s as TensorStats, alone[t], `tensor ${t}`));
});

test('sparse takes every non-zero bucket count of a range, ascending, in every lane and at both ends, and leaves the table zero', () => {
  const k = statsKernels();
  assert.ok(k);
  const { top } = k;
  const rand = rng(99);
  const want = new Map<number, number>();
  const put = (b: number, c: number) => {
    top[b] = c;
    want.set(b, c);
  };
  put(0, 1); // the first bucket
  put(SUB - 1, 2 ** 31 - 1); // the last of the first range, the largest count
  for (let b = 4096; b < 4096 + 64; b++) put(b, b); // a run: every lane of whole groups
  for (let i = 0; i < 5000; i++) put(Math.floor(rand() * top.length), 1 + Math.floor(rand() * 1000));
  put(top.length - 1, 7); // the last bucket
  const got: [number, number][] = [];
  for (let from = 0; from < top.length; from += SUB) {
    const m = k.sparse(from, from + SUB);
    for (let i = 0; i < m; i++) got.push([k.index[i], k.counts[i]]);
  }
  assert.deepEqual(
    got,
    [...want].sort((a, b) => a[0] - b[0]),
  );
  assert.ok(top.every((c) => c === 0));
});

test("the bucket table's histogram (bins filled whole from buckets, straddling ones read again) equals a recount of the values", async () => {
  const n = BUCKETS_FROM + 54_321;
  const x = data(7, n);
  // Values of both signs over many exponents, and some exactly on the bin edges of [-1, 1] in 40 bins.
  for (let i = 0; i < n; i += 97) x[i] = ((i % 13) - 6) * 0.05 * 2 ** -((i >> 7) % 20);
  for (let i = 0; i <= 40; i++) x[1000 + i] = -1 + i * 0.05;
  const bins = 40;
  for (const on of [true, false]) {
    const stats = await withKernels(on, () => computeTensorStatsFromBytes('F32', source(x, 1 << 20), { elements: n, bins }));
    const { edges, counts } = stats.histogram;
    const want = new Array<number>(bins).fill(0);
    for (const v of x) {
      if (!Number.isFinite(v)) continue;
      let i = 0;
      while (i < bins - 1 && v >= edges[i + 1]) i++;
      want[i]++;
    }
    assert.deepEqual(counts, want, `kernels ${on ? 'on' : 'off'}`);
  }
});

/** n 16-bit patterns: BF16 of normal values, with runs of one pattern (zeros) and every lane of a quad. */
function patterns16(seed: number, n: number): Uint16Array {
  const rand = rng(seed);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    f[0] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()) * 0.02;
    out[i] = u[0] >>> 16;
  }
  out.fill(0, 1000, 5000); // a run of +0: one counter per table
  out[7] = 0xffff; // the last pattern (a NaN)
  return out;
}

test('count16 counts every 16-bit pattern into four tables (element k into table k mod 4), as a plain recount does', () => {
  const k = statsKernels();
  assert.ok(k);
  const n = 2 * SUB; // what the staging area holds
  const x = patterns16(3, n);
  new Uint16Array(k.data.buffer, k.data.byteOffset, n).set(x);
  k.count16(n);
  const want = new Int32Array(4 * 65536);
  x.forEach((p, i) => want[(i % 4) * 65536 + p]++);
  assert.deepEqual(k.table16, want);
  k.table16.fill(0);
});

test('BF16 and F16 statistics with count16 equal the JavaScript loops, in read slots or copied in, with 1-3 elements left over', async () => {
  const k = statsKernels();
  assert.ok(k);
  for (const dtype of ['BF16', 'F16'] as const) {
    for (const n of [1 << 17, (1 << 17) + 3, 3 * SUB + 1]) {
      const x = patterns16(n, n);
      const bytes = new Uint8Array(x.buffer);
      const chunks = (chunk: number, into?: Uint8Array) =>
        async function* (first: number, last: number): AsyncIterable<Uint8Array> {
          for (let b = first * 2; b < last * 2; b += chunk * 2) {
            const part = bytes.subarray(b, Math.min(last * 2, b + chunk * 2));
            if (!into) yield part;
            else {
              into.set(part);
              yield into.subarray(0, part.byteLength);
            }
          }
        };
      const js = await withKernels(false, () => computeTensorStatsFromBytes(dtype, chunks(1 << 16), { elements: n }));
      const copied = await computeTensorStatsFromBytes(dtype, chunks((1 << 16) + 1), { elements: n });
      const inSlot = await computeTensorStatsFromBytes(dtype, chunks(1 << 20, k.slots[0]), { elements: n });
      assert.deepStrictEqual(copied, js, `${dtype} ${n} copied in`);
      assert.deepStrictEqual(inSlot, js, `${dtype} ${n} in a read slot`);
    }
  }
  assert.ok(
    k.table16.every((c) => c === 0),
    'table16 is left zero',
  );
});

test('BF16 passes interleaved on one thread (table16 switches owners) give each its own statistics', async () => {
  const n = (1 << 18) + 2;
  const xs = [patterns16(11, n), patterns16(12, n)];
  const alone = await Promise.all(
    xs.map((x) =>
      withKernels(false, () =>
        computeTensorStatsFromBytes(
          'BF16',
          async function* () {
            yield new Uint8Array(x.buffer);
          },
          { elements: n },
        ),
      ),
    ),
  );
  const accs = xs.map(() => pass1Accumulator('BF16', n));
  const chunk = 1 << 15;
  for (let at = 0; at < n; at += chunk)
    xs.forEach((x, t) => accs[t].addBytes(new Uint8Array(x.buffer, at * 2, Math.min(chunk, n - at) * 2)));
  accs.forEach((a, t) => {
    const after = afterPass1('BF16', a.result(), 64);
    assert.ok(!after.needsPass2);
    assert.deepStrictEqual(finishStats(after, new Float64Array(64)) as TensorStats, alone[t], `tensor ${t}`);
  });
});

test('buckets binned by order-key thresholds equal binning each bucket by its end values (signs, ±0, edges on 0, subnormals, empty bins)', () => {
  const bitsOf = (v: number): number => new Uint32Array(Float32Array.of(v).buffer)[0];
  const valueOf = (bits: number): number => new Float32Array(Uint32Array.of(bits).buffer)[0];
  const cases: { lo: number; hi: number; bins: number; values: number[] }[] = [
    { lo: -1, hi: 1, bins: 40, values: [] },
    { lo: -0.3, hi: 0.3, bins: 64, values: [] },
    { lo: 0, hi: 0.25, bins: 10, values: [0, -0, 1e-42, 0.125] },
    { lo: -0.25, hi: 0, bins: 10, values: [-0, 0, -1e-42, -0.125] },
    { lo: -2e-40, hi: 3e-40, bins: 64, values: [0, -0, 1e-45, -1e-45] }, // subnormals: edges closer than buckets
    { lo: -5e-45, hi: 5e-45, bins: 64, values: [0, -0, 1e-45, -1e-45] }, // edges repeat: empty bins
    { lo: 0.49999997, hi: 0.50000006, bins: 16, values: [0.5] },
    { lo: -3e38, hi: 3e38, bins: 64, values: [1e38, -1e38] },
  ];
  const rand = rng(11);
  for (const [{ lo, hi, bins, values }, shift] of cases.flatMap((c) => [12, 15].map((shift) => [c, shift] as const))) {
    const hist = new HistogramBuilder(lo, hi, bins);
    // Buckets of values spread over the range (linear and by exponent), and of the listed ones.
    const xs = [...values, lo, hi, ...hist.edges.filter((e) => e >= lo && e <= hi)];
    for (let i = 0; i < 3000; i++)
      xs.push(lo + (hi - lo) * rand(), Math.sign(rand() - 0.5) * Math.max(Math.abs(lo), Math.abs(hi)) * 2 ** (-40 * rand()));
    const buckets = new Map<number, number>();
    for (const v of xs) {
      const f = Math.fround(v);
      if (f < lo || f > hi) continue;
      const b = bitsOf(f) >>> shift;
      buckets.set(b, (buckets.get(b) ?? 0) + 1);
    }
    const index = Int32Array.from([...buckets.keys()].sort((a, b) => a - b));
    const count = Float64Array.from(index, (b) => buckets.get(b) as number);
    const base = new Float64Array(bins);
    const straddling = binBuckets({ index, count, shift }, hist.edges, base);
    // The reference: each bucket's smallest and largest float32, clamped to [lo, hi], binned by the edges.
    const want = new Float64Array(bins);
    const wantStraddling: number[] = [];
    const clamp = (v: number): number => Math.min(hi, Math.max(lo, v));
    index.forEach((b, k) => {
      const ends = [valueOf((b << shift) >>> 0), valueOf(((b << shift) | (2 ** shift - 1)) >>> 0)].map(clamp).sort((p, q) => p - q);
      const i = hist.binOf(ends[0]);
      if (i === hist.binOf(ends[1])) want[i] += count[k];
      else wantStraddling.push(b);
    });
    assert.deepEqual([...base], [...want], `[${lo}, ${hi}] in ${bins}, shift ${shift}`);
    assert.deepEqual(straddling, wantStraddling, `[${lo}, ${hi}] in ${bins}, shift ${shift}`);
  }
});
