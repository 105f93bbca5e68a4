// The closed form's group Gram G = X X^T (L x L, X: the L members as rows) on the webgpu backend:
// each column chunk's product on the GPU through the engine's one GPU Gram (entropyGpu.ts
// gramOnGpu, which also splits a chunk over the device's buffer limit), read back and summed in
// float64 on the CPU, so float32 rounding accumulates over one chunk only. Then the float32 check of
// template entropy (entropy.ts checkFloat32Gram: the exact float64 diagonal put back, every
// eigenvalue shifted by +-delta, rejected when H of the members' singular values moves by more
// than 3e-4), and the float64 route (linalg.ts gram) when it rejects the product: members that are
// (nearly) linearly dependent, where a float32 Gram would invent a rank.
import { checkFloat32Gram, gramScale } from './entropy';
import { gramEngine, gramOnGpu, onGpu } from './entropyGpu';
import { gram } from './linalg';
import { gpuBufferLimit, readBack, type Tf } from './tfjs';
import type { Backend } from './types';

/**
 * Smallest group (members x elements) whose Gram goes to the GPU on webgpu: 2^22 elements (16 MiB
 * of float32). Below it the float64 loop takes milliseconds, less than the upload.
 */
export const GROUP_GRAM_GPU_MIN_ELEMENTS = 2 ** 22;

/** Columns per chunk summed in float32 on the GPU before the float64 sum (float32 error grows with the sum's length). */
export const GROUP_GRAM_GPU_CHUNK = 2 ** 16;

/** Which route made a group Gram (`float32-gpu`: the fit reports backend `webgpu`). */
export type GroupGramRoute = 'float64' | 'float32-gpu' | 'float64-fallback';

export interface GroupGramOptions {
  /** Default GROUP_GRAM_GPU_MIN_ELEMENTS (tests lower it). */
  readonly minElements?: number;
  /** Default GROUP_GRAM_GPU_CHUNK. */
  readonly chunk?: number;
}

/**
 * G = X X^T of a group summed from column chunks (each the same columns of every member) on the
 * GPU: `start` gives null when the float64 route applies (not webgpu, the GPU not running, fewer
 * than `minElements` values, or the L x L Gram alone over the device's buffer limit); `finish`
 * gives null when the check rejects the product, and the caller then sums G in float64.
 */
export class GroupGramOnGpu {
  private readonly sum: Float64Array;
  private readonly diag: Float64Array;

  private constructor(
    private readonly engine: Tf,
    private readonly L: number,
    private readonly chunk: number,
  ) {
    this.sum = new Float64Array(L * L);
    this.diag = new Float64Array(L);
  }

  /** `values`: L * d, the group's size. */
  static async start(backend: Backend, L: number, values: number, opts: GroupGramOptions = {}): Promise<GroupGramOnGpu | null> {
    if (backend !== 'webgpu' || L < 2 || values < (opts.minElements ?? GROUP_GRAM_GPU_MIN_ELEMENTS)) return null;
    const engine = await gramEngine('webgpu');
    if (!engine || !onGpu(engine) || L * L * 4 > gpuBufferLimit('webgpu')) return null;
    return new GroupGramOnGpu(engine, L, opts.chunk ?? GROUP_GRAM_GPU_CHUNK);
  }

  /** Adds the Gram of one column chunk of every member (equal lengths, finite). */
  async add(parts: readonly Float32Array[]): Promise<void> {
    const { L, diag, sum } = this;
    const d = parts[0].length;
    // The exact diagonal (the check's reference) and the scale that keeps this chunk's float32
    // products in range; each chunk's product is scaled back as it is summed in float64.
    let maxAbs = 0;
    for (let l = 0; l < L; l++) {
      const r = parts[l];
      let s = 0;
      for (let i = 0; i < d; i++) {
        const v = r[i];
        s += v * v;
        const a = Math.abs(v);
        if (a > maxAbs) maxAbs = a;
      }
      diag[l] += s;
    }
    const scale = gramScale(maxAbs);
    const s2 = scale * scale;
    const limit = gpuBufferLimit('webgpu');
    for (let at = 0; at < d; at += this.chunk) {
      const w = Math.min(this.chunk, d - at);
      const x32 = parts.map((r) => r.subarray(at, at + w));
      const part = gramOnGpu(this.engine, { n: L, tall: false, x32, scale }, L, w, limit);
      if (!part) throw new Error('unreachable: start() checked that the Gram fits');
      let g32: Float32Array;
      try {
        g32 = await readBack(part.gram);
      } finally {
        part.gram.dispose();
      }
      for (let i = 0; i < L * L; i++) sum[i] += g32[i] / s2;
    }
  }

  /** G (row-major L x L, the exact diagonal), or null when the float32 check rejects it. */
  finish(): Float64Array | null {
    const { L } = this;
    // The check is scale-free: the sums are already in the members' own units.
    const checked = checkFloat32Gram({ n: L, diag: this.diag, scale: 1 }, this.sum);
    if (!checked.accepted) return null;
    const out = checked.gram;
    for (let a = 0; a < L; a++) for (let b = a + 1; b < L; b++) out[b * L + a] = out[a * L + b];
    return out;
  }
}

/**
 * G = X X^T of a group's finite members (equal lengths), row-major L x L: on the GPU when `backend`
 * is webgpu, the GPU is running and the group has at least `minElements` values; else the float64 route.
 */
export async function groupGram(
  rows: readonly Float32Array[],
  backend: Backend,
  opts: GroupGramOptions = {},
): Promise<{ gram: Float64Array; route: GroupGramRoute }> {
  const L = rows.length;
  const gpu = await GroupGramOnGpu.start(backend, L, L * (rows[0]?.length ?? 0), opts);
  if (!gpu) return { gram: gram(rows), route: 'float64' };
  await gpu.add(rows);
  const g = gpu.finish();
  return g ? { gram: g, route: 'float32-gpu' } : { gram: gram(rows), route: 'float64-fallback' };
}
