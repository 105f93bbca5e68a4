// Statistics of the tensors of an opened checkpoint, read as raw bytes in large chunks (the next
// chunk is read while this one is counted) and computed by tensorStats' byte path. The ranges
// functions are what the stats pool's workers run on their part of a big tensor.

import type { Checkpoint, TensorInfo } from '../safetensors/types';
import { DTYPES, isDecodable } from '../safetensors/dtypes';
import { computeTensorStatsFromBytes, type ByteSource, type TensorStats, type TensorStatsOptions } from './tensorStats';
import { pass1Accumulator, Pass2Accumulator, pathOf, type HistogramPlan, type Pass1Partial } from './accumulators';
import { KEEP_AREA_BYTES, SLOT_BYTES, statsKernels } from './statsKernels';

/** No statistics, and why (a dtype that is not decoded to numbers). */
export interface StatsSkipped {
  readonly skipped: string;
}

export type TensorStatsOutcome = TensorStats | StatsSkipped;

export interface TensorStatsOfOptions extends Omit<TensorStatsOptions, 'totalElements'> {
  /** Elements per read from the checkpoint (default: 8 MiB worth). */
  chunkElements?: number;
  /** The tensor's bytes, already being read (ReadAhead.take): used for both passes, then given back. */
  bytes?: ReadAheadBytes;
  /** Awaited before each chunk is used: the inspector's batch pauses there while the user's own requests run. */
  gate?: () => Promise<void>;
}

/** Bytes per read: large enough that a read costs little per byte, small enough to stay in cache. */
export const CHUNK_BYTES = SLOT_BYTES;

export function isStatsSkipped(outcome: TensorStatsOutcome): outcome is StatsSkipped {
  return 'skipped' in outcome;
}

export function skippedReason(tensor: TensorInfo): string | undefined {
  return isDecodable(tensor.dtype) ? undefined : `dtype ${tensor.dtype} is not decoded to numbers`;
}

/**
 * A two-pass tensor up to this size is read once: its bytes stay in memory for the histogram pass
 * (a second read from the page cache costs about a fifth of the F32 work), in the kernels' keep area
 * when it is free (no allocation, and the kernels take the bytes where they are).
 */
export const KEEP_BYTES = KEEP_AREA_BYTES;

/** Full-size read buffers of finished runs, reused (allocating 8 MiB zeroed per tensor and pass shows in profiles). */
const spare: Uint8Array[] = [];
/** The kernels' read slots (none without the kernels), and those not in use: a chunk read there needs no copy into the kernels' memory. */
let slots: readonly Uint8Array[] | undefined;
let freeSlots: Uint8Array[] = [];

/** The read slots not in use now (the first call finds the kernels' slots). */
function freeReadSlots(): Uint8Array[] {
  if (!slots) {
    slots = statsKernels()?.slots ?? [];
    freeSlots = [...slots];
  }
  return freeSlots;
}

function takeBuffer(bytes: number): Uint8Array {
  freeReadSlots();
  const slot = bytes <= CHUNK_BYTES ? freeSlots.pop() : undefined;
  if (slot) return slot.subarray(0, bytes);
  if (bytes === CHUNK_BYTES) return spare.pop() ?? new Uint8Array(CHUNK_BYTES);
  return new Uint8Array(bytes);
}

function giveBack(buf: Uint8Array): void {
  const slot = slots?.find((s) => s.buffer === buf.buffer && s.byteOffset === buf.byteOffset);
  if (slot) freeSlots.push(slot);
  else if (buf.byteLength === CHUNK_BYTES && spare.length < 4) spare.push(buf);
}

/**
 * Raw bytes of elements [first, last) of `tensor` in chunks of `chunkElements`, through two buffers
 * reused for the whole run: the next chunk is read while the caller works on the current one.
 */
export function byteSource(checkpoint: Checkpoint, tensor: TensorInfo, signal?: AbortSignal, chunkElements?: number): ByteSource {
  const size = DTYPES[tensor.dtype].bits / 8;
  const per = Math.max(1, chunkElements ?? Math.floor(CHUNK_BYTES / size));
  return async function* (first: number, last: number) {
    if (last <= first) return;
    const chunkBytes = Math.min(per, last - first) * size;
    const buffers = [takeBuffer(chunkBytes), takeBuffer(chunkBytes)];
    const read = (at: number, i: number): Promise<Uint8Array> =>
      checkpoint.readBytes(tensor, at * size, Math.min(last, at + per) * size, buffers[i]);
    let pending: Promise<Uint8Array> | undefined = read(first, 0);
    let which = 0;
    try {
      for (let at = first; at < last; at += per) {
        signal?.throwIfAborted();
        const chunk = await pending;
        pending = undefined;
        const next = at + per;
        which ^= 1;
        if (next < last) pending = read(next, which);
        yield chunk as Uint8Array;
      }
    } finally {
      // A read still in flight when the caller stops: let it end before its buffer is reused.
      await pending?.catch(() => undefined);
      buffers.forEach(giveBack);
    }
  };
}

/** Whether a kept tensor's bytes are in the kernels' keep area now (one tensor at a time per thread). */
let keepAreaInUse = false;

/**
 * Like byteSource, for a tensor read twice: the first pass reads into one buffer of the whole range
 * (chunk by chunk, the next read in flight while the caller works), the second yields the same bytes.
 * The buffer is the kernels' keep area when it is free; `release` gives it back once both passes are done.
 */
function keptByteSource(
  checkpoint: Checkpoint,
  tensor: TensorInfo,
  signal?: AbortSignal,
  chunkElements?: number,
): { source: ByteSource; release(): void } {
  const size = DTYPES[tensor.dtype].bits / 8;
  const per = Math.max(1, chunkElements ?? Math.floor(CHUNK_BYTES / size));
  let kept: { first: number; last: number; bytes: Uint8Array; complete: boolean } | undefined;
  let holdsArea = false;
  const buffer = (bytes: number): Uint8Array => {
    const area = statsKernels()?.keep;
    if (area && (holdsArea || !keepAreaInUse) && bytes <= area.byteLength) {
      keepAreaInUse = holdsArea = true;
      return area.subarray(0, bytes);
    }
    return new Uint8Array(bytes);
  };
  const source: ByteSource = async function* (first: number, last: number) {
    if (last <= first) return;
    if (kept?.complete && kept.first === first && kept.last === last) {
      for (let at = first; at < last; at += per) {
        signal?.throwIfAborted();
        yield kept.bytes.subarray((at - first) * size, (Math.min(last, at + per) - first) * size);
      }
      return;
    }
    const bytes = buffer((last - first) * size);
    kept = { first, last, bytes, complete: false };
    const read = (at: number): Promise<Uint8Array> =>
      checkpoint.readBytes(tensor, at * size, Math.min(last, at + per) * size, bytes.subarray((at - first) * size));
    let pending: Promise<Uint8Array> | undefined = read(first);
    try {
      for (let at = first; at < last; at += per) {
        signal?.throwIfAborted();
        const chunk = await pending;
        pending = at + per < last ? read(at + per) : undefined;
        yield chunk as Uint8Array;
      }
      kept.complete = true;
    } finally {
      await pending?.catch(() => undefined);
    }
  };
  return {
    source,
    release: () => {
      kept = undefined;
      if (holdsArea) keepAreaInUse = holdsArea = false;
    },
  };
}

/** Tensors of at most this many bytes are read ahead (ReadAhead). */
export const READ_AHEAD_MAX = CHUNK_BYTES;
/** Bytes and tensors a ReadAhead keeps in flight at most. */
const READ_AHEAD_BYTES = 2 * CHUNK_BYTES;
const READ_AHEAD_TENSORS = 16;

/** A tensor's bytes read ahead: being read, and its buffer to give back once the tensor is done. */
export interface ReadAheadBytes {
  readonly bytes: Promise<Uint8Array>;
  release(): void;
}

/**
 * The bytes of the small tensors of a list computed in order on this thread, read ahead of their turn
 * while earlier ones are computed: a checkpoint of many small tensors (a ViT-S: 152, none over 2.4 MB)
 * otherwise waits for each tensor's first read. Up to READ_AHEAD_BYTES and READ_AHEAD_TENSORS in
 * flight, into the kernels' keep area used as a ring (the kernels take the bytes where they are; the
 * buffers come back in the order they were taken). Nothing is read ahead without the kernels, while
 * the keep area is someone else's, or across a tensor that will read itself into the keep area.
 */
export class ReadAhead {
  private readonly pending = new Map<number, ReadAheadBytes>();
  private next = 0;
  private inFlight = 0;
  /** The ring's buffers in the keep area, oldest first; `head`: where the next one goes. */
  private readonly held: { start: number; end: number; freed: boolean }[] = [];
  private head = 0;
  private holdsArea = false;

  constructor(
    private readonly checkpoint: Checkpoint,
    private readonly tensors: readonly TensorInfo[],
  ) {
    this.fill(0);
  }

  /** Tensor i's bytes if they were read ahead (for tensorStatsOf's `bytes`, which gives them back), and reads on. */
  take(i: number): ReadAheadBytes | undefined {
    const got = this.pending.get(i);
    if (got) {
      this.pending.delete(i);
      this.inFlight -= this.tensors[i].bytes;
    } else if (keepsItsBytes(this.tensors[i])) return undefined; // it takes the keep area now: read on after it
    this.fill(i + 1);
    return got;
  }

  /** Waits for the reads still in flight and gives their buffers back (after an error or a cancel). */
  async dispose(): Promise<void> {
    const left = [...this.pending.values()];
    this.pending.clear();
    this.next = this.tensors.length;
    await Promise.all(left.map((p) => p.bytes.then(p.release, p.release)));
  }

  private fill(from: number): void {
    for (let j = Math.max(this.next, from); j < this.tensors.length && this.pending.size < READ_AHEAD_TENSORS; j++) {
      const t = this.tensors[j];
      if (skippedReason(t) || t.params === 0 || t.bytes > READ_AHEAD_MAX) {
        if (keepsItsBytes(t)) return;
        this.next = j + 1;
        continue;
      }
      if (this.inFlight + t.bytes > READ_AHEAD_BYTES) return;
      const slot = this.alloc(t.bytes);
      if (!slot) return;
      this.next = j + 1;
      this.inFlight += t.bytes;
      const release = (): void => this.free(slot.entry);
      this.pending.set(j, { bytes: this.checkpoint.readBytes(t, 0, t.bytes, slot.buf), release });
    }
  }

  /** `bytes` of the keep area after the ring's newest buffer (or from its start), or undefined when they are not free. */
  private alloc(bytes: number): { buf: Uint8Array; entry: { start: number; end: number; freed: boolean } } | undefined {
    const area = statsKernels()?.keep;
    if (!area) return undefined;
    if (!this.holdsArea) {
      if (keepAreaInUse) return undefined;
      keepAreaInUse = this.holdsArea = true;
      this.head = 0;
    }
    const tail = this.held.length > 0 ? this.held[0].start : undefined;
    let at: number;
    if (tail === undefined) at = 0;
    else if (this.head > tail) {
      // Taken: [tail, head). Free: after head, or from the start up to tail.
      if (this.head + bytes <= area.byteLength) at = this.head;
      else if (bytes <= tail) at = 0;
      else return undefined;
    } else if (this.head + bytes <= tail)
      at = this.head; // wrapped: free between head and tail
    else return undefined;
    const entry = { start: at, end: at + bytes, freed: false };
    this.held.push(entry);
    this.head = entry.end;
    return { buf: area.subarray(at, at + bytes), entry };
  }

  private free(entry: { freed: boolean }): void {
    entry.freed = true;
    while (this.held.length > 0 && this.held[0].freed) this.held.shift();
    if (this.held.length === 0 && this.holdsArea) {
      keepAreaInUse = this.holdsArea = false;
      this.head = 0;
    }
  }
}

/** Whether tensorStatsOf reads this tensor into the keep area itself (two passes, at most KEEP_BYTES, not read ahead). */
function keepsItsBytes(t: TensorInfo): boolean {
  return !skippedReason(t) && t.params > 0 && t.bytes > READ_AHEAD_MAX && t.bytes <= KEEP_BYTES && pathOf(t.dtype, t.params) !== 'table';
}

/** A source of bytes already in memory (all of the tensor's), in chunks of `per` elements. */
function memorySource(all: Promise<Uint8Array>, size: number, per: number, signal?: AbortSignal): ByteSource {
  return async function* (first: number, last: number) {
    const bytes = await all;
    for (let at = first; at < last; at += per) {
      signal?.throwIfAborted();
      yield bytes.subarray(at * size, Math.min(last, at + per) * size);
    }
  };
}

async function* gated(chunks: AsyncIterable<Uint8Array>, gate: () => Promise<void>): AsyncIterable<Uint8Array> {
  for await (const chunk of chunks) {
    await gate();
    yield chunk;
  }
}

export async function tensorStatsOf(
  checkpoint: Checkpoint,
  tensor: TensorInfo,
  opts: TensorStatsOfOptions = {},
): Promise<TensorStatsOutcome> {
  const skipped = skippedReason(tensor);
  if (skipped) return { skipped };
  const { chunkElements, gate, bytes, ...rest } = opts;
  const twoPasses = pathOf(tensor.dtype, tensor.params) !== 'table';
  const size = DTYPES[tensor.dtype].bits / 8;
  const kept =
    !bytes && twoPasses && tensor.bytes <= KEEP_BYTES ? keptByteSource(checkpoint, tensor, opts.signal, chunkElements) : undefined;
  const source = bytes
    ? memorySource(bytes.bytes, size, Math.max(1, chunkElements ?? Math.floor(CHUNK_BYTES / size)), opts.signal)
    : (kept?.source ?? byteSource(checkpoint, tensor, opts.signal, chunkElements));
  try {
    return await computeTensorStatsFromBytes(tensor.dtype, gate ? (first, last) => gated(source(first, last), gate) : source, {
      ...rest,
      elements: tensor.params,
    });
  } finally {
    kept?.release();
    if (bytes) await bytes.bytes.then(bytes.release, bytes.release);
  }
}

/** The first pass over elements [first, last) of a tensor (first on a superblock boundary). */
export async function pass1OfRange(
  checkpoint: Checkpoint,
  tensor: TensorInfo,
  first: number,
  last: number,
  signal?: AbortSignal,
  onProgress?: (doneElements: number) => void,
): Promise<Pass1Partial> {
  const acc = pass1Accumulator(tensor.dtype, tensor.params);
  for await (const chunk of byteSource(checkpoint, tensor, signal)(first, last)) {
    acc.addBytes(chunk);
    onProgress?.(acc.seen);
  }
  signal?.throwIfAborted();
  return acc.result();
}

/** The histogram pass over elements [first, last) of a tensor. */
export async function pass2OfRange(
  checkpoint: Checkpoint,
  tensor: TensorInfo,
  first: number,
  last: number,
  plan: HistogramPlan,
  signal?: AbortSignal,
  onProgress?: (doneElements: number) => void,
): Promise<Float64Array> {
  const acc = new Pass2Accumulator(tensor.dtype, plan);
  for await (const chunk of byteSource(checkpoint, tensor, signal)(first, last)) {
    acc.addBytes(chunk);
    onProgress?.(acc.seen);
  }
  signal?.throwIfAborted();
  return acc.counts();
}
