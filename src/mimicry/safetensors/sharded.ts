// The `*.safetensors.index.json` of a sharded model: parsing, shard-name safety, and the check
// that the tensors of the shards are exactly those weight_map names, each in its shard. Opening
// the shards (and refusing links that lead out of the folder) is the reader's job.

import * as path from 'node:path';
import { SafetensorsError } from './errors';
import { isUtf8 } from 'node:buffer';
import { JsonReader, scanJsonBytes } from './header';
import type { SafetensorsHeader, TensorInfo } from './types';

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

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

/** Non-string metadata values are shown as their JSON text; past this size, cut short unparsed. */
const MAX_METADATA_JSON = 1 << 20;

/**
 * Parse and validate an index file, as text or as the file's bytes (the path is for messages and
 * resolution). Like a header it is checked in one linear pass before anything is built, and only
 * weight_map and metadata are read: an index is untrusted input too.
 */
export function parseShardIndex(indexPath: string, text: string | Uint8Array): ShardIndex {
  const abs = path.resolve(indexPath);
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  if (typeof text !== 'string' && !isUtf8(bytes)) throw new SafetensorsError(abs, 'index-not-json', 'not valid UTF-8');
  const { problem, ends } = scanJsonBytes(bytes);
  if (problem) throw new SafetensorsError(abs, problem.problem === 'not-json' ? 'index-not-json' : 'index-invalid', problem.detail);
  const json = new JsonReader(bytes, ends);
  const root = json.ws(0);
  if (json.type(root) !== 'object') throw new SafetensorsError(abs, 'index-invalid', 'not a JSON object');
  let wmAt = -1;
  let metaAt = -1;
  json.members(root, (key, value) => {
    if (key === 'weight_map') wmAt = value;
    else if (key === 'metadata') metaAt = value;
  });
  if (wmAt < 0 || json.type(wmAt) !== 'object') {
    throw new SafetensorsError(abs, 'index-invalid', 'weight_map is missing or not an object');
  }
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  const seen = new Set<string>();
  const resolved = new Map<string, string>(); // shard name -> absolute path, resolved once per name
  json.members(wmAt, (tensor, value) => {
    if (json.type(value) !== 'string') {
      throw new SafetensorsError(abs, 'index-invalid', `weight_map[${JSON.stringify(tensor)}] is not a file name`);
    }
    const shard = json.string(value);
    let file = resolved.get(shard);
    if (file === undefined) {
      file = resolveShardPath(abs, shard);
      resolved.set(shard, file);
      if (!seen.has(file)) {
        seen.add(file);
        shards.push(file);
      }
    }
    weightMap.set(tensor, file);
  });
  return { indexPath: abs, metadata: stringifyMetadata(abs, json, metaAt), weightMap, shards };
}

function stringifyMetadata(file: string, json: JsonReader, at: number): Record<string, string> {
  if (at < 0 || json.type(at) === 'null') return {};
  if (json.type(at) !== 'object') throw new SafetensorsError(file, 'index-invalid', 'metadata is not an object');
  // Null prototype while filling, so a "__proto__" key stays a key; the spread keeps it own.
  const out = Object.create(null) as Record<string, string>;
  json.members(at, (k, v) => {
    if (json.type(v) === 'string') out[k] = json.string(v);
    else if (json.end(v) - v <= MAX_METADATA_JSON) out[k] = JSON.stringify(JSON.parse(utf8.decode(json.bytes.subarray(v, json.end(v)))));
    else out[k] = json.text(v);
  });
  return { ...out };
}

/**
 * All tensors of the shards, in shard order then offset order, after checking that every tensor
 * of weight_map is in the shard it names, that no name is in two shards, and that every tensor of
 * every shard is in weight_map.
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
  // A tensor no weight_map entry names is not part of the model (transformers would not load it).
  for (const t of all) {
    if (!index.weightMap.has(t.name)) {
      throw new SafetensorsError(index.indexPath, 'tensor-not-in-index', `${JSON.stringify(t.name)} is in ${t.file}`);
    }
  }
  return all;
}
