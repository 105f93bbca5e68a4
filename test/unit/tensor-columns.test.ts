// The inspector's rows as columns (worker/inspect/tensorColumns.ts): what the webview builds again
// after the trip (structured clone, then VS Code's webview message) is what the worker had, row for row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TensorRow } from '../../src/mimicry/worker/inspect/protocol';
import {
  decodableNames,
  namesOf,
  namesText,
  rowsOf,
  TensorColumnsBuilder,
  tensorColumnsOf,
  tensorCount,
} from '../../src/mimicry/worker/inspect/tensorColumns';
import { throughWebviewMessage } from './helpers/webview-message';

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
  assert.deepEqual([...columns.dtypeOf], [0, 1, 0, 2, 1]);
  assert.deepEqual([...columns.shapes], [0, 2, 50257, 768, 4, 64, 3, 7, 7, 1, 0, 8, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual([...columns.shapeOf], [0, 1, 2, 3, 4]);
  assert.ok(columns.names instanceof Uint8Array); // UTF-8: ü and ï are two bytes each, one UTF-16 unit
  assert.equal(columns.names.length, 46);
  assert.equal(namesText(columns), 'scalaremb.weightconvpackedünïcode / "quoted"');
  assert.deepEqual([...columns.nameEnds], [6, 16, 20, 26, 44]);
  const arrived = throughWebviewMessage({ type: 'header', tensors: structuredClone(columns) }).tensors;
  for (const k of ['nameEnds', 'dtypeOf', 'shapeOf', 'shapes', 'params', 'bytes', 'shards', 'fileOffsets'] as const) {
    assert.equal(arrived[k].constructor, columns[k].constructor, k);
  }
  assert.equal(tensorCount(arrived), 5);
  assert.deepEqual(rowsOf(arrived), ROWS);
  assert.deepEqual(
    namesOf(arrived),
    ROWS.map((r) => r.name),
  );
  assert.deepEqual(decodableNames(arrived), ['scalar', 'emb.weight', 'conv', 'ünïcode / "quoted"']);
});

test('columns grow past their first capacity; empty names and high ranks keep their places', () => {
  const rows: TensorRow[] = Array.from({ length: 1000 }, (_, i) => ({
    name: i % 7 === 0 ? '' : `layer.${i}.w`,
    dtype: i % 3 === 0 ? 'F16' : 'F32',
    shape: Array.from({ length: i % 6 }, (_, k) => k + 2),
    params: i * 3,
    bytes: 2 ** 40 + i,
    shard: i % 5,
    fileOffset: 2 ** 52 + i,
    decodable: true,
  }));
  const b = new TensorColumnsBuilder(1);
  for (const r of rows) b.add(r);
  const columns = b.build();
  assert.equal(columns.params.length, 1000); // the spare capacity is not sent
  assert.equal(columns.shapes.length, 1 + 2 + 3 + 4 + 5 + 6); // six distinct shapes, each once
  const arrived = rowsOf(throughWebviewMessage(columns));
  assert.deepEqual(arrived, rows);
  assert.equal(arrived[7].shape, arrived[1].shape); // equal shapes: one array
  assert.ok(Object.isFrozen(arrived[1].shape));
});

test('a shape array changed between rows is read again: only frozen ones are known by identity', () => {
  const scratch = [2, 3];
  const b = new TensorColumnsBuilder(2);
  b.add({ ...ROWS[0], name: 'a', shape: scratch, params: 6 });
  scratch[1] = 5;
  b.add({ ...ROWS[0], name: 'b', shape: scratch, params: 10 });
  assert.deepEqual(
    rowsOf(b.build()).map((r) => r.shape),
    [
      [2, 3],
      [2, 5],
    ],
  );
});

test('a name with a lone surrogate (UTF-8 cannot carry it) travels as text, and every name keeps its place', () => {
  const names = ['a.\uD800.b', 'pair.\uD83D\uDE00', 'tail\uDC00', 'plain'];
  const rows: TensorRow[] = names.map((name, i) => ({ ...ROWS[0], name, fileOffset: 8 + 4 * i }));
  const columns = tensorColumnsOf(rows);
  assert.equal(typeof columns.names, 'string');
  assert.deepEqual(namesOf(throughWebviewMessage(columns)), names);
  const paired = tensorColumnsOf(rows.filter((r) => r.name.startsWith('pair') || r.name === 'plain'));
  assert.ok(paired.names instanceof Uint8Array); // a surrogate pair is UTF-8's
  assert.deepEqual(rowsOf(throughWebviewMessage(paired)), [rows[1], rows[3]]);
});

test('no tensors: empty columns, no rows', () => {
  const columns = tensorColumnsOf([]);
  assert.equal(tensorCount(columns), 0);
  assert.deepEqual(rowsOf(throughWebviewMessage(columns)), []);
  assert.deepEqual(decodableNames(columns), []);
});
