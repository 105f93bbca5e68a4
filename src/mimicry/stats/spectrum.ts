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

import type { Checkpoint, DecodedValues, TensorInfo } from '../safetensors/types';
import { isDecodable } from '../safetensors/dtypes';
import { symmetricEigenvalues } from '../linalg/symmetricEigenvalues';
import { gramOfMatrix, streamGram, type GramResult } from './gram';
import { spectralMetrics, type SpectralMetrics } from './spectralMetrics';

/**
 * The default spectrum size limit (`spectrumMaxSide`): the largest min(rows, cols) that gets a
 * spectrum. The one default of the engine, the CLI's --max-side and the VS Code setting
 * mimicry.inspector.spectrumMaxDim (package.json; a unit test checks they agree).
 *
 * Eigenvalues only (no eigenvectors) make a 2048 Gram ~6 s of CPU, under what a 1024 one cost with
 * a full eigen-decomposition (~14 s); the Gram's own O(n^2 m) cost is not bounded by this cap anyway.
 */
export const DEFAULT_SPECTRUM_MAX_SIDE = 2048;

export interface Spectrum extends SpectralMetrics {
  readonly skipped?: undefined;
  /** The 2-D view the spectrum is of. */
  readonly rows: number;
  readonly cols: number;
  /** min(rows, cols) values, descending. */
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
}

export interface ComputeSpectrumOptions extends SpectrumOptions {
  /** Elements per chunk read from the checkpoint. */
  chunkElements?: number;
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
  const floor = Math.max(lambda[0], 0) * n * Number.EPSILON;
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
  const why = refusal(rows, cols, opts.maxSide ?? DEFAULT_SPECTRUM_MAX_SIDE);
  if (why) return { skipped: why, rows, cols };
  const chunks = (): AsyncIterable<DecodedValues> => checkpoint.chunks(tensor, opts.chunkElements, opts.signal);
  return spectrumFromGram(await streamGram(chunks, rows, cols, opts), rows, cols);
}

export function isSpectrumSkipped(outcome: SpectrumOutcome): outcome is SpectrumSkipped {
  return outcome.skipped !== undefined;
}
