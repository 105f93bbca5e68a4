// Writing safetensors files: names sorted, data in name order, header padded with spaces to a
// multiple of 8, atomically (temporary file in the same folder, fsync, rename). The streaming
// variant asks for one tensor's bytes at a time, so exporting a big model holds one tensor.
//
// Big files go around the page cache where the system allows (io/directWrite.ts): the same bytes.

import { open, realpath, rename, stat, unlink } from 'node:fs/promises';
import { openSink } from '../io/directWrite';
import * as path from 'node:path';
import { tempPathFor } from '../io/atomicFile';
import { SafetensorsError } from './errors';
import { byteLengthOf, isDType } from './dtypes';
import { MAX_HEADER_SIZE, METADATA_KEY } from './header';
import type { DType, TensorToWrite } from './types';

/** A tensor whose bytes are produced on demand (called once, in name order). */
export interface StreamingTensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Must equal the size that dtype and shape give; checked before anything is written. */
  readonly byteLength: number;
  /** Written in full before the next tensor is asked for, so producers may hand out a reused buffer. */
  readonly bytes: () => Promise<Uint8Array>;
}

/** How far a write has come: after the header, then after each tensor. */
export interface WriteProgress {
  /** Bytes written so far, header included. */
  readonly bytes: number;
  /** The file's final size. */
  readonly totalBytes: number;
  readonly tensors: number;
  readonly totalTensors: number;
  /** The tensor just written (empty after the header). */
  readonly tensor: string;
}

export interface WriteOptions {
  /** Paths the target must not be (the inputs of an export): resolved, symlinked or hard-linked. */
  readonly refuse?: readonly string[];
  /** Checked before each tensor and before the rename; an abort removes the temporary file. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: WriteProgress) => void;
}

/** What a caller of an export controls: cancel, and progress. */
export type WriteControl = Pick<WriteOptions, 'signal' | 'onProgress'>;

/** Compare by Unicode code point (= UTF-8 byte order, as Rust and Python sort strings). */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

type HeaderEntry = Pick<StreamingTensor, 'name' | 'dtype' | 'shape' | 'byteLength'>;

/** Validate entries, sort them by name, and check each declared size against dtype and shape. */
function prepare<T extends HeaderEntry>(file: string, entries: readonly T[], metadata: Record<string, string> | undefined): T[] {
  const bad = (detail: string): never => {
    throw new SafetensorsError(file, 'invalid-tensor', detail);
  };
  const names = new Set<string>();
  for (const e of entries) {
    const q = JSON.stringify(e.name);
    if (typeof e.name !== 'string') bad('a tensor name is not a string');
    if (e.name === METADATA_KEY) bad(`${q} is reserved for metadata`);
    if (names.has(e.name)) bad(`${q} appears twice`);
    names.add(e.name);
    if (!isDType(e.dtype)) bad(`${q}: unknown dtype ${JSON.stringify(e.dtype)}`);
    let count = 1;
    for (const d of e.shape) {
      if (!Number.isSafeInteger(d) || d < 0) bad(`${q}: shape ${JSON.stringify(e.shape)}`);
      count *= d;
      if (count > Number.MAX_SAFE_INTEGER) bad(`${q}: element count overflows`);
    }
    const expected = byteLengthOf(e.dtype, count);
    if (expected === undefined) bad(`${q}: ${count} elements of ${e.dtype} are not a whole number of bytes`);
    if (e.byteLength !== expected) bad(`${q}: ${e.dtype} ${JSON.stringify(e.shape)} needs ${expected} bytes, got ${e.byteLength}`);
  }
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null) bad('metadata is not an object');
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') bad(`metadata ${JSON.stringify(k)} is not a string`);
  }
  return [...entries].sort((a, b) => compareNames(a.name, b.name));
}

/**
 * The complete header block: 8-byte little-endian N followed by the N header bytes (JSON padded
 * with spaces to a multiple of 8, or to `size` bytes when given). `sorted` must be in name order;
 * offsets follow that order.
 */
export function buildHeaderBlock(
  file: string,
  sorted: readonly HeaderEntry[],
  metadata?: Record<string, string>,
  size?: number,
): Uint8Array {
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  let offset = 0;
  for (const e of sorted) {
    const end = offset + e.byteLength;
    parts.push(
      `${JSON.stringify(e.name)}:{"dtype":${JSON.stringify(e.dtype)},"shape":${JSON.stringify(e.shape)},"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const n = size ?? Math.ceil(json.byteLength / 8) * 8;
  if (n > MAX_HEADER_SIZE) throw new SafetensorsError(file, 'header-too-large', `header would be ${n} bytes`);
  if (json.byteLength > n)
    throw new SafetensorsError(file, 'header-outgrew-reservation', `header is ${json.byteLength} bytes, ${n} were reserved`);
  const block = new Uint8Array(8 + n).fill(0x20, 8 + json.byteLength);
  new DataView(block.buffer).setBigUint64(0, BigInt(n), true);
  block.set(json, 8);
  return block;
}

async function sameFile(a: string, b: string): Promise<boolean> {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    const [ra, rb] = await Promise.all([realpath(a), realpath(b)]);
    if (ra === rb) return true;
    const [sa, sb] = await Promise.all([stat(a), stat(b)]);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false; // one of them does not exist: cannot be the same file
  }
}

/**
 * Write tensors whose bytes are produced one at a time, atomically: a temporary file in the
 * target's folder is written, fsynced and renamed over the target. On any error (including a
 * producer's) the temporary file is removed and the target is left as it was.
 */
export async function writeSafetensorsStreaming(
  file: string,
  entries: readonly StreamingTensor[],
  metadata?: Record<string, string>,
  opts: WriteOptions = {},
): Promise<void> {
  await (await stageSafetensorsStreaming(file, entries, metadata, opts)).commit();
}

/** A file written and fsynced under its temporary name, not yet in place. */
export interface StagedFile {
  /** Renames it over the target (checking the signal first); on failure the temporary file is removed. */
  commit(): Promise<void>;
  /** Removes the temporary file; the target is left as it was. */
  discard(): Promise<void>;
}

/**
 * writeSafetensorsStreaming up to the rename: the caller decides when the file appears (an export
 * writes one file while another is still being computed, and renames them in order). On any error
 * the temporary file is removed; a staged file must be committed or discarded.
 */
export async function stageSafetensorsStreaming(
  file: string,
  entries: readonly StreamingTensor[],
  metadata?: Record<string, string>,
  opts: WriteOptions = {},
): Promise<StagedFile> {
  const target = path.resolve(file);
  await refuseInputs(target, opts);
  const sorted = prepare(target, entries, metadata);
  const tmp = await writeBody(target, sorted, buildHeaderBlock(target, sorted, metadata), opts, true);
  return stagedAt(tmp, target, opts);
}

/** A file whose tensors are written and whose header is not yet (stageSafetensorsData). */
export interface StagedData {
  /**
   * Writes the header with the final metadata into the space reserved for it, syncs, and answers the
   * staged file. A header that does not fit throws 'header-outgrew-reservation' and removes the file.
   */
  finish(metadata: Record<string, string>): Promise<StagedFile>;
  /** Removes the temporary file. */
  discard(): Promise<void>;
}

/**
 * The tensors written before the metadata is known (an export's reparameterized file, whose metrics
 * wait for template entropy): the header is reserved at the size that `provisional` (the metadata
 * with every value still to come at its longest) gives plus `slack` bytes, the data written after it
 * now, and the header itself last (StagedData.finish), padded with spaces to the reserved size. The
 * result is the file stageSafetensorsStreaming would write, with a longer run of padding spaces.
 */
export async function stageSafetensorsData(
  file: string,
  entries: readonly StreamingTensor[],
  provisional: Record<string, string>,
  slack: number,
  opts: WriteOptions = {},
): Promise<StagedData> {
  const target = path.resolve(file);
  await refuseInputs(target, opts);
  const sorted = prepare(target, entries, provisional);
  const reserved = buildHeaderBlock(target, sorted, provisional);
  const size = Math.ceil((reserved.byteLength - 8 + Math.max(0, slack)) / 8) * 8;
  // Placeholder bytes: spaces under a zero length, which no reader accepts, until finish() writes the header.
  const placeholder = new Uint8Array(8 + size).fill(0x20, 8);
  const tmp = await writeBody(target, sorted, placeholder, opts, false);
  let settled = false;
  const discard = async (): Promise<void> => {
    settled = true;
    await unlink(tmp).catch(() => undefined);
  };
  return {
    async finish(metadata) {
      if (settled) throw new Error(`${target}: already finished or discarded`);
      try {
        const block = buildHeaderBlock(target, prepare(target, sorted, metadata), metadata, size);
        opts.signal?.throwIfAborted();
        const h = await open(tmp, 'r+');
        try {
          await h.write(block, 0, block.byteLength, 0);
          await h.sync();
        } finally {
          await h.close();
        }
      } catch (e) {
        await discard();
        throw e;
      }
      settled = true;
      return stagedAt(tmp, target, opts);
    },
    discard,
  };
}

async function refuseInputs(target: string, opts: WriteOptions): Promise<void> {
  for (const r of opts.refuse ?? []) {
    if (await sameFile(target, r)) throw new SafetensorsError(target, 'refuse-overwrite-source', `it is the input ${r}`);
  }
}

/**
 * Writes `headerBlock` and then every tensor's bytes into a new temporary file beside `target` and
 * answers its path; synced unless `sync` is false (the header is still to come). On any error the
 * temporary file is removed.
 */
async function writeBody(
  target: string,
  sorted: readonly StreamingTensor[],
  headerBlock: Uint8Array,
  opts: WriteOptions,
  sync: boolean,
): Promise<string> {
  opts.signal?.throwIfAborted();
  // Named with our pid (tempPathFor) so that a later run can remove it if this process is killed.
  const tmp = tempPathFor(target);
  let position = headerBlock.byteLength;
  const totalBytes = sorted.reduce((a, e) => a + e.byteLength, position);
  const sink = await openSink(tmp, totalBytes);
  let isOpen = true;
  try {
    await sink.append(headerBlock);
    let tensors = 0;
    opts.onProgress?.({ bytes: position, totalBytes, tensors, totalTensors: sorted.length, tensor: '' });
    for (const e of sorted) {
      opts.signal?.throwIfAborted();
      const bytes = await e.bytes();
      if (bytes.byteLength !== e.byteLength) {
        throw new SafetensorsError(
          target,
          'stream-length-mismatch',
          `${JSON.stringify(e.name)}: declared ${e.byteLength}, produced ${bytes.byteLength}`,
        );
      }
      await sink.append(bytes);
      position += bytes.byteLength;
      opts.onProgress?.({ bytes: position, totalBytes, tensors: ++tensors, totalTensors: sorted.length, tensor: e.name });
    }
    await sink.finish();
    // A stop that came during the last tensor or the sync still leaves no file.
    opts.signal?.throwIfAborted();
    if (sync) await sink.handle.sync();
    opts.signal?.throwIfAborted();
    isOpen = false;
    await sink.handle.close();
  } catch (e) {
    if (isOpen) await sink.handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  return tmp;
}

/** The staged file at `tmp`, renamed over `target` on commit. */
function stagedAt(tmp: string, target: string, opts: WriteOptions): StagedFile {
  let settled = false;
  return {
    async commit() {
      if (settled) throw new Error(`${target}: already committed or discarded`);
      settled = true;
      try {
        opts.signal?.throwIfAborted();
        await rename(tmp, target);
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        throw e;
      }
      await syncDir(path.dirname(target));
    },
    async discard() {
      if (settled) return;
      settled = true;
      await unlink(tmp).catch(() => undefined);
    },
  };
}

/** Make the rename durable; not possible on every platform (Windows), so best effort. */
async function syncDir(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // directories cannot be opened or fsynced here; the data itself is already synced
  }
}

/** Write in-memory tensors (see writeSafetensorsStreaming for the guarantees). */
export async function writeSafetensors(
  file: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
  opts: WriteOptions = {},
): Promise<void> {
  const entries: StreamingTensor[] = tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    byteLength: t.data.byteLength,
    bytes: () => Promise.resolve(t.data),
  }));
  return writeSafetensorsStreaming(file, entries, metadata, opts);
}
