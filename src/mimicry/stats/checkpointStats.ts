// Statistics of one tensor of an opened checkpoint: tensorStats over the checkpoint's chunk reader.

import type { Checkpoint, TensorInfo } from '../safetensors/types';
import { isDecodable } from '../safetensors/dtypes';
import { computeTensorStats, type TensorStats, type TensorStatsOptions } from './tensorStats';

/** No statistics, and why (a dtype that is not decoded to numbers). */
export interface StatsSkipped {
  readonly skipped: string;
}

export type TensorStatsOutcome = TensorStats | StatsSkipped;

export interface TensorStatsOfOptions extends Omit<TensorStatsOptions, 'totalElements'> {
  /** Elements per chunk read from the checkpoint (the reader's default when left out). */
  chunkElements?: number;
}

export function isStatsSkipped(outcome: TensorStatsOutcome): outcome is StatsSkipped {
  return 'skipped' in outcome;
}

export async function tensorStatsOf(
  checkpoint: Checkpoint,
  tensor: TensorInfo,
  opts: TensorStatsOfOptions = {},
): Promise<TensorStatsOutcome> {
  if (!isDecodable(tensor.dtype)) return { skipped: `dtype ${tensor.dtype} is not decoded to numbers` };
  const { chunkElements, ...rest } = opts;
  return computeTensorStats(() => checkpoint.chunks(tensor, chunkElements, opts.signal), {
    ...rest,
    totalElements: tensor.params,
  });
}
