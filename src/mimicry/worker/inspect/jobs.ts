// The engine calls behind each worker job, with results flattened to plain, postable data.

import { SafetensorsError } from '../../safetensors/errors';
import type { Checkpoint, TensorInfo } from '../../safetensors/types';
import { computeSpectrum, DEFAULT_SPECTRUM_TOP_K, isSpectrumSkipped } from '../../stats/spectrum';
import { isStatsSkipped, tensorStatsOf, type TensorStatsOutcome } from '../../stats/checkpointStats';
import type { TensorStats } from '../../stats/tensorStats';
import { readValuesPage } from '../../safetensors/slice';
import type { SpectrumView, ValuesPage, ValuesRequest } from './protocol';
import type { Backend } from '../../recast/types';
import { updateSpectrum, type FactorLayer } from '../../family/adapterView';

export function tensorOf(ckpt: Checkpoint, name: string): TensorInfo {
  const t = ckpt.tensor(name);
  if (!t) throw new SafetensorsError(ckpt.path, 'tensor-not-found', name);
  return t;
}

export async function computeStatsOf(
  ckpt: Checkpoint,
  name: string,
  bins: number,
  signal: AbortSignal,
  onFraction: (fraction: number) => void,
  /** Awaited before each chunk: a batch pauses there while the user's own requests run. */
  gate?: () => Promise<void>,
): Promise<TensorStats> {
  const t = tensorOf(ckpt, name);
  const total = Math.max(1, t.params);
  // From raw bytes: 8- and 16-bit dtypes take the one-pass bit-pattern table (docs/RECAST.md 4.8).
  return statsOrRefusal(t, await tensorStatsOf(ckpt, t, { bins, signal, gate, onProgress: (done) => onFraction(done / total) }));
}

/** The statistics, or the refusal of a dtype that is not decoded to numbers (thrown). */
export function statsOrRefusal(t: TensorInfo, s: TensorStatsOutcome): TensorStats {
  if (isStatsSkipped(s)) throw new SafetensorsError(t.file, 'dtype-not-decoded', `${t.dtype} of ${JSON.stringify(t.name)}`);
  return s;
}

export function valuesPageOf(ckpt: Checkpoint, req: ValuesRequest): Promise<ValuesPage> {
  const { name, lead, row, col, rows, cols } = req;
  return readValuesPage(ckpt, tensorOf(ckpt, name), { lead, row, col, rows, cols });
}

export async function computeSpectrumOf(
  ckpt: Checkpoint,
  name: string,
  spectrumMaxSide: number,
  signal: AbortSignal,
  onFraction: (fraction: number) => void,
  /** A LoRA adapter's factor tensors and their layer updates: a factor's spectrum is its update's. */
  factors?: ReadonlyMap<string, FactorLayer> | null,
  /** `webgpu`: large Grams on the GPU (stats/spectrumGpu.ts). */
  backend?: Backend,
): Promise<SpectrumView> {
  const t = tensorOf(ckpt, name);
  const layer = factors?.get(name);
  if (layer) {
    const { singularValues, metrics } = updateSpectrum(layer);
    onFraction(1);
    return {
      rows: layer.update.rows,
      cols: layer.update.cols,
      singularValues,
      spectralNorm: metrics.spectralNorm,
      frobeniusNorm: metrics.frobeniusNorm,
      stableRank: metrics.stableRank,
      effectiveRank: metrics.effectiveRank,
      entropy: metrics.entropy,
      entropyNormalized: metrics.normalizedEntropy,
      rank: metrics.rank,
      update: { module: layer.module, rule: layer.rule },
    };
  }
  const total = Math.max(1, t.params);
  // Over the size limit: the top k singular values, estimated, instead of nothing.
  const s = await computeSpectrum(ckpt, t, {
    maxSide: spectrumMaxSide,
    topK: DEFAULT_SPECTRUM_TOP_K,
    backend,
    signal,
    onProgress: (done) => onFraction(done / total),
  });
  if (isSpectrumSkipped(s)) {
    return {
      skipped: s.skipped,
      rows: s.rows,
      cols: s.cols,
      singularValues: [],
      spectralNorm: null,
      frobeniusNorm: null,
      stableRank: null,
      effectiveRank: null,
      entropy: null,
      entropyNormalized: null,
      rank: null,
    };
  }
  return {
    rows: s.rows,
    cols: s.cols,
    singularValues: Array.from(s.singularValues),
    spectralNorm: s.spectralNorm,
    frobeniusNorm: s.frobeniusNorm,
    stableRank: s.stableRank,
    effectiveRank: s.effectiveRank,
    entropy: s.entropy,
    entropyNormalized: s.normalizedEntropy,
    rank: s.rank,
    ...(s.estimated ? { estimated: s.estimated } : {}),
  };
}
