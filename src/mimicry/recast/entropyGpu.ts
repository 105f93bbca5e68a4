// Template entropy on TensorFlow.js engines (entropy.ts has the routes and the float32 check): which
// engine a run's Gram products go to, and the webgpu backend's asynchronous route. Apart from
// entropy.ts so the entropy pool's workers, which run the float64 route only, do not load the backends.
import * as tf from '@tensorflow/tfjs-core';
import {
  bankMean,
  bankShape,
  entropyFloat64,
  finish,
  gramTensor,
  NOT_FINITE,
  prepare,
  result,
  type BankEntropy,
  type RoutedEntropy,
} from './entropy';
import { fitsDevice, loadTf, readBack, type Tf } from './tfjs';
import type { Backend } from './types';

/**
 * The TensorFlow.js engine for Gram products, or null for the float64 route. Only tfjs-node (native
 * BLAS, several times the float64 SIMD kernel) is worth a float32 Gram and its check; with wasm
 * active (XNNPACK's float32 product is no faster than the float64 SIMD kernel once the copies and
 * the check are counted: measured 1.6 to 3x slower per ViT-S template), cpu, or nothing active,
 * the exact float64 route is taken, and no backend is started for it.
 */
export async function gramEngine(backend: Backend): Promise<Tf | null> {
  if (backend === 'cpu') return null;
  // The GPU asked for: the Gram products go to it (asynchronous read-back: bankEntropyOnGpu). When it
  // cannot start, loadTf has said why in one line and the float64 route is taken.
  if (backend === 'webgpu') return (await loadTf('webgpu')).name === 'webgpu' ? tf : null;
  const active = tf.engine().backendName as string | null;
  return active === 'tensorflow' || active === 'webgpu' ? tf : null;
}

/** Whether `engine` is TensorFlow.js on the webgpu backend (read-back must be asynchronous there). */
export function onGpu(engine: Tf | null): boolean {
  return engine !== null && engine.getBackend() === 'webgpu';
}

/**
 * entropyOnEngine on the webgpu backend, whose read-back is asynchronous only (readBack: a lost
 * device fails the run). A template whose Gram product does not fit the device's buffers takes the
 * float64 route instead.
 */
export async function entropyOnGpu(engine: Tf, template: Float32Array, rows: number, cols: number): Promise<RoutedEntropy> {
  const p = prepare(template, rows, cols);
  if (!p) return NOT_FINITE(Math.min(rows, cols));
  if (p.diag.every((d) => d === 0)) return { ...result(0, p.n), route: 'float32' };
  if (!fitsDevice('webgpu', template.length * 4)) return { ...entropyFloat64(template, rows, cols), route: 'float64-fallback' };
  const scaled = gramTensor(engine, p, rows, cols);
  let g32: Float32Array;
  try {
    g32 = await readBack(scaled);
  } finally {
    scaled.dispose();
  }
  return finish(p, g32, template, rows, cols);
}

/**
 * bankEntropy on the webgpu backend: each template's Gram on the GPU, read back asynchronously, with
 * the same float32 check and float64 fallback. The signal is checked between templates.
 */
export async function bankEntropyOnGpu(
  templates: Float32Array,
  n: number,
  shape: readonly number[],
  engine: Tf,
  signal?: AbortSignal,
  onTemplate?: (done: number) => void,
): Promise<BankEntropy> {
  const { size, rows, cols, square } = bankShape(templates, n, shape);
  const out: RoutedEntropy[] = [];
  // Copied: the caller's buffer is scratch that the next bank reuses while this one waits on the GPU.
  const own = templates.slice();
  for (let t = 0; t < n; t++) {
    signal?.throwIfAborted();
    const T = own.subarray(t * size, (t + 1) * size);
    // Near-square templates go to float64 as on the other engines (bankEntropy says why).
    out.push(square ? { ...entropyFloat64(T, rows, cols), route: 'float64' } : await entropyOnGpu(engine, T, rows, cols));
    onTemplate?.(t + 1);
  }
  return bankMean(out);
}
