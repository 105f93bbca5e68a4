// The inspector's table rows as columns (protocol.ts, TensorColumns): built by the worker, read by the
// host (the names of decodable tensors) and turned back into rows by the webview. No node imports: the
// webview bundle uses it too.
import type { TensorColumns, TensorRow } from './protocol';

/** Collects rows into columns, one tensor at a time; `capacity`: the number of rows expected. */
export class TensorColumnsBuilder {
  private readonly dtypeIndex = new Map<string, number>();
  private readonly dtypes: { dtype: string; decodable: boolean }[] = [];
  private readonly names: string[] = [];
  private nameEnd = 0;
  private count = 0;
  private cap: number;
  private dtypeOf: Uint16Array;
  private params: Float64Array;
  private bytes: Float64Array;
  private shards: Uint32Array;
  private fileOffsets: Float64Array;
  private nameEnds: Uint32Array;
  private shapeOf: Uint32Array;
  /** Distinct shapes: the same frozen array is one shape (the header hands out one per shape met lately). */
  private readonly shapeIds = new Map<readonly number[], number>();
  /** And equal shapes of other objects, by their text. */
  private readonly shapeIdsByText = new Map<string, number>();
  private shapes = new Float64Array(64);
  private shapeLength = 0;

  constructor(capacity = 16) {
    this.cap = Math.max(1, capacity);
    this.dtypeOf = new Uint16Array(this.cap);
    this.params = new Float64Array(this.cap);
    this.bytes = new Float64Array(this.cap);
    this.shards = new Uint32Array(this.cap);
    this.fileOffsets = new Float64Array(this.cap);
    this.nameEnds = new Uint32Array(this.cap);
    this.shapeOf = new Uint32Array(this.cap);
  }

  add(row: TensorRow): void {
    let d = this.dtypeIndex.get(row.dtype);
    if (d === undefined) {
      d = this.dtypes.length;
      this.dtypeIndex.set(row.dtype, d);
      this.dtypes.push({ dtype: row.dtype, decodable: row.decodable });
    }
    if (this.count === this.cap) this.grow();
    const i = this.count++;
    this.names.push(row.name);
    this.nameEnd += row.name.length;
    this.nameEnds[i] = this.nameEnd;
    this.dtypeOf[i] = d;
    this.params[i] = row.params;
    this.bytes[i] = row.bytes;
    this.shards[i] = row.shard;
    this.fileOffsets[i] = row.fileOffset;
    this.shapeOf[i] = this.shapeId(row.shape);
  }

  /** The index of `shape` among the distinct shapes, added when new. */
  private shapeId(shape: readonly number[]): number {
    // By identity only when frozen: an array that can change may hold another shape by now.
    const frozen = Object.isFrozen(shape);
    let id = frozen ? this.shapeIds.get(shape) : undefined;
    if (id !== undefined) return id;
    const text = shape.join(',');
    id = this.shapeIdsByText.get(text);
    if (id === undefined) {
      id = this.shapeIdsByText.size;
      this.shapeIdsByText.set(text, id);
      const need = this.shapeLength + 1 + shape.length;
      if (need > this.shapes.length) this.shapes = grown(this.shapes, Math.max(need, 2 * this.shapes.length));
      this.shapes[this.shapeLength++] = shape.length;
      for (let k = 0; k < shape.length; k++) this.shapes[this.shapeLength++] = shape[k];
    }
    if (frozen) this.shapeIds.set(shape, id);
    return id;
  }

  build(): TensorColumns {
    const n = this.count;
    // Views of exactly the rows added: a typed array crosses whole, its spare capacity included.
    const fit = <A extends Float64Array | Uint32Array | Uint16Array>(a: A, length: number): A =>
      length === a.length ? a : (a.slice(0, length) as A);
    return {
      names: this.namesUtf8(),
      nameEnds: fit(this.nameEnds, n),
      dtypeOf: fit(this.dtypeOf, n),
      dtypes: this.dtypes,
      shapeOf: fit(this.shapeOf, n),
      shapes: fit(this.shapes, this.shapeLength),
      params: fit(this.params, n),
      bytes: fit(this.bytes, n),
      shards: fit(this.shards, n),
      fileOffsets: fit(this.fileOffsets, n),
    };
  }

  /** The names' UTF-8 one after another; the text itself where a name holds a lone surrogate. */
  private namesUtf8(): Uint8Array | string {
    // ASCII names (nearly all) are copied char by char: no joined string, no encoder's copy of it.
    const out = new Uint8Array(this.nameEnd);
    let at = 0;
    for (const name of this.names) {
      for (let k = 0; k < name.length; k++) {
        const c = name.charCodeAt(k);
        if (c > 0x7f) {
          const text = this.names.join('');
          return LONE_SURROGATE.test(text) ? text : new TextEncoder().encode(text);
        }
        out[at++] = c;
      }
    }
    return out;
  }

  private grow(): void {
    this.cap *= 2;
    this.dtypeOf = grown(this.dtypeOf, this.cap);
    this.params = grown(this.params, this.cap);
    this.bytes = grown(this.bytes, this.cap);
    this.shards = grown(this.shards, this.cap);
    this.fileOffsets = grown(this.fileOffsets, this.cap);
    this.nameEnds = grown(this.nameEnds, this.cap);
    this.shapeOf = grown(this.shapeOf, this.cap);
  }
}

/** A surrogate that is not half of a pair. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function grown<A extends Float64Array | Uint32Array | Uint16Array>(a: A, length: number): A {
  const b = new (a.constructor as new (n: number) => A)(length);
  b.set(a);
  return b;
}

export function tensorColumnsOf(rows: readonly TensorRow[]): TensorColumns {
  const b = new TensorColumnsBuilder(rows.length);
  for (const r of rows) b.add(r);
  return b.build();
}

/** The columns' buffers, each its own (build() slices to fit): they can move to another thread. */
export function columnBuffers(c: TensorColumns): ArrayBuffer[] {
  const arrays: ArrayBufferView[] = [c.nameEnds, c.dtypeOf, c.shapeOf, c.shapes, c.params, c.bytes, c.shards, c.fileOffsets];
  if (typeof c.names !== 'string') arrays.push(c.names);
  return arrays.map((a) => a.buffer as ArrayBuffer);
}

/** Every name, one after another: the text nameEnds counts in. */
export function namesText(c: TensorColumns): string {
  return typeof c.names === 'string' ? c.names : new TextDecoder().decode(c.names);
}

/** Number of tensors. */
export const tensorCount = (c: TensorColumns): number => c.nameEnds.length;

/** Every name, in order. */
export function namesOf(c: TensorColumns): string[] {
  const out = new Array<string>(c.nameEnds.length);
  const text = namesText(c);
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    const end = c.nameEnds[i];
    out[i] = text.slice(start, end);
    start = end;
  }
  return out;
}

/** The distinct shapes, each one frozen array. */
function shapeList(c: TensorColumns): (readonly number[])[] {
  const out: (readonly number[])[] = [];
  for (let s = 0; s < c.shapes.length;) {
    const rank = c.shapes[s++];
    out.push(Object.freeze(Array.from(c.shapes.subarray(s, s + rank))));
    s += rank;
  }
  return out;
}

/** The rows again, in order; equal shapes are one frozen array. */
export function rowsOf(c: TensorColumns): TensorRow[] {
  const rows = new Array<TensorRow>(c.nameEnds.length);
  const text = namesText(c);
  const shapes = shapeList(c);
  let start = 0;
  for (let i = 0; i < rows.length; i++) {
    const { dtype, decodable } = c.dtypes[c.dtypeOf[i]];
    const end = c.nameEnds[i];
    rows[i] = {
      name: text.slice(start, end),
      dtype,
      shape: shapes[c.shapeOf[i]],
      params: c.params[i],
      bytes: c.bytes[i],
      shard: c.shards[i],
      fileOffset: c.fileOffsets[i],
      decodable,
    };
    start = end;
  }
  return rows;
}

/** Names of the tensors whose dtype is decoded to numbers, in order. */
export function decodableNames(c: TensorColumns): string[] {
  return namesOf(c).filter((_, i) => c.dtypes[c.dtypeOf[i]].decodable);
}
