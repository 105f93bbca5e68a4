// Weighted sums of rows, out_j[i] = float32(sum_l w(j, l) rows_l[i]): each sum in float64 from 0,
// row by row in order, rounded once (templates, docs/FORMAT.md's reconstruction rule). The combine
// kernel (WebAssembly SIMD lanes over elements) and the JavaScript loop give the same bits.
import { kernels, reserve, type Kernels } from './kernels';

/** Elements per row copied into the kernels' memory at a time (64 KiB each). */
const BLOCK = 16384;

/**
 * Writes every output j < `outputs` block by block through `write(j, values, at)` (values: elements
 * [at, at + values.length), a view valid until the next call): on the kernel when every row is
 * float32 and WebAssembly SIMD loads, else the same sums in a JavaScript loop (float64 rows too).
 */
export function combineRows(
  rows: readonly ArrayLike<number>[],
  weight: (j: number, l: number) => number,
  outputs: number,
  write: (j: number, values: Float32Array, at: number) => void,
): void {
  const k = kernels();
  if (k && rows.every((r) => r instanceof Float32Array)) onKernel(k, rows as readonly Float32Array[], weight, outputs, write);
  else inJavaScript(rows, weight, outputs, write);
}

function onKernel(
  k: Kernels,
  rows: readonly Float32Array[],
  weight: (j: number, l: number) => number,
  outputs: number,
  write: (j: number, values: Float32Array, at: number) => void,
): void {
  const L = rows.length;
  const len = rows[0]?.length ?? 0;
  const whole = len - (len % 4);
  const block = Math.max(4, Math.min(BLOCK, whole));
  const xBytes = L * block * 4;
  const buffer = reserve(k, xBytes + L * 8 + block * 4);
  const x = new Float32Array(buffer, 0, L * block);
  const w = new Float64Array(buffer, xBytes, L);
  const result = new Float32Array(buffer, xBytes + L * 8, block);
  for (let i0 = 0; i0 < whole; i0 += block) {
    const m = Math.min(block, whole - i0);
    for (let l = 0; l < L; l++) x.set(rows[l].subarray(i0, i0 + m), l * block);
    for (let j = 0; j < outputs; j++) {
      for (let l = 0; l < L; l++) w[l] = weight(j, l);
      k.combine(0, block, L, xBytes, xBytes + L * 8, m);
      write(j, result.subarray(0, m), i0);
    }
  }
  // The last len % 4 elements (the kernel takes four at a time).
  if (whole < len) inJavaScript(rows, weight, outputs, write, whole);
}

/** The same sums from element `from` on: a float64 accumulator per block, member by member, rounded once. */
function inJavaScript(
  rows: readonly ArrayLike<number>[],
  weight: (j: number, l: number) => number,
  outputs: number,
  write: (j: number, values: Float32Array, at: number) => void,
  from = 0,
): void {
  const L = rows.length;
  const len = rows[0]?.length ?? 0;
  const block = Math.max(1, Math.min(BLOCK, len - from));
  const acc = new Float64Array(block);
  const result = new Float32Array(block);
  for (let i0 = from; i0 < len; i0 += block) {
    const m = Math.min(block, len - i0);
    for (let j = 0; j < outputs; j++) {
      acc.fill(0, 0, m);
      for (let l = 0; l < L; l++) {
        const w = weight(j, l);
        const r = rows[l];
        for (let i = 0; i < m; i++) acc[i] += w * r[i0 + i];
      }
      for (let i = 0; i < m; i++) result[i] = acc[i];
      write(j, result.subarray(0, m), i0);
    }
  }
}
