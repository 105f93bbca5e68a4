// The inspector's table rows as columns (protocol.ts, TensorColumns): built by the worker, read by the
// host (the names of decodable tensors) and turned back into rows by the webview. No node imports: the
// webview bundle uses it too.
import type { TensorColumns, TensorRow } from './protocol';

/** Collects rows into columns, one tensor at a time. */
export class TensorColumnsBuilder {
  private readonly dtypeIndex = new Map<string, number>();
  private readonly columns = {
    names: [] as string[],
    dtypeOf: [] as number[],
    dtypes: [] as { dtype: string; decodable: boolean }[],
    shapes: [] as number[],
    params: [] as number[],
    bytes: [] as number[],
    shards: [] as number[],
    fileOffsets: [] as number[],
  };

  add(row: TensorRow): void {
    const c = this.columns;
    let d = this.dtypeIndex.get(row.dtype);
    if (d === undefined) {
      d = c.dtypes.length;
      this.dtypeIndex.set(row.dtype, d);
      c.dtypes.push({ dtype: row.dtype, decodable: row.decodable });
    }
    c.names.push(row.name);
    c.dtypeOf.push(d);
    c.shapes.push(row.shape.length);
    for (const n of row.shape) c.shapes.push(n);
    c.params.push(row.params);
    c.bytes.push(row.bytes);
    c.shards.push(row.shard);
    c.fileOffsets.push(row.fileOffset);
  }

  build(): TensorColumns {
    return this.columns;
  }
}

export function tensorColumnsOf(rows: readonly TensorRow[]): TensorColumns {
  const b = new TensorColumnsBuilder();
  for (const r of rows) b.add(r);
  return b.build();
}

/** The rows again, in order. */
export function rowsOf(c: TensorColumns): TensorRow[] {
  const rows = new Array<TensorRow>(c.names.length);
  let s = 0;
  for (let i = 0; i < rows.length; i++) {
    const rank = c.shapes[s++];
    const shape = c.shapes.slice(s, s + rank);
    s += rank;
    const { dtype, decodable } = c.dtypes[c.dtypeOf[i]];
    rows[i] = {
      name: c.names[i],
      dtype,
      shape,
      params: c.params[i],
      bytes: c.bytes[i],
      shard: c.shards[i],
      fileOffset: c.fileOffsets[i],
      decodable,
    };
  }
  return rows;
}

/** Names of the tensors whose dtype is decoded to numbers, in order. */
export function decodableNames(c: TensorColumns): string[] {
  return c.names.filter((_, i) => c.dtypes[c.dtypeOf[i]].decodable);
}
