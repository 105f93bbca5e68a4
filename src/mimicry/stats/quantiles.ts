// Quantiles of a tensor's finite values, next to its other statistics (accumulators.ts plans and
// finishes them with the histogram's passes).
//
// Definition: numpy.quantile's default ('linear', Hyndman & Fan type 7) over the FINITE values in
// float64 (NaN and +-Inf are left out, as for min, max and mean): with the n finite values sorted,
// h = (n - 1) q, a = x[floor h], b = x[min(floor h + 1, n - 1)], g = h - floor h, and the quantile is
// a + (b - a) g for g < 0.5, b - (b - a)(1 - g) otherwise (numpy's own two-sided lerp, so the
// results are numpy's bit for bit). Only the order statistics x[floor h] and x[floor h + 1] are
// needed, found without sorting:
// - "table" dtypes (the bit-pattern table of the first pass): exact, no extra pass.
// - F32 with buckets (top 20 bits counted in the first pass): the buckets holding the wanted ranks
//   are counted per low 12 bits in the histogram pass (4,096 counters each, merged by adding like
//   the histogram): exact.
// - any other tensor of at most SUPER elements (never split across threads): its finite values are
//   kept in the histogram pass and the ranks selected by radix (selectRanks): exact.
// - bigger F64 and 32/64-bit integer tensors: a 65,536-bin histogram over [min, max] in the
//   histogram pass; each order statistic is placed within its bin, so every quantile is within one
//   bin width, (max - min) / 65,536, of the exact one: that bound is reported as `error`.
// The way depends on the dtype and the element count only, so one thread and the stats pool give
// the same numbers.

import { HOST_LITTLE_ENDIAN } from '../safetensors/dtypes';

/** The probabilities reported: 1st, 10th, 25th, 50th, 75th, 90th and 99th percentiles. */
export const QUANTILE_PROBS: readonly number[] = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99];

/** Quantiles of the finite values (definition in the header). */
export interface Quantiles {
  /** QUANTILE_PROBS. */
  readonly probs: readonly number[];
  /** The quantile of each probability. */
  readonly values: readonly number[];
  /** Every value is within this of the exact quantile; 0 when they are exact. */
  readonly error: number;
}

/** Bins of the fine histogram of big F64 and 32/64-bit integer tensors. */
export const FINE_BINS = 1 << 16;

/** The ranks (ascending, distinct) whose values the quantiles of n values need. */
export function quantileRanks(n: number): number[] {
  const ranks = new Set<number>();
  for (const q of QUANTILE_PROBS) {
    const [a, b] = neighbours(n, q);
    ranks.add(a).add(b);
  }
  return [...ranks].sort((x, y) => x - y);
}

function neighbours(n: number, q: number): [number, number, number] {
  const h = (n - 1) * q;
  const a = Math.min(n - 1, Math.max(0, Math.floor(h)));
  return [a, Math.min(n - 1, a + 1), h - a];
}

/** numpy's _lerp. */
function lerp(a: number, b: number, g: number): number {
  const d = b - a;
  return g >= 0.5 ? b - d * (1 - g) : a + d * g;
}

/** The quantiles from the values at the ranks of quantileRanks(n). */
export function quantilesOf(n: number, valueAt: (rank: number) => number, error = 0): Quantiles {
  const values = QUANTILE_PROBS.map((q) => {
    const [a, b, g] = neighbours(n, q);
    return lerp(valueAt(a), valueAt(b), g);
  });
  return { probs: QUANTILE_PROBS, values, error };
}

/** Quantiles from order statistics found as (rank, value) pairs. */
export function quantilesFromRanks(n: number, ranks: readonly number[], values: ArrayLike<number>, error = 0): Quantiles {
  const at = new Map<number, number>();
  ranks.forEach((r, k) => at.set(r, values[k]));
  return quantilesOf(
    n,
    (r) => {
      const v = at.get(r);
      if (v === undefined) throw new Error(`quantiles: rank ${r} of ${n} was not found`);
      return v;
    },
    error,
  );
}

/**
 * Walks groups of values in ascending value order (the k-th is `groupAt(k)`, of `groups`) and answers,
 * for each rank (ascending), its group and its rank within the group.
 */
export function locateRanks(
  groups: number,
  groupAt: (k: number) => number,
  countOf: (group: number) => number,
  ranks: readonly number[],
): { group: number; within: number }[] {
  const out: { group: number; within: number }[] = [];
  let before = 0;
  let r = 0;
  for (let k = 0; k < groups && r < ranks.length; k++) {
    const g = groupAt(k);
    const c = countOf(g);
    while (r < ranks.length && ranks[r] < before + c) out.push({ group: g, within: ranks[r++] - before });
    before += c;
  }
  if (r < ranks.length) throw new Error(`quantiles: rank ${ranks[r]} is past the ${before} values counted`);
  return out;
}

/** Below this many values the ranks are found in a copy by quickselect; above, by radix. */
const SORT_BELOW = 4096;
const HI = HOST_LITTLE_ENDIAN ? 1 : 0;
const LO = 1 - HI;

/**
 * The values at `ranks` (ascending, within [0, x.length)) of the finite values x, as if x were sorted.
 * Radix select on the float64 bits turned into an ordered key (negatives inverted), 16 bits a level:
 * one counting pass, then the values of the few buckets holding a rank are gathered and selected
 * from in turn. A few linear passes instead of an n log n sort.
 */
export function selectRanks(x: Float64Array, ranks: readonly number[], level = 0): number[] {
  if (ranks.length === 0) return [];
  if (level === 4) return ranks.map(() => x[0]); // every key bit equal: equal values
  if (x.length <= SORT_BELOW) return quickselect(x.slice(), ranks);
  const n = x.length;
  const words = new Uint32Array(x.buffer, x.byteOffset, n * 2);
  // Each value's 16-bit digit at this level, kept for the gathering pass.
  const digits = new Uint16Array(n);
  const counts = new Int32Array(1 << 16);
  const word = level < 2 ? HI : LO;
  const shift = level % 2 === 0 ? 16 : 0;
  for (let k = 0; k < n; k++) {
    const hi = words[2 * k + HI];
    const flip = hi >> 31; // all ones for negatives: their bits are inverted
    const key = level < 2 ? hi ^ (flip | 0x80000000) : words[2 * k + word] ^ flip;
    const d = (key >>> shift) & 0xffff;
    digits[k] = d;
    counts[d]++;
  }
  // The buckets holding a rank (ascending digits are ascending values), each with its ranks within it.
  const found: { group: number; within: number }[] = [];
  for (let d = 0, before = 0, r = 0; r < ranks.length; d++) {
    const c = counts[d];
    while (r < ranks.length && ranks[r] < before + c) found.push({ group: d, within: ranks[r++] - before });
    before += c;
  }
  // Their values, gathered in one pass.
  const buckets: { digit: number; ranks: number[]; values: Float64Array; filled: number }[] = [];
  for (const f of found) {
    const last = buckets.at(-1);
    if (last?.digit === f.group) last.ranks.push(f.within);
    else buckets.push({ digit: f.group, ranks: [f.within], values: new Float64Array(counts[f.group]), filled: 0 });
  }
  counts.fill(0);
  buckets.forEach((b, i) => (counts[b.digit] = i + 1));
  for (let k = 0; k < n; k++) {
    const slot = counts[digits[k]];
    if (slot !== 0) {
      const b = buckets[slot - 1];
      b.values[b.filled++] = x[k];
    }
  }
  return buckets.flatMap((b) => selectRanks(b.values, b.ranks, level + 1));
}

/** The float32 bit patterns in value order: negatives inverted, positives with the sign bit set (-0 just below +0). */
export function orderKey(bits: number): number {
  return (bits & 0x80000000 ? ~bits : bits | 0x80000000) >>> 0;
}

/** The float32 bit pattern of an order key (orderKey's inverse). */
function bitsOfOrderKey(key: number): number {
  return (key & 0x80000000 ? key & 0x7fffffff : ~key) >>> 0;
}

/** Scratch of selectRanksF32: the order keys (first the values' float32 bits) in two buffers, and one pass's digit counts. */
let f32Keys = new Uint32Array(0);
let f32KeysOther = new Uint32Array(0);
const digitCounts = new Int32Array(256);
/** One float32 and its bits: a key or bucket number turned back into its value. */
const oneValue = new Float32Array(1);
const oneBits = new Uint32Array(oneValue.buffer);

/**
 * selectRanks for values that are all float32 (held as float64), up to a few tens of thousands of
 * them (a small F32 tensor's kept values): their bits become order keys (negatives inverted, the sign
 * bit of positives set: -0 just below +0, as a sort places them) and are sorted by an LSD radix sort,
 * 8 bits a pass, a pass skipped where every key has the same digit: linear passes over typed arrays,
 * no comparison and no call per value (a ViT-S's 96 small tensors: 1.8 ms, against 2.4 by quickselect).
 */
export function selectRanksF32(x: Float64Array, ranks: readonly number[]): number[] {
  if (ranks.length === 0) return [];
  const n = x.length;
  if ((ranks.at(-1) as number) >= n) throw new RangeError(`quantiles: rank ${ranks.at(-1)} of ${n} values`);
  if (f32Keys.length < n) {
    f32Keys = new Uint32Array(Math.max(n, 2 * f32Keys.length));
    f32KeysOther = new Uint32Array(f32Keys.length);
  }
  let keys = f32Keys;
  let other = f32KeysOther;
  new Float32Array(keys.buffer, 0, n).set(x);
  for (let k = 0; k < n; k++) {
    keys[k] = orderKey(keys[k]);
  }
  const counts = digitCounts;
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0);
    for (let k = 0; k < n; k++) counts[(keys[k] >>> shift) & 255]++;
    if (counts[(keys[0] >>> shift) & 255] === n) continue; // one digit: this pass moves nothing
    for (let d = 0, at = 0; d < 256; d++) {
      const c = counts[d];
      counts[d] = at;
      at += c;
    }
    for (let k = 0; k < n; k++) {
      const key = keys[k];
      other[counts[(key >>> shift) & 255]++] = key;
    }
    [keys, other] = [other, keys];
  }
  return ranks.map((r) => {
    oneBits[0] = bitsOfOrderKey(keys[r]);
    return oneValue[0];
  });
}

/** a before b in the order of Float64Array.prototype.sort: numeric, -0 before +0 (no NaN here). */
function before(a: number, b: number): boolean {
  return a < b || (a === 0 && b === 0 && 1 / a < 1 / b);
}

/**
 * The values at `ranks` (ascending) of x, as a sort would place them, found by partitioning x in
 * place (Hoare, around a median of three) and going on only into the parts that hold a rank: a few
 * passes over a small array (a sort of 1,500 values cost about 80 ns a value here). Parts of up to
 * 16 values, and any part after too many uneven splits, are sorted.
 */
function quickselect(x: Float64Array, ranks: readonly number[]): number[] {
  // Parts [lo, hi] with the ranks r[from, to) inside them, and how many splits they may still take.
  const parts: number[] = [0, x.length - 1, 0, ranks.length, 2 * Math.ceil(Math.log2(x.length + 1))];
  while (parts.length > 0) {
    const depth = parts.pop() as number;
    const to = parts.pop() as number;
    const from = parts.pop() as number;
    const hi = parts.pop() as number;
    const lo = parts.pop() as number;
    if (from >= to) continue;
    if (hi - lo <= 16 || depth === 0) {
      sortPart(x, lo, hi);
      continue;
    }
    const mid = (lo + hi) >>> 1;
    const p = medianOfThree(x[lo], x[mid], x[hi]);
    // Hoare: afterwards [lo, j] holds nothing after p, (j, hi] nothing before p.
    let i = lo - 1;
    let j = hi + 1;
    for (;;) {
      do i++;
      while (before(x[i], p));
      do j--;
      while (before(p, x[j]));
      if (i >= j) break;
      const t = x[i];
      x[i] = x[j];
      x[j] = t;
    }
    let r = from;
    while (r < to && ranks[r] <= j) r++;
    parts.push(lo, j, from, r, depth - 1, j + 1, hi, r, to, depth - 1);
  }
  return ranks.map((r) => x[r]);
}

function medianOfThree(a: number, b: number, c: number): number {
  if (before(b, a)) [a, b] = [b, a];
  // a before b: the median is b, or the larger of a and c when c comes before b.
  if (!before(c, b)) return b;
  return before(c, a) ? a : c;
}

/** Sorts x[lo, hi] in place: insertion for a few values, else the typed array's sort. */
function sortPart(x: Float64Array, lo: number, hi: number): void {
  if (hi - lo > 16) {
    x.subarray(lo, hi + 1).sort();
    return;
  }
  for (let i = lo + 1; i <= hi; i++) {
    const v = x[i];
    let j = i - 1;
    while (j >= lo && before(v, x[j])) {
      x[j + 1] = x[j];
      j--;
    }
    x[j + 1] = v;
  }
}

/** Scratch of selectInF32Bucket: the values' float32 bits, and the counters of one level. */
let bucketBits = new Uint32Array(1024);
const levelCounts = new Int32Array(256);
/** Per high digit, its slot among those holding a rank (-1: none); the slots' low-digit counts. */
const levelSlots = new Int32Array(256);
let lowCounts = new Int32Array(4096);

/**
 * The values at `ranks` (ascending, within [0, x.length)) of float32 values (held as float64) that
 * all lie in one bucket of the F32 table: the same top 32 - `shift` bits (`shift` at most 16). Their
 * order is that of their low bits (ascending in a positive bucket, descending in a negative one), so
 * two counting levels of at most 256 counters find each rank: a few passes over a few hundred values,
 * where a quickselect compared and swapped them many times over.
 */
export function selectInF32Bucket(x: Float64Array, shift: number, ranks: readonly number[]): number[] {
  if (ranks.length === 0) return [];
  const n = x.length;
  if (shift > 16 || (ranks.at(-1) as number) >= n) throw new RangeError(`quantiles: rank ${ranks.at(-1)} of ${n} values, shift ${shift}`);
  if (bucketBits.length < n) bucketBits = new Uint32Array(Math.max(n, 2 * bucketBits.length));
  const bits = bucketBits;
  const f = new Float32Array(bits.buffer, 0, n);
  f.set(x);
  const mask = (1 << shift) - 1;
  const top = (bits[0] & ~mask) >>> 0;
  const negative = top >= 0x80000000;
  // Keys in value order: the low bits, reversed for negative values (larger bits are smaller values).
  for (let k = 0; k < n; k++) {
    if ((bits[k] & ~mask) >>> 0 !== top) throw new Error('quantiles: values of another bucket among those picked');
    bits[k] = negative ? mask - (bits[k] & mask) : bits[k] & mask;
  }
  const lowBits = shift >>> 1;
  const lowMask = (1 << lowBits) - 1;
  const counts = levelCounts;
  counts.fill(0, 0, 1 << (shift - lowBits));
  for (let k = 0; k < n; k++) counts[bits[k] >>> lowBits]++;
  const value = (key: number): number => {
    oneBits[0] = (top | (negative ? mask - key : key)) >>> 0;
    return oneValue[0];
  };
  // Each rank's high digit; then, in one more pass, the low digits of the keys with those high digits.
  const found: { high: number; within: number }[] = [];
  for (let d = 0, before = 0, r = 0; r < ranks.length; d++) {
    const c = counts[d];
    while (r < ranks.length && ranks[r] < before + c) found.push({ high: d, within: ranks[r++] - before });
    before += c;
  }
  const lows = 1 << lowBits;
  const slotOf = levelSlots;
  slotOf.fill(-1, 0, 1 << (shift - lowBits));
  let slots = 0;
  for (const { high } of found) if (slotOf[high] < 0) slotOf[high] = slots++;
  if (lowCounts.length < slots * lows) lowCounts = new Int32Array(slots * lows);
  lowCounts.fill(0, 0, slots * lows);
  for (let k = 0; k < n; k++) {
    const slot = slotOf[bits[k] >>> lowBits];
    if (slot >= 0) lowCounts[slot * lows + (bits[k] & lowMask)]++;
  }
  const out: number[] = [];
  for (const { high, within } of found) {
    const at = slotOf[high] * lows;
    let low = 0;
    for (let before = lowCounts[at]; before <= within; before += lowCounts[at + ++low]);
    out.push(value((high << lowBits) | low));
  }
  return out;
}
