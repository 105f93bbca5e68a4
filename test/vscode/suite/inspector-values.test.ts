// The inspector's values view over the real message path: a page asked for as the webview asks
// (the extension's test API sends the same request to the same document), read by the engine
// worker, compared with the file's own bytes read here; bad indices come back as an error message
// naming the file and the rule, and the inspector keeps working.
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { api, closeAllEditors, openInInspector, workspaceFile } from './helpers';

/** Elements [from, to) of a tensor of an F32 file, from its header and bytes (an independent reader). */
async function f32Elements(file: string, name: string, from: number, to: number): Promise<number[]> {
  const raw = await readFile(file);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
  const start = 8 + n + header[name].data_offsets[0];
  return Array.from({ length: to - from }, (_, i) => raw.readFloatLE(start + 4 * (from + i)));
}

suite('inspector: values view', () => {
  setup(closeAllEditors);
  suiteTeardown(closeAllEditors);

  test('a page of a 2-D weight and of a 4-D conv kernel: the numbers in the file, in float32 precision', async () => {
    const mimicry = await api();
    const uri = workspaceFile('real/capp-gpt2-4layer.safetensors');
    await openInInspector(uri);
    const name = 'transformer.h.0.attn.c_attn.weight'; // [64, 192]
    const m = await mimicry.tensorValues(uri, { name, lead: [], row: 8, col: 100, rows: 4, cols: 5 });
    assert.ok(m && m.type === 'values', JSON.stringify(m));
    assert.deepEqual([m.page.sliceRows, m.page.sliceCols, m.page.row, m.page.col], [64, 192, 8, 100]);
    for (let r = 0; r < 4; r++) {
      const want = await f32Elements(uri.fsPath, name, (8 + r) * 192 + 100, (8 + r) * 192 + 105);
      assert.deepEqual(
        m.page.cells[r].map((c) => Math.fround(Number(c))),
        want,
      );
    }
    assert.equal(m.page.csv.split('\n')[0], m.page.cells[0].join(','));
    assert.match(m.page.numpy, /^np\.array\(\[\[.*\]\], dtype=np\.float32\)\n$/s);

    const cnn = workspaceFile('real/tinygrad-mnist-cnn.safetensors');
    await openInInspector(cnn);
    const k = await mimicry.tensorValues(cnn, { name: 'layers.2.weight', lead: [3, 7], row: 0, col: 0, rows: 32, cols: 12 }); // [32, 32, 5, 5]
    assert.ok(k && k.type === 'values', JSON.stringify(k));
    assert.deepEqual([k.page.sliceRows, k.page.sliceCols, k.page.cells.length, k.page.cells[0].length], [5, 5, 5, 5]);
    const first = (3 * 32 + 7) * 25;
    assert.deepEqual(
      k.page.cells.flat().map((c) => Math.fround(Number(c))),
      await f32Elements(cnn.fsPath, 'layers.2.weight', first, first + 25),
    );
  });

  test('indices outside the shape: an error message with the file and the rule, and the next page still comes', async () => {
    const mimicry = await api();
    const uri = workspaceFile('real/tinygrad-mnist-cnn.safetensors');
    await openInInspector(uri);
    const bad = await mimicry.tensorValues(uri, { name: 'layers.2.weight', lead: [32, 0], row: 0, col: 0, rows: 5, cols: 5 });
    assert.ok(bad && bad.type === 'valuesFailed', JSON.stringify(bad));
    assert.equal(bad.error.rule, 'index-out-of-range');
    assert.equal(vscode.Uri.file(bad.error.file ?? '').fsPath, uri.fsPath);
    assert.match(bad.error.message, /index 32 of dimension 0 \(size 32\)/);
    const missing = await mimicry.tensorValues(uri, { name: 'nope', lead: [], row: 0, col: 0, rows: 1, cols: 1 });
    assert.equal(missing?.type === 'valuesFailed' && missing.error.rule, 'tensor-not-found');
    const good = await mimicry.tensorValues(uri, { name: 'layers.13.bias', lead: [], row: 0, col: 0, rows: 32, cols: 1 });
    assert.ok(good && good.type === 'values');
    assert.equal(good.page.cells.length, 10);
  });
});
