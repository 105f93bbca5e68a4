// A synthetic ViT-Small checkpoint written as a real .safetensors file (timm names, F32, seeded),
// so the bench exercises the reader, the grouping and the export exactly as a user's file would.
// Random Gaussian weights would be the worst case for templates (no shared structure, flat
// spectra); trained weights have a power-law spectral head over a noise bulk and some similarity
// between neighbouring blocks, so that is what this builds.
import { writeSafetensors } from '../src/mimicry/safetensors/writer';
import { encodeF32 } from '../src/mimicry/safetensors/dtypes';
import type { TensorToWrite } from '../src/mimicry/safetensors/types';
import { Random } from '../src/mimicry/recast/random';

export interface VitDims {
  readonly name: string;
  readonly blocks: number;
  readonly width: number;
  readonly mlp: number;
  readonly patch: number;
  readonly tokens: number;
  readonly classes: number;
}

export const VIT_S: VitDims = { name: 'ViT-S', blocks: 12, width: 384, mlp: 1536, patch: 16, tokens: 197, classes: 1000 };
/** ViT-Base: the memory bench's wider variant (every group 4x the size of ViT-S's). */
export const VIT_B: VitDims = { ...VIT_S, name: 'ViT-B', width: 768, mlp: 3072 };

/** The four block roles RECAST reparameterizes, [out, in] as timm stores them. */
export function vitRoles(dims: VitDims): readonly { readonly role: string; readonly shape: readonly [number, number] }[] {
  return [
    { role: 'attn.qkv', shape: [3 * dims.width, dims.width] },
    { role: 'attn.proj', shape: [dims.width, dims.width] },
    { role: 'mlp.fc1', shape: [dims.mlp, dims.width] },
    { role: 'mlp.fc2', shape: [dims.width, dims.mlp] },
  ];
}

export const VIT_S_ROLES = vitRoles(VIT_S);

/**
 * Per-role RMS at the first and last block, roughly what a trained ViT-S/DeiT-S shows (weights grow
 * a little with depth). Only the order of magnitude matters: fidelity is scale-free, but the paper
 * loop's fixed learning rate is not, so realistic scales keep its comparison honest.
 */
const ROLE_RMS: Readonly<Record<string, readonly [number, number]>> = {
  'attn.qkv': [0.045, 0.055],
  'attn.proj': [0.03, 0.04],
  'mlp.fc1': [0.04, 0.05],
  'mlp.fc2': [0.028, 0.036],
};

export interface SpectrumOptions {
  /** Rank-1 terms in the spectral head. */
  readonly headRank: number;
  /** Head singular values s_k ~ k^-alpha. */
  readonly alpha: number;
  /** Share of a matrix's energy in the head (the rest is the iid bulk). */
  readonly headEnergy: number;
  /** Correlation of block i with block i-1 (AR(1) over depth), per role. */
  readonly neighbour: number;
}

export const DEFAULT_SPECTRUM: SpectrumOptions = { headRank: 16, alpha: 1, headEnergy: 0.6, neighbour: 0.5 };

/**
 * One innovation matrix [rows, cols], unit RMS: A diag(s) B (Gaussian factors are near-orthogonal
 * at these sizes, which is all a cheap trained-like spectrum needs) plus an iid bulk.
 */
function innovation(rows: number, cols: number, spec: SpectrumOptions, rng: Random): Float64Array {
  const r = spec.headRank;
  const a = rng.normals(rows * r);
  const b = rng.normals(r * cols);
  const s = Float64Array.from({ length: r }, (_, k) => (k + 1) ** -spec.alpha);
  const sNorm = Math.sqrt(s.reduce((acc, v) => acc + v * v, 0));
  // E||A diag(s) B||_F^2 = rows * cols * sum s^2: normalise the head to headEnergy per element.
  const headScale = Math.sqrt(spec.headEnergy) / sNorm;
  const bulkScale = Math.sqrt(1 - spec.headEnergy);
  const out = new Float64Array(rows * cols);
  const row = new Float64Array(r);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < r; k++) row[k] = a[i * r + k] * s[k] * headScale;
    const o = i * cols;
    for (let k = 0; k < r; k++) {
      const w = row[k];
      const bk = k * cols;
      for (let j = 0; j < cols; j++) out[o + j] += w * b[bk + j];
    }
    for (let j = 0; j < cols; j++) out[o + j] += bulkScale * rng.normal();
  }
  return out;
}

function rms(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s / Math.max(1, v.length));
}

function f32(name: string, shape: readonly number[], values: ArrayLike<number>): TensorToWrite {
  return { name, dtype: 'F32', shape, data: encodeF32(values) };
}

export interface GeneratedVitS {
  readonly file: string;
  readonly params: number;
  readonly bytes: number;
  readonly seconds: number;
}

/**
 * Writes the checkpoint to `file` (atomically, via the project's writer). Same seed, same bytes.
 * `blocks` deepens the model (the memory bench's deeper variant): the file grows, every matrix and
 * so the largest group stays the same size. `dims` widens it (ViT-B: bigger groups).
 */
export async function writeVitS(
  file: string,
  seed = 1,
  spec: SpectrumOptions = DEFAULT_SPECTRUM,
  blocks: number = VIT_S.blocks,
  dims: VitDims = VIT_S,
): Promise<GeneratedVitS> {
  const started = performance.now();
  const rng = new Random(seed);
  const { width, patch, tokens, classes } = dims;
  const tensors: TensorToWrite[] = [];
  const near = (count: number, mean: number, std: number) => rng.normals(count, std).map((v) => v + mean);

  tensors.push(f32('cls_token', [1, 1, width], rng.normals(width, 0.02)));
  tensors.push(f32('pos_embed', [1, tokens, width], rng.normals(tokens * width, 0.02)));
  tensors.push(f32('patch_embed.proj.weight', [width, 3, patch, patch], rng.normals(width * 3 * patch * patch, 0.02)));
  tensors.push(f32('patch_embed.proj.bias', [width], rng.normals(width, 0.01)));

  // Role by role, so each role's AR(1) chain over depth needs only the previous block in memory.
  for (const { role, shape } of vitRoles(dims)) {
    const [rows, cols] = shape;
    const [rms0, rms1] = ROLE_RMS[role];
    let prev: Float64Array | null = null;
    for (let i = 0; i < blocks; i++) {
      const fresh = innovation(rows, cols, spec, rng);
      // Plain loops, no callbacks: this runs over 21M elements and dominates generation time.
      if (prev === null) prev = fresh;
      else {
        const keep = spec.neighbour,
          mix = Math.sqrt(1 - keep * keep);
        for (let k = 0; k < prev.length; k++) prev[k] = keep * prev[k] + mix * fresh[k];
      }
      const target = rms0 + ((rms1 - rms0) * i) / Math.max(1, blocks - 1);
      const scale = target / (rms(prev) || 1);
      const w = new Float32Array(prev.length);
      for (let k = 0; k < w.length; k++) w[k] = prev[k] * scale;
      tensors.push(f32(`blocks.${i}.${role}.weight`, shape, w));
      tensors.push(f32(`blocks.${i}.${role}.bias`, [rows], rng.normals(rows, 0.02)));
    }
  }
  for (let i = 0; i < blocks; i++) {
    for (const norm of ['norm1', 'norm2']) {
      tensors.push(f32(`blocks.${i}.${norm}.weight`, [width], near(width, 1, 0.1)));
      tensors.push(f32(`blocks.${i}.${norm}.bias`, [width], rng.normals(width, 0.02)));
    }
  }
  tensors.push(f32('norm.weight', [width], near(width, 1, 0.1)));
  tensors.push(f32('norm.bias', [width], rng.normals(width, 0.02)));
  tensors.push(f32('head.weight', [classes, width], rng.normals(classes * width, 0.02)));
  tensors.push(f32('head.bias', [classes], rng.normals(classes, 0.01)));

  const metadata = { format: 'pt', generator: 'neural-mimicry bench/vitS.ts', seed: String(seed), spectrum: JSON.stringify(spec) };
  await writeSafetensors(file, tensors, metadata);
  const bytes = tensors.reduce((a, t) => a + t.data.byteLength, 0);
  return { file, params: bytes / 4, bytes, seconds: (performance.now() - started) / 1000 };
}
