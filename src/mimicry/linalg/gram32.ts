// The float32 Gram of the smaller side of a float32 matrix, on the SIMD kernel (kernels.wat syrk32),
// for the template entropy's float32 route (recast/entropy.ts), which checks every result and
// redoes a rejected one in float64. The matrix is copied into the kernel's memory in blocks of
// GRAM32_BLOCK values per row; products and sums are float32 within a block, the blocks' sums
// float64: the error is that of a 256-value float32 sum (relative to |P_i| |P_j|, measured ~5e-8)
// whatever the matrix's size, so the check rejects only what a float32 Gram cannot resolve. About
// 2.7x the float64 kernel's speed (four lanes instead of two, and fixed offsets between rows).
import { arena, kernels } from './kernels';

/** Values summed in float32 before a block's sum goes into the float64 Gram (fixed in the kernel). */
export const GRAM32_BLOCK = 256;
/** Largest matrix (elements) copied into the kernel's memory (64 MB of float32). */
const MAX_ELEMENTS = 1 << 24;

/**
 * G = X X^T (rows <= cols) or X^T X, n x n with n = min(rows, cols), row-major and symmetric; null
 * without the SIMD kernels or over MAX_ELEMENTS (the caller takes the float64 route).
 */
export function gramFloat32(x: Float32Array, rows: number, cols: number): Float64Array | null {
  if (x.length !== rows * cols) throw new RangeError(`expected ${rows} x ${cols} = ${rows * cols} values, got ${x.length}`);
  const k = rows * cols <= MAX_ELEMENTS ? kernels() : null;
  if (!k) return null;
  const tall = rows > cols;
  const n = tall ? cols : rows;
  const width = tall ? rows : cols;
  const blocks = Math.ceil(width / GRAM32_BLOCK);
  const [panel64, g] = arena(k, [(blocks * n * GRAM32_BLOCK) / 2, n * n]);
  const p = new Float32Array(panel64.buffer, panel64.byteOffset, blocks * n * GRAM32_BLOCK);
  // The last block's rows are zero-padded to a multiple of 4 values (what the kernel reads).
  const last = width - (blocks - 1) * GRAM32_BLOCK;
  const padded = Math.ceil(last / 4) * 4;
  if (padded > last)
    for (let r = 0; r < n; r++) p.fill(0, ((blocks - 1) * n + r) * GRAM32_BLOCK + last, ((blocks - 1) * n + r) * GRAM32_BLOCK + padded);
  if (tall) transposeIntoBlocks(x, p, rows, cols);
  else
    for (let b = 0; b < blocks; b++) {
      const c0 = b * GRAM32_BLOCK;
      const len = Math.min(GRAM32_BLOCK, cols - c0);
      for (let r = 0; r < rows; r++) p.set(x.subarray(r * cols + c0, r * cols + c0 + len), (b * n + r) * GRAM32_BLOCK);
    }
  g.fill(0);
  k.syrk32(p.byteOffset, g.byteOffset, n, blocks * GRAM32_BLOCK - (GRAM32_BLOCK - padded));
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = i; j < n; j++) {
      const v = g[ri + j];
      out[ri + j] = v;
      out[j * n + i] = v;
    }
  }
  return out;
}

/**
 * X^T (cols rows of `rows` values) into the kernel's blocks: X's row r goes to position r % 256 of
 * block r / 256, column c to row c of each block. Four rows of X at a time (four consecutive values
 * written per column; 256 is a multiple of 4), 64 columns at a time.
 */
function transposeIntoBlocks(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  const n = cols;
  for (let c0 = 0; c0 < cols; c0 += 64) {
    const c1 = Math.min(cols, c0 + 64);
    let r = 0;
    for (; r + 3 < rows; r += 4) {
      const o0 = r * cols;
      const o1 = o0 + cols;
      const o2 = o1 + cols;
      const o3 = o2 + cols;
      const base = (r >> 8) * n * GRAM32_BLOCK + (r & (GRAM32_BLOCK - 1));
      for (let c = c0; c < c1; c++) {
        const d = base + c * GRAM32_BLOCK;
        out[d] = x[o0 + c];
        out[d + 1] = x[o1 + c];
        out[d + 2] = x[o2 + c];
        out[d + 3] = x[o3 + c];
      }
    }
    for (; r < rows; r++) {
      const base = (r >> 8) * n * GRAM32_BLOCK + (r & (GRAM32_BLOCK - 1));
      for (let c = c0; c < c1; c++) out[base + c * GRAM32_BLOCK] = x[r * cols + c];
    }
  }
}
