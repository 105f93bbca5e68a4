// The engine calls behind each worker job, with results flattened to plain, postable data.

import { SafetensorsError } from '../safetensors/errors';
import type { Checkpoint } from '../safetensors/types';
import { computeTensorStats } from '../stats/tensorStats';
import { computeSpectrum, isSpectrumSkipped } from '../stats/spectrum';
import type { WorkerError, WorkerSpectrum, WorkerStats } from './protocol';

function tensorOf(ckpt: Checkpoint, name: string) {
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
): Promise<WorkerStats> {
  const t = tensorOf(ckpt, name);
  const total = Math.max(1, t.params);
  const s = await computeTensorStats(() => ckpt.chunks(t, undefined, signal), {
    bins,
    signal,
    totalElements: t.params,
    onProgress: (done) => onFraction(done / total),
  });
  return s;
}

export async function computeSpectrumOf(
  ckpt: Checkpoint,
  name: string,
  maxDim: number,
  signal: AbortSignal,
  onFraction: (fraction: number) => void,
): Promise<WorkerSpectrum> {
  const t = tensorOf(ckpt, name);
  const total = Math.max(1, t.params);
  const s = await computeSpectrum(ckpt, t, { maxSide: maxDim, signal, onProgress: (done) => onFraction(done / total) });
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
  };
}

export function toWorkerError(err: unknown, signal?: AbortSignal): WorkerError {
  const cancelled = signal?.aborted === true || (err instanceof Error && err.name === 'AbortError');
  if (err instanceof SafetensorsError) return { message: err.message, file: err.file, rule: err.rule, cancelled };
  if (err instanceof Error) return { message: err.message, cancelled };
  return { message: String(err), cancelled };
}
