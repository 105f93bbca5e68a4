// Opening checkpoints: the header from the first 8 + N bytes, tensors by byte range through a
// FileHandle. Nothing here reads a whole file; every handle is closed on error and on close().

import { constants, readSync, type Stats } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { SafetensorsError } from './errors';
import { DTYPES, decode } from './dtypes';
import { parseHeader, readHeaderLength, MAX_HEADER_SIZE } from './header';
import { isShardIndexPath, mergeShardTensors, parseShardIndex, type ShardIndex } from './sharded';
import type { Checkpoint, DecodedValues, SafetensorsHeader, TensorInfo } from './types';

export interface OpenOptions {
  /** Cancels opening (checked between files). */
  readonly signal?: AbortSignal;
}

export const DEFAULT_CHUNK_ELEMENTS = 1 << 20;
/** fs reads take at most 2^31-1 bytes per call; stay well under. */
const MAX_READ = 1 << 30;
/** Never wait on an open: without it, opening a FIFO blocks until something writes to it. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
/** Where the platform has it: the last part of a path already resolved must not be a link. */
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/** Fill `buf` from `position`, looping over short reads; a read of 0 bytes means the file shrank. */
async function readFully(handle: FileHandle, file: string, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.byteLength) {
    const len = Math.min(buf.byteLength - done, MAX_READ);
    const { bytesRead } = await handle.read(buf, done, len, position + done);
    if (bytesRead === 0) throw new SafetensorsError(file, 'short-read', `wanted ${buf.byteLength} bytes at ${position}, got ${done}`);
    done += bytesRead;
  }
}

/** readFully, blocking this thread (see Checkpoint.readBytesSync). */
function readFullySync(handle: FileHandle, file: string, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.byteLength) {
    const len = Math.min(buf.byteLength - done, MAX_READ);
    const bytesRead = readSync(handle.fd, buf, done, len, position + done);
    if (bytesRead === 0) throw new SafetensorsError(file, 'short-read', `wanted ${buf.byteLength} bytes at ${position}, got ${done}`);
    done += bytesRead;
  }
}

/** What a file that is not a regular one is, in words. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'neither a file nor a folder';
}

/** A file system error that is about the kind of file `file` is, as its rule; anything else as it is. */
function refusalOf(e: unknown, file: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ELOOP') return new SafetensorsError(file, 'symlink-loop');
  if (code === 'EISDIR') return new SafetensorsError(file, 'not-a-regular-file', 'a directory');
  if (code === 'ENXIO' || code === 'ENODEV') return new SafetensorsError(file, 'not-a-regular-file', 'a socket or a device');
  return e;
}

/**
 * Opens a file for reading only when it is a regular file. It is stat'ed first, so a FIFO, socket,
 * device or folder is refused without ever being opened; the open itself never blocks, and the
 * opened file is checked again (it may have been replaced in between). `file` names it in errors;
 * `at` is where to open it (a path already resolved, opened without following a last link).
 */
async function openRegular(file: string, at = file, flags = 0): Promise<{ handle: FileHandle; stats: Stats }> {
  let before: Stats;
  try {
    before = await stat(at);
  } catch (e) {
    throw refusalOf(e, file);
  }
  if (!before.isFile()) throw new SafetensorsError(file, 'not-a-regular-file', kindOf(before));
  let handle: FileHandle;
  try {
    handle = await open(at, OPEN_FLAGS | flags);
  } catch (e) {
    throw refusalOf(e, file);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new SafetensorsError(file, 'not-a-regular-file', kindOf(stats));
    return { handle, stats };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

async function readHeaderFrom(handle: FileHandle, file: string, fileBytes: number): Promise<SafetensorsHeader> {
  const prefix = new Uint8Array(8);
  if (fileBytes >= 8) await readFully(handle, file, prefix, 0);
  const n = readHeaderLength(file, fileBytes, prefix); // refuses huge N before allocating
  const headerBytes = new Uint8Array(n);
  await readFully(handle, file, headerBytes, 8);
  return parseHeader(file, fileBytes, headerBytes, n);
}

/** Opens a checkpoint file named `file` (read at `at`), validates its header; closed on error. */
async function openHeaderAt(file: string, at = file, flags = 0): Promise<{ header: SafetensorsHeader; handle: FileHandle }> {
  const { handle, stats } = await openRegular(file, at, flags);
  try {
    return { header: await readHeaderFrom(handle, file, stats.size), handle };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** Open one .safetensors file and validate its header; the handle stays open (closed on error). */
export async function openHeaderFile(file: string): Promise<{ header: SafetensorsHeader; handle: FileHandle }> {
  return openHeaderAt(path.resolve(file));
}

/** Read and validate the header of one .safetensors file (the file is closed afterwards). */
export async function readHeader(file: string): Promise<SafetensorsHeader> {
  const { header, handle } = await openHeaderFile(file);
  await handle.close();
  return header;
}

/** Open a .safetensors file or a sharded `*.safetensors.index.json` as one Checkpoint. */
export async function openCheckpoint(file: string, opts: OpenOptions = {}): Promise<Checkpoint> {
  opts.signal?.throwIfAborted();
  if (isShardIndexPath(file)) return openSharded(file, opts);
  const { header, handle } = await openHeaderFile(file);
  return new FileCheckpoint(header.file, 'single', [header], new Map([[header.file, handle]]), header.metadata, header.tensors);
}

async function readIndex(abs: string): Promise<ShardIndex> {
  const { handle, stats } = await openRegular(abs);
  let bytes: Uint8Array;
  try {
    if (stats.size > MAX_HEADER_SIZE) throw new SafetensorsError(abs, 'index-invalid', 'index file is over 100,000,000 bytes');
    bytes = new Uint8Array(stats.size);
    await readFully(handle, abs, bytes, 0);
  } finally {
    await handle.close();
  }
  return parseShardIndex(abs, bytes);
}

function isInside(folder: string, file: string): boolean {
  const rel = path.relative(folder, file);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/**
 * Where each shard really is. The names were checked when the index was parsed, but a name can
 * still be a symbolic link: its real path must be inside the index's folder (the real path of the
 * folder, or the folder of the index's real path, as in the Hugging Face cache where the files of
 * a snapshot are links into one blob folder). Nothing outside is opened, so nothing of it is shown.
 */
async function realShardPaths(index: ShardIndex): Promise<Map<string, string>> {
  const abs = index.indexPath;
  const folders: string[] = [];
  try {
    folders.push(await realpath(path.dirname(abs)), path.dirname(await realpath(abs)));
  } catch (e) {
    throw refusalOf(e, abs);
  }
  const real = new Map<string, string>();
  for (const shard of index.shards) {
    let target: string;
    try {
      target = await realpath(shard);
    } catch (e) {
      throw refusalOf(e, shard);
    }
    if (!folders.some((f) => isInside(f, target))) {
      const name = path.relative(path.dirname(abs), shard);
      throw new SafetensorsError(abs, 'shard-outside-folder', `${JSON.stringify(name)} leads to ${target}`);
    }
    real.set(shard, target);
  }
  return real;
}

async function openSharded(indexFile: string, opts: OpenOptions): Promise<Checkpoint> {
  const abs = path.resolve(indexFile);
  const index = await readIndex(abs);
  const real = await realShardPaths(index);
  const handles = new Map<string, FileHandle>();
  const headers: SafetensorsHeader[] = [];
  try {
    for (const shard of index.shards) {
      opts.signal?.throwIfAborted();
      const { header, handle } = await openHeaderAt(shard, real.get(shard), NO_FOLLOW);
      handles.set(shard, handle);
      headers.push(header);
    }
    const tensors = mergeShardTensors(index, headers);
    return new FileCheckpoint(abs, 'sharded', headers, handles, index.metadata, tensors);
  } catch (e) {
    await Promise.allSettled([...handles.values()].map((h) => h.close()));
    throw e;
  }
}

class FileCheckpoint implements Checkpoint {
  readonly files: readonly string[];
  readonly totalBytes: number;
  /** Built on the first lookup: opening and listing need none. */
  private names: Map<string, TensorInfo> | undefined;
  private closed = false;

  constructor(
    readonly path: string,
    readonly kind: 'single' | 'sharded',
    headers: readonly SafetensorsHeader[],
    private readonly handles: Map<string, FileHandle>,
    readonly metadata: Readonly<Record<string, string>>,
    readonly tensors: readonly TensorInfo[],
  ) {
    this.files = headers.map((h) => h.file);
    this.totalBytes = headers.reduce((s, h) => s + h.fileBytes, 0);
  }

  private get byName(): Map<string, TensorInfo> {
    if (this.names === undefined) {
      this.names = new Map();
      for (const t of this.tensors) this.names.set(t.name, t);
    }
    return this.names;
  }

  tensor(name: string): TensorInfo | undefined {
    return this.byName.get(name);
  }

  /** The handle for a tensor of this checkpoint; refuses tensors from elsewhere. */
  private handleFor(tensor: TensorInfo): FileHandle {
    if (this.closed) throw new SafetensorsError(this.path, 'closed', `reading ${JSON.stringify(tensor.name)}`);
    const own = this.byName.get(tensor.name);
    const handle = this.handles.get(tensor.file);
    if (!own || !handle || own.file !== tensor.file || own.fileOffset !== tensor.fileOffset || own.bytes !== tensor.bytes) {
      throw new SafetensorsError(this.path, 'tensor-not-found', JSON.stringify(tensor.name));
    }
    return handle;
  }

  async readBytes(tensor: TensorInfo, start = 0, end: number = tensor.bytes, into?: Uint8Array): Promise<Uint8Array> {
    const { handle, buf } = this.readTarget(tensor, start, end, into);
    await readFully(handle, tensor.file, buf, tensor.fileOffset + start);
    return buf;
  }

  readBytesSync(tensor: TensorInfo, start = 0, end: number = tensor.bytes, into?: Uint8Array): Uint8Array {
    const { handle, buf } = this.readTarget(tensor, start, end, into);
    readFullySync(handle, tensor.file, buf, tensor.fileOffset + start);
    return buf;
  }

  /** The handle and the buffer for bytes [start, end) of a tensor of this checkpoint (checked). */
  private readTarget(
    tensor: TensorInfo,
    start: number,
    end: number,
    into: Uint8Array | undefined,
  ): { handle: FileHandle; buf: Uint8Array } {
    const handle = this.handleFor(tensor);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > tensor.bytes) {
      throw new SafetensorsError(
        tensor.file,
        'invalid-range',
        `[${start}, ${end}) of ${JSON.stringify(tensor.name)} (${tensor.bytes} bytes)`,
      );
    }
    if (into && into.byteLength < end - start)
      throw new RangeError(`readBytes: a buffer of ${into.byteLength} bytes cannot hold ${end - start}`);
    return { handle, buf: into ? into.subarray(0, end - start) : new Uint8Array(end - start) };
  }

  private requireDecodable(tensor: TensorInfo): number {
    const info = DTYPES[tensor.dtype];
    if (!info.decodable) throw new SafetensorsError(tensor.file, 'dtype-not-decoded', `${tensor.dtype} of ${JSON.stringify(tensor.name)}`);
    return info.bits / 8;
  }

  async readValues(tensor: TensorInfo): Promise<DecodedValues> {
    this.handleFor(tensor);
    this.requireDecodable(tensor);
    return decode(tensor.dtype, await this.readBytes(tensor));
  }

  async *chunks(tensor: TensorInfo, chunkElements = DEFAULT_CHUNK_ELEMENTS, signal?: AbortSignal): AsyncIterable<DecodedValues> {
    this.handleFor(tensor);
    const size = this.requireDecodable(tensor);
    if (!Number.isSafeInteger(chunkElements) || chunkElements < 1)
      throw new RangeError(`chunkElements must be a positive integer, got ${chunkElements}`);
    for (let first = 0; first < tensor.params; first += chunkElements) {
      signal?.throwIfAborted();
      const last = Math.min(first + chunkElements, tensor.params);
      yield decode(tensor.dtype, await this.readBytes(tensor, first * size, last * size));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled([...this.handles.values()].map((h) => h.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
