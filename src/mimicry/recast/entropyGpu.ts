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
  type Prepared,
  type RoutedEntropy,
} from './entropy';
import { gpuBufferLimit, loadTf, readBack, type Tf } from './tfjs';
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
 * Most lines along the longer side in one panel, whatever the buffer limit: tfjs' transpose
 * dispatches one workgroup per 16 x 16 tile, and a device allows 65,535 per dimension (a [6, 2^20]
 * panel failed with "Dispatch size exceeds WebGPU limits").
 */
export const MAX_PANEL_LINES = 2 ** 19;

/**
 * What gramOnGpu multiplies: a template as `prepare` gives it (x32 row-major, already scaled), or
 * the separate rows of a wide matrix (a group's members, recast/groupGramGpu.ts), scaled by `scale` as
 * they are copied into panels.
 */
export type GramInput = Pick<Prepared, 'n' | 'tall'> & { readonly x32: Float32Array | readonly Float32Array[]; readonly scale?: number };

/**
 * The float32 Gram of a matrix's smaller side on the GPU, within `limit` bytes per tensor: when
 * the matrix is larger, a sum of the Grams of panels along its longer side (columns of a wide
 * matrix, rows of a tall one), each its own tensor, accumulated on the GPU. The Gram [n, n] is
 * the indivisible unit (it also bounds a panel from below: one of n lines fits when it does); null
 * when it exceeds `limit`. The caller reads the Gram back and disposes it. The one GPU Gram of the
 * engine: template entropy, the inspector's spectra and the closed form's group Grams use it.
 */
export function gramOnGpu(
  engine: Tf,
  p: GramInput,
  rows: number,
  cols: number,
  limit: number,
): { gram: ReturnType<Tf['matMul']>; panels: number } | null {
  const { n, tall, x32 } = p;
  if (n * n * 4 > limit) return null;
  const long = tall ? rows : cols;
  const whole = rows * cols * 4 <= limit && long <= MAX_PANEL_LINES;
  if (whole && x32 instanceof Float32Array) return { gram: gramTensor(engine, { ...p, x32 }, rows, cols), panels: 1 };
  if (!(x32 instanceof Float32Array) && (tall || x32.length !== n)) throw new Error('gramOnGpu: separate rows are those of a wide matrix');
  const panels = whole ? 1 : Math.max(Math.ceil(long / Math.floor(limit / (4 * n))), Math.ceil(long / MAX_PANEL_LINES));
  const width = Math.ceil(long / panels);
  const scale = p.scale ?? 1;
  let gram: ReturnType<Tf['matMul']> | null = null;
  try {
    for (let start = 0; start < long; start += width) {
      const w = Math.min(width, long - start);
      let panel: Float32Array;
      if (tall && x32 instanceof Float32Array) panel = x32.slice(start * cols, (start + w) * cols);
      else {
        panel = new Float32Array(n * w);
        for (let r = 0; r < n; r++) {
          const line =
            x32 instanceof Float32Array ? x32.subarray(r * cols + start, r * cols + start + w) : x32[r].subarray(start, start + w);
          if (scale === 1) panel.set(line, r * w);
          else for (let i = 0; i < w; i++) panel[r * w + i] = line[i] * scale;
        }
      }
      const sum: ReturnType<Tf['matMul']> | null = gram;
      gram = engine.tidy(() => {
        const x = tall ? engine.tensor2d(panel, [w, n]) : engine.tensor2d(panel, [n, w]);
        const g = tall ? engine.matMul(engine.transpose(x), x) : engine.matMul(x, engine.transpose(x));
        return sum ? engine.add(sum, g) : g;
      });
      sum?.dispose();
    }
  } catch (e) {
    gram?.dispose();
    throw e;
  }
  if (!gram) throw new Error('unreachable: a matrix has at least one panel');
  return { gram, panels };
}

/**
 * entropyOnEngine on the webgpu backend, whose read-back is asynchronous only (readBack: a lost
 * device fails the run). A template larger than the device's buffers is tiled (gramOnGpu); one
 * whose Gram alone does not fit takes the float64 route instead.
 */
export async function entropyOnGpu(engine: Tf, template: Float32Array, rows: number, cols: number): Promise<RoutedEntropy> {
  const p = prepare(template, rows, cols);
  if (!p) return NOT_FINITE(Math.min(rows, cols));
  if (p.diag.every((d) => d === 0)) return { ...result(0, p.n), route: 'float32' };
  const tiled = gramOnGpu(engine, p, rows, cols, gpuBufferLimit('webgpu'));
  if (!tiled) return { ...entropyFloat64(template, rows, cols), route: 'float64-fallback' };
  let g32: Float32Array;
  try {
    g32 = await readBack(tiled.gram);
  } finally {
    tiled.gram.dispose();
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
