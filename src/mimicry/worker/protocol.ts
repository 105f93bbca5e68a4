// Messages between the extension host and the engine worker (dist/worker.js). One worker serves one
// opened checkpoint: it opens the file itself (by path), answers with an overview, then computes
// statistics and spectra on request, posting progress; a `cancel` aborts a job between chunks.

import type { TensorStats } from '../stats/tensorStats';

/** One tensor as the worker describes it (a row of the inspector's table). */
export interface WorkerTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly params: number;
  readonly bytes: number;
  /** Index into `WorkerOverview.shards` (0 for single files). */
  readonly shard: number;
  /** Absolute byte position of the tensor in its file. */
  readonly fileOffset: number;
  /** Whether the engine decodes this dtype to numbers (statistics are only offered for those). */
  readonly decodable: boolean;
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

export interface WorkerOverview {
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

/** The engine's statistics are plain data already (see stats/tensorStats.ts for definitions). */
export type WorkerStats = TensorStats;

export interface WorkerSpectrum {
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
}

/** A failure, flattened from SafetensorsError (file + rule) or any other Error. */
export interface WorkerError {
  readonly message: string;
  readonly file?: string;
  readonly rule?: string;
  /** True when the job stopped because it was cancelled. */
  readonly cancelled: boolean;
}

export type HostToWorker =
  | { readonly type: 'open'; readonly path: string }
  | { readonly type: 'stats'; readonly jobId: number; readonly name: string; readonly bins: number }
  | { readonly type: 'spectrum'; readonly jobId: number; readonly name: string; readonly maxDim: number }
  /** Statistics for many tensors, one after another; each result is posted as it is ready. */
  | { readonly type: 'statsBatch'; readonly jobId: number; readonly names: readonly string[]; readonly bins: number }
  | { readonly type: 'cancel'; readonly jobId: number }
  | { readonly type: 'close' };

export type WorkerToHost =
  | { readonly type: 'opened'; readonly overview: WorkerOverview; readonly tensors: readonly WorkerTensor[] }
  | { readonly type: 'openFailed'; readonly error: WorkerError }
  /** Element progress of one tensor in a job (fraction in [0, 1]); for batches also `done` of `total` tensors. */
  | { readonly type: 'progress'; readonly jobId: number; readonly name: string; readonly fraction: number; readonly done?: number; readonly total?: number }
  | { readonly type: 'stats'; readonly jobId: number; readonly name: string; readonly stats: WorkerStats }
  | { readonly type: 'spectrum'; readonly jobId: number; readonly name: string; readonly spectrum: WorkerSpectrum }
  /** One tensor of a job failed (the batch goes on with the next tensor unless cancelled). */
  | { readonly type: 'tensorFailed'; readonly jobId: number; readonly name: string; readonly error: WorkerError }
  /** The job is over: every tensor answered, or it was cancelled. */
  | { readonly type: 'done'; readonly jobId: number; readonly cancelled: boolean };
