// Weighted sums of float32 rows, out_j[i] = float32(sum_l w(j, l) rows_l[i]), through the combine
// kernel (WebAssembly SIMD lanes over elements): each sum in float64 from 0, row by row in order,
// rounded once, so exactly the values of the plain JavaScript loop (writeTemplates, compose).
import { kernels, reserve } from './kernels';

/** Elements per row copied into the kernels' memory at a time (64 KiB each). */
const BLOCK = 16384;

/**
 * Writes every output j < `outputs` block by block through `write(j, values, at)` (values: elements
 * [at, at + values.length), a view valid until the next call). Answers false, writing nothing, when
 * the kernels are missing: the caller keeps its JavaScript loop.
 */
export function combineRows(
  rows: readonly Float32Array[],
  weight: (j: number, l: number) => number,
  outputs: number,
  write: (j: number, values: Float32Array, at: number) => void,
): boolean {
  const k = kernels();
  if (!k) return false;
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
  if (whole < len) {
    const tail = new Float32Array(len - whole);
    for (let j = 0; j < outputs; j++) {
      for (let i = whole; i < len; i++) {
        let s = 0;
        for (let l = 0; l < L; l++) s += weight(j, l) * rows[l][i];
        tail[i - whole] = s;
      }
      write(j, tail, whole);
    }
  }
  return true;
}
