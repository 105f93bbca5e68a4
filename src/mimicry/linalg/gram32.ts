// The float32 Gram of the smaller side of a float32 matrix, on the SIMD kernel (kernels.wat syrk32),
// for the template entropy's float32 route (recast/entropy.ts), which checks every result and
// redoes a rejected one in float64. Products and sums are float32 within blocks of GRAM32_BLOCK
// values, the blocks' sums float64: the error is that of a 256-value float32 sum (relative to
// |P_i| |P_j|, measured ~5e-8) whatever the matrix's size, so the check rejects only what a float32
// Gram cannot resolve. About twice the float64 kernel's speed (four lanes instead of two).
import { arena, kernels } from './kernels';

/** Values summed in float32 before a block's sum goes into the float64 Gram. */
export const GRAM32_BLOCK = 256;
/** Largest matrix (elements) copied into the kernel's memory (64 MB of float32). */
const MAX_ELEMENTS = 1 << 24;

/**
 * Row stride in the kernel's memory: the row rounded up to 4 values (zero-padded), and 16 more
 * when rows would start a multiple of 4 KiB apart (the six rows a tile reads would share cache sets:
 * ~8% slower at 3072 values).
 */
function strideOf(width: number): number {
  const s = Math.ceil(width / 4) * 4;
  return (s * 4) % 4096 === 0 ? s + 16 : s;
}

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
  const stride = strideOf(width);
  const [panel64, g] = arena(k, [Math.ceil((n * stride) / 2), n * n]);
  const p = new Float32Array(panel64.buffer, panel64.byteOffset, n * stride);
  if (tall) transposeInto(x, p, rows, cols, stride);
  else if (stride === cols) p.set(x);
  else for (let r = 0; r < rows; r++) p.set(x.subarray(r * cols, (r + 1) * cols), r * stride);
  if (stride > width) for (let r = 0; r < n; r++) p.fill(0, r * stride + width, (r + 1) * stride);
  g.fill(0);
  k.syrk32(p.byteOffset, g.byteOffset, n, stride, GRAM32_BLOCK);
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

/** out[c * stride + r] = x[r * cols + c]: four rows at a time (four consecutive values written per column), 64 columns at a time. */
function transposeInto(x: Float32Array, out: Float32Array, rows: number, cols: number, stride: number): void {
  for (let c0 = 0; c0 < cols; c0 += 64) {
    const c1 = Math.min(cols, c0 + 64);
    let r = 0;
    for (; r + 3 < rows; r += 4) {
      const o0 = r * cols;
      const o1 = o0 + cols;
      const o2 = o1 + cols;
      const o3 = o2 + cols;
      for (let c = c0; c < c1; c++) {
        const d = c * stride + r;
        out[d] = x[o0 + c];
        out[d + 1] = x[o1 + c];
        out[d + 2] = x[o2 + c];
        out[d + 3] = x[o3 + c];
      }
    }
    for (; r < rows; r++) for (let c = c0; c < c1; c++) out[c * stride + r] = x[r * cols + c];
  }
}
