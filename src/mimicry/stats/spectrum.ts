// Singular-value spectrum of a weight viewed as a matrix: shape [out, ...rest] -> out x prod(rest)
// (a conv kernel [out, in, kh, kw] becomes out x (in*kh*kw)); 0-d and 1-d tensors have none.
//
// Route: Gram matrix of the smaller side in float64 (gram.ts), then its eigenvalues only
// (linalg/symmetricEigenvalues.ts: Householder tridiagonalization + implicit QL, no eigenvectors),
// s_i = sqrt(max(lambda_i, 0)). Squaring costs precision at the bottom of the spectrum: singular
// values below about sqrt(n * eps) * s1 (~1e-7 * s1) are not resolved and are reported as 0
// (eigenvalues under n * eps * lambda_max are treated as rounding noise).
// The top of the spectrum and every metric built on sums (stable/effective rank, entropy) are
// accurate to ~1e-12 relative.
// With `backend: 'webgpu'` a large matrix's Gram is computed on the GPU in float32 instead,
// checked, with this float64 route as fallback (spectrumGpu.ts).
//
// Over the size limit, `topK` > 0 asks for an estimate instead of nothing: the top k singular
// values by randomized subspace iteration (linalg/randomizedSvd.ts, streamed, 2q + 2 reads of the
// values), marked `estimated`. Then ||W||_F is exact, the spectral norm and stable rank are
// estimates (s1 from below, so the stable rank from above), and the effective rank, entropy and
// rank are those of the top k values alone (p_i = s_i / sum of the top k): figures of the head of
// the spectrum, not of the whole matrix.

import type { Checkpoint, DecodedValues, TensorInfo } from '../safetensors/types';
import { isDecodable } from '../safetensors/dtypes';
import { symmetricEigenvalues } from '../linalg/symmetricEigenvalues';
import { DEFAULT_TOP_K, topKPasses, topKSingularValues } from '../linalg/randomizedSvd';
import { gramOfMatrix, streamGram, type GramResult } from './gram';
import { spectralMetrics, type SpectralMetrics } from './spectralMetrics';
import type { Backend } from '../recast/types';

/**
 * The default spectrum size limit (`spectrumMaxSide`): the largest min(rows, cols) that gets a
 * spectrum. The one default of the engine, the CLI's --max-side and the VS Code setting
 * mimicry.inspector.spectrumMaxDim (package.json; a unit test checks they agree).
 *
 * Eigenvalues only (no eigenvectors) on the SIMD kernels (linalg/kernels.wat) make a 2048 x 2048
 * spectrum ~3 s of CPU (Gram and eigenvalues; ~7 s in plain JavaScript); the Gram's own O(n^2 m)
 * cost is not bounded by this cap anyway. Over it, an estimate of the top k (`topK`) is offered.
 */
export const DEFAULT_SPECTRUM_MAX_SIDE = 2048;

/** Singular values wanted when a matrix over the size limit gets an estimate (`topK`). */
export const DEFAULT_SPECTRUM_TOP_K = DEFAULT_TOP_K.k;

/** How an estimated spectrum was obtained (randomized subspace iteration on the top k). */
export interface SpectrumEstimate {
  readonly topK: number;
  readonly powerIterations: number;
  readonly oversampling: number;
}

export interface Spectrum extends SpectralMetrics {
  readonly skipped?: undefined;
  /**
   * Present when the matrix was over the size limit: `singularValues` are the top k only, and the
   * metrics are estimated from them (see the file comment).
   */
  readonly estimated?: SpectrumEstimate;
  /** The 2-D view the spectrum is of. */
  readonly rows: number;
  readonly cols: number;
  /** min(rows, cols) values (or the top k when estimated), descending. */
  readonly singularValues: number[];
}

/** No spectrum, and why (too large, not a matrix, NaN/Inf or overflowing values, dtype not decoded). */
export interface SpectrumSkipped {
  readonly skipped: string;
  readonly rows: number | null;
  readonly cols: number | null;
}

export type SpectrumOutcome = Spectrum | SpectrumSkipped;

export interface SpectrumOptions {
  /**
   * The spectrum size limit: the largest allowed min(rows, cols); the Gram is n x n and its
   * eigenvalues O(n^3). Default DEFAULT_SPECTRUM_MAX_SIDE.
   */
  maxSide?: number;
  /** Elements per panel while accumulating the Gram (bounds memory; see gram.ts). */
  panelElements?: number;
  /**
   * Over the size limit, estimate the top `topK` singular values (randomized) instead of skipping
   * (computeSpectrum only). 0 or absent: skip, as before.
   */
  topK?: number;
}

export interface ComputeSpectrumOptions extends SpectrumOptions {
  /** Elements per chunk read from the checkpoint. */
  chunkElements?: number;
  /**
   * `webgpu`: the Gram of a large matrix goes to the GPU in float32, checked, with the float64
   * route as fallback (spectrumGpu.ts says which). Any other backend: the float64 route.
   */
  backend?: Backend;
  signal?: AbortSignal;
  onProgress?: (doneElements: number) => void;
}

/** The matrix view of a shape: [out, ...rest] -> out x prod(rest); null below 2 dimensions. */
export function matrixView(shape: readonly number[]): { rows: number; cols: number } | null {
  if (shape.length < 2) return null;
  return { rows: shape[0], cols: shape.slice(1).reduce((a, b) => a * b, 1) };
}

/** Why a rows x cols matrix gets no spectrum, or null when it does. */
function refusal(rows: number, cols: number, maxSide: number): string | null {
  if (rows === 0 || cols === 0) return `empty matrix (${rows} x ${cols})`;
  const n = Math.min(rows, cols);
  if (n > maxSide) return `smaller side ${n} of ${rows} x ${cols} is over the spectrum size limit of ${maxSide}`;
  return null;
}

const TOO_LARGE = 'values too large: their squares overflow float64 (|x| over about 1e154)';

/** Singular values (descending) and metrics from the Gram of the smaller side. */
export function spectrumFromGram(result: GramResult, rows: number, cols: number): SpectrumOutcome {
  if (result.overflow) return { skipped: TOO_LARGE, rows, cols };
  if (result.nonFinite) return { skipped: 'values contain NaN or Inf', rows, cols };
  const { gram, n } = result;
  let trace = 0;
  for (let i = 0; i < n; i++) trace += gram[i * n + i];
  if (!Number.isFinite(trace)) return { skipped: TOO_LARGE, rows, cols };
  const lambda = symmetricEigenvalues(gram, n); // descending
  return spectrumFromEigenvalues(lambda, trace, Math.max(lambda[0], 0) * n * Number.EPSILON, rows, cols);
}

/**
 * Singular values and metrics from the Gram's eigenvalues (descending) and its trace (the exact
 * ||W||_F^2); eigenvalues at or under `floor` are rounding noise and give 0.
 */
export function spectrumFromEigenvalues(lambda: Float64Array, trace: number, floor: number, rows: number, cols: number): Spectrum {
  const singularValues = Array.from(lambda, (l) => (l > floor ? Math.sqrt(l) : 0));
  return { rows, cols, singularValues, ...spectralMetrics(singularValues, trace) };
}

/** Spectrum of an in-memory row-major rows x cols matrix. */
export function spectrumFromMatrix(
  values: Float64Array | Float32Array,
  rows: number,
  cols: number,
  opts: SpectrumOptions = {},
): SpectrumOutcome {
  const why = refusal(rows, cols, opts.maxSide ?? DEFAULT_SPECTRUM_MAX_SIDE);
  if (why) return { skipped: why, rows, cols };
  return spectrumFromGram(gramOfMatrix(values, rows, cols, opts.panelElements), rows, cols);
}

/** Spectrum of one tensor of a checkpoint, streamed chunk by chunk. */
export async function computeSpectrum(
  checkpoint: Checkpoint,
  tensor: TensorInfo,
  opts: ComputeSpectrumOptions = {},
): Promise<SpectrumOutcome> {
  const view = matrixView(tensor.shape);
  if (!view) return { skipped: `a ${tensor.shape.length}-d tensor has no matrix spectrum`, rows: null, cols: null };
  const { rows, cols } = view;
  if (!isDecodable(tensor.dtype)) return { skipped: `dtype ${tensor.dtype} is not decoded to numbers`, rows, cols };
  const maxSide = opts.maxSide ?? DEFAULT_SPECTRUM_MAX_SIDE;
  const why = refusal(rows, cols, maxSide);
  const chunks = (): AsyncIterable<DecodedValues> => checkpoint.chunks(tensor, opts.chunkElements, opts.signal);
  if (why && rows > 0 && cols > 0 && (opts.topK ?? 0) > 0) return estimateSpectrum(chunks, rows, cols, opts.topK ?? 0, opts);
  if (why) return { skipped: why, rows, cols };
  if (opts.backend === 'webgpu') {
    // Evaluated only when asked for: a float64-only inspector never starts TensorFlow.js or the GPU.
    const gpu = await import('./spectrumGpu');
    if (gpu.spectrumGoesToGpu(tensor.dtype, rows, cols)) return (await gpu.spectrumOnGpu(chunks, rows, cols, opts)).outcome;
  }
  return spectrumFromGram(await streamGram(chunks, rows, cols, opts), rows, cols);
}

/** The top-k estimate of a matrix over the size limit (see the file comment). */
async function estimateSpectrum(
  chunks: () => AsyncIterable<DecodedValues>,
  rows: number,
  cols: number,
  k: number,
  opts: ComputeSpectrumOptions,
): Promise<SpectrumOutcome> {
  const options = { ...DEFAULT_TOP_K, k };
  const passes = topKPasses(options);
  const total = rows * cols;
  const r = await topKSingularValues(chunks, rows, cols, options, {
    signal: opts.signal,
    onChunk: (pass, done) => opts.onProgress?.(Math.floor((pass * total + done) / passes)),
  });
  if (r.nonFinite) return { skipped: 'values contain NaN or Inf', rows, cols };
  if (!Number.isFinite(r.frobeniusSquared)) return { skipped: TOO_LARGE, rows, cols };
  const singularValues = Array.from(r.singularValues);
  const estimated: SpectrumEstimate = {
    topK: singularValues.length,
    powerIterations: options.powerIterations,
    oversampling: options.oversampling,
  };
  return { rows, cols, singularValues, ...spectralMetrics(singularValues, r.frobeniusSquared), estimated };
}

export function isSpectrumSkipped(outcome: SpectrumOutcome): outcome is SpectrumSkipped {
  return outcome.skipped !== undefined;
}
