// The `*.safetensors.index.json` of a sharded model: parsing, shard-name safety, and the check
// that every tensor the weight_map names is in its shard. Opening the shards is the reader's job.

import * as path from 'node:path';
import { SafetensorsError } from './errors';
import { parseJsonChecked } from './header';
import type { SafetensorsHeader, TensorInfo } from './types';

export interface ShardIndex {
  /** Absolute path of the index file. */
  readonly indexPath: string;
  /** The index's `metadata`, values stringified (strings kept as they are). */
  readonly metadata: Readonly<Record<string, string>>;
  /** tensor name -> absolute shard path. */
  readonly weightMap: ReadonlyMap<string, string>;
  /** Absolute shard paths in order of first appearance in weight_map. */
  readonly shards: readonly string[];
}

export function isShardIndexPath(p: string): boolean {
  return p.toLowerCase().endsWith('.index.json');
}

/**
 * Resolve a shard file name against the index folder, refusing absolute names (POSIX or Windows),
 * any `..` segment (with / or \ as separator), and anything that would land outside the folder.
 */
export function resolveShardPath(indexPath: string, shardName: string): string {
  const refuse = (why: string): never => {
    throw new SafetensorsError(indexPath, 'shard-path-unsafe', `${JSON.stringify(shardName)}: ${why}`);
  };
  if (shardName.length === 0) refuse('empty name');
  if (shardName.includes('\0')) refuse('contains a NUL character');
  if (path.posix.isAbsolute(shardName) || path.win32.isAbsolute(shardName) || /^[a-zA-Z]:/.test(shardName)) {
    refuse('absolute path');
  }
  const segments = shardName.split(/[\\/]/);
  if (segments.includes('..')) refuse('contains a ".." segment');
  const dir = path.dirname(path.resolve(indexPath));
  const resolved = path.resolve(dir, ...segments);
  const rel = path.relative(dir, resolved);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) refuse('resolves outside the index folder');
  return resolved;
}

/** Parse and validate the text of an index file (the path is for messages and resolution). */
export function parseShardIndex(indexPath: string, text: string): ShardIndex {
  const abs = path.resolve(indexPath);
  const parsed = parseJsonChecked(text);
  if (!parsed.ok) {
    throw new SafetensorsError(abs, parsed.problem === 'not-json' ? 'index-not-json' : 'index-invalid', parsed.detail);
  }
  const root = parsed.value;
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    throw new SafetensorsError(abs, 'index-invalid', 'not a JSON object');
  }
  const { weight_map: wm, metadata: meta } = root as Record<string, unknown>;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) {
    throw new SafetensorsError(abs, 'index-invalid', 'weight_map is missing or not an object');
  }
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  const seen = new Set<string>();
  for (const [tensor, shard] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof shard !== 'string') {
      throw new SafetensorsError(abs, 'index-invalid', `weight_map[${JSON.stringify(tensor)}] is not a file name`);
    }
    const file = resolveShardPath(abs, shard);
    weightMap.set(tensor, file);
    if (!seen.has(file)) {
      seen.add(file);
      shards.push(file);
    }
  }
  return { indexPath: abs, metadata: stringifyMetadata(abs, meta), weightMap, shards };
}

function stringifyMetadata(file: string, meta: unknown): Record<string, string> {
  if (meta === undefined || meta === null) return {};
  if (typeof meta !== 'object' || Array.isArray(meta)) throw new SafetensorsError(file, 'index-invalid', 'metadata is not an object');
  // Null prototype while filling, so a "__proto__" key stays a key; the spread keeps it own.
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(meta as Record<string, unknown>)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return { ...out };
}

/**
 * All tensors of the shards, in shard order then offset order, after checking that every tensor
 * of weight_map is in the shard it names and that no name is in two shards.
 */
export function mergeShardTensors(index: ShardIndex, headers: readonly SafetensorsHeader[]): TensorInfo[] {
  const where = new Map<string, TensorInfo>();
  const all: TensorInfo[] = [];
  for (const h of headers) {
    for (const t of h.tensors) {
      const prev = where.get(t.name);
      if (prev) {
        throw new SafetensorsError(index.indexPath, 'duplicate-tensor', `${JSON.stringify(t.name)} is in ${prev.file} and ${t.file}`);
      }
      where.set(t.name, t);
      all.push(t);
    }
  }
  for (const [name, shard] of index.weightMap) {
    if (where.get(name)?.file !== shard) {
      throw new SafetensorsError(index.indexPath, 'tensor-missing-in-shard', `${JSON.stringify(name)} is not in ${shard}`);
    }
  }
  return all;
}
