// The contract every part of the project uses to talk about safetensors checkpoints.
// Implementations live beside this file (dtypes.ts, header.ts, reader.ts, sharded.ts, writer.ts).

/** Every dtype of the reference implementation (huggingface/safetensors). */
export type DType =
  | 'BOOL'
  | 'F4'
  | 'F6_E2M3'
  | 'F6_E3M2'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'F8_E8M0'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'C64'
  | 'F64'
  | 'I64'
  | 'U64';

/** One tensor's entry, with offsets resolved. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** [begin, end) relative to the start of the data area, exactly as in the header. */
  readonly dataOffsets: readonly [number, number];
  /** Number of elements (product of shape; 1 for a 0-d tensor). */
  readonly params: number;
  /** end - begin */
  readonly bytes: number;
  /** Absolute path of the file that holds the bytes (a shard for sharded models). */
  readonly file: string;
  /** Absolute byte position of the first byte in `file` (8 + headerLength + begin). */
  readonly fileOffset: number;
}

/** A parsed, validated single safetensors header. */
export interface SafetensorsHeader {
  readonly file: string;
  /** Size of the whole file in bytes. */
  readonly fileBytes: number;
  /** N, the header length in bytes as stored in the first 8 bytes. */
  readonly headerLength: number;
  /** 8 + N: where the data area begins. */
  readonly dataStart: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in the order of their data offsets (the order of the bytes on disk). */
  readonly tensors: readonly TensorInfo[];
}

/**
 * Numbers decoded from a tensor's bytes. F64/I64/U64 need 64 bits, and I32/U32 are decoded to
 * Float64Array too so they stay exact; everything else fits in 32.
 */
export type DecodedValues = Float32Array | Float64Array;

/** An opened checkpoint: one file or a sharded model behind a `*.safetensors.index.json`. */
export interface Checkpoint {
  /** The path the user opened (the .safetensors file or the index.json). */
  readonly path: string;
  readonly kind: 'single' | 'sharded';
  /** Every file that holds tensors (one for a single file). */
  readonly files: readonly string[];
  /** Total bytes over all files. */
  readonly totalBytes: number;
  /** __metadata__ of a single file; for sharded models the index's `metadata` (stringified values). */
  readonly metadata: Readonly<Record<string, string>>;
  /** All tensors; for sharded models in the order of the shards, then of offsets. */
  readonly tensors: readonly TensorInfo[];
  tensor(name: string): TensorInfo | undefined;
  /**
   * Raw bytes [start, end) of one tensor, relative to the tensor's first byte (defaults: whole
   * tensor). With `into` (at least end - start bytes) they are read into its start and that part
   * of it is returned, so a caller can reuse one buffer for many reads.
   */
  readBytes(tensor: TensorInfo, start?: number, end?: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * readBytes blocking this thread, where the checkpoint reads a file: for worker threads and the CLI
   * (never the extension host's thread). On this machine a read from the page cache costs 1-60 us of
   * CPU this way against 70-190 us through libuv's thread pool (its hand-offs), and its bytes are
   * still in this core's cache when they are used.
   */
  readBytesSync?(tensor: TensorInfo, start?: number, end?: number, into?: Uint8Array): Uint8Array;
  /** All values of one tensor, decoded (throws a SafetensorsError for dtypes that are not decoded). */
  readValues(tensor: TensorInfo): Promise<DecodedValues>;
  /**
   * Values in chunks of at most `chunkElements` elements, read one byte range at a time,
   * so memory stays bounded however large the tensor is.
   */
  chunks(tensor: TensorInfo, chunkElements?: number, signal?: AbortSignal): AsyncIterable<DecodedValues>;
  close(): Promise<void>;
}

/** A tensor to write: raw little-endian bytes in its dtype. */
export interface TensorToWrite {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}
