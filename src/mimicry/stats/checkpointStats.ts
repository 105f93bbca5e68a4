// Statistics of the tensors of an opened checkpoint, read as raw bytes in chunks (blocking reads of
// 1 MiB where the checkpoint has them; else promised reads of 8 MiB, the next in flight while this one
// is counted) and computed by tensorStats' byte path. The ranges functions are what the stats pool's
// workers run on their part of a big tensor.

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
 * A two-pass tensor up to this size is read once, and a bigger one keeps this much of its end: those
 * bytes stay in memory for the histogram pass (a second read from the page cache costs about a fifth
 * of the F32 work), in the kernels' keep area when it is free (no allocation, and the kernels take
 * the bytes where they are).
 */
export const KEEP_BYTES = KEEP_AREA_BYTES;

/** Full-size read buffers of finished runs, reused (allocating 8 MiB zeroed per tensor and pass shows in profiles). */
const spare: Uint8Array[] = [];
/** The kernels' read slots (none without the kernels), and those not in use: a chunk read there needs no copy into the kernels' memory. */
let slots: readonly Uint8Array[] | undefined;
let freeSlots: Uint8Array[] = [];

function takeBuffer(bytes: number): Uint8Array {
  if (!slots) {
    slots = statsKernels()?.slots ?? [];
    freeSlots = [...slots];
  }
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
 * Raw bytes of elements [first, last) of `tensor` in chunks of `chunkElements`: with blocking reads
 * through one buffer, else through two reused for the whole run (the next chunk is read while the
 * caller works on the current one).
 */
export function byteSource(checkpoint: Checkpoint, tensor: TensorInfo, signal?: AbortSignal, chunkElements?: number): ByteSource {
  const size = DTYPES[tensor.dtype].bits / 8;
  const readSync = syncReader(checkpoint);
  const per = Math.max(1, chunkElements ?? Math.floor((readSync ? SYNC_CHUNK_BYTES : CHUNK_BYTES) / size));
  return async function* (first: number, last: number) {
    if (last <= first) return;
    if (readSync) {
      const buf = takeBuffer(Math.min(per, last - first) * size);
      try {
        yield* blockingChunks(readSync, tensor, first, last, per, () => buf, signal);
      } finally {
        giveBack(buf);
      }
      return;
    }
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

/** Bytes per blocking read: small enough that they are still in this core's cache when the kernels take them. */
const SYNC_CHUNK_BYTES = 1 << 20;

/**
 * The checkpoint's blocking read, when it has one: statistics run on worker threads and in the CLI,
 * where a blocking read of the page cache costs a fraction of a pooled one (Checkpoint.readBytesSync),
 * and a thread that reads its own bytes keeps one core busy, not one and a half.
 */
function syncReader(checkpoint: Checkpoint): BlockingRead | undefined {
  const read = checkpoint.readBytesSync?.bind(checkpoint);
  return read ? (t, start, end, into) => read(t, start, end, into) : undefined;
}

type BlockingRead = (t: TensorInfo, start: number, end: number, into: Uint8Array) => Uint8Array;

/** Elements [from, last) of `tensor` by blocking reads of `per` elements, each into `target(at)`, with the event loop's turns. */
async function* blockingChunks(
  read: BlockingRead,
  tensor: TensorInfo,
  from: number,
  last: number,
  per: number,
  target: (at: number) => Uint8Array,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const size = DTYPES[tensor.dtype].bits / 8;
  for (let at = from; at < last; at += per) {
    await turnInTime();
    signal?.throwIfAborted();
    yield read(tensor, at * size, Math.min(last, at + per) * size, target(at));
  }
}

/** Blocking reads give the event loop a turn once this many milliseconds have passed since the last. */
const TURN_MS = 2;
let lastTurn = 0;

/**
 * A turn of the event loop when TURN_MS have passed since the last (asked before each read): blocking
 * reads never give it one, so messages (a cancel, a worker's next job, a tensor the user clicked while
 * "Compute all" runs through 10,000 small ones) would wait for the whole run. By time, not bytes: a
 * batch of tiny tensors reads few bytes per millisecond.
 */
function turnInTime(): Promise<void> | undefined {
  if (performance.now() - lastTurn < TURN_MS) return undefined;
  return new Promise((resolve) =>
    setImmediate(() => {
      lastTurn = performance.now();
      resolve();
    }),
  );
}

/** Whether a kept tensor's bytes are in the kernels' keep area now (one tensor at a time per thread). */
let keepAreaInUse = false;

/**
 * Like byteSource, for a tensor read twice: the first pass reads its last KEEP_BYTES (all of it when
 * it is no bigger) into one buffer, chunk by chunk, the rest as byteSource does; the second reads the
 * rest again and yields the kept bytes. A read from the page cache costs about a fifth of the F32
 * work, so a 128 MiB tensor read one and a half times instead of twice saves a tenth of its run.
 * The buffer is the kernels' keep area when it is free (else, for a tensor that fits, an array of its
 * own; for a bigger one, none: it is read twice); `release` gives it back once both passes are done.
 */
function keptByteSource(
  checkpoint: Checkpoint,
  tensor: TensorInfo,
  signal?: AbortSignal,
  chunkElements?: number,
): { source: ByteSource; release(): void } {
  const size = DTYPES[tensor.dtype].bits / 8;
  const readSync = syncReader(checkpoint);
  const per = Math.max(1, chunkElements ?? Math.floor((readSync ? SYNC_CHUNK_BYTES : CHUNK_BYTES) / size));
  const stream = byteSource(checkpoint, tensor, signal, chunkElements);
  /** The kept tail [from, last) of the range [first, last) of the first pass. */
  let kept: { first: number; from: number; last: number; bytes: Uint8Array; complete: boolean } | undefined;
  let holdsArea = false;
  const buffer = (bytes: number, whole: boolean): Uint8Array | undefined => {
    const area = statsKernels()?.keep;
    if (area && (holdsArea || !keepAreaInUse) && bytes <= area.byteLength) {
      keepAreaInUse = holdsArea = true;
      return area.subarray(0, bytes);
    }
    return whole ? new Uint8Array(bytes) : undefined;
  };
  const fromKept = async function* (k: NonNullable<typeof kept>) {
    for (let at = k.from; at < k.last; at += per) {
      await turnInTime();
      signal?.throwIfAborted();
      yield k.bytes.subarray((at - k.from) * size, (Math.min(k.last, at + per) - k.from) * size);
    }
  };
  /** The first pass over the kept tail: each chunk read into its place in the buffer. */
  const intoKept = async function* (k: NonNullable<typeof kept>) {
    const { from, last, bytes } = k;
    if (readSync) {
      yield* blockingChunks(readSync, tensor, from, last, per, (at) => bytes.subarray((at - from) * size), signal);
      return;
    }
    const read = (at: number): Promise<Uint8Array> =>
      checkpoint.readBytes(tensor, at * size, Math.min(last, at + per) * size, bytes.subarray((at - from) * size));
    let pending: Promise<Uint8Array> | undefined = read(from);
    try {
      for (let at = from; at < last; at += per) {
        signal?.throwIfAborted();
        const chunk = await pending;
        pending = at + per < last ? read(at + per) : undefined;
        yield chunk as Uint8Array;
      }
    } finally {
      await pending?.catch(() => undefined);
    }
  };
  const source: ByteSource = async function* (first: number, last: number) {
    if (last <= first) return;
    if (kept?.complete && kept.first === first && kept.last === last) {
      yield* stream(first, kept.from);
      yield* fromKept(kept);
      return;
    }
    const tail = Math.min(last - first, Math.floor(KEEP_BYTES / size));
    const bytes = buffer(tail * size, tail === last - first);
    if (!bytes) {
      yield* stream(first, last);
      return;
    }
    const k = { first, from: last - tail, last, bytes, complete: false };
    kept = k;
    yield* stream(first, k.from);
    yield* intoKept(k);
    k.complete = true;
  };
  return {
    source,
    release: () => {
      kept = undefined;
      if (holdsArea) keepAreaInUse = holdsArea = false;
    },
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
  const { chunkElements, gate, ...rest } = opts;
  const twoPasses = pathOf(tensor.dtype, tensor.params) !== 'table';
  const kept = twoPasses ? keptByteSource(checkpoint, tensor, opts.signal, chunkElements) : undefined;
  const source = kept?.source ?? byteSource(checkpoint, tensor, opts.signal, chunkElements);
  try {
    return await computeTensorStatsFromBytes(tensor.dtype, gate ? (first, last) => gated(source(first, last), gate) : source, {
      ...rest,
      elements: tensor.params,
    });
  } finally {
    kept?.release();
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
