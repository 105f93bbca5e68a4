// The data `mimicry inspect` shows: header facts per tensor, optionally statistics and spectra.

import type { Backend } from '../mimicry/recast/types';
import type { Checkpoint, TensorInfo } from '../mimicry/safetensors/types';
import { computeSpectrum, matrixView, type SpectrumOutcome } from '../mimicry/stats/spectrum';
import { isStatsSkipped, type TensorStatsOutcome } from '../mimicry/stats/checkpointStats';
import { computeCheckpointStats, type StatsProgress } from '../mimicry/stats/statsPool';
import type { TensorStats } from '../mimicry/stats/tensorStats';
import * as path from 'node:path';
import { updateSpectrum, type FactorLayer } from '../mimicry/family/adapterView';

/** Statistics as published in the JSON report: the engine's, less the element counts (definitions: src/mimicry/stats/tensorStats.ts). */
export type StatsJson = Omit<TensorStats, 'count' | 'finiteCount'>;

export interface TensorEntry extends Pick<TensorInfo, 'name' | 'dtype' | 'shape' | 'params'> {
  /** data_offsets as in the header, relative to the data area of the tensor's file. */
  readonly offsets: readonly [number, number];
  /** Sharded checkpoints only: the shard file (relative to the index) the offsets refer to. */
  readonly shard?: string;
  /** With --stats: the statistics, or null when they cannot be computed (see statsSkipped). */
  readonly stats?: StatsJson | null;
  readonly statsSkipped?: string;
  /** With --spectra, tensors of 2 or more dimensions only. */
  readonly spectrum?: SpectrumOutcome;
  /** A LoRA adapter's factor: `spectrum` is that of its layer's update (`rule`), not of the factor alone. */
  readonly spectrumOf?: { readonly module: string; readonly rule: string };
}

export interface InspectReport {
  readonly file: string;
  readonly bytes: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: TensorEntry[];
}

export interface InspectOptions {
  readonly stats: boolean;
  readonly spectra: boolean;
  readonly bins?: number;
  /** The spectrum size limit (largest min(rows, cols)); default DEFAULT_SPECTRUM_MAX_SIDE. */
  readonly spectrumMaxSide?: number;
  /** Over the limit: estimate this many top singular values (0 or absent: skip the matrix). */
  readonly spectrumTopK?: number;
  /** `webgpu`: large spectra's Grams on the GPU (stats/spectrumGpu.ts); others: float64 on the CPU. */
  readonly backend?: Backend;
  readonly signal?: AbortSignal;
  /** Statistics: worker threads (1: this thread only) and the worker's script (none: this thread only). */
  readonly threads?: number;
  readonly statsWorker?: string;
  /** Statistics of all tensors are computed first, with this progress. */
  readonly onStatsProgress?: (p: StatsProgress) => void;
  /** A LoRA adapter's factor tensors and their layer updates (their spectra are the updates'); absent: every tensor's own. */
  readonly factorLayers?: ReadonlyMap<string, FactorLayer> | null;
  /** Spectra: called as work starts on a tensor and as it advances (fraction in [0, 1]). */
  readonly onProgress?: (index: number, tensor: TensorInfo, what: 'spectrum', fraction: number) => void;
}

function baseEntry(checkpoint: Checkpoint, t: TensorInfo, shards: Map<string, string>): TensorEntry {
  // The header's own (frozen) shape and offsets: no copies, 200,000 arrays fewer for 100,000 tensors.
  const entry: TensorEntry = { name: t.name, dtype: t.dtype, shape: t.shape, offsets: t.dataOffsets, params: t.params };
  if (checkpoint.kind !== 'sharded') return entry;
  let shard = shards.get(t.file);
  if (shard === undefined) shards.set(t.file, (shard = path.relative(path.dirname(checkpoint.path), t.file)));
  return { ...entry, shard };
}

function statsEntry(outcome: TensorStatsOutcome): Pick<TensorEntry, 'stats' | 'statsSkipped'> {
  if (isStatsSkipped(outcome)) return { stats: null, statsSkipped: outcome.skipped };
  const { min, max, mean, std, meanAbs, zeroFraction, nanCount, infCount, quantiles, histogram } = outcome;
  return { stats: { min, max, mean, std, meanAbs, zeroFraction, nanCount, infCount, quantiles, histogram } };
}

export async function buildInspectReport(checkpoint: Checkpoint, file: string, opts: InspectOptions): Promise<InspectReport> {
  const tensors: TensorEntry[] = [];
  const shards = new Map<string, string>(); // shard file -> its name relative to the index
  const stats = opts.stats
    ? await computeCheckpointStats(checkpoint, checkpoint.tensors, {
        bins: opts.bins,
        signal: opts.signal,
        threads: opts.threads,
        workerEntry: opts.statsWorker,
        onProgress: opts.onStatsProgress,
      })
    : undefined;
  for (let i = 0; i < checkpoint.tensors.length; i++) {
    const t = checkpoint.tensors[i];
    let entry = baseEntry(checkpoint, t, shards);
    if (stats) entry = { ...entry, ...statsEntry(stats[i]) };
    const layer = opts.spectra ? opts.factorLayers?.get(t.name) : undefined;
    if (layer) {
      const { singularValues, metrics } = updateSpectrum(layer);
      const spectrum: SpectrumOutcome = { rows: layer.update.rows, cols: layer.update.cols, singularValues, ...metrics };
      entry = { ...entry, spectrum, spectrumOf: { module: layer.module, rule: layer.rule } };
    } else if (opts.spectra && matrixView(t.shape)) {
      opts.onProgress?.(i, t, 'spectrum', 0);
      const total = Math.max(1, t.params);
      const spectrum = await computeSpectrum(checkpoint, t, {
        maxSide: opts.spectrumMaxSide,
        topK: opts.spectrumTopK,
        backend: opts.backend,
        signal: opts.signal,
        onProgress: (done) => opts.onProgress?.(i, t, 'spectrum', done / total),
      });
      entry = { ...entry, spectrum };
    }
    tensors.push(entry);
  }
  return { file, bytes: checkpoint.totalBytes, metadata: { ...checkpoint.metadata }, tensors };
}
