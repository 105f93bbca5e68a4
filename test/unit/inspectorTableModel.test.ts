import { test } from 'node:test';
import assert from 'node:assert/strict';
import { viewOf, matchesQuery, parseQuery } from '../../src/webview/inspector/tableModel';
import type { TensorRow, TensorStatsView } from '../../src/webview/protocol';

const row = (name: string, dtype = 'F32', shape: number[] = [2, 2]): TensorRow => ({
  name,
  dtype,
  shape,
  params: shape.reduce((a, b) => a * b, 1),
  bytes: shape.reduce((a, b) => a * b, 1) * (dtype === 'F32' ? 4 : 2),
  shard: 0,
  fileOffset: 0,
  decodable: true,
});
const stats = (std: number): TensorStatsView => ({
  count: 1,
  finiteCount: 1,
  min: 0,
  max: 0,
  mean: 0,
  std,
  meanAbs: 0,
  zeroFraction: 0,
  nanCount: 0,
  infCount: 0,
  histogram: { edges: [], counts: [] },
  quantiles: null,
});

const rows = [row('b.weight', 'F32', [4, 4]), row('a.bias', 'BF16', [4]), row('c.weight', 'F16', [8, 2]), row('A.weight')];

test('query terms all have to match, case-insensitively; dtype: filters by dtype', () => {
  assert.deepEqual(parseQuery('  Weight  b '), ['weight', 'b']);
  assert.ok(matchesQuery(rows[0], ['weight', 'b.']));
  assert.ok(!matchesQuery(rows[1], ['weight']));
  assert.deepEqual(viewOf(rows, 'WEIGHT', { key: 'order', descending: false }, new Map()), [0, 2, 3]);
  assert.deepEqual(viewOf(rows, 'dtype:bf16', { key: 'order', descending: false }, new Map()), [1]);
});

test('sorting by name, params and shape; ties keep file order', () => {
  const none = new Map<string, TensorStatsView>();
  // Natural order ignores case first: a.bias, A.weight, b.weight, c.weight.
  assert.deepEqual(viewOf(rows, '', { key: 'name', descending: false }, none), [1, 3, 0, 2]);
  assert.deepEqual(viewOf(rows, '', { key: 'params', descending: true }, none), [0, 2, 1, 3]);
  assert.deepEqual(viewOf(rows, '', { key: 'shape', descending: false }, none), [1, 3, 0, 2]);
  assert.deepEqual(viewOf(rows, '', { key: 'order', descending: true }, none), [3, 2, 1, 0]);
});

test('sorting by name is natural: h.2 before h.10, in both directions', () => {
  const none = new Map<string, TensorStatsView>();
  const names = ['h.0.w', 'h.1.w', 'h.10.w', 'h.11.w', 'h.2.w', 'h.2.lora_B', 'h.2.lora_A'];
  const blocks = names.map((n) => row(n));
  const up = viewOf(blocks, '', { key: 'name', descending: false }, none).map((i) => names[i]);
  assert.deepEqual(up, ['h.0.w', 'h.1.w', 'h.2.lora_A', 'h.2.lora_B', 'h.2.w', 'h.10.w', 'h.11.w']);
  const down = viewOf(blocks, '', { key: 'name', descending: true }, none).map((i) => names[i]);
  assert.deepEqual(down, [...up].reverse());
});

test('sorting by std keeps tensors without statistics last in both directions', () => {
  const s = new Map([
    ['a.bias', stats(0.5)],
    ['c.weight', stats(0.1)],
  ]);
  assert.deepEqual(viewOf(rows, '', { key: 'std', descending: false }, s), [2, 1, 0, 3]);
  assert.deepEqual(viewOf(rows, '', { key: 'std', descending: true }, s), [1, 2, 0, 3]);
});

test('10,000 rows filter and sort fast', () => {
  const many: TensorRow[] = [];
  for (let i = 0; i < 10_000; i++) many.push(row(`model.layers.${i % 1000}.p${i}.weight`, 'F32', [1 + (i % 7), 3]));
  const start = performance.now();
  const view = viewOf(many, 'layers.7', { key: 'params', descending: true }, new Map());
  assert.ok(performance.now() - start < 500);
  assert.ok(view.length > 0);
});
