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
import { gpuBufferLimit, readBack } from './tfjs';
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
 * G = X X^T of a group's finite members (equal lengths), row-major L x L: on the GPU when `backend`
 * is webgpu, the GPU is running and the group has at least `minElements` values; else the float64 route.
 */
export async function groupGram(
  rows: readonly Float32Array[],
  backend: Backend,
  opts: GroupGramOptions = {},
): Promise<{ gram: Float64Array; route: GroupGramRoute }> {
  const L = rows.length;
  const d = L > 0 ? rows[0].length : 0;
  if (backend !== 'webgpu' || L < 2 || L * d < (opts.minElements ?? GROUP_GRAM_GPU_MIN_ELEMENTS))
    return { gram: gram(rows), route: 'float64' };
  const engine = await gramEngine('webgpu');
  if (!engine || !onGpu(engine)) return { gram: gram(rows), route: 'float64' };
  // The exact diagonal (the check's reference) and the scale that keeps float32 in range.
  const diag = new Float64Array(L);
  let maxAbs = 0;
  for (let l = 0; l < L; l++) {
    const r = rows[l];
    let s = 0;
    for (let i = 0; i < d; i++) {
      const v = r[i];
      s += v * v;
      const a = Math.abs(v);
      if (a > maxAbs) maxAbs = a;
    }
    diag[l] = s;
  }
  const scale = gramScale(maxAbs);
  const sum = new Float64Array(L * L);
  const limit = gpuBufferLimit('webgpu');
  const chunk = opts.chunk ?? GROUP_GRAM_GPU_CHUNK;
  for (let at = 0; at < d; at += chunk) {
    const w = Math.min(chunk, d - at);
    const part = gramOnGpu(engine, { n: L, tall: false, x32: rows.map((r) => r.subarray(at, at + w)), scale }, L, w, limit);
    if (!part) return { gram: gram(rows), route: 'float64-fallback' };
    let g32: Float32Array;
    try {
      g32 = await readBack(part.gram);
    } finally {
      part.gram.dispose();
    }
    for (let i = 0; i < L * L; i++) sum[i] += g32[i];
  }
  const checked = checkFloat32Gram({ n: L, diag, scale }, sum);
  if (!checked.accepted) return { gram: gram(rows), route: 'float64-fallback' };
  // Back to the members' own units; symmetric by construction of the float32 products.
  const s2 = scale * scale;
  const out = checked.gram.map((v) => v / s2);
  for (let a = 0; a < L; a++) for (let b = a + 1; b < L; b++) out[b * L + a] = out[a * L + b];
  return { gram: out, route: 'float32-gpu' };
}
