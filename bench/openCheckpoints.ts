// Checkpoints for the open section of `npm run bench` (bench/open.bench.ts), generated in well under
// a second: only the headers are written, the data areas are holes (ftruncate), so a 13.5 GB
// LLaMA-7B-shaped sharded checkpoint costs a few hundred kilobytes of disk. Opening reads headers
// only, so a sparse file opens exactly as a real one does.
import { closeSync, ftruncateSync, openSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';

export interface SparseTensor {
  readonly name: string;
  readonly dtype: 'F32' | 'BF16' | 'F16';
  readonly shape: readonly number[];
}

const BYTES: Record<SparseTensor['dtype'], number> = { F32: 4, BF16: 2, F16: 2 };

function bytesOf(t: SparseTensor): number {
  return t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
}

/** One .safetensors file: a real header, then a hole of exactly the data area's size. Returns its size. */
export function writeSparseFile(file: string, tensors: readonly SparseTensor[], metadata: Record<string, string> = {}): number {
  const parts: string[] = [`"__metadata__":${JSON.stringify(metadata)}`];
  let at = 0;
  for (const t of tensors) {
    const end = at + bytesOf(t);
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":${JSON.stringify(t.shape)},"data_offsets":[${at},${end}]}`);
    at = end;
  }
  const header = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.byteLength));
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, prefix);
    writeSync(fd, header);
    ftruncateSync(fd, 8 + header.byteLength + at);
  } finally {
    closeSync(fd);
  }
  return 8 + header.byteLength + at;
}

export const LLAMA_7B = { blocks: 32, width: 4096, mlp: 11008, vocab: 32000 } as const;

/** The 291 tensors of LLaMA-7B (Hugging Face names), BF16, in the order transformers saves them. */
export function llamaTensors(dims: { blocks: number; width: number; mlp: number; vocab: number } = LLAMA_7B): SparseTensor[] {
  const { blocks, width: d, mlp, vocab } = dims;
  const out: SparseTensor[] = [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [vocab, d] }];
  for (let i = 0; i < blocks; i++) {
    const p = `model.layers.${i}`;
    out.push(
      { name: `${p}.self_attn.q_proj.weight`, dtype: 'BF16', shape: [d, d] },
      { name: `${p}.self_attn.k_proj.weight`, dtype: 'BF16', shape: [d, d] },
      { name: `${p}.self_attn.v_proj.weight`, dtype: 'BF16', shape: [d, d] },
      { name: `${p}.self_attn.o_proj.weight`, dtype: 'BF16', shape: [d, d] },
      { name: `${p}.mlp.gate_proj.weight`, dtype: 'BF16', shape: [mlp, d] },
      { name: `${p}.mlp.up_proj.weight`, dtype: 'BF16', shape: [mlp, d] },
      { name: `${p}.mlp.down_proj.weight`, dtype: 'BF16', shape: [d, mlp] },
      { name: `${p}.input_layernorm.weight`, dtype: 'BF16', shape: [d] },
      { name: `${p}.post_attention_layernorm.weight`, dtype: 'BF16', shape: [d] },
    );
  }
  out.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [d] }, { name: 'lm_head.weight', dtype: 'BF16', shape: [vocab, d] });
  return out;
}

/**
 * A sharded checkpoint as transformers writes it: shards of at most `maxShardBytes` (its default
 * 5 GB), `model-0000k-of-0000n.safetensors`, and `model.safetensors.index.json` with total_size and
 * the weight_map. Returns the index path and the total size of the shards.
 */
export function writeSparseSharded(
  dir: string,
  tensors: readonly SparseTensor[],
  maxShardBytes = 5_000_000_000,
): { index: string; bytes: number; shards: number } {
  const shards: SparseTensor[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const b = bytesOf(t);
    if (size + b > maxShardBytes && shards[shards.length - 1].length > 0) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += b;
  }
  const n = shards.length;
  const weightMap: Record<string, string> = {};
  let bytes = 0;
  let dataBytes = 0;
  shards.forEach((list, k) => {
    const name = `model-${String(k + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    bytes += writeSparseFile(path.join(dir, name), list, { format: 'pt' });
    for (const t of list) {
      weightMap[t.name] = name;
      dataBytes += bytesOf(t);
    }
  });
  const index = path.join(dir, 'model.safetensors.index.json');
  writeFileSync(index, JSON.stringify({ metadata: { total_size: dataBytes }, weight_map: weightMap }, null, 2));
  return { index, bytes, shards: n };
}

/**
 * `count` tensors in one file, named as a deep model's would be (blocks of 10 roles, MoE-style
 * experts), small F32 shapes: the header is what is large (about 10 MB for 100,000 tensors).
 */
export function manyTensors(count: number): SparseTensor[] {
  const roles: [string, number[]][] = [
    ['attn.q.weight', [64, 64]],
    ['attn.k.weight', [64, 64]],
    ['attn.v.weight', [64, 64]],
    ['attn.o.weight', [64, 64]],
    ['attn.o.bias', [64]],
    ['mlp.experts.0.w1.weight', [128, 64]],
    ['mlp.experts.1.w1.weight', [128, 64]],
    ['mlp.experts.0.w2.weight', [64, 128]],
    ['mlp.experts.1.w2.weight', [64, 128]],
    ['norm.weight', [64]],
  ];
  const out: SparseTensor[] = [];
  for (let i = 0; out.length < count; i++) {
    for (const [role, shape] of roles) {
      if (out.length === count) break;
      out.push({ name: `model.blocks.${i}.${role}`, dtype: 'F32', shape });
    }
  }
  return out;
}
