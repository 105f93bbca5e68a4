// Writing big files around the page cache (Linux O_DIRECT), for the safetensors writer: copying
// hundreds of MB into fresh page-cache pages cost more than a second of CPU per 330 MB on a virtual
// machine (each new page faults on the host), then fsync wrote them again; direct writes cost ~50 ms
// of CPU for the same file and leave nothing for fsync to flush. The bytes on disk are the same
// either way, and anywhere direct writes are refused the buffered route takes over. (Not for the
// template store's scratch file: read back at once, it is best left in the page cache; on a slow
// disk, direct writes and the reads after them would cost far more than they save.)
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

const MAX_WRITE = 1 << 30;

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, Math.min(bytes.byteLength - done, MAX_WRITE), position + done);
    done += bytesWritten;
  }
}

/** When and how files are written around the page cache (DirectSink); tests and benches change it. */
export interface DirectWrites {
  /** Off: every file through the page cache. */
  readonly enabled: boolean;
  /** Files smaller than this go through the page cache (direct writes save nothing worth it there). */
  readonly minBytes: number;
  /** Bytes staged per write (a multiple of DIRECT_ALIGN). */
  readonly chunk: number;
  /** Where the staging buffer starts in its page-aligned memory: 0; tests misalign it to see the system refuse direct writes. */
  readonly offset: number;
}

const DEFAULT_DIRECT: DirectWrites = { enabled: true, minBytes: 64 << 20, chunk: 4 << 20, offset: 0 };
/** Files written each way since start (tests and benches: whether direct writes happen here). */
export const writeRoutes = { direct: 0, buffered: 0, fallback: 0 };
let direct: DirectWrites = DEFAULT_DIRECT;

/** Changes how big files are written (tests, benches); no argument restores the default. */
export function setDirectWrites(change?: Partial<DirectWrites>): void {
  direct = change ? { ...direct, ...change } : DEFAULT_DIRECT;
}

/** O_DIRECT's alignment of memory, file offsets and lengths (the largest logical block size in use). */
const DIRECT_ALIGN = 4096;
const WASM_PAGE = 65536;

/** A new file's bytes in order: appended, then finished (the last partial block, the size). */
export interface Sink {
  readonly handle: FileHandle;
  append(bytes: Uint8Array): Promise<void>;
  finish(): Promise<void>;
}

class BufferedSink implements Sink {
  constructor(
    readonly handle: FileHandle,
    private position = 0,
  ) {}
  async append(bytes: Uint8Array): Promise<void> {
    await writeAll(this.handle, bytes, this.position);
    this.position += bytes.byteLength;
  }
  finish(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * O_DIRECT writes from two staging buffers, one filled while the other is written: whole chunks at
 * chunk-aligned offsets, the last partial block padded and then cut off by truncation. The buffers
 * are a WebAssembly memory: the only memory JavaScript can allocate that is page-aligned (V8
 * reserves it on 64 KiB boundaries), as O_DIRECT requires. A write the system refuses (EINVAL: a
 * file system or device that wants other alignment) hands the file to the buffered route from where
 * it stands: every byte before it is on disk, and the refused ones are written again that way.
 */
class DirectSink implements Sink {
  private fill = 0;
  /** File offset of the current stage's first byte. */
  private base = 0;
  /** The stage being filled; the other one may be in flight. */
  private current = 0;
  private inFlight: { readonly bytes: Uint8Array; readonly at: number; readonly write: Promise<void> } | null = null;
  private fallback: BufferedSink | null = null;

  private constructor(
    public handle: FileHandle,
    private readonly path: string,
    private readonly stages: readonly [Uint8Array, Uint8Array],
  ) {}

  /** A sink on a new file `tmp` (created exclusively), or null where O_DIRECT cannot be had (the caller opens it buffered). */
  static async create(tmp: string, { chunk, offset }: DirectWrites): Promise<DirectSink | null> {
    const flag = constants.O_DIRECT;
    if (typeof flag !== 'number' || flag === 0) return null;
    const bytes = Math.max(DIRECT_ALIGN, Math.floor(chunk / DIRECT_ALIGN) * DIRECT_ALIGN);
    let stages: [Uint8Array, Uint8Array];
    try {
      const memory = new WebAssembly.Memory({ initial: Math.ceil((2 * bytes + offset) / WASM_PAGE) }).buffer;
      stages = [new Uint8Array(memory, offset, bytes), new Uint8Array(memory, offset + bytes, bytes)];
    } catch {
      return null; // no WebAssembly, or no address space for it (a ulimit)
    }
    let handle: FileHandle;
    try {
      handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | flag, 0o666);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EINVAL') return null; // this file system has no O_DIRECT
      throw e;
    }
    return new DirectSink(handle, tmp, stages);
  }

  async append(bytes: Uint8Array): Promise<void> {
    if (this.fallback) return this.fallback.append(bytes);
    let at = 0;
    while (at < bytes.byteLength) {
      const stage = this.stages[this.current];
      const take = Math.min(bytes.byteLength - at, stage.byteLength - this.fill);
      stage.set(bytes.subarray(at, at + take), this.fill);
      this.fill += take;
      at += take;
      if (this.fill < stage.byteLength) continue;
      await this.flush(this.fill);
      // flush() may have handed the file to the buffered route.
      const fallback = this.fallback as BufferedSink | null;
      if (fallback) return fallback.append(bytes.subarray(at));
    }
  }

  async finish(): Promise<void> {
    if (this.fallback) return;
    const fill = this.fill;
    const size = this.base + fill;
    const padded = Math.ceil(fill / DIRECT_ALIGN) * DIRECT_ALIGN;
    if (padded > 0) {
      this.stages[this.current].fill(0, fill, padded);
      await this.flush(padded);
    }
    await this.settle();
    if (padded > fill) await this.handle.truncate(size);
  }

  /** Starts writing the current stage's first `length` bytes (once the other stage's write is done) and switches stages. */
  private async flush(length: number): Promise<void> {
    const bytes = this.stages[this.current].subarray(0, length);
    const at = this.base;
    this.base += this.fill;
    this.fill = 0;
    await this.settle();
    if (this.fallback) {
      await this.fallback.append(bytes);
      return;
    }
    const write = writeAll(this.handle, bytes, at);
    write.catch(() => undefined); // awaited in settle()
    this.inFlight = { bytes, at, write };
    this.current ^= 1;
  }

  /** Waits for the write in flight; one the system refuses (EINVAL) is redone buffered, and the file goes on that way. */
  private async settle(): Promise<void> {
    const f = this.inFlight;
    if (!f) return;
    this.inFlight = null;
    try {
      await f.write;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      const buffered = await open(this.path, 'r+');
      await this.handle.close().catch(() => undefined);
      this.handle = buffered;
      this.fallback = new BufferedSink(buffered, f.at);
      writeRoutes.fallback++;
      await this.fallback.append(f.bytes);
    }
  }
}

/** A sink on a new file `file` (created exclusively): direct when enabled and the file will be at least `minBytes`, else through the page cache. */
export async function openSink(file: string, totalBytes: number): Promise<Sink> {
  const d = direct;
  const directSink = d.enabled && totalBytes >= d.minBytes ? await DirectSink.create(file, d) : null;
  writeRoutes[directSink ? 'direct' : 'buffered']++;
  return directSink ?? new BufferedSink(await open(file, 'wx'));
}
