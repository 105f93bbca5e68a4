// The header view of an opened checkpoint: totals, dtype breakdown, shards and one row per tensor.
// Pure bookkeeping over the parsed header (no tensor bytes are read).

import { basename, dirname, relative } from 'node:path';
import { isDecodable } from '../../safetensors/dtypes';
import type { Checkpoint } from '../../safetensors/types';
import type { CheckpointSummary, TensorColumns } from './protocol';
import { TensorColumnsBuilder, tensorCount } from './tensorColumns';

export function overviewOf(ckpt: Checkpoint): { overview: CheckpointSummary; tensors: TensorColumns } {
  const shardIndex = new Map<string, number>(ckpt.files.map((f, i) => [f, i]));
  const shardTensors = ckpt.files.map(() => 0);
  const shardBytes = ckpt.files.map(() => 0);
  const byDtype = new Map<string, { dtype: string; tensors: number; params: number; bytes: number }>();
  let params = 0;
  const columns = new TensorColumnsBuilder(ckpt.tensors.length);
  for (const t of ckpt.tensors) {
    const shard = shardIndex.get(t.file) ?? 0;
    shardTensors[shard] += 1;
    shardBytes[shard] += t.bytes;
    params += t.params;
    const share = byDtype.get(t.dtype) ?? { dtype: t.dtype, tensors: 0, params: 0, bytes: 0 };
    share.tensors += 1;
    share.params += t.params;
    share.bytes += t.bytes;
    byDtype.set(t.dtype, share);
    columns.add({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      params: t.params,
      bytes: t.bytes,
      shard,
      fileOffset: t.fileOffset,
      decodable: isDecodable(t.dtype),
    });
  }
  const tensors = columns.build();
  const folder = dirname(ckpt.path);
  return {
    overview: {
      path: ckpt.path,
      fileName: basename(ckpt.path),
      kind: ckpt.kind,
      totalBytes: ckpt.totalBytes,
      tensorCount: tensorCount(tensors),
      params,
      dtypes: [...byDtype.values()].sort((a, b) => b.bytes - a.bytes || b.tensors - a.tensors),
      metadata: Object.entries(ckpt.metadata).map(([k, v]) => [k, String(v)] as const),
      shards: ckpt.files.map((f, i) => ({ file: relative(folder, f) || basename(f), tensors: shardTensors[i], bytes: shardBytes[i] })),
    },
    tensors,
  };
}
