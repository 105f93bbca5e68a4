// The inspector's rows as columns (worker/inspect/tensorColumns.ts): what the webview builds again
// after the trip (structured clone, then JSON) is what the worker had, row for row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TensorRow } from '../../src/mimicry/worker/inspect/protocol';
import { decodableNames, rowsOf, tensorColumnsOf } from '../../src/mimicry/worker/inspect/tensorColumns';

const ROWS: TensorRow[] = [
  { name: 'scalar', dtype: 'F32', shape: [], params: 1, bytes: 4, shard: 0, fileOffset: 8, decodable: true },
  {
    name: 'emb.weight',
    dtype: 'BF16',
    shape: [50257, 768],
    params: 50257 * 768,
    bytes: 50257 * 768 * 2,
    shard: 1,
    fileOffset: 12,
    decodable: true,
  },
  { name: 'conv', dtype: 'F32', shape: [64, 3, 7, 7], params: 9408, bytes: 37632, shard: 0, fileOffset: 2 ** 40, decodable: true },
  { name: 'packed', dtype: 'F4', shape: [0], params: 0, bytes: 0, shard: 2, fileOffset: 99, decodable: false },
  {
    name: 'ünïcode / "quoted"',
    dtype: 'BF16',
    shape: [1, 1, 1, 1, 1, 1, 1, 1],
    params: 1,
    bytes: 2,
    shard: 1,
    fileOffset: 7,
    decodable: true,
  },
];

test('rows survive their trip as columns: every field, every rank, dtypes shared', () => {
  const columns = tensorColumnsOf(ROWS);
  assert.deepEqual(
    columns.dtypes.map((d) => d.dtype),
    ['F32', 'BF16', 'F4'],
  );
  assert.deepEqual(columns.dtypeOf, [0, 1, 0, 2, 1]);
  assert.deepEqual(columns.shapes, [0, 2, 50257, 768, 4, 64, 3, 7, 7, 1, 0, 8, 1, 1, 1, 1, 1, 1, 1, 1]);
  const arrived = JSON.parse(JSON.stringify(structuredClone(columns))) as typeof columns;
  assert.deepEqual(rowsOf(arrived), ROWS);
  assert.deepEqual(decodableNames(arrived), ['scalar', 'emb.weight', 'conv', 'ünïcode / "quoted"']);
});

test('no tensors: empty columns, no rows', () => {
  const columns = tensorColumnsOf([]);
  assert.deepEqual(rowsOf(columns), []);
  assert.deepEqual(decodableNames(columns), []);
});
