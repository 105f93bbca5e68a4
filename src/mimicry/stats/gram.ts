// Gram matrix of the smaller side of a row-major rows x cols matrix W, accumulated in float64
// from chunks of its values, holding only the n x n Gram plus one bounded panel:
// - tall (rows > cols):  G = W^T W (cols x cols), one pass; a panel holds a block of rows,
//   stored transposed so every dot product runs over contiguous memory.
// - wide (rows <= cols): G = W W^T (rows x rows); a panel holds a block of columns of every row,
//   so the values are read once per column block (one pass unless rows x cols > panelElements).

import type { DecodedValues } from '../safetensors/types';
import { arena, kernels } from '../linalg/kernels';

/** Default panel size in elements (8 MB of float64). */
export const DEFAULT_PANEL_ELEMENTS = 1 << 20;

export interface GramPlan {
  readonly rows: number;
  readonly cols: number;
  /** Side of the Gram matrix: min(rows, cols). */
  readonly n: number;
  readonly tall: boolean;
  /** Rows (tall) or columns (wide) per panel. */
  readonly panelWidth: number;
  /** Reads of the values needed: 1 for tall matrices, ceil(cols / panelWidth) for wide ones. */
  readonly passes: number;
}

export interface GramResult {
  /** n x n, row-major, symmetric. */
  readonly gram: Float64Array;
  readonly n: number;
  /**
   * The Gram is meaningless: a NaN or Inf was seen in the values (accumulation stopped early), or
   * finite values too large for float64 made it overflow (see `overflow`).
   */
  readonly nonFinite: boolean;
  /** The values were finite but their products or sums overflowed float64 (|x| over ~1e154). */
  readonly overflow: boolean;
}

export function planGram(rows: number, cols: number, panelElements = DEFAULT_PANEL_ELEMENTS): GramPlan {
  const tall = rows > cols;
  const n = tall ? cols : rows;
  const other = tall ? rows : cols;
  const panelWidth = Math.max(1, Math.min(other, Math.floor(panelElements / Math.max(1, n))));
  return { rows, cols, n, tall, panelWidth, passes: tall ? 1 : Math.ceil(other / panelWidth) };
}

/**
 * G[i][j] += <P_i, P_j> over the first `used` entries of each panel row, for j >= i (the upper
 * triangle; mirrorUpper fills the rest). Tiles of 2 rows x 4 columns: each step loads 6 values
 * for 8 products, against 5 for 4 with single rows. Tiles on the diagonal also add the (i+1, i)
 * product into the lower triangle, which mirrorUpper overwrites. Every entry is still one
 * accumulator summed in t order, so the result does not depend on the tiling.
 */
function accumulate(gram: Float64Array, panel: Float64Array, n: number, width: number, used: number): void {
  const k = n >= MIN_KERNEL_SIDE ? kernels() : null;
  if (!k) {
    accumulateJs(gram, panel, n, width, used);
    return;
  }
  // The SIMD kernel (linalg/kernels.wat, same tiling, two partial sums per entry): ~2x the loop
  // below. Copying the panel in costs one pass over it against n / 2 multiply-adds per value.
  const [p, g] = arena(k, [n * width, n * n]);
  p.set(panel.subarray(0, n * width));
  g.set(gram);
  k.syrk(p.byteOffset, g.byteOffset, n, width, used);
  gram.set(g);
}

/** Below this side the copies into the kernel's memory cost more than its speed saves. */
const MIN_KERNEL_SIDE = 16;

function accumulateJs(gram: Float64Array, panel: Float64Array, n: number, width: number, used: number): void {
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const oa = i * width;
    const ob = oa + width;
    const ga = i * n;
    const gb = ga + n;
    let j = i;
    for (; j + 3 < n; j += 4) {
      const o0 = j * width;
      const o1 = o0 + width;
      const o2 = o1 + width;
      const o3 = o2 + width;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      let b0 = 0;
      let b1 = 0;
      let b2 = 0;
      let b3 = 0;
      for (let t = 0; t < used; t++) {
        const x = panel[oa + t];
        const y = panel[ob + t];
        const p0 = panel[o0 + t];
        const p1 = panel[o1 + t];
        const p2 = panel[o2 + t];
        const p3 = panel[o3 + t];
        a0 += x * p0;
        a1 += x * p1;
        a2 += x * p2;
        a3 += x * p3;
        b0 += y * p0;
        b1 += y * p1;
        b2 += y * p2;
        b3 += y * p3;
      }
      gram[ga + j] += a0;
      gram[ga + j + 1] += a1;
      gram[ga + j + 2] += a2;
      gram[ga + j + 3] += a3;
      gram[gb + j] += b0;
      gram[gb + j + 1] += b1;
      gram[gb + j + 2] += b2;
      gram[gb + j + 3] += b3;
    }
    for (; j < n; j++) {
      const oj = j * width;
      let a0 = 0;
      let b0 = 0;
      for (let t = 0; t < used; t++) {
        const p = panel[oj + t];
        a0 += panel[oa + t] * p;
        b0 += panel[ob + t] * p;
      }
      gram[ga + j] += a0;
      gram[gb + j] += b0;
    }
  }
  if (i < n) {
    // Odd n: the last row has only its diagonal entry left.
    const oi = i * width;
    let s0 = 0;
    for (let t = 0; t < used; t++) s0 += panel[oi + t] * panel[oi + t];
    gram[i * n + i] += s0;
  }
}

/** Copies the upper triangle into the lower one; false when an entry overflowed (is not finite). */
function mirrorUpper(gram: Float64Array, n: number): boolean {
  let finite = true;
  for (let i = 0; i < n; i++) {
    const d = gram[i * n + i];
    if (d - d !== 0) finite = false;
    for (let j = i + 1; j < n; j++) {
      const v = gram[i * n + j];
      if (v - v !== 0) finite = false;
      gram[j * n + i] = v;
    }
  }
  return finite;
}

function finished(gram: Float64Array, n: number): GramResult {
  const overflow = !mirrorUpper(gram, n);
  return { gram, n, nonFinite: overflow, overflow };
}

/** Consumes the values of one read, in order; `finish` flushes what is left in the panel. */
interface PassConsumer {
  push(chunk: ArrayLike<number>): void;
  finish(): void;
  readonly nonFinite: boolean;
}

/** Tall W: panels of `width` consecutive rows, stored transposed (panel[c * width + r]). */
function tallPass(plan: GramPlan, gram: Float64Array): PassConsumer {
  const { cols, n, panelWidth: width } = plan;
  const panel = new Float64Array(n * width);
  let pos = 0;
  let panelRow = 0;
  let nonFinite = false;
  return {
    get nonFinite() {
      return nonFinite;
    },
    push(chunk) {
      const len = chunk.length;
      let k = 0;
      while (k < len) {
        const c = pos % cols;
        const take = Math.min(cols - c, len - k);
        for (let t = 0; t < take; t++) {
          const v = chunk[k + t];
          if (v - v !== 0) nonFinite = true;
          panel[(c + t) * width + panelRow] = v;
        }
        k += take;
        pos += take;
        if (c + take === cols && ++panelRow === width) {
          accumulate(gram, panel, n, width, width);
          panelRow = 0;
        }
      }
    },
    finish() {
      if (panelRow > 0) accumulate(gram, panel, n, width, panelRow);
      panelRow = 0;
    },
  };
}

/** Wide W, one column block [c0, c0 + width): panel[r * width + (c - c0)]. */
function widePass(plan: GramPlan, gram: Float64Array, block: number): PassConsumer {
  const { cols, n } = plan;
  const width = plan.panelWidth;
  const c0 = block * width;
  const c1 = Math.min(cols, c0 + width);
  const panel = new Float64Array(n * width);
  let pos = 0;
  let nonFinite = false;
  return {
    get nonFinite() {
      return nonFinite;
    },
    push(chunk) {
      const len = chunk.length;
      let k = 0;
      while (k < len) {
        const r = Math.floor(pos / cols);
        const c = pos - r * cols;
        const take = Math.min(cols - c, len - k);
        const from = Math.max(c, c0);
        const to = Math.min(c + take, c1);
        const base = r * width - c0;
        for (let cc = from; cc < to; cc++) {
          const v = chunk[k + cc - c];
          if (v - v !== 0) nonFinite = true;
          panel[base + cc] = v;
        }
        k += take;
        pos += take;
      }
    },
    finish() {
      accumulate(gram, panel, n, width, c1 - c0);
    },
  };
}

function startPass(plan: GramPlan, gram: Float64Array, pass: number): PassConsumer {
  return plan.tall ? tallPass(plan, gram) : widePass(plan, gram, pass);
}

/** Largest matrix (elements) the in-memory route copies whole into the SIMD kernel's memory (64 MB of float64). */
const WHOLE_MATRIX_ELEMENTS = 1 << 23;

/**
 * The in-memory matrix as one panel in the kernel's memory (W itself when wide, W^T when tall), and
 * one kernel call: no panel of its own, no per-element bookkeeping. Null when that does not apply.
 */
function gramWhole(values: ArrayLike<number>, rows: number, cols: number): GramResult | null {
  const tall = rows > cols;
  const n = tall ? cols : rows;
  const width = tall ? rows : cols;
  const k = n >= MIN_KERNEL_SIDE && rows * cols <= WHOLE_MATRIX_ELEMENTS ? kernels() : null;
  if (!k) return null;
  const [p, g] = arena(k, [n * width, n * n]);
  if (!tall && (values instanceof Float32Array || values instanceof Float64Array)) p.set(values);
  else if (values instanceof Float32Array) transposeF32(values, p, rows, cols);
  else for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) p[tall ? c * rows + r : r * cols + c] = values[r * cols + c];
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (v - v !== 0) return { gram: new Float64Array(n * n), n, nonFinite: true, overflow: false };
  }
  g.fill(0);
  k.syrk(p.byteOffset, g.byteOffset, n, width, width);
  return finished(Float64Array.from(g), n);
}

/** out[c * rows + r] = values[r * cols + c], in tiles of 32 x 32 so both sides stay in cache. */
function transposeF32(values: Float32Array, out: Float64Array, rows: number, cols: number): void {
  for (let r0 = 0; r0 < rows; r0 += 32) {
    const r1 = Math.min(rows, r0 + 32);
    for (let c0 = 0; c0 < cols; c0 += 32) {
      const c1 = Math.min(cols, c0 + 32);
      for (let r = r0; r < r1; r++) {
        const o = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = values[o + c];
      }
    }
  }
}

/** Gram of the smaller side of an in-memory row-major matrix. */
export function gramOfMatrix(values: ArrayLike<number>, rows: number, cols: number, panelElements = DEFAULT_PANEL_ELEMENTS): GramResult {
  if (values.length !== rows * cols) throw new RangeError(`expected ${rows} x ${cols} = ${rows * cols} values, got ${values.length}`);
  // The panel size bounds memory for streamed values; these are in memory already.
  if (panelElements === DEFAULT_PANEL_ELEMENTS) {
    const whole = gramWhole(values, rows, cols);
    if (whole) return whole;
  }
  const plan = planGram(rows, cols, panelElements);
  const gram = new Float64Array(plan.n * plan.n);
  for (let pass = 0; pass < plan.passes; pass++) {
    const consumer = startPass(plan, gram, pass);
    consumer.push(values);
    if (consumer.nonFinite) return { gram, n: plan.n, nonFinite: true, overflow: false };
    consumer.finish();
  }
  return finished(gram, plan.n);
}

export interface StreamGramOptions {
  panelElements?: number;
  signal?: AbortSignal;
  /** Elements of W done so far (0 .. rows * cols), whatever the number of passes. */
  onProgress?: (doneElements: number) => void;
}

/** Gram of the smaller side, reading the values through `chunks()` (called once per pass). */
export async function streamGram(
  chunks: () => AsyncIterable<DecodedValues>,
  rows: number,
  cols: number,
  opts: StreamGramOptions = {},
): Promise<GramResult> {
  const { signal, onProgress } = opts;
  const plan = planGram(rows, cols, opts.panelElements);
  const gram = new Float64Array(plan.n * plan.n);
  const total = rows * cols;
  let visited = 0;
  signal?.throwIfAborted();
  for (let pass = 0; pass < plan.passes; pass++) {
    const consumer = startPass(plan, gram, pass);
    let seen = 0;
    for await (const chunk of chunks()) {
      signal?.throwIfAborted();
      if (seen + chunk.length > total) throw new Error(`tensor chunks yielded more than ${total} elements`);
      consumer.push(chunk);
      if (consumer.nonFinite) return { gram, n: plan.n, nonFinite: true, overflow: false };
      seen += chunk.length;
      visited += chunk.length;
      onProgress?.(Math.floor(visited / plan.passes));
    }
    signal?.throwIfAborted();
    if (seen !== total) throw new Error(`tensor chunks yielded ${seen} elements, expected ${total}`);
    consumer.finish();
  }
  return finished(gram, plan.n);
}
