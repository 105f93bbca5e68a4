// The inspector's spectra on the GPU (`backend: 'webgpu'`, spectrum.ts): the Gram of the smaller
// side as float32 on the GPU (recast/entropyGpu.ts gramOnGpu, tiled over the device's buffer
// limit), then the float32 check of template entropy (recast/entropy.ts checkFloat32Gram: exact
// float64 diagonal, +-delta eigenvalue shift) and, when it rejects the product, the float64 route.
// The eigenvalues stay on the CPU in float64 either way.
//
// Accuracy of an accepted spectrum: each eigenvalue within about delta (the check's shift, the
// size of the float32 error matrix's norm), so s_i within delta / (2 s_i) and never more than
// sqrt(delta); eigenvalues under delta are not resolved and give 0 (float64: under n eps lambda_1).
// The metrics built on sums (entropy, effective and stable rank) are within the check's 3e-4 in H.
import type { DecodedValues } from '../safetensors/types';
import { checkFloat32Gram, nearSquare, prepare } from '../recast/entropy';
import { gramEngine, gramOnGpu, onGpu } from '../recast/entropyGpu';
import { gpuBufferLimit, readBack } from '../recast/tfjs';
import { gramOfMatrix, streamGram } from './gram';
import { spectrumFromEigenvalues, spectrumFromGram, type ComputeSpectrumOptions, type SpectrumOutcome } from './spectrum';

/** Which route made a spectrum (tests and diagnostics; the spectrum itself does not say). */
export type SpectrumRoute = 'float64' | 'float32-gpu' | 'float64-fallback';

/**
 * Smallest min(rows, cols) whose Gram goes to the GPU: below it the float64 SIMD kernel takes
 * milliseconds, less than the upload and the check.
 */
export const SPECTRUM_GPU_MIN_SIDE = 256;

/** Largest matrix (elements) the GPU route reads whole into memory as float32 (512 MiB); larger ones stream in float64. */
export const SPECTRUM_GPU_MAX_ELEMENTS = 2 ** 27;

/** float32-valued dtypes only: F64 and integer weights would lose bits on the way to the GPU. */
const GPU_DTYPES = new Set(['F32', 'F16', 'BF16']);

/**
 * Whether a `dtype` rows x cols matrix goes to the GPU: smaller side at least SPECTRUM_GPU_MIN_SIDE,
 * at most SPECTRUM_GPU_MAX_ELEMENTS elements, a float32-valued dtype, and not near-square (longer
 * side under twice the shorter: its smallest singular values lie near zero, where the check
 * rejects a float32 Gram, as for template entropy).
 */
export function spectrumGoesToGpu(dtype: string, rows: number, cols: number): boolean {
  return (
    GPU_DTYPES.has(dtype) &&
    Math.min(rows, cols) >= SPECTRUM_GPU_MIN_SIDE &&
    rows * cols <= SPECTRUM_GPU_MAX_ELEMENTS &&
    !nearSquare(rows, cols)
  );
}

/**
 * The spectrum of a rows x cols matrix read through `chunks()` (once), its Gram on the webgpu
 * backend with the float32 check; the float64 route when the GPU cannot start (loadTf said why),
 * the values are not finite, the Gram alone exceeds the device's buffer limit, or the check rejects it.
 */
export async function spectrumOnGpu(
  chunks: () => AsyncIterable<DecodedValues>,
  rows: number,
  cols: number,
  opts: ComputeSpectrumOptions = {},
): Promise<{ outcome: SpectrumOutcome; route: SpectrumRoute }> {
  const { signal, onProgress } = opts;
  const engine = await gramEngine('webgpu');
  if (!engine || !onGpu(engine))
    return { outcome: spectrumFromGram(await streamGram(chunks, rows, cols, opts), rows, cols), route: 'float64' };
  const total = rows * cols;
  const values = new Float32Array(total);
  let seen = 0;
  signal?.throwIfAborted();
  for await (const chunk of chunks()) {
    signal?.throwIfAborted();
    if (seen + chunk.length > total) throw new Error(`tensor chunks yielded more than ${total} elements`);
    values.set(chunk, seen);
    seen += chunk.length;
    onProgress?.(seen);
  }
  if (seen !== total) throw new Error(`tensor chunks yielded ${seen} elements, expected ${total}`);
  const float64 = (route: SpectrumRoute) => ({ outcome: spectrumFromGram(gramOfMatrix(values, rows, cols), rows, cols), route });
  const p = prepare(values, rows, cols);
  // NaN or Inf: the float64 route stops at the first one and says so.
  if (!p) return float64('float64');
  const n = p.n;
  if (p.diag.every((d) => d === 0))
    return { outcome: spectrumFromEigenvalues(new Float64Array(n), 0, 0, rows, cols), route: 'float32-gpu' };
  const tiled = gramOnGpu(engine, p, rows, cols, gpuBufferLimit('webgpu'));
  if (!tiled) return float64('float64-fallback');
  let g32: Float32Array;
  try {
    g32 = await readBack(tiled.gram);
  } finally {
    tiled.gram.dispose();
  }
  signal?.throwIfAborted();
  const checked = checkFloat32Gram(p, g32);
  if (!checked.accepted) return float64('float64-fallback');
  // Back to the values' own units: the check ran on the values scaled by a power of two.
  const s2 = p.scale * p.scale;
  const lambda = checked.eigenvalues.map((l) => l / s2);
  const floor = Math.max(Math.max(lambda[0], 0) * n * Number.EPSILON, checked.delta / s2);
  return { outcome: spectrumFromEigenvalues(lambda, checked.trace / s2, floor, rows, cols), route: 'float32-gpu' };
}
