// Sharded checkpoints behind a *.safetensors.index.json: generated shards in a temp folder,
// and every refusal (unsafe shard names, missing tensors, bad index, bad shard).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import { parseShardIndex, resolveShardPath } from '../../src/mimicry/safetensors/sharded';
import { encodeBF16, encodeF32 } from '../../src/mimicry/safetensors/dtypes';
import { tempDir, rejectsWithRule, throwsWithRule, openFdCount, craft, entry } from './helpers/safetensors-craft';
import { withCheckpoint } from './helpers/temp-dir';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let shard1: string;
let shard2: string;
const weightMap = {
  'model.embed.weight': 'model-00001-of-00002.safetensors',
  'model.layers.0.w': 'model-00001-of-00002.safetensors',
  'model.layers.1.w': 'model-00002-of-00002.safetensors',
  'lm_head.weight': 'model-00002-of-00002.safetensors',
};

before(async () => {
  tmp = await tempDir();
  shard1 = path.join(tmp.dir, 'model-00001-of-00002.safetensors');
  shard2 = path.join(tmp.dir, 'model-00002-of-00002.safetensors');
  await writeSafetensors(
    shard1,
    [
      { name: 'model.embed.weight', dtype: 'F32', shape: [2, 3], data: encodeF32([1, 2, 3, 4, 5, 6]) },
      { name: 'model.layers.0.w', dtype: 'BF16', shape: [2], data: encodeBF16([0.5, -1]) },
    ],
    { format: 'pt' },
  );
  await writeSafetensors(shard2, [
    { name: 'model.layers.1.w', dtype: 'BF16', shape: [2], data: encodeBF16([2, 4]) },
    { name: 'lm_head.weight', dtype: 'F32', shape: [3, 2], data: encodeF32([6, 5, 4, 3, 2, 1]) },
  ]);
});
after(() => tmp.cleanup());

async function index(name: string, body: unknown): Promise<string> {
  return tmp.file(name, typeof body === 'string' ? body : JSON.stringify(body));
}

describe('sharded checkpoints', () => {
  test('two shards open as one checkpoint with the index metadata', async () => {
    const idx = await index(
      'model.safetensors.index.json',
      `{"metadata":{"total_size":48,"note":"x","__proto__":{"a":[1]}},"weight_map":${JSON.stringify(weightMap)}}`,
    );
    await withCheckpoint(idx, async (c) => {
      assert.equal(c.kind, 'sharded');
      assert.equal(c.path, idx);
      assert.deepEqual(c.files, [shard1, shard2]);
      assert.deepEqual(Object.entries(c.metadata), [
        ['total_size', '48'],
        ['note', 'x'],
        ['__proto__', '{"a":[1]}'],
      ]);
      assert.deepEqual(
        c.tensors.map((t) => [t.name, path.basename(t.file)]),
        [
          ['model.embed.weight', 'model-00001-of-00002.safetensors'],
          ['model.layers.0.w', 'model-00001-of-00002.safetensors'],
          ['lm_head.weight', 'model-00002-of-00002.safetensors'],
          ['model.layers.1.w', 'model-00002-of-00002.safetensors'],
        ],
      );
      const { stat } = await import('node:fs/promises');
      assert.equal(c.totalBytes, (await stat(shard1)).size + (await stat(shard2)).size);
      assert.deepEqual(Array.from(await c.readValues(c.tensor('model.embed.weight')!)), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(Array.from(await c.readValues(c.tensor('model.layers.1.w')!)), [2, 4]);
      assert.deepEqual(Array.from(await c.readValues(c.tensor('lm_head.weight')!)), [6, 5, 4, 3, 2, 1]);
      const chunks: number[] = [];
      for await (const ch of c.chunks(c.tensor('lm_head.weight')!, 4)) chunks.push(...ch);
      assert.deepEqual(chunks, [6, 5, 4, 3, 2, 1]);
    });
  });

  test('no metadata in the index gives empty metadata; shards in a subfolder are allowed', async () => {
    await mkdir(path.join(tmp.dir, 'sub'), { recursive: true });
    await writeSafetensors(path.join(tmp.dir, 'sub', 'only.safetensors'), [
      { name: 'w', dtype: 'U8', shape: [1], data: new Uint8Array([7]) },
    ]);
    const idx = await index('sub.safetensors.index.json', { weight_map: { w: 'sub/only.safetensors' } });
    await withCheckpoint(idx, async (c) => {
      assert.deepEqual(c.metadata, {});
      assert.deepEqual(Array.from(await c.readValues(c.tensor('w')!)), [7]);
    });
  });

  test('shard names that are absolute or contain ".." are refused', async () => {
    const unsafe = [
      '../model-00001-of-00002.safetensors',
      'sub/../../x.safetensors',
      '..\\x.safetensors',
      'sub\\..\\..\\x.safetensors',
      '/etc/passwd',
      path.join(tmp.dir, 'model-00001-of-00002.safetensors'),
      'C:\\Windows\\x.safetensors',
      'c:x.safetensors',
      '\\\\server\\share\\x.safetensors',
      '..',
      '',
      'a\0b.safetensors',
    ];
    for (const [i, name] of unsafe.entries()) {
      const idx = await index(`unsafe-${i}.safetensors.index.json`, { weight_map: { 'model.embed.weight': name } });
      const e = await rejectsWithRule(openCheckpoint(idx), 'shard-path-unsafe', idx);
      assert.ok(e.message.includes(JSON.stringify(name)), e.message);
    }
    throwsWithRule(() => resolveShardPath('/a/b/index.json', '../c'), 'shard-path-unsafe', '/a/b/index.json');
    assert.equal(resolveShardPath('/a/b/index.json', 'sub\\c.safetensors'), path.resolve('/a/b/sub/c.safetensors'));
  });

  test('a tensor of weight_map that its shard does not hold is refused', async () => {
    const idx = await index('missing.safetensors.index.json', {
      weight_map: { ...weightMap, 'model.layers.1.w': 'model-00001-of-00002.safetensors' },
    });
    const e = await rejectsWithRule(openCheckpoint(idx), 'tensor-missing-in-shard', idx);
    assert.match(e.message, /model\.layers\.1\.w/);
    const ghost = await index('ghost.safetensors.index.json', { weight_map: { ...weightMap, ghost: 'model-00002-of-00002.safetensors' } });
    await rejectsWithRule(openCheckpoint(ghost), 'tensor-missing-in-shard', ghost);
  });

  test('the same tensor in two shards is refused', async () => {
    const dup = path.join(tmp.dir, 'dup.safetensors');
    await writeSafetensors(dup, [{ name: 'model.embed.weight', dtype: 'U8', shape: [1], data: new Uint8Array(1) }]);
    const idx = await index('dup.safetensors.index.json', { weight_map: { ...weightMap, x: 'dup.safetensors' } });
    await rejectsWithRule(openCheckpoint(idx), 'duplicate-tensor', idx);
  });

  test('a broken shard fails with its own rule and file, and every handle is closed', async () => {
    const bad = await tmp.file('bad.safetensors', craft({ a: entry('F32', [2], 0, 4) }, 4));
    const idx = await index('bad.safetensors.index.json', { weight_map: { ...weightMap, a: 'bad.safetensors' } });
    // Handles an earlier test closes asynchronously may still be closing: settle them first, and count
    // a leak as more descriptors than before (fewer means one of those closed meanwhile).
    await new Promise((r) => setTimeout(r, 100));
    const before = openFdCount(tmp.dir);
    await rejectsWithRule(openCheckpoint(idx), 'size-mismatch', bad);
    const missing = await index('gone.safetensors.index.json', { weight_map: { ...weightMap, a: 'gone.safetensors' } });
    await assert.rejects(openCheckpoint(missing), { code: 'ENOENT' });
    const missingTensor = await index('mt.safetensors.index.json', {
      weight_map: { ...weightMap, zz: 'model-00001-of-00002.safetensors' },
    });
    await rejectsWithRule(openCheckpoint(missingTensor), 'tensor-missing-in-shard');
    if (before !== undefined)
      assert.ok((openFdCount(tmp.dir) ?? 0) <= before, `${openFdCount(tmp.dir)} descriptors open, ${before} before`);
  });

  test('an index that is not JSON, has duplicate keys, or has no weight_map is refused', async () => {
    const cases: Array<[string, 'index-not-json' | 'index-invalid']> = [
      ['{"weight_map":', 'index-not-json'],
      ['[]', 'index-invalid'],
      ['{"metadata":{}}', 'index-invalid'],
      ['{"weight_map":[]}', 'index-invalid'],
      ['{"weight_map":{"a":3}}', 'index-invalid'],
      ['{"weight_map":{"a":"x.safetensors","a":"y.safetensors"}}', 'index-invalid'],
      ['{"weight_map":{},"metadata":"x"}', 'index-invalid'],
    ];
    for (const [i, [text, rule]] of cases.entries()) {
      const idx = await index(`bad-${i}.safetensors.index.json`, text);
      await rejectsWithRule(openCheckpoint(idx), rule, idx);
    }
  });

  test('parseShardIndex keeps shard order of first appearance and resolves names', () => {
    const ix = parseShardIndex('/m/model.safetensors.index.json', JSON.stringify({ weight_map: { b: 's2', a: 's1', c: 's2' } }));
    assert.deepEqual(ix.shards, [path.resolve('/m/s2'), path.resolve('/m/s1')]);
    assert.equal(ix.weightMap.get('a'), path.resolve('/m/s1'));
  });

  test('an empty weight_map is an empty checkpoint', async () => {
    await writeFile(path.join(tmp.dir, 'empty.safetensors.index.json'), '{"weight_map":{}}');
    const c = await openCheckpoint(path.join(tmp.dir, 'empty.safetensors.index.json'));
    assert.deepEqual([c.tensors.length, c.files.length, c.totalBytes], [0, 0, 0]);
    await c.close();
  });
});
