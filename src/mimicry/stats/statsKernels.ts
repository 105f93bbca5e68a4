// The WebAssembly SIMD kernels of statsKernels.wat for F32 statistics, loaded once per thread. Where
// WebAssembly SIMD is missing the loader answers null and accumulators.ts keeps its JavaScript loops
// (the same numbers, bit for bit). The memory has a fixed layout and never grows, so the views
// below stay valid: the bucket table (owned by one pass at a time, see accumulators.ts), the marks
// of pass 2, a staging area the data is copied into (SUB elements at a time), the indices pass 2
// finds (and the bucket numbers `sparse` takes), the per-block results, the counts `sparse` takes,
// the read slots, the keep area, and the four 16-bit pattern tables of `count16` (one pass at a time).
import { instantiateEmbedded } from '../linalg/embeddedWasm';
import { STATS_KERNELS_WASM_BASE64 } from './statsKernelsWasm';

/** Elements copied in and processed per kernel call (a whole number of 4096-element blocks). */
export const SUB = 1 << 18;
const TOP = 0;
const MARKS = 4 << 20;
const DATA = 5 << 20;
const INDEX = 6 << 20;
const OUT = 7 << 20;
/** Pass 2's histogram in the kernel: its edges (float64) and counts (int32), for up to MAX_KERNEL_BINS bins. */
const EDGES = OUT + (64 << 10);
const BIN_COUNTS = OUT + (512 << 10);
export const MAX_KERNEL_BINS = 1 << 15;
const COUNTS = 8 << 20;
const SLOTS = 9 << 20;
/** Bytes of one read slot (the stats reader's chunk). */
export const SLOT_BYTES = 8 << 20;
/** Read slots: two chunks in flight for each of two tensors read at once on one thread. */
const SLOT_COUNT = 4;
const KEEP = SLOTS + SLOT_COUNT * SLOT_BYTES;
/** Bytes of the keep area: a two-pass tensor up to this size is read once, into it. */
export const KEEP_AREA_BYTES = 64 << 20;
/** The four tables of count16: 65,536 int32 each. */
const TABLE16 = KEEP + KEEP_AREA_BYTES;
/** float64 per block in the results. */
export const OUT_STRIDE = 8;

type BlocksKernel = (data: number, nblocks: number, top: number, count: number, out: number, shift: number) => void;
type MarkedKernel = (
  data: number,
  n: number,
  marks: number,
  idx: number,
  shift: number,
  edges: number,
  bin: number,
  bins: number,
  lo: number,
  hi: number,
  scale: number,
) => number;

/** How pass 2's kernel bins values (HistogramBuilder.linearRule, the edges in `StatsKernels.edges`). */
export interface KernelBinning {
  readonly bins: number;
  readonly lo: number;
  readonly hi: number;
  readonly scale: number;
}

/**
 * `blocks` and `marked` take the bucket shift as a parameter; `blocks_12`, `marked_15` and so on are
 * the same kernels compiled with the shift as a constant (scripts/build-kernels.mjs, STATS_SHIFTS),
 * which is faster: the loader takes them where they exist.
 */
interface Exports {
  readonly memory: WebAssembly.Memory;
  readonly blocks: BlocksKernel;
  readonly marked: MarkedKernel;
  sparse(top: number, from: number, to: number, idx: number, cnt: number): number;
  count16(data: number, n: number, t: number): void;
  readonly [specialized: `${'blocks' | 'marked'}_${number}`]: BlocksKernel | MarkedKernel | undefined;
}

/** The kernel `name` compiled for `shift`, else the one that takes any shift. */
function forShift<K extends 'blocks' | 'marked'>(e: Exports, name: K, shift: number): Exports[K] {
  return (e[`${name}_${shift}`] as Exports[K] | undefined) ?? e[name];
}

export interface StatsKernels {
  /** Bucket counts: 2^20 int32 (2^(32 - shift) of them in use). */
  readonly top: Int32Array;
  /** Pass 2 marks: 2^20 bytes by bucket (at the shift of the call): bit 0, bin its values; bit 1, report them. */
  readonly marks: Uint8Array;
  /** The edges `marked` bins by (MAX_KERNEL_BINS + 1 float64). */
  readonly edges: Float64Array;
  /** The counts `marked` adds to (MAX_KERNEL_BINS int32), by bin: the caller takes them and leaves them zero. */
  readonly binCounts: Int32Array;
  /** Where data goes before a call: SUB float32. */
  readonly data: Float32Array;
  /** Per block: sum (x - c), sum (x - c)^2, sum |x|, min, max, zeros (OUT_STRIDE float64 each). */
  readonly out: Float64Array;
  /** Indices found by marked(); bucket numbers taken by sparse(). */
  readonly index: Int32Array;
  /** Counts taken by sparse(): SUB int32. */
  readonly counts: Int32Array;
  /** Views of the read slots (SLOT_BYTES each), for the reader to fill. */
  readonly slots: readonly Uint8Array[];
  /** The keep area (KEEP_AREA_BYTES), for the reader to fill with a tensor read once for both passes. */
  readonly keep: Uint8Array;
  /** The address of `values` in this memory (a read slot), or -1 when they are elsewhere (copy them into `data`). */
  addressOf(values: ArrayBufferView): number;
  /**
   * The fast road of blockF32 over `nblocks` whole blocks at address `at` (default: `data`),
   * counting buckets (bits >>> shift, shift >= 12) in `top` if `count`.
   */
  blocks(nblocks: number, count: boolean, shift: number, at?: number): void;
  /**
   * Pass 2 over the `n` values at address `at` (default: `data`), by their bucket's mark (bits >>>
   * shift): with bit 0, binned into `binCounts` by `binning` (and `edges`); with bit 1, their
   * positions written to `index`: how many.
   */
  marked(n: number, shift: number, at?: number, binning?: KernelBinning): number;
  /**
   * The non-zero counts of top[from, to) (at most SUB buckets, multiples of 4), ascending: bucket
   * numbers into `index`, counts into `counts`, the table there left zero; how many.
   */
  sparse(from: number, to: number): number;
  /** count16's four tables (4 x 65,536 int32): element k of a call goes to table k mod 4. */
  readonly table16: Int32Array;
  /**
   * Counts the 16-bit patterns of `n` elements (a multiple of 4) at address `at` (default: `data`,
   * where up to 2 SUB of them fit) into `table16`.
   */
  count16(n: number, at?: number): void;
}

/**
 * Milliseconds this thread has spent inside each kernel since it loaded: the stats bench's account of
 * where one thread's time goes (two clock reads per call of about a million elements: nothing to see).
 */
export const kernelMilliseconds = { blocks: 0, marked: 0, count16: 0 };

/** `run`, its time added to kernelMilliseconds[name]. */
function clocked<T>(name: keyof typeof kernelMilliseconds, run: () => T): T {
  const t0 = performance.now();
  try {
    return run();
  } finally {
    kernelMilliseconds[name] += performance.now() - t0;
  }
}

let loaded: StatsKernels | null | undefined;
let enabled = true;

function load(): StatsKernels | null {
  const e = instantiateEmbedded<Exports>(STATS_KERNELS_WASM_BASE64);
  if (!e) return null;
  const buffer = e.memory.buffer;
  return {
    top: new Int32Array(buffer, TOP, 1 << 20),
    marks: new Uint8Array(buffer, MARKS, 1 << 20),
    data: new Float32Array(buffer, DATA, SUB),
    edges: new Float64Array(buffer, EDGES, MAX_KERNEL_BINS + 1),
    binCounts: new Int32Array(buffer, BIN_COUNTS, MAX_KERNEL_BINS),
    out: new Float64Array(buffer, OUT, (SUB / 4096) * OUT_STRIDE),
    index: new Int32Array(buffer, INDEX, SUB),
    counts: new Int32Array(buffer, COUNTS, SUB),
    slots: Array.from({ length: SLOT_COUNT }, (_, i) => new Uint8Array(buffer, SLOTS + i * SLOT_BYTES, SLOT_BYTES)),
    keep: new Uint8Array(buffer, KEEP, KEEP_AREA_BYTES),
    addressOf: (values) => (values.buffer === buffer ? values.byteOffset : -1),
    blocks: (nblocks, count, shift, at = DATA) =>
      clocked('blocks', () => forShift(e, 'blocks', shift)(at, nblocks, TOP, count ? 1 : 0, OUT, shift)),
    marked: (n, shift, at = DATA, b) =>
      clocked('marked', () =>
        forShift(e, 'marked', shift)(at, n, MARKS, INDEX, shift, EDGES, BIN_COUNTS, b?.bins ?? 0, b?.lo ?? 0, b?.hi ?? 0, b?.scale ?? 0),
      ),
    sparse: (from, to) => e.sparse(TOP, from, to, INDEX, COUNTS),
    table16: new Int32Array(buffer, TABLE16, 4 * 65536),
    count16: (n, at = DATA) => clocked('count16', () => e.count16(at, n, TABLE16)),
  };
}

/** The kernels, or null (no WebAssembly SIMD here, or switched off for a comparison). */
export function statsKernels(): StatsKernels | null {
  if (!enabled) return null;
  if (loaded === undefined) loaded = load();
  return loaded;
}

/** Tests and benches: compare the JavaScript loops with the kernels (set before a pass starts). */
export function setStatsKernelsEnabled(on: boolean): void {
  enabled = on;
}
