// The inspector's service (dist/inspectWorker.js), spoken over the worker channel. One worker serves one
// opened checkpoint: it opens the file itself (by path), answers with an overview, then computes
// statistics and spectra on request with progress; a cancel aborts a job between chunks.
import type { WireError } from '../../errors';
import type { TensorStats } from '../../stats/tensorStats';
import type { SliceRequest, ValuesPage } from '../../safetensors/slice';
import type { Method } from '../channel/protocol';
import type { Backend } from '../../recast/types';

/** One tensor as the worker describes it (a row of the inspector's table). */
export interface TensorRow {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly params: number;
  readonly bytes: number;
  /** Index into `CheckpointSummary.shards` (0 for single files). */
  readonly shard: number;
  /** Absolute byte position of the tensor in its file. */
  readonly fileOffset: number;
  /** Whether the engine decodes this dtype to numbers (statistics are only offered for those). */
  readonly decodable: boolean;
}

/**
 * The table's rows as columns, as they cross from the worker to the host and on to the webview: a
 * 100,000-tensor header travels as a few typed arrays instead of 100,000 objects or strings. VS Code
 * sends a webview message as JSON with its typed arrays beside it as bytes, and its JSON replacer
 * runs once per value: 100,000 names as strings cost 0.45-0.65 s on the way (structured clone, JSON,
 * the webview's clone); as one string 0.13 s cold (JSON.parse reads a long string slowly); as UTF-8
 * bytes 0.06 s. tensorColumns.ts builds and reads them.
 */
export interface TensorColumns {
  /**
   * Every name, one after another, as UTF-8; as a string when a name holds a lone surrogate (JSON
   * escapes allow one; UTF-8 cannot carry it). namesText (tensorColumns.ts) gives the text.
   */
  readonly names: Uint8Array | string;
  /** Per tensor, where its name ends in the text of `names` (UTF-16 code units). */
  readonly nameEnds: Uint32Array;
  /** Per tensor, its index in `dtypes`. */
  readonly dtypeOf: Uint16Array;
  readonly dtypes: readonly { readonly dtype: string; readonly decodable: boolean }[];
  /** Per tensor, its shape's index among `shapes` (a model has few distinct shapes). */
  readonly shapeOf: Uint32Array;
  /** The distinct shapes, each its rank then its dimensions, one after another. */
  readonly shapes: Float64Array;
  readonly params: Float64Array;
  readonly bytes: Float64Array;
  readonly shards: Uint32Array;
  /** Exact: offsets are below 2^53 (the reader refuses larger ones). */
  readonly fileOffsets: Float64Array;
}

export interface DTypeShare {
  readonly dtype: string;
  readonly tensors: number;
  readonly params: number;
  readonly bytes: number;
}

export interface ShardSummary {
  /** File name relative to the opened file's folder. */
  readonly file: string;
  readonly tensors: number;
  readonly bytes: number;
}

export interface CheckpointSummary {
  readonly path: string;
  readonly fileName: string;
  readonly kind: 'single' | 'sharded';
  readonly totalBytes: number;
  readonly tensorCount: number;
  readonly params: number;
  /** Largest share first. */
  readonly dtypes: readonly DTypeShare[];
  /** Key/value pairs in file order (untrusted text: show with textContent). */
  readonly metadata: readonly (readonly [string, string])[];
  readonly shards: readonly ShardSummary[];
}

/** Spectral summary of the 2-D view [out, ...rest] -> out x prod(rest) of a weight; `skipped` says why there is none. */
export interface SpectrumView {
  readonly skipped?: string;
  readonly rows: number | null;
  readonly cols: number | null;
  readonly singularValues: number[];
  readonly spectralNorm: number | null;
  readonly frobeniusNorm: number | null;
  readonly stableRank: number | null;
  readonly effectiveRank: number | null;
  readonly entropy: number | null;
  readonly entropyNormalized: number | null;
  readonly rank: number | null;
  /**
   * Present when the matrix was over the spectrum size limit: `singularValues` are the top k only
   * (randomized), and the ranks and entropy are estimated from them.
   */
  readonly estimated?: { readonly topK: number; readonly powerIterations: number; readonly oversampling: number };
  /**
   * Present for a LoRA factor of an adapter: the values are those of its layer's update (`rule`, from
   * both factors, rows x cols in the base weight's orientation), not of the factor alone.
   */
  readonly update?: { readonly module: string; readonly rule: string };
}

export interface Opened {
  readonly overview: CheckpointSummary;
  readonly tensors: TensorColumns;
}

/** What a batch reports on the way: one tensor's progress, its statistics, or its failure. */
export type BatchEvent =
  /** Element progress of the tensor being read (fraction in [0, 1]), `done` of `total` tensors. */
  | { readonly kind: 'progress'; readonly name: string; readonly fraction: number; readonly done: number; readonly total: number }
  /** `helper`: computed on another core (a stats pool worker) for this batch. */
  | { readonly kind: 'stats'; readonly name: string; readonly stats: TensorStats; readonly helper?: true }
  /** One tensor failed; the batch goes on with the next one. */
  | { readonly kind: 'failed'; readonly name: string; readonly error: WireError };

export type { ValuesPage };

/** A page of one tensor's values (safetensors/slice.ts). */
export interface ValuesRequest extends SliceRequest {
  readonly name: string;
}

export interface InspectService {
  /** `factors`: a LoRA adapter's factors get their own spectra, not their layer's update's. */
  readonly open: Method<{ readonly path: string; readonly factors?: boolean }, Opened>;
  /** Progress: the share of the tensor's elements read, in [0, 1]. */
  readonly stats: Method<{ readonly name: string; readonly bins: number }, TensorStats, number>;
  /** `backend`: `webgpu` puts large Grams on the GPU (stats/spectrumGpu.ts); the setting mimicry.reconstruct.backend. */
  readonly spectrum: Method<{ readonly name: string; readonly spectrumMaxSide: number; readonly backend?: Backend }, SpectrumView, number>;
  /** Statistics for many tensors, one after another; each result is reported as it is ready. */
  /** `threads`: threads in all, this worker's included (absent: as many as pay, statsPool's threadsFor). */
  readonly statsBatch: Method<{ readonly names: readonly string[]; readonly bins: number; readonly threads?: number }, void, BatchEvent>;
  /** A page of a tensor's values: ranged reads of the rows shown only. */
  readonly values: Method<ValuesRequest, ValuesPage>;
}
