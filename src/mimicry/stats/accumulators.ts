// The hot loops behind tensorStats.ts, and the mergeable partial results that let a tensor be split
// into element ranges (computed in any order, by any thread) and still give bit-for-bit the same
// statistics as one sequential pass.
//
// Three kinds of dtype:
// - "table" (BF16, F16, I16, U16 and the one-byte dtypes): one pass counts every bit pattern in a
//   table (65,536 or 256 entries). Every statistic then follows exactly from the table in float64,
//   and tables of ranges merge by adding.
// - "f32": one pass for the moments, min, max and zeros, which also counts the top bits of each
//   value (sign, exponent and 11 mantissa bits for big tensors, 8 for those of at most SUPER values:
//   bucketShift) in a table of buckets. A bucket whose whole value interval lies inside one histogram
//   bin is binned from the table; only values in the few buckets that straddle an edge (about 1% of
//   values) are binned in a second, cheap pass, and none at all when no bucket does.
// - "f64" (F64 and the 32/64-bit integers, decoded to float64): the moments pass, then a histogram pass.
//
// Moments: elements are taken in fixed blocks of BLOCK (by element index, whatever the chunking).
// A block of finite values is summarised in float64 around its first value c, with sums of d = x - c
// and d^2 (m2 = sum d^2 - (sum d)^2 / n); since c is one of the block's values, m2 >= (c - mean)^2
// and the cancellation costs at most about n ulps of m2. A block holding NaN, Inf or values whose
// squares overflow takes the slow road: its finite values get a corrected two-pass. Blocks merge into
// superblocks of SUPER elements with Chan et al.'s pairwise update, and superblocks merge in order
// into the total; a range split falls on superblock boundaries, so a split gives the same result.
// The |x| sums are Neumaier-compensated across blocks.
//
// Quantiles (quantiles.ts) ride on the same passes: from the table, from the buckets refined in the
// second pass (counted per low bits, or their values picked: tensors never split), from the values kept
// in the second pass (tensors never split), or from a fine histogram.
//
// F32's two passes run in the WebAssembly SIMD kernels of statsKernels.wat where they load: the same
// sums in the same order (two interleaved sums, even and odd elements, are the kernel's two f64x2
// lanes), so the kernels and the JavaScript loops give the same statistics bit for bit.

import { DTYPES, HOST_LITTLE_ENDIAN, decode } from '../safetensors/dtypes';
import type { DType } from '../safetensors/types';
import { HistogramBuilder, histogramRange, linearEdges, type Histogram } from './histogram';
import {
  FINE_BINS,
  locateRanks,
  orderKey,
  quantileRanks,
  quantilesFromRanks,
  quantilesOf,
  selectInF32Bucket,
  selectRanks,
  selectRanksF32,
  type Quantiles,
} from './quantiles';
import { MAX_KERNEL_BINS, OUT_STRIDE, SUB, statsKernels, type KernelBinning, type StatsKernels } from './statsKernels';

/** The kernels where they load and this host is little-endian (as their memory is). */
function f32Kernels(): StatsKernels | null {
  return HOST_LITTLE_ENDIAN ? statsKernels() : null;
}

/** Finite values are summarised in blocks of this many elements, whatever the reader's chunk size. */
export const BLOCK = 4096;
/** Blocks merge into superblocks of this many elements; a tensor is split for threads on these boundaries. */
export const SUPER = 1 << 22;

export type StatsKind = 'table' | 'f32' | 'f64';

/** How the statistics of a decodable dtype are computed (see the header). */
export function statsKind(dtype: DType): StatsKind {
  const info = DTYPES[dtype];
  if (info.bits <= 16 && info.decodable) return 'table';
  return dtype === 'F32' ? 'f32' : 'f64';
}

/** Moments of the finite values of a run of elements; merged with mergeMoments. */
export interface MomentsPartial {
  all: number;
  n: number;
  nan: number;
  inf: number;
  zeros: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  absSum: number;
  absComp: number;
}

export function emptyMoments(): MomentsPartial {
  return { all: 0, n: 0, nan: 0, inf: 0, zeros: 0, min: Infinity, max: -Infinity, mean: 0, m2: 0, absSum: 0, absComp: 0 };
}

/** Neumaier-compensated a.absSum += x. */
function addAbs(a: MomentsPartial, x: number): void {
  const s = a.absSum;
  const t = s + x;
  if (Math.abs(s) >= Math.abs(x)) a.absComp += s - t + x;
  else a.absComp += x - t + s;
  a.absSum = t;
}

/** Merges (n, mean, m2) of a block or partial into `a` with Chan's pairwise update. */
function mergeCentral(a: MomentsPartial, n: number, mean: number, m2: number): void {
  if (n === 0) return;
  const total = a.n + n;
  const delta = mean - a.mean;
  a.mean += delta * (n / total);
  a.m2 += m2 + delta * delta * ((a.n * n) / total);
  a.n = total;
}

/** a += b, in this order (the result depends on the order of merges, so callers keep it fixed). */
export function mergeMoments(a: MomentsPartial, b: MomentsPartial): void {
  a.all += b.all;
  a.nan += b.nan;
  a.inf += b.inf;
  a.zeros += b.zeros;
  if (b.min < a.min) a.min = b.min;
  if (b.max > a.max) a.max = b.max;
  mergeCentral(a, b.n, b.mean, b.m2);
  addAbs(a, b.absSum);
  addAbs(a, b.absComp);
}

let slowScratch: Float64Array | undefined;
/** Where small tensors' bucket counts go: never read. */
let discardedTop: Int32Array | undefined;

/** F32 buckets of big tensors: bits >>> 12 (sign, 8 exponent bits, 11 mantissa bits); the most buckets a table holds. */
const FINE_SHIFT = 12;
const BUCKETS = 1 << (32 - FINE_SHIFT);
/**
 * F32 buckets of tensors of at most SUPER values (never split): bits >>> 15. At 12 a ViT-S projection
 * of 147K values has a non-zero bucket per 4 values, and the work per bucket (take, bin, plan) cost
 * more than the kernels; at 15 there are about 70 values per bucket, and the second pass visits
 * about 1% of values instead of 0.13%.
 */
const COARSE_SHIFT = 15;

/** The bucket shift of an F32 tensor of `elements` values (all its ranges use the same). */
export function bucketShift(elements: number): number {
  return elements <= SUPER ? COARSE_SHIFT : FINE_SHIFT;
}

/** Buckets of a table at `shift`. */
function bucketsAt(shift: number): number {
  return 2 ** (32 - shift);
}
/** Bucket tables (4 MiB each) of finished runs, zeroed, for the next run. */
const spareTops: Int32Array[] = [];

/** Non-zero bucket counts: bucket numbers (bits >>> shift) ascending, and their counts. */
export interface SparseCounts {
  readonly index: Int32Array;
  readonly count: Float64Array;
  readonly shift: number;
}

/** A block with NaN, Inf or overflowing squares: its finite values, corrected two-pass (Chan, Golub & LeVeque). */
function slowBlock(sup: MomentsPartial, x: Float32Array | Float64Array, from: number, to: number): void {
  const finite = (slowScratch ??= new Float64Array(BLOCK));
  let n = 0;
  let sum = 0;
  let absSum = 0;
  for (let k = from; k < to; k++) {
    const v = x[k];
    if (v - v !== 0) {
      // NaN - NaN and Inf - Inf are both NaN: one test for "not finite".
      if (v !== v) sup.nan++;
      else sup.inf++;
      continue;
    }
    if (v < sup.min) sup.min = v;
    if (v > sup.max) sup.max = v;
    if (v === 0) sup.zeros++;
    finite[n++] = v;
    sum += v;
    absSum += Math.abs(v);
  }
  sup.all += to - from;
  if (n === 0) return;
  const roughMean = sum / n;
  let m2 = 0;
  let drift = 0;
  for (let k = 0; k < n; k++) {
    const d = finite[k] - roughMean;
    m2 += d * d;
    drift += d;
  }
  mergeCentral(sup, n, roughMean + drift / n, m2 - (drift * drift) / n);
  addAbs(sup, absSum);
}

/** One block of float32 values (all finite: fast; else slowBlock); also counts the buckets in `top`. */
function blockF32(sup: MomentsPartial, x: Float32Array, bits: Uint32Array, top: Int32Array, shift: number, from: number, to: number): void {
  const c = x[from];
  // Four interleaved sets of sums (element k into set k mod 4, as the SIMD kernel's lanes) shorten
  // the chains of dependent additions; they are added up as (0 + 2) + (1 + 3), as the kernel does.
  let s0 = 0;
  let q0 = 0;
  let a0 = 0;
  let s1 = 0;
  let q1 = 0;
  let a1 = 0;
  let s2 = 0;
  let q2 = 0;
  let a2 = 0;
  let s3 = 0;
  let q3 = 0;
  let a3 = 0;
  let mn = sup.min;
  let mx = sup.max;
  let z = 0;
  const quads = from + ((to - from) & ~3);
  // No unpredictable branch in here (Math.abs, not a sign test; zeros counted from the bits): half the
  // values are negative in random order, and a mispredicted branch per value costs several times the loop.
  for (let k = from; k < quads; k += 4) {
    const v0 = x[k];
    const v1 = x[k + 1];
    const v2 = x[k + 2];
    const v3 = x[k + 3];
    const d0 = v0 - c;
    const d1 = v1 - c;
    const d2 = v2 - c;
    const d3 = v3 - c;
    s0 += d0;
    q0 += d0 * d0;
    a0 += Math.abs(v0);
    s1 += d1;
    q1 += d1 * d1;
    a1 += Math.abs(v1);
    s2 += d2;
    q2 += d2 * d2;
    a2 += Math.abs(v2);
    s3 += d3;
    q3 += d3 * d3;
    a3 += Math.abs(v3);
    if (v0 < mn) mn = v0;
    if (v0 > mx) mx = v0;
    if (v1 < mn) mn = v1;
    if (v1 > mx) mx = v1;
    if (v2 < mn) mn = v2;
    if (v2 > mx) mx = v2;
    if (v3 < mn) mn = v3;
    if (v3 > mx) mx = v3;
    const u0 = bits[k];
    const u1 = bits[k + 1];
    const u2 = bits[k + 2];
    const u3 = bits[k + 3];
    // 1 for +0 and -0 only
    z +=
      (((u0 & 0x7fffffff) - 1) >>> 31) +
      (((u1 & 0x7fffffff) - 1) >>> 31) +
      (((u2 & 0x7fffffff) - 1) >>> 31) +
      (((u3 & 0x7fffffff) - 1) >>> 31);
    top[u0 >>> shift]++;
    top[u1 >>> shift]++;
    top[u2 >>> shift]++;
    top[u3 >>> shift]++;
  }
  // The last one to three values, into sets 0, 1, 2.
  for (let k = quads; k < to; k++) {
    const v = x[k];
    const d = v - c;
    const set = k - quads;
    if (set === 0) {
      s0 += d;
      q0 += d * d;
      a0 += Math.abs(v);
    } else if (set === 1) {
      s1 += d;
      q1 += d * d;
      a1 += Math.abs(v);
    } else {
      s2 += d;
      q2 += d * d;
      a2 += Math.abs(v);
    }
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    const u = bits[k];
    z += ((u & 0x7fffffff) - 1) >>> 31;
    top[u >>> shift]++;
  }
  const s = s0 + s2 + (s1 + s3);
  const q = q0 + q2 + (q1 + q3);
  // q is NaN or Inf exactly when a value is NaN or Inf (float32 squares never overflow float64).
  if (!(q < Infinity)) return slowBlock(sup, x, from, to);
  const n = to - from;
  sup.all += n;
  sup.min = mn;
  sup.max = mx;
  sup.zeros += z;
  mergeCentral(sup, n, c + s / n, q - (s / n) * s);
  addAbs(sup, a0 + a2 + (a1 + a3));
}

/**
 * The end of blockF32 for a whole block x[from, from + BLOCK) the kernel summed into out[o, o + 6):
 * s, q, a as blockF32's s, q and a; mn and mx of the block alone; z zeros (read here, not passed:
 * float arguments of a call that is not inlined are boxed). The kernel's min and max come from four
 * lanes: the same value as the sequential loop's, but when it is zero the loop keeps the first zero
 * met, whose sign the lanes lose: then the block's min and max are taken again in order.
 */
function kernelBlockF32(sup: MomentsPartial, x: Float32Array, from: number, out: Float64Array, o: number): void {
  const s = out[o];
  const q = out[o + 1];
  const mn = out[o + 3];
  const mx = out[o + 4];
  const to = from + BLOCK;
  if (!(q < Infinity)) return slowBlock(sup, x, from, to);
  if (mn === 0 || mx === 0) {
    let lo = sup.min;
    let hi = sup.max;
    for (let k = from; k < to; k++) {
      const v = x[k];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    sup.min = lo;
    sup.max = hi;
  } else {
    if (mn < sup.min) sup.min = mn;
    if (mx > sup.max) sup.max = mx;
  }
  sup.all += BLOCK;
  sup.zeros += out[o + 5];
  const c = x[from];
  mergeCentral(sup, BLOCK, c + s / BLOCK, q - (s / BLOCK) * s);
  addAbs(sup, out[o + 2]);
}

/** The pass whose bucket counts are in the kernels' table now: one at a time per thread, see MomentsPass.table. */
let kernelTableOwner: TableHold | undefined;
/** A pass's hold on the kernels' table: how to move its counts out. */
interface TableHold {
  park(k: StatsKernels): void;
}
/** The visited buckets (a Pass2Accumulator's) marked in the kernels' marks now. */
let kernelMarked: Int32Array | undefined;
/**
 * Per bucket, what the second pass does with its values: 0 nothing, bit 0 bin them (straddling), bit
 * 1 refine them into slot code >>> 2. One table per thread (4 MiB), set for one pass's visited buckets
 * at a time (`codesFor`) and cleared after: no table to make per tensor, no map lookup per value.
 */
let visitCodes: Int32Array | undefined;
let codesFor: Int32Array | undefined;
/** The values of one kernel call's straddling buckets, gathered for the histogram (when the kernel cannot bin them). */
let binScratch: Float32Array | undefined;
/** The histogram whose edges are in the kernels' `edges` now. */
let kernelEdgesFor: HistogramBuilder | undefined;

/** One block of float64 values; the same as blockF32 without the bucket table. */
function blockF64(sup: MomentsPartial, x: Float64Array, from: number, to: number): void {
  const c = x[from];
  let s = 0;
  let q = 0;
  let a = 0;
  let mn = sup.min;
  let mx = sup.max;
  let z = 0;
  for (let k = from; k < to; k++) {
    const v = x[k];
    const d = v - c;
    s += d;
    q += d * d;
    a += Math.abs(v);
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    if (v === 0) z++;
  }
  if (!(q < Infinity) || !(a < Infinity)) return slowBlock(sup, x, from, to);
  const n = to - from;
  sup.all += n;
  sup.min = mn;
  sup.max = mx;
  sup.zeros += z;
  mergeCentral(sup, n, c + s / n, q - (s / n) * s);
  addAbs(sup, a);
}

/** What the first pass over a run of elements leaves: merged in element order with mergePass1. */
export type Pass1Partial =
  | { readonly kind: 'table'; readonly all: number; readonly counts: Float64Array }
  | { readonly kind: 'f32'; readonly supers: MomentsPartial[]; readonly top?: SparseCounts }
  | { readonly kind: 'f64'; readonly supers: MomentsPartial[] };

/** The first pass over one run of elements that starts at a superblock boundary of its tensor. */
export interface Pass1Accumulator {
  /** Decoded values (the compatible API); F32 and F64 only. */
  addValues(values: Float32Array | Float64Array): void;
  /** Raw little-endian bytes of the dtype, a whole number of elements. */
  addBytes(bytes: Uint8Array): void;
  /** Elements seen so far. */
  readonly seen: number;
  result(): Pass1Partial;
}

class MomentsPass implements Pass1Accumulator {
  private readonly supers: MomentsPartial[] = [];
  private sup = emptyMoments();
  /** Elements of the current block that came in a previous chunk, kept until the block is whole. */
  private carry: Float32Array | Float64Array | undefined;
  private carryBits: Uint32Array | undefined;
  private carried = 0;
  /** Bucket counts in int32 for speed, flushed into float64 totals (`wide`) before they could overflow. */
  private readonly chunkTop: Int32Array;
  private readonly withTop: boolean;
  /** The SIMD kernels (F32 only), or null: the JavaScript loops. */
  private readonly kern: StatsKernels | null;
  /** With the kernels: this pass's bucket counts while another pass holds the kernels' table. */
  private parked: Int32Array | undefined;
  private readonly hold: TableHold = { park: (k) => this.park(k) };
  private wide: Float64Array | undefined;
  private unflushed = 0;
  /** Elements in finished blocks: superblocks end on multiples of SUPER of this. */
  private blocked = 0;
  seen = 0;

  /** `withTop`: count buckets (bits >>> shift; worth it for big F32 tensors only; the results are the same without). */
  /** `elements`: of the tensor, or Infinity when not known (more values are an error). */
  constructor(
    private readonly f32: boolean,
    private readonly dtype: DType,
    withTop: boolean,
    private readonly shift: number,
    private readonly elements: number,
  ) {
    this.withTop = f32 && withTop;
    this.kern = f32 ? f32Kernels() : null;
    this.chunkTop = this.withTop && !this.kern ? (spareTops.pop() ?? new Int32Array(BUCKETS)) : (discardedTop ??= new Int32Array(BUCKETS));
  }

  /**
   * Where this pass counts buckets. With the kernels, their table in wasm memory: passes of one thread
   * may interleave (several tensors at once), so the table holds one pass's counts at a time and the
   * others' are parked in arrays of their own (a 4 MiB copy per switch; none in a plain run).
   */
  private table(): Int32Array {
    const k = this.kern;
    if (!k || !this.withTop) return this.chunkTop;
    if (kernelTableOwner !== this.hold) {
      kernelTableOwner?.park(k);
      const parked = this.parked;
      if (parked) {
        k.top.set(parked);
        parked.fill(0);
        if (spareTops.length < 4) spareTops.push(parked);
        this.parked = undefined;
      }
      kernelTableOwner = this.hold;
    }
    return k.top;
  }

  /** Moves this pass's counts out of the kernels' table (left zero) for another pass. */
  private park(k: StatsKernels): void {
    const parked = spareTops.pop() ?? new Int32Array(BUCKETS);
    parked.set(k.top);
    k.top.fill(0);
    this.parked = parked;
    kernelTableOwner = undefined;
  }

  /** Whole blocks x[from, to) through the kernel, SUB elements at a time: where they are read, or copied into its memory. */
  private kernelBlocks(k: StatsKernels, x: Float32Array, from: number, to: number): void {
    this.table();
    const out = k.out;
    const address = k.addressOf(x);
    for (let at = from; at < to; at += SUB) {
      const len = Math.min(SUB, to - at);
      const blocks = len / BLOCK;
      if (address < 0) {
        k.data.set(x.subarray(at, at + len));
        k.blocks(blocks, this.withTop, this.shift);
      } else k.blocks(blocks, this.withTop, this.shift, address + at * 4);
      for (let b = 0; b < blocks; b++) {
        kernelBlockF32(this.sup, x, at + b * BLOCK, out, b * OUT_STRIDE);
        this.afterBlock(BLOCK);
      }
    }
  }

  addBytes(bytes: Uint8Array): void {
    this.addValues(decode(this.dtype, bytes));
  }

  addValues(values: Float32Array | Float64Array): void {
    if (this.f32 !== values instanceof Float32Array)
      throw new TypeError('chunks of one tensor must all be Float32Array or all Float64Array');
    const len = values.length;
    // The carry is sized by `elements`: more than that is an error now, not values lost later.
    if (this.seen + len > this.elements) throw new Error(`tensor bytes held more than the ${this.elements} elements expected`);
    this.seen += len;
    let k = 0;
    if (this.carried > 0) {
      k = Math.min(len, BLOCK - this.carried);
      (this.carry as Float32Array | Float64Array).set(values.subarray(0, k) as never, this.carried);
      this.carried += k;
      if (this.carried === BLOCK) this.flushCarry();
    }
    const whole = k + Math.floor((len - k) / BLOCK) * BLOCK;
    if (this.f32) {
      const x = values as Float32Array;
      if (this.kern && k < whole) {
        this.kernelBlocks(this.kern, x, k, whole);
        k = whole;
      }
      const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
      const top = this.chunkTop;
      for (; k < whole; k += BLOCK) {
        blockF32(this.sup, x, bits, top, this.shift, k, k + BLOCK);
        this.afterBlock(BLOCK);
      }
    } else {
      const x = values as Float64Array;
      for (; k < whole; k += BLOCK) {
        blockF64(this.sup, x, k, k + BLOCK);
        this.afterBlock(BLOCK);
      }
    }
    if (k < len && this.seen === this.elements) {
      // The tensor's last values, a partial block: summarised where they are, as flushCarry would (a
      // typed array to carry them in cost more than the block for a 384-value bias).
      if (this.f32) {
        const x = values as Float32Array;
        blockF32(this.sup, x, new Uint32Array(x.buffer, x.byteOffset, x.length), this.table(), this.shift, k, len);
      } else blockF64(this.sup, values as Float64Array, k, len);
      this.afterBlock(len - k);
      k = len;
    }
    if (k < len) {
      // No bigger than the tensor: a 384-value bias does not need a 16 KiB block to carry.
      const size = Math.min(BLOCK, this.elements);
      this.carry ??= this.f32 ? new Float32Array(size) : new Float64Array(size);
      if (this.f32) this.carryBits ??= new Uint32Array(this.carry.buffer);
      this.carry.set(values.subarray(k) as never, 0);
      this.carried = len - k;
    }
    this.unflushed += len;
    if (this.withTop && this.unflushed > 1 << 30) {
      const wide = (this.wide ??= new Float64Array(bucketsAt(this.shift)));
      const top = this.table();
      for (let i = 0; i < wide.length; i++) {
        wide[i] += top[i];
        top[i] = 0;
      }
      this.unflushed = 0;
    }
  }

  private flushCarry(): void {
    const n = this.carried;
    this.carried = 0;
    if (n === 0) return;
    if (this.f32) blockF32(this.sup, this.carry as Float32Array, this.carryBits as Uint32Array, this.table(), this.shift, 0, n);
    else blockF64(this.sup, this.carry as Float64Array, 0, n);
    this.afterBlock(n);
  }

  private afterBlock(n: number): void {
    this.blocked += n;
    if (this.blocked % SUPER === 0) {
      this.supers.push(this.sup);
      this.sup = emptyMoments();
    }
  }

  result(): Pass1Partial {
    this.flushCarry();
    if (this.sup.all > 0) {
      this.supers.push(this.sup);
      this.sup = emptyMoments();
    }
    if (!this.f32) return { kind: 'f64', supers: this.supers };
    if (!this.withTop) return { kind: 'f32', supers: this.supers };
    let top: SparseCounts;
    const table = this.table();
    if (this.wide) {
      const wide = this.wide;
      for (let i = 0; i < wide.length; i++) wide[i] += table[i];
      table.fill(0, 0, wide.length);
      top = sparseOf(wide, this.shift);
    } else
      top = this.kern && table === this.kern.top ? takeSparseKernel(this.kern, this.supers, this.shift) : takeSparse(table, this.shift);
    if (table === this.kern?.top) kernelTableOwner = undefined;
    else if (spareTops.length < 4) spareTops.push(table);
    return { kind: 'f32', supers: this.supers, top };
  }
}

/** The non-zero entries of a bucket table at `shift`, which is left all zero (ready for reuse). */
function takeSparse(table: Int32Array, shift: number): SparseCounts {
  const top = table.subarray(0, bucketsAt(shift));
  const index = (sparseIndex ??= new Int32Array(BUCKETS));
  const count = (sparseCount ??= new Float64Array(BUCKETS));
  let n = 0;
  const take = (i: number): void => {
    const c = top[i];
    if (c !== 0) {
      index[n] = i;
      count[n++] = c;
      top[i] = 0;
    }
  };
  // Most buckets are empty: two counters at a time through a float64 view (a pair of zero counts is
  // +0; counts are never negative, so a non-empty pair is never -0).
  if (top.byteOffset % 8 === 0) {
    const pairs = new Float64Array(top.buffer, top.byteOffset, top.length >>> 1);
    for (let p = 0; p < pairs.length; p++) {
      if (pairs[p] === 0) continue;
      take(2 * p);
      take(2 * p + 1);
    }
    if (top.length % 2 === 1) take(top.length - 1);
  } else for (let i = 0; i < top.length; i++) take(i);
  return { index: index.slice(0, n), count: count.slice(0, n), shift };
}

/**
 * The bucket numbers [from, to) that can hold values of a run with these superblocks: from +0 up to
 * the largest value, from -0 down to the smallest, and the NaN/Inf patterns if there are any.
 * Ascending, multiples of 4 (the sparse kernel's groups).
 */
function touchedBuckets(supers: readonly MomentsPartial[], shift: number): [number, number][] {
  const buckets = bucketsAt(shift);
  const negatives = buckets / 2;
  let min = Infinity;
  let max = -Infinity;
  let special = 0;
  for (const s of supers) {
    if (s.min < min) min = s.min;
    if (s.max > max) max = s.max;
    special += s.nan + s.inf;
  }
  const bucketOf = (v: number): number => bitsOfF32(v) >>> shift;
  const up = (b: number): number => Math.min(buckets, (b + 4) & ~3);
  const ranges: [number, number][] = [];
  const add = (from: number, to: number): void => {
    const last = ranges.at(-1);
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else ranges.push([from, to]);
  };
  const nanInf = bucketOf(Infinity);
  // -0 and +0 land on either side whatever the sign of a zero min or max: both zero buckets are taken.
  add(0, up(max > 0 ? bucketOf(max) : 0));
  if (special > 0) add(nanInf, negatives);
  add(negatives, up(min < 0 ? bucketOf(min) : negatives));
  if (special > 0) add(negatives + nanInf, buckets);
  return ranges;
}

/**
 * takeSparse of the kernels' own table, in WebAssembly SIMD (the same entries, in the same order):
 * only the buckets the run's values can fall in (touchedBuckets); should the counts taken there not
 * add up to the run's values, the whole table is taken as well.
 */
function takeSparseKernel(k: StatsKernels, supers: readonly MomentsPartial[], shift: number): SparseCounts {
  const index = (sparseIndex ??= new Int32Array(BUCKETS));
  const count = (sparseCount ??= new Float64Array(BUCKETS));
  let n = 0;
  let total = 0;
  const take = (first: number, last: number): void => {
    for (let from = first; from < last; from += SUB) {
      const m = k.sparse(from, Math.min(last, from + SUB));
      index.set(k.index.subarray(0, m), n);
      const counts = k.counts;
      for (let i = 0; i < m; i++) total += count[n + i] = counts[i];
      n += m;
    }
  };
  for (const [from, to] of touchedBuckets(supers, shift)) take(from, to);
  const all = supers.reduce((s, p) => s + p.all, 0);
  if (total !== all) {
    take(0, bucketsAt(shift));
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => index[a] - index[b]);
    return { index: Int32Array.from(order, (i) => index[i]), count: Float64Array.from(order, (i) => count[i]), shift };
  }
  return { index: index.slice(0, n), count: count.slice(0, n), shift };
}

/** takeSparse's output buffers (one table's worth), reused by every call on this thread. */
let sparseIndex: Int32Array | undefined;
let sparseCount: Float64Array | undefined;

/** The non-zero entries of float64 bucket counts at `shift`. */
function sparseOf(counts: Float64Array, shift: number): SparseCounts {
  const index: number[] = [];
  const count: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] !== 0) {
      index.push(i);
      count.push(counts[i]);
    }
  }
  return { index: Int32Array.from(index), count: Float64Array.from(count), shift };
}

/**
 * Counts each 16-bit pattern into four tables of 65,536 (t), one per element of two words, so
 * runs of one value (zeros of a sparse tensor) do not wait on one counter.
 */
function count16(bytes: Uint8Array, t: Int32Array): void {
  const n = bytes.byteLength >>> 1;
  if (!HOST_LITTLE_ENDIAN) {
    for (let k = 0; k < n; k++) t[bytes[2 * k] | (bytes[2 * k + 1] << 8)]++;
    return;
  }
  let k = 0;
  if (bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, n >>> 1);
    const pairs = words.length & ~1;
    for (let w = 0; w < pairs; w += 2) {
      const v = words[w];
      const x = words[w + 1];
      t[v & 0xffff]++;
      t[65536 + (v >>> 16)]++;
      t[131072 + (x & 0xffff)]++;
      t[196608 + (x >>> 16)]++;
    }
    k = pairs * 2;
  }
  for (; k < n; k++) t[bytes[2 * k] | (bytes[2 * k + 1] << 8)]++;
}

/** Counts each byte; four tables of 256, one per byte of a word. */
function count8(bytes: Uint8Array, t: Int32Array): void {
  const n = bytes.byteLength;
  let k = 0;
  if (bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, n >>> 2);
    for (let w = 0; w < words.length; w++) {
      const v = words[w];
      t[v & 0xff]++;
      t[256 + ((v >>> 8) & 0xff)]++;
      t[512 + ((v >>> 16) & 0xff)]++;
      t[768 + (v >>> 24)]++;
    }
    k = words.length * 4;
  }
  for (; k < n; k++) t[bytes[k]]++;
}

const spareScratch16: Int32Array[] = [];

/**
 * The pass whose 16-bit counts are in the kernels' table16 now: one at a time per thread. Another
 * pass that needs it first flushes them into the owner's own counts (a scan of the 262,144 counters).
 */
let table16Owner: { flush(): void } | undefined;

class TablePass implements Pass1Accumulator {
  private readonly wide: boolean;
  private readonly counts: Float64Array;
  /** The JavaScript loops' tables (no kernels, or 8-bit): int32, added to `counts` by flush. */
  private readonly scratch: Int32Array;
  /** 16-bit patterns through the kernels' count16, into their table16. */
  private readonly kern: StatsKernels | null;
  /** Elements counted into int32 tables since they were last added to `counts`: no counter can pass this. */
  private unflushed = 0;
  /** This pass's hold on table16 (table16Owner). */
  private readonly hold = { flush: (): void => this.flush() };
  seen = 0;

  constructor(private readonly dtype: DType) {
    this.wide = DTYPES[dtype].bits === 16;
    this.counts = new Float64Array(this.wide ? 65536 : 256);
    this.kern = this.wide ? statsKernels() : null;
    // Zeroed again by every flush, so a finished run's scratch is reused as it is.
    this.scratch = this.kern
      ? new Int32Array(0)
      : ((this.wide ? spareScratch16.pop() : undefined) ?? new Int32Array(this.wide ? 4 * 65536 : 1024));
  }

  addValues(): void {
    throw new TypeError(`${this.dtype} statistics are computed from raw bytes`);
  }

  addBytes(bytes: Uint8Array): void {
    const size = DTYPES[this.dtype].bits / 8;
    if (bytes.byteLength % size !== 0) throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${this.dtype} elements`);
    // Int32 counters: the tables are added to the float64 counts before they could reach 2^31
    // (rarely: scanning the 262,144 counters after every 8 MiB chunk cost 6% of BF16's time).
    const MAX = 1 << 30;
    for (let at = 0; at < bytes.byteLength; at += MAX) {
      const part = bytes.subarray(at, Math.min(bytes.byteLength, at + MAX));
      const elements = part.byteLength / size;
      if (this.unflushed + elements > MAX) this.flush();
      if (this.kern) this.kernelCount16(this.kern, part);
      else if (this.wide) count16(part, this.scratch);
      else count8(part, this.scratch);
      this.unflushed += elements;
      this.seen += elements;
    }
  }

  /** count16 through the kernel: where the bytes are read (a read slot), or copied into its memory; the last 0-3 elements here. */
  private kernelCount16(k: StatsKernels, bytes: Uint8Array): void {
    if (table16Owner !== this.hold) {
      table16Owner?.flush();
      table16Owner = this.hold;
    }
    const n = bytes.byteLength >>> 1;
    const quads = n & ~3;
    const address = k.addressOf(bytes);
    if (address >= 0) k.count16(quads, address);
    else {
      // The staging area holds SUB float32: 2 SUB 16-bit elements.
      const staged = new Uint8Array(k.data.buffer, k.data.byteOffset, k.data.byteLength);
      for (let e = 0; e < quads; e += 2 * SUB) {
        const len = Math.min(2 * SUB, quads - e);
        staged.set(bytes.subarray(2 * e, 2 * (e + len)));
        k.count16(len);
      }
    }
    const t = k.table16;
    for (let e = quads; e < n; e++) t[bytes[2 * e] | (bytes[2 * e + 1] << 8)]++;
  }

  /** Adds the int32 tables (the scratch, or table16 while this pass holds it) to the counts, leaving them zero. */
  private flush(): void {
    const s = this.kern ? (table16Owner === this.hold ? this.kern.table16 : undefined) : this.scratch;
    this.unflushed = 0;
    if (!s) return;
    const counts = this.counts;
    const tables = s.length / counts.length;
    for (let t = 0; t < tables; t++) {
      const base = t * counts.length;
      for (let i = 0; i < counts.length; i++) {
        const c = s[base + i];
        if (c !== 0) {
          counts[i] += c;
          s[base + i] = 0;
        }
      }
    }
  }

  result(): Pass1Partial {
    this.flush();
    if (table16Owner === this.hold) table16Owner = undefined;
    if (this.wide && !this.kern && spareScratch16.length < 4) spareScratch16.push(this.scratch);
    return { kind: 'table', all: this.seen, counts: this.counts };
  }
}

/**
 * Below this many elements tables cost more than they save (65,536 entries to clear and scan):
 * small tensors of table dtypes are decoded and take the moments road, small F32 ones skip buckets.
 */
export const SMALL = 1 << 16;

/**
 * F32 tensors of at least this many elements count buckets: the touched part of a 4 MiB table to scan
 * and a walk over its non-zero buckets per run (about 0.3 ms at this size, 1 ms for millions of
 * values), against keeping and selecting the values for the quantiles (about 17 ns a value). A ViT-S
 * checkpoint's statistics took twice as long with this at 2^18 (its 147K-value projections kept).
 */
export const BUCKETS_FROM = 1 << 15;

/** How a tensor of `dtype` and `elements` elements is computed; ranges of one tensor must all use the same. */
export function pathOf(dtype: DType, elements: number): StatsKind {
  const kind = statsKind(dtype);
  return kind === 'table' && elements < SMALL ? 'f32' : kind;
}

/** Up to this many kept float32 values are selected by selectRanksF32 (its scratch: 8 bytes a value); more by selectRanks. */
const F32_SELECT_MAX = 1 << 16;

/** The first pass over raw bytes of a tensor of `dtype` with `elements` elements in all (or a range of it). */
export function pass1Accumulator(dtype: DType, elements: number): Pass1Accumulator {
  const kind = pathOf(dtype, elements);
  if (kind === 'table') return new TablePass(dtype);
  return new MomentsPass(kind === 'f32', dtype, dtype === 'F32' && elements >= BUCKETS_FROM, bucketShift(elements), elements);
}

/** The first pass of the compatible API over decoded chunks (no dtype known): by array type. */
export function valuesAccumulator(first: Float32Array | Float64Array, elements: number): Pass1Accumulator {
  return first instanceof Float32Array
    ? new MomentsPass(true, 'F32', elements >= BUCKETS_FROM, bucketShift(elements), Infinity)
    : new MomentsPass(false, 'F64', false, FINE_SHIFT, Infinity);
}

/** Partials of consecutive ranges, in element order, merged into one. */
export function mergePass1(parts: readonly Pass1Partial[]): Pass1Partial {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  if (first.kind === 'table') {
    const counts = new Float64Array(first.counts.length);
    let all = 0;
    for (const p of parts) {
      if (p.kind !== 'table') throw new TypeError('mergePass1: partials of different kinds');
      for (let i = 0; i < counts.length; i++) counts[i] += p.counts[i];
      all += p.all;
    }
    return { kind: 'table', all, counts };
  }
  const supers: MomentsPartial[] = [];
  const withTop = first.kind === 'f32' && first.top !== undefined;
  let top: SparseCounts | undefined;
  for (const p of parts) {
    if (p.kind !== first.kind || (p.kind === 'f32' && !p.top === withTop)) throw new TypeError('mergePass1: partials of different kinds');
    supers.push(...p.supers);
    if (p.kind === 'f32' && p.top) top = top ? mergeSparse(top, p.top) : p.top;
  }
  if (first.kind === 'f64') return { kind: 'f64', supers };
  return top ? { kind: 'f32', supers, top } : { kind: 'f32', supers };
}

/**
 * The sum of two sparse bucket counts, indexes ascending as in both: a walk over their entries only
 * (the pool merges a split tensor's ranges on the thread that hands out the jobs, so no 2^20-bucket scan).
 */
function mergeSparse(a: SparseCounts, b: SparseCounts): SparseCounts {
  if (a.shift !== b.shift) throw new TypeError('mergePass1: bucket counts at different shifts');
  const index = new Int32Array(a.index.length + b.index.length);
  const count = new Float64Array(index.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.index.length || j < b.index.length) {
    const x = i < a.index.length ? a.index[i] : 0x7fffffff;
    const y = j < b.index.length ? b.index[j] : 0x7fffffff;
    if (x <= y) {
      index[n] = x;
      count[n] = a.count[i++];
      if (x === y) count[n] += b.count[j++];
    } else {
      index[n] = y;
      count[n] = b.count[j++];
    }
    n++;
  }
  return { index: index.slice(0, n), count: count.slice(0, n), shift: a.shift };
}

/**
 * What the second pass needs: the histogram's range, and for F32 the buckets that straddle a bin
 * edge (ascending): only their values are binned, the others were binned from the bucket table.
 */
export interface HistogramPlan {
  readonly lo: number;
  readonly hi: number;
  readonly bins: number;
  readonly straddling?: Int32Array;
  /** The bucket shift of `straddling` and of the quantiles' buckets (F32; default FINE_SHIFT). */
  readonly shift?: number;
  /** What the second pass adds for the quantiles, after the histogram's counts (pass2Length). */
  readonly quantiles?: QuantilePlan;
}

/**
 * The quantiles' part of the second pass (quantiles.ts):
 * - refine: F32 at FINE_SHIFT; each of these buckets counted per low 12 bits (4,096 counters each, they add up);
 * - pick: F32 at a coarser shift (tensors never split: at most SUPER elements); the values of each of
 *   these buckets (`sizes` of them) kept, and for each target (its bucket's slot, its rank within the
 *   bucket: ascending per slot) its value answered;
 * - collect: the n finite values kept, and the values at `ranks` answered (only for tensors that are
 *   never split: at most SUPER elements);
 * - fine: a FINE_BINS-bin histogram over [lo, hi] (it adds up).
 */
export type QuantilePlan =
  | { readonly mode: 'refine'; readonly buckets: Int32Array }
  | {
      readonly mode: 'pick';
      readonly buckets: Int32Array;
      readonly sizes: Float64Array;
      readonly slots: Int32Array;
      readonly within: Float64Array;
    }
  | { readonly mode: 'collect'; readonly n: number; readonly ranks: readonly number[] }
  | { readonly mode: 'fine'; readonly lo: number; readonly hi: number };

const SUB_COUNTS = 1 << FINE_SHIFT;

/** Length of the second pass's result: the histogram's counts, then the quantiles' part. Results of ranges add up. */
export function pass2Length(plan: HistogramPlan): number {
  const q = plan.quantiles;
  if (!q) return plan.bins;
  if (q.mode === 'refine') return plan.bins + q.buckets.length * SUB_COUNTS;
  if (q.mode === 'collect') return plan.bins + q.ranks.length;
  if (q.mode === 'pick') return plan.bins + q.slots.length;
  return plan.bins + FINE_BINS;
}

/** A rank to be found in a refined F32 bucket: slot in the plan's buckets, and rank within the bucket. */
interface RefineTarget {
  readonly rank: number;
  readonly slot: number;
  readonly within: number;
}

/** The statistics without the histogram, and the histogram counts known after the first pass. */
export interface AfterPass1 {
  readonly moments: MomentsPartial;
  /** null: no finite value, nothing more to do. */
  readonly plan: HistogramPlan | null;
  /** Counts already known (from tables); the second pass adds to them. */
  readonly base: Float64Array;
  /** Whether a second pass over the data is needed at all. */
  readonly needsPass2: boolean;
  /** The quantiles when the first pass gives them (tables, constant tensors). */
  readonly quantiles?: Quantiles;
  /** F32 refined: where each rank is (min and max, ranks 0 and n - 1, are known already). */
  readonly refine?: readonly RefineTarget[];
}

/** Value of each bit pattern of a table dtype, as the decoder gives it. */
const patternValues = new Map<DType, Float64Array>();
function valuesOfPatterns(dtype: DType): Float64Array {
  let v = patternValues.get(dtype);
  if (!v) {
    const wide = DTYPES[dtype].bits === 16;
    const n = wide ? 65536 : 256;
    const bytes = new Uint8Array(wide ? 2 * n : n);
    for (let p = 0; p < n; p++) {
      if (wide) {
        bytes[2 * p] = p & 0xff;
        bytes[2 * p + 1] = p >>> 8;
      } else bytes[p] = p;
    }
    v = Float64Array.from(decode(dtype, bytes));
    patternValues.set(dtype, v);
  }
  return v;
}

/** The finite bit patterns of a table dtype in ascending value order. */
const patternOrders = new Map<DType, Int32Array>();
function patternOrder(dtype: DType): Int32Array {
  let order = patternOrders.get(dtype);
  if (!order) {
    const values = valuesOfPatterns(dtype);
    const finite: number[] = [];
    for (let p = 0; p < values.length; p++) if (Number.isFinite(values[p])) finite.push(p);
    order = Int32Array.from(finite.sort((a, b) => values[a] - values[b]));
    patternOrders.set(dtype, order);
  }
  return order;
}

/** Exact quantiles from a table of pattern counts. */
function quantilesOfTable(dtype: DType, counts: Float64Array, n: number): Quantiles {
  const values = valuesOfPatterns(dtype);
  const order = patternOrder(dtype);
  const ranks = quantileRanks(n);
  const found = locateRanks(
    order.length,
    (k) => order[k],
    (p) => counts[p],
    ranks,
  );
  return quantilesFromRanks(
    n,
    ranks,
    found.map((f) => values[f.group]),
  );
}

/** Exact statistics from a table of pattern counts: sums over at most 65,536 distinct values. */
function momentsOfTable(values: Float64Array, counts: Float64Array, all: number): MomentsPartial {
  const m = emptyMoments();
  m.all = all;
  // Products c * v are exact here (v has at most 16 significant bits, c < 2^37); the sums are compensated.
  let sum = 0;
  let comp = 0;
  for (let p = 0; p < counts.length; p++) {
    const c = counts[p];
    if (c === 0) continue;
    const v = values[p];
    if (v !== v) {
      m.nan += c;
      continue;
    }
    if (v === Infinity || v === -Infinity) {
      m.inf += c;
      continue;
    }
    m.n += c;
    if (v < m.min) m.min = v;
    if (v > m.max) m.max = v;
    if (v === 0) m.zeros += c;
    const x = c * v;
    const t = sum + x;
    comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
    addAbs(m, c * Math.abs(v));
  }
  if (m.n === 0) return m;
  // The compensated sum of exact products is already as good as a mean gets; the squared deviations
  // (and their drift, which corrects for the mean's rounding) are compensated sums too.
  m.mean = (sum + comp) / m.n;
  const m2 = new CompensatedSum();
  const drift = new CompensatedSum();
  for (let p = 0; p < counts.length; p++) {
    const c = counts[p];
    const v = values[p];
    if (c === 0 || !Number.isFinite(v)) continue;
    const d = v - m.mean;
    m2.add(c * d * d);
    drift.add(c * d);
  }
  const shift = drift.value();
  m.m2 = m2.value() - (shift * shift) / m.n;
  return m;
}

/** Neumaier's compensated summation. */
class CompensatedSum {
  private sum = 0;
  private comp = 0;
  add(x: number): void {
    const t = this.sum + x;
    this.comp += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.sum = t;
  }
  value(): number {
    return this.sum + this.comp;
  }
}

const f32Bits = new Uint32Array(1);
const f32View = new Float32Array(f32Bits.buffer);

function f32OfBits(bits: number): number {
  f32Bits[0] = bits;
  return f32View[0];
}

/** The bit pattern of v rounded to float32. */
function bitsOfF32(v: number): number {
  f32View[0] = v;
  return f32Bits[0];
}

/** Whether bucket b (at `shift`) holds NaN or Inf patterns (exponent all ones). */
function isNanInfBucket(b: number, shift: number): boolean {
  return ((b << shift) & 0x7f800000) === 0x7f800000;
}

/** The first bucket at `shift` whose sign bit is set: negative values (larger bits, smaller values). */
function firstNegativeBucket(shift: number): number {
  return bucketsAt(shift) / 2;
}

/**
 * Plans the refinement of the buckets holding the quantiles' ranks (min and max, ranks 0 and n - 1,
 * are known): the buckets, each target's slot among them and rank within it, and each bucket's count.
 */
function refinePlan(top: SparseCounts, n: number): { buckets: Int32Array; sizes: Float64Array; targets: RefineTarget[] } {
  const { index, count, shift } = top;
  const ranks = quantileRanks(n).filter((r) => r !== 0 && r !== n - 1);
  const slots = new Map<number, number>();
  const targets: RefineTarget[] = [];
  let before = 0;
  let r = 0;
  // Value order: negative buckets from the most negative (largest bucket number) down, then positive ones up.
  const sizes: number[] = [];
  const positives = firstNegative(index, shift);
  const negatives = index.length - positives;
  for (let t = 0; t < index.length && r < ranks.length; t++) {
    const k = t < negatives ? index.length - 1 - t : t - negatives;
    const b = index[k];
    if (isNanInfBucket(b, shift)) continue; // they hold no rank
    const c = count[k];
    for (; r < ranks.length && ranks[r] < before + c; r++) {
      if (!slots.has(b)) {
        slots.set(b, slots.size);
        sizes.push(c);
      }
      targets.push({ rank: ranks[r], slot: slots.get(b) as number, within: ranks[r] - before });
    }
    before += c;
  }
  if (r < ranks.length) throw new Error(`quantiles: rank ${ranks[r]} is past the ${before} values counted`);
  return { buckets: Int32Array.from(slots.keys()), sizes: Float64Array.from(sizes), targets };
}

/** The value of refined rank `t` from its bucket's (at FINE_SHIFT) low-bit counts. */
function refinedValue(bucket: number, sub: Float64Array, within: number): number {
  const negative = bucket >= firstNegativeBucket(FINE_SHIFT);
  const [{ group: low }] = locateRanks(
    SUB_COUNTS,
    (k) => (negative ? SUB_COUNTS - 1 - k : k),
    (l) => sub[l],
    [within],
  );
  return f32OfBits(((bucket << FINE_SHIFT) | low) >>> 0);
}

/** The quantiles' part of the plan of a tensor that is not a table: see QuantilePlan. */
function quantilePlanOf(partial: Pass1Partial, m: MomentsPartial): Pick<AfterPass1, 'quantiles' | 'refine'> & { plan?: QuantilePlan } {
  const n = m.n;
  if (m.min === m.max) return { quantiles: quantilesOf(n, () => m.min) };
  if (partial.kind === 'f32' && partial.top) {
    const { buckets, sizes, targets } = refinePlan(partial.top, n);
    if (partial.top.shift === FINE_SHIFT) return { plan: { mode: 'refine', buckets }, refine: targets };
    const slots = Int32Array.from(targets, (t) => t.slot);
    const within = Float64Array.from(targets, (t) => t.within);
    return { plan: { mode: 'pick', buckets, sizes, slots, within }, refine: targets };
  }
  if (m.all <= SUPER) return { plan: { mode: 'collect', n, ranks: quantileRanks(n) } };
  return { plan: { mode: 'fine', lo: m.min, hi: m.max } };
}

/** The position of the first negative bucket (sign bit set) in ascending bucket numbers at `shift`, or their length. */
function firstNegative(index: Int32Array, shift: number): number {
  const negative = firstNegativeBucket(shift);
  let a = 0;
  let z = index.length;
  while (a < z) {
    const mid = (a + z) >>> 1;
    if (index[mid] < negative) a = mid + 1;
    else z = mid;
  }
  return a;
}

/** The smallest order key whose float32 value is >= e (a finite float64). */
function keyAtLeast(e: number): number {
  if (e === 0) return orderKey(0x80000000); // -0 >= 0
  const f = Math.fround(e);
  const key = orderKey(bitsOfF32(f));
  // The nearest float32 is >= e, or the next one up is the first that is.
  return f < e ? key + 1 : key;
}

/**
 * Bins the buckets of the table (non-zero, ascending bucket numbers) whose values all lie in one bin of
 * `edges` into base; answers the others (ascending): the buckets an edge cuts. Bin i holds
 * edges[i] <= v < edges[i + 1], the last bin also edges[bins] (HistogramBuilder.binOf); every value
 * lies within [edges[0], edges[bins]]. Each interior edge becomes the first order key at or above it,
 * and a bucket (2^shift consecutive keys) goes to the bin of the keys below its first key, unless one of
 * those thresholds falls inside it: a walk over the buckets in value order, no float per bucket.
 * NaN and Inf buckets are left out.
 */
export function binBuckets(top: SparseCounts, edges: readonly number[], base: Float64Array): number[] {
  const { index, count, shift } = top;
  const m = edges.length - 2;
  const at = new Float64Array(m);
  for (let j = 0; j < m; j++) at[j] = keyAtLeast(edges[j + 1]);
  const straddling: number[] = [];
  const span = 2 ** shift - 1;
  const positives = firstNegative(index, shift);
  // Positive buckets: ascending numbers are ascending keys.
  for (let k = 0, j = 0; k < positives; k++) {
    const b = index[k];
    if (isNanInfBucket(b, shift)) continue;
    const first = orderKey(b << shift);
    while (j < m && at[j] <= first) j++;
    if (j < m && at[j] <= first + span) straddling.push(b);
    else base[j] += count[k];
  }
  // Negative buckets: ascending numbers are descending keys; their first key is that of their last pattern.
  for (let k = positives, j = m; k < index.length; k++) {
    const b = index[k];
    if (isNanInfBucket(b, shift)) continue;
    const first = orderKey((b << shift) | span);
    while (j > 0 && at[j - 1] > first) j--;
    if (j < m && at[j] <= first + span) straddling.push(b);
    else base[j] += count[k];
  }
  return straddling; // positives then negatives: ascending bucket numbers
}

/** After the first pass: the moments, the histogram plan, and whether to read the data again. */
export function afterPass1(dtype: DType | 'values', partial: Pass1Partial, bins: number): AfterPass1 {
  let moments: MomentsPartial;
  if (partial.kind === 'table') {
    if (dtype === 'values') throw new TypeError('a table partial needs its dtype');
    moments = momentsOfTable(valuesOfPatterns(dtype), partial.counts, partial.all);
  } else {
    moments = emptyMoments();
    for (const s of partial.supers) mergeMoments(moments, s);
  }
  const base = new Float64Array(bins);
  if (moments.n === 0) return { moments, plan: null, base, needsPass2: false };
  const [lo, hi] = histogramRange(moments.min, moments.max);
  const hist = new HistogramBuilder(lo, hi, bins);
  if (partial.kind === 'table') {
    if (dtype === 'values') throw new TypeError('a table partial needs its dtype');
    const values = valuesOfPatterns(dtype);
    for (let p = 0; p < partial.counts.length; p++) {
      const c = partial.counts[p];
      if (c !== 0) hist.addCount(values[p], c);
    }
    base.set(hist.counts);
    return { moments, plan: { lo, hi, bins }, base, needsPass2: false, quantiles: quantilesOfTable(dtype, partial.counts, moments.n) };
  }
  const { plan: quantiles, ...known } = quantilePlanOf(partial, moments);
  if (partial.kind === 'f64' || !partial.top) return { moments, plan: { lo, hi, bins, quantiles }, base, needsPass2: true, ...known };
  // F32: every value of the data lies in [lo, hi]. A bucket whose values all fall in one bin is binned
  // whole from the table; if none straddles an edge, the data is not read again.
  const straddling = binBuckets(partial.top, hist.edges, base);
  const plan: HistogramPlan = {
    lo,
    hi,
    bins,
    ...(straddling.length > 0 ? { straddling: Int32Array.from(straddling) } : {}),
    ...(quantiles ? { quantiles } : {}),
    shift: partial.top.shift,
  };
  return { moments, plan, base, needsPass2: straddling.length > 0 || quantiles !== undefined, ...known };
}

/** The second pass (histogram, and the quantiles' part of the plan) over one run of elements. */
export class Pass2Accumulator {
  private readonly hist: HistogramBuilder;
  /** pass2Length(plan) numbers: the histogram's counts are copied in at the end, the quantiles' part filled as it comes. */
  private readonly out: Float64Array;
  /** F32 buckets whose values are visited one by one: straddling (binned) or refined (counted per low bits, or picked). */
  private readonly visited: Int32Array | undefined;
  /** The bucket shift of `visited`. */
  private readonly shift: number;
  /** The code of each visited bucket (visitCodes). */
  private readonly codes: Int32Array | undefined;
  /** pick: each slot's values so far. */
  private readonly picked: Float64Array[] | undefined;
  private readonly pickedCount: Int32Array | undefined;
  /** collect: the finite values so far. */
  private readonly kept: Float64Array | undefined;
  private keptCount = 0;
  /** collect: whether every value kept came as float32 (then selectRanksF32 may select them). */
  private keptF32 = true;
  /** fine: the fine histogram. */
  private readonly fine: HistogramBuilder | undefined;
  seen = 0;

  constructor(
    private readonly dtype: DType | 'values',
    private readonly plan: HistogramPlan,
  ) {
    this.hist = new HistogramBuilder(plan.lo, plan.hi, plan.bins);
    this.out = new Float64Array(pass2Length(plan));
    this.shift = plan.shift ?? FINE_SHIFT;
    const q = plan.quantiles;
    const code = new Map<number, number>();
    for (const b of plan.straddling ?? []) code.set(b, 1);
    if (q?.mode === 'refine' || q?.mode === 'pick') q.buckets.forEach((b, slot) => code.set(b, (code.get(b) ?? 0) | 2 | (slot << 2)));
    if (code.size > 0) {
      this.visited = Int32Array.from([...code.keys()].sort((a, b) => a - b));
      this.codes = Int32Array.from(this.visited, (b) => code.get(b) as number);
    }
    if (q?.mode === 'pick') {
      this.picked = Array.from(q.sizes, (size) => new Float64Array(size));
      this.pickedCount = new Int32Array(q.sizes.length);
    }
    if (q?.mode === 'collect') this.kept = new Float64Array(q.n);
    if (q?.mode === 'fine') this.fine = new HistogramBuilder(q.lo, q.hi, FINE_BINS);
  }

  addBytes(bytes: Uint8Array): void {
    if (this.dtype === 'values') throw new TypeError('raw bytes need a dtype');
    this.addValues(decode(this.dtype, bytes));
  }

  addValues(values: Float32Array | Float64Array): void {
    this.seen += values.length;
    const visited = this.visited;
    if (visited && values instanceof Float32Array) {
      const k = f32Kernels();
      if (k) this.kernelVisit(k, visited, values);
      else this.visitMarked(visited, values);
      return;
    }
    this.hist.add(values);
    this.fine?.add(values);
    const kept = this.kept;
    if (kept) {
      if (!(values instanceof Float32Array)) this.keptF32 = false;
      let n = this.keptCount;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (v - v === 0 && n < kept.length) kept[n++] = v; // finite only
      }
      this.keptCount = n;
    }
  }

  /** visitCodes, set for this pass's visited buckets. */
  private codeTable(visited: Int32Array): Int32Array {
    const table = (visitCodes ??= new Int32Array(BUCKETS));
    if (codesFor !== visited) {
      if (codesFor) for (const b of codesFor) table[b] = 0;
      const codes = this.codes as Int32Array;
      visited.forEach((b, i) => (table[b] = codes[i]));
      codesFor = visited;
    }
    return table;
  }

  /** One value of a visited bucket (bits u, its bucket's code). */
  private visit(v: number, u: number, code: number): void {
    if (code & 1) this.hist.addCount(v, 1);
    if (code & 2) {
      const slot = code >>> 2;
      const picked = this.picked;
      if (picked) {
        const count = this.pickedCount as Int32Array;
        const values = picked[slot];
        if (count[slot] >= values.length)
          throw new Error(`tensor values changed between passes: more than ${values.length} values in a bucket`);
        values[count[slot]++] = v;
      } else this.out[this.plan.bins + slot * SUB_COUNTS + (u & (SUB_COUNTS - 1))]++;
    }
  }

  /** The values of visited buckets, one by one (about 1% of values: a branch rarely taken, once per four values). */
  private visitMarked(visited: Int32Array, x: Float32Array): void {
    const codes = this.codeTable(visited);
    const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const quads = bits.length & ~3;
    const shift = this.shift;
    for (let k = 0; k < quads; k += 4) {
      const any = codes[bits[k] >>> shift] | codes[bits[k + 1] >>> shift] | codes[bits[k + 2] >>> shift] | codes[bits[k + 3] >>> shift];
      if (any !== 0)
        for (let j = k; j < k + 4; j++) {
          const code = codes[bits[j] >>> shift];
          if (code !== 0) this.visit(x[j], bits[j], code);
        }
    }
    for (let k = quads; k < bits.length; k++) {
      const code = codes[bits[k] >>> shift];
      if (code !== 0) this.visit(x[k], bits[k], code);
    }
  }

  /**
   * visitMarked with the kernel: it bins the values of straddling buckets itself (as hist.add would)
   * and reports the positions of those to refine, visited here in the same order.
   */
  private kernelVisit(k: StatsKernels, visited: Int32Array, x: Float32Array): void {
    const rule = this.plan.bins <= MAX_KERNEL_BINS ? this.hist.linearRule() : null;
    const codes = this.codeTable(visited);
    if (kernelMarked !== visited) {
      if (kernelMarked) for (const b of kernelMarked) k.marks[b] = 0;
      // Straddling: bit 0 (the kernel bins them) where it can, else reported (bit 1) and binned here.
      for (const b of visited) {
        const code = codes[b];
        k.marks[b] = (code & 1 ? (rule ? 1 : 2) : 0) | (code & 2);
      }
      kernelMarked = visited;
    }
    let binning: KernelBinning | undefined;
    if (rule) {
      if (kernelEdgesFor !== this.hist) {
        k.edges.set(rule.edges);
        kernelEdgesFor = this.hist;
      }
      binning = { bins: this.plan.bins, lo: rule.lo, hi: rule.hi, scale: rule.scale };
    }
    const shift = this.shift;
    const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const index = k.index;
    const address = k.addressOf(x);
    const binned = rule ? undefined : (binScratch ??= new Float32Array(SUB));
    for (let at = 0; at < x.length; at += SUB) {
      const len = Math.min(SUB, x.length - at);
      if (address < 0) k.data.set(x.subarray(at, at + len));
      const found = k.marked(len, shift, address < 0 ? undefined : address + at * 4, binning);
      let m = 0;
      for (let j = 0; j < found; j++) {
        const i = at + index[j];
        const u = bits[i];
        const code = codes[u >>> shift];
        if (binned && code & 1) binned[m++] = x[i];
        if (code & 2) this.visit(x[i], u, code & ~1);
      }
      if (binned) this.hist.add(binned.subarray(0, m));
    }
    if (binning) {
      const counts = this.hist.counts;
      const kernelCounts = k.binCounts;
      for (let b = 0; b < binning.bins; b++) {
        counts[b] += kernelCounts[b];
        kernelCounts[b] = 0;
      }
    }
  }

  /** The histogram's counts, then the quantiles' part (pass2Length(plan) numbers). */
  counts(): Float64Array {
    const out = this.out;
    out.set(this.hist.counts);
    const q = this.plan.quantiles;
    if (q?.mode === 'fine') out.set((this.fine as HistogramBuilder).counts, this.plan.bins);
    if (q?.mode === 'collect') {
      if (this.keptCount !== q.n) throw new Error(`tensor values changed between passes: ${q.n} finite values, then ${this.keptCount}`);
      const kept = this.kept as Float64Array;
      const select = this.keptF32 && kept.length <= F32_SELECT_MAX ? selectRanksF32 : selectRanks;
      out.set(select(kept, q.ranks), this.plan.bins);
    }
    if (q?.mode === 'pick') this.pickRanks(q, out);
    return out;
  }

  /** pick: each target's value, selected from its bucket's values (targets of one slot are consecutive, ascending). */
  private pickRanks(q: Extract<QuantilePlan, { mode: 'pick' }>, out: Float64Array): void {
    const picked = this.picked as Float64Array[];
    const count = this.pickedCount as Int32Array;
    picked.forEach((values, slot) => {
      if (count[slot] !== values.length)
        throw new Error(`tensor values changed between passes: ${values.length} values in a bucket, then ${count[slot]}`);
    });
    for (let t = 0; t < q.slots.length;) {
      const slot = q.slots[t];
      let end = t;
      while (end < q.slots.length && q.slots[end] === slot) end++;
      const found = selectInF32Bucket(picked[slot], this.shift, Array.from(q.within.subarray(t, end)));
      out.set(found, this.plan.bins + t);
      t = end;
    }
  }
}

/** The final statistics from the first pass's moments and the histogram counts. */
export function finishStats(after: AfterPass1, counts: Float64Array): FinishedStats {
  const m = after.moments;
  if (m.n === 0 || !after.plan) return { ...nullStats(m), histogram: { edges: [], counts: [] } };
  const total = new Array<number>(after.plan.bins);
  for (let i = 0; i < total.length; i++) total[i] = after.base[i] + counts[i];
  const histogram: Histogram = { edges: linearEdges(after.plan.lo, after.plan.hi, after.plan.bins), counts: total };
  // Fields written out, not spread: an object built by spreading then adding eleven fields took 20 µs.
  return {
    quantiles: finishQuantiles(after, counts),
    count: m.all,
    finiteCount: m.n,
    min: m.min,
    max: m.max,
    mean: m.mean,
    std: Math.sqrt(Math.max(0, m.m2) / m.n),
    meanAbs: (m.absSum + m.absComp) / m.n,
    zeroFraction: m.zeros / m.n,
    nanCount: m.nan,
    infCount: m.inf,
    histogram,
  };
}

/** The quantiles from what the first pass knew and the second pass's quantiles part (after the histogram's counts). */
function finishQuantiles(after: AfterPass1, counts: Float64Array): Quantiles {
  if (after.quantiles) return after.quantiles;
  const m = after.moments;
  const plan = after.plan as HistogramPlan;
  const q = plan.quantiles;
  if (!q) throw new Error('quantiles: no plan');
  const tail = counts.subarray(plan.bins, pass2Length(plan));
  if (q.mode === 'collect') return quantilesFromRanks(m.n, q.ranks, tail);
  const known = new Map<number, number>([
    [0, m.min],
    [m.n - 1, m.max],
  ]);
  if (q.mode === 'pick') {
    (after.refine ?? []).forEach((t, i) => known.set(t.rank, tail[i]));
    return quantilesOf(m.n, (r) => known.get(r) as number);
  }
  if (q.mode === 'refine') {
    for (const t of after.refine ?? []) {
      known.set(t.rank, refinedValue(q.buckets[t.slot], tail.subarray(t.slot * SUB_COUNTS, (t.slot + 1) * SUB_COUNTS), t.within));
    }
    return quantilesOf(m.n, (r) => known.get(r) as number);
  }
  // fine: each order statistic placed within its bin in proportion to its rank there (min and max are exact).
  const edges = new HistogramBuilder(q.lo, q.hi, FINE_BINS).edges;
  const ranks = quantileRanks(m.n).filter((r) => !known.has(r));
  let error = 0;
  locateRanks(
    FINE_BINS,
    (i) => i,
    (i) => tail[i],
    ranks,
  ).forEach(({ group: i, within }, k) => {
    const width = edges[i + 1] - edges[i];
    error = Math.max(error, width);
    const v = edges[i] + (width * (within + 0.5)) / tail[i];
    known.set(ranks[k], Math.min(m.max, Math.max(m.min, v)));
  });
  return quantilesOf(m.n, (r) => known.get(r) as number, error);
}

/** A tensor's statistics (tensorStats.ts exports it as TensorStats; defined here, where they are finished). */
export interface FinishedStats {
  /** All elements, finite or not. */
  readonly count: number;
  /** Elements that are neither NaN nor +-Inf: the population of the fields below. */
  readonly finiteCount: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  /** Population standard deviation sqrt(sum (x - mean)^2 / n). */
  readonly std: number | null;
  readonly meanAbs: number | null;
  /** Zeros / finiteCount. */
  readonly zeroFraction: number | null;
  readonly nanCount: number;
  readonly infCount: number;
  readonly histogram: Histogram;
  /** Percentiles of the finite values (quantiles.ts: numpy's 'linear'); null with no finite value. */
  readonly quantiles: Quantiles | null;
}

/** The statistics of an empty tensor (no reader, no accumulator: a checkpoint can hold 200,000 of them). */
export function emptyTensorStats(): FinishedStats {
  return { ...nullStats(emptyMoments()), histogram: { edges: [], counts: [] } };
}

function nullStats(m: MomentsPartial): Omit<FinishedStats, 'histogram'> {
  return {
    count: m.all,
    finiteCount: 0,
    min: null,
    max: null,
    mean: null,
    std: null,
    meanAbs: null,
    zeroFraction: null,
    nanCount: m.nan,
    infCount: m.inf,
    quantiles: null,
  };
}
