// Pure parsing and validation of a safetensors header, rule for rule as the reference
// implementation (huggingface/safetensors, safetensors/src/tensor.rs) plus duplicate-key and
// nesting checks that JSON.parse does not do. No I/O here: the reader feeds the bytes.

import { SafetensorsError } from './errors';
import { DTYPES, isDType } from './dtypes';
import type { DType, SafetensorsHeader, TensorInfo } from './types';

/** The reference refuses headers over 100 MB (MAX_HEADER_SIZE). */
export const MAX_HEADER_SIZE = 100_000_000;
/** serde_json's default recursion limit; a real header nests 3 levels. */
export const MAX_JSON_DEPTH = 128;
export const METADATA_KEY = '__metadata__';

/**
 * Header length N from the first 8 bytes (u64 little-endian), checked against the limit and the
 * file size before anything is allocated for the header.
 */
export function readHeaderLength(file: string, fileBytes: number, prefix: Uint8Array): number {
  if (fileBytes < 8 || prefix.byteLength < 8) {
    throw new SafetensorsError(file, 'file-too-small', `${fileBytes} bytes`);
  }
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER_SIZE) {
    const n = (BigInt(hi) << 32n) | BigInt(lo);
    throw new SafetensorsError(file, 'header-too-large', `header length ${n}`);
  }
  if (8 + lo > fileBytes) {
    throw new SafetensorsError(file, 'header-past-end', `header length ${lo}, file ${fileBytes} bytes`);
  }
  return lo;
}

export type JsonCheck =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly problem: 'not-json' | 'too-deep' | 'duplicate-key'; readonly detail: string };

/**
 * JSON.parse plus what it does not check: duplicate keys in any object (JSON.parse silently keeps
 * the last) and nesting deeper than MAX_JSON_DEPTH. One linear pass, no recursion.
 */
export function parseJsonChecked(text: string): JsonCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, problem: 'not-json', detail: e instanceof Error ? e.message : String(e) };
  }
  const problem = scanStructure(text);
  return problem ?? { ok: true, value };
}

interface Frame {
  readonly keys: Set<string> | undefined; // undefined for arrays
  readonly path: string;
  expectKey: boolean;
  lastKey: string;
}

/** Walks text already known to be valid JSON; returns the first duplicate key or excess depth. */
function scanStructure(text: string): JsonCheck | undefined {
  const stack: Frame[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= MAX_JSON_DEPTH) {
        return { ok: false, problem: 'too-deep', detail: `more than ${MAX_JSON_DEPTH} levels of nesting` };
      }
      const parent = stack[stack.length - 1];
      const path = parent ? (parent.keys ? `${parent.path}${JSON.stringify(parent.lastKey)}.` : parent.path) : '';
      stack.push({ keys: c === 0x7b ? new Set() : undefined, path, expectKey: c === 0x7b, lastKey: '' });
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      i++;
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
      i++;
    } else if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const raw = text.slice(i, end + 1);
        const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.keys.has(key)) {
          return { ok: false, problem: 'duplicate-key', detail: `key ${top.path}${JSON.stringify(key)} appears twice` };
        }
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = end + 1;
    } else {
      i++;
    }
  }
  return undefined;
}

/** Index of the closing quote of the string opening at `start` (valid JSON assumed). */
function stringEnd(text: string, start: number): number {
  let j = start + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q < 0) return text.length - 1;
    let backslashes = 0;
    for (let k = q - 1; k > start && text.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return q;
    j = q + 1;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isOffset(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parse and validate a header. `headerBytes` holds (at least) the N header bytes that follow the
 * 8-byte length; `fileBytes` is the size of the whole file. Throws SafetensorsError naming the rule.
 */
export function parseHeader(file: string, fileBytes: number, headerBytes: Uint8Array, headerLength: number): SafetensorsHeader {
  if (fileBytes < 8) throw new SafetensorsError(file, 'file-too-small', `${fileBytes} bytes`);
  if (!Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > MAX_HEADER_SIZE) {
    throw new SafetensorsError(file, 'header-too-large', `header length ${headerLength}`);
  }
  if (8 + headerLength > fileBytes || headerBytes.byteLength < headerLength) {
    throw new SafetensorsError(file, 'header-past-end', `header length ${headerLength}, file ${fileBytes} bytes`);
  }
  let text: string;
  try {
    text = utf8.decode(headerBytes.subarray(0, headerLength));
  } catch {
    throw new SafetensorsError(file, 'header-not-utf8');
  }
  const parsed = parseJsonChecked(text);
  if (!parsed.ok) {
    const rule = parsed.problem === 'not-json' ? 'header-not-json' : parsed.problem === 'too-deep' ? 'header-too-deep' : 'duplicate-key';
    throw new SafetensorsError(file, rule, parsed.detail);
  }
  const root = parsed.value;
  if (!isPlainObject(root)) {
    throw new SafetensorsError(file, 'header-not-object', `got ${root === null ? 'null' : Array.isArray(root) ? 'an array' : typeof root}`);
  }

  const dataStart = 8 + headerLength;
  const metadata = parseMetadata(file, root[METADATA_KEY]);
  const tensors: TensorInfo[] = [];
  for (const name of Object.keys(root)) {
    if (name === METADATA_KEY) continue;
    tensors.push(parseEntry(file, name, root[name], dataStart));
  }

  // Contiguity, as the reference: sort by offsets, the first begins at 0, each where the last ended.
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1] || (a.name < b.name ? -1 : 1));
  let expected = 0;
  for (const t of tensors) {
    const [begin, end] = t.dataOffsets;
    if (begin !== expected) {
      const what =
        begin < expected
          ? `overlaps the previous tensor (begins at ${begin}, previous ends at ${expected})`
          : `leaves a gap (begins at ${begin}, expected ${expected})`;
      throw new SafetensorsError(file, 'offsets-not-contiguous', `tensor ${JSON.stringify(t.name)} ${what}`);
    }
    expected = end;
  }
  if (dataStart + expected !== fileBytes) {
    throw new SafetensorsError(
      file,
      'data-area-mismatch',
      `tensors end at data byte ${expected}, data area is ${fileBytes - dataStart} bytes`,
    );
  }
  return { file, fileBytes, headerLength, dataStart, metadata, tensors };
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  // The reference reads it as Option<HashMap<String, String>>: absent and null both mean none.
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) throw new SafetensorsError(file, 'invalid-metadata', 'not an object');
  // Null prototype while filling, so a "__proto__" key stays a key; the spread keeps it own.
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') {
      throw new SafetensorsError(
        file,
        'invalid-metadata',
        `value of ${JSON.stringify(k)} is ${v === null ? 'null' : typeof v}, not a string`,
      );
    }
    out[k] = v;
  }
  return { ...out };
}

function parseEntry(file: string, name: string, raw: unknown, dataStart: number): TensorInfo {
  const q = JSON.stringify(name);
  if (!isPlainObject(raw)) throw new SafetensorsError(file, 'invalid-entry', `tensor ${q} is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (dtype === undefined || shape === undefined || offsets === undefined) {
    const missing = [dtype === undefined && 'dtype', shape === undefined && 'shape', offsets === undefined && 'data_offsets'].filter(
      Boolean,
    );
    throw new SafetensorsError(file, 'invalid-entry', `tensor ${q} has no ${missing.join(', ')}`);
  }
  if (typeof dtype !== 'string') throw new SafetensorsError(file, 'invalid-entry', `tensor ${q}: dtype is not a string`);
  if (!Array.isArray(shape)) throw new SafetensorsError(file, 'invalid-entry', `tensor ${q}: shape is not a list`);
  if (!Array.isArray(offsets)) throw new SafetensorsError(file, 'invalid-entry', `tensor ${q}: data_offsets is not a list`);
  if (!isDType(dtype)) throw new SafetensorsError(file, 'unknown-dtype', `tensor ${q}: ${JSON.stringify(dtype)}`);
  for (const d of shape) {
    if (!isOffset(d)) throw new SafetensorsError(file, 'invalid-shape', `tensor ${q}: shape ${JSON.stringify(shape)}`);
  }
  if (offsets.length !== 2 || !isOffset(offsets[0]) || !isOffset(offsets[1])) {
    throw new SafetensorsError(file, 'invalid-data-offsets', `tensor ${q}: data_offsets ${JSON.stringify(offsets)}`);
  }
  const begin = offsets[0];
  const end = offsets[1];
  if (end < begin) throw new SafetensorsError(file, 'offsets-reversed', `tensor ${q}: data_offsets [${begin}, ${end}]`);
  const dims = shape as number[];
  const params = elementCount(file, q, dims);
  const bytes = byteSize(file, q, dtype, params);
  if (end - begin !== bytes) {
    throw new SafetensorsError(
      file,
      'size-mismatch',
      `tensor ${q}: ${dtype} ${JSON.stringify(dims)} needs ${bytes} bytes, data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return {
    name,
    dtype,
    shape: Object.freeze(dims.slice()),
    dataOffsets: Object.freeze([begin, end] as [number, number]),
    params,
    bytes,
    file,
    fileOffset: dataStart + begin,
  };
}

/** Product of dims, refused as soon as a partial product passes 2^53 (the reference's checked_mul). */
function elementCount(file: string, q: string, dims: readonly number[]): number {
  let count = 1;
  for (const d of dims) {
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) {
      throw new SafetensorsError(file, 'element-count-overflow', `tensor ${q}: shape ${JSON.stringify(dims)}`);
    }
  }
  return count;
}

function byteSize(file: string, q: string, dtype: DType, count: number): number {
  const bits = count * DTYPES[dtype].bits;
  if (bits > Number.MAX_SAFE_INTEGER) {
    throw new SafetensorsError(file, 'element-count-overflow', `tensor ${q}: ${count} elements of ${dtype}`);
  }
  if (bits % 8 !== 0) {
    throw new SafetensorsError(file, 'misaligned-bits', `tensor ${q}: ${count} elements of ${DTYPES[dtype].bits}-bit ${dtype}`);
  }
  return bits / 8;
}
