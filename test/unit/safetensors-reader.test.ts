// The reader on the four real checkpoints (numbers from MANIFEST.md and an independent numpy
// read), and the Checkpoint API: ranges, values, chunks, abort, close.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openCheckpoint, readHeader } from '../../src/mimicry/safetensors/reader';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import { encodeBF16, encodeF32 } from '../../src/mimicry/safetensors/dtypes';
import type { Checkpoint, DecodedValues } from '../../src/mimicry/safetensors/types';
import { tempDir, rejectsWithRule, openFdCount, bytesOf } from './helpers/safetensors-craft';
import { withCheckpoint } from './helpers/temp-dir';

const real = (name: string): string => path.resolve('test/fixtures/real', name);
const params = (c: Checkpoint): number => c.tensors.reduce((s, t) => s + t.params, 0);
const shapeOf = (c: Checkpoint, name: string): readonly number[] | undefined => c.tensor(name)?.shape;

describe('real fixtures (MANIFEST.md)', () => {
  test('capp gpt2: 52 F32 tensors, 236,224 params, metadata {"format":"pt"}, 4 identical blocks', async () => {
    await withCheckpoint(real('capp-gpt2-4layer.safetensors'), async (c) => {
      assert.equal(c.kind, 'single');
      assert.deepEqual(c.files, [real('capp-gpt2-4layer.safetensors')]);
      assert.equal(c.tensors.length, 52);
      assert.equal(params(c), 236_224);
      assert.deepEqual(c.metadata, { format: 'pt' });
      assert.ok(c.tensors.every((t) => t.dtype === 'F32'));
      for (let b = 0; b < 4; b++) {
        const p = `transformer.h.${b}.`;
        assert.deepEqual(shapeOf(c, `${p}attn.c_attn.weight`), [64, 192]);
        assert.deepEqual(shapeOf(c, `${p}attn.c_proj.weight`), [64, 64]);
        assert.deepEqual(shapeOf(c, `${p}mlp.c_fc.weight`), [64, 256]);
        assert.deepEqual(shapeOf(c, `${p}mlp.c_proj.weight`), [256, 64]);
        assert.deepEqual(shapeOf(c, `${p}ln_1.weight`), [64]);
        assert.deepEqual(shapeOf(c, `${p}ln_2.bias`), [64]);
      }
      assert.deepEqual(shapeOf(c, 'transformer.wte.weight'), [53, 64]);
      assert.deepEqual(shapeOf(c, 'transformer.wpe.weight'), [512, 64]);
      assert.equal(c.totalBytes, 949_792);
      // Values read independently with numpy (np.frombuffer(..., '<f4')).
      const wte = await c.readValues(c.tensor('transformer.wte.weight')!);
      assert.equal(wte.length, 53 * 64);
      assert.equal(wte[0], Math.fround(0.05683330073952675));
      assert.equal(wte[1], Math.fround(0.08243942260742188));
      assert.equal(wte[wte.length - 1], Math.fround(-0.06620313972234726));
      let sum = 0;
      for (const v of wte) sum += v;
      assert.ok(Math.abs(sum - 2.5013322253689694) < 1e-9, `${sum}`);
    });
  });

  test('peft gpt2 LoRA: 25 tensors, rank-8 A [8,768] and B [2304,8] on 12 layers, score [6,768]', async () => {
    await withCheckpoint(real('peft-gpt2-lora-12layer.safetensors'), async (c) => {
      assert.equal(c.tensors.length, 25);
      assert.equal(params(c), 12 * (8 * 768 + 2304 * 8) + 6 * 768);
      for (let l = 0; l < 12; l++) {
        const p = `base_model.model.transformer.h.${l}.attn.c_attn.`;
        assert.deepEqual(shapeOf(c, `${p}lora_A.weight`), [8, 768]);
        assert.deepEqual(shapeOf(c, `${p}lora_B.weight`), [2304, 8]);
      }
      assert.deepEqual(shapeOf(c, 'base_model.model.score.weight'), [6, 768]);
      assert.ok(c.tensors.every((t) => t.dtype === 'F32'));
    });
  });

  test('mlx Qwen LoRA: 16 tensors, header length 1684 (not a multiple of 8), data not in name order, no metadata', async () => {
    const file = real('mlx-qwen05b-lora-4layer.safetensors');
    const h = await readHeader(file);
    assert.equal(h.headerLength, 1684);
    assert.equal(h.dataStart, 1692);
    assert.equal(h.tensors.length, 16);
    const names = h.tensors.map((t) => t.name);
    assert.notDeepEqual(names, [...names].sort());
    assert.deepEqual(h.metadata, {});
    await withCheckpoint(file, async (c) => {
      assert.equal(c.tensors.length, 16);
      assert.deepEqual(c.metadata, {});
      for (let l = 20; l <= 23; l++) {
        const p = `model.layers.${l}.self_attn.`;
        assert.deepEqual(shapeOf(c, `${p}q_proj.lora_a`), [896, 8]);
        assert.deepEqual(shapeOf(c, `${p}q_proj.lora_b`), [8, 896]);
        assert.deepEqual(shapeOf(c, `${p}v_proj.lora_a`), [896, 8]);
        assert.deepEqual(shapeOf(c, `${p}v_proj.lora_b`), [8, 128]);
      }
      // The data area starts at an odd multiple of 4: values still decode (copied or viewed).
      const t = c.tensors[0];
      assert.equal(t.fileOffset, 1692);
      const v = await c.readValues(t);
      assert.equal(v.length, t.params);
      assert.equal(v[0], Math.fround(-0.004827449098229408));
    });
  });

  test('tinygrad MNIST CNN: 20 tensors, unsorted header keys, num_batches_tracked F32 [1]', async () => {
    await withCheckpoint(real('tinygrad-mnist-cnn.safetensors'), async (c) => {
      assert.equal(c.tensors.length, 20);
      assert.deepEqual(c.metadata, {});
      assert.deepEqual(shapeOf(c, 'layers.0.weight'), [32, 1, 5, 5]);
      assert.deepEqual(shapeOf(c, 'layers.13.weight'), [10, 576]);
      assert.deepEqual(shapeOf(c, 'layers.4.num_batches_tracked'), [1]);
      assert.equal(c.tensor('layers.4.num_batches_tracked')?.dtype, 'F32');
      // Offset order (= tinygrad's key order) is not name order.
      const names = c.tensors.map((t) => t.name);
      assert.deepEqual(names.slice(0, 2), ['layers.0.weight', 'layers.0.bias']);
      assert.notDeepEqual(names, [...names].sort());
      assert.equal(params(c), 88_044);
    });
  });
});

describe('Checkpoint API', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let file: string;
  const big = Float32Array.from({ length: 10_000 }, (_, i) => Math.sin(i) * 100);
  const half = Float32Array.from({ length: 3_001 }, (_, i) => i / 7 - 200);
  before(async () => {
    tmp = await tempDir();
    file = path.join(tmp.dir, 'api.safetensors');
    await writeSafetensors(file, [
      { name: 'big', dtype: 'F32', shape: [100, 100], data: encodeF32(big) },
      { name: 'half', dtype: 'BF16', shape: [3001], data: encodeBF16(half) },
      { name: 'nibbles', dtype: 'F4', shape: [4], data: new Uint8Array([0x21, 0x43]) },
      { name: 'empty', dtype: 'F16', shape: [0, 5], data: new Uint8Array(0) },
      { name: 'scalar', dtype: 'I64', shape: [], data: bytesOf(BigInt64Array.of(-5n)) },
    ]);
  });
  after(() => tmp.cleanup());

  async function collect(it: AsyncIterable<DecodedValues>): Promise<{ chunks: number[]; all: number[] }> {
    const chunks: number[] = [];
    const all: number[] = [];
    for await (const c of it) {
      chunks.push(c.length);
      all.push(...c);
    }
    return { chunks, all };
  }

  test('chunks() over a tensor larger than one chunk equals readValues()', async () => {
    await withCheckpoint(file, async (c) => {
      for (const name of ['big', 'half']) {
        const t = c.tensor(name)!;
        const whole = Array.from(await c.readValues(t));
        const { chunks, all } = await collect(c.chunks(t, 1024));
        assert.deepEqual(all, whole);
        assert.equal(chunks.length, Math.ceil(t.params / 1024));
        assert.ok(chunks.every((n, i) => n === (i < chunks.length - 1 ? 1024 : t.params - 1024 * (chunks.length - 1))));
      }
      assert.deepEqual(Array.from(await c.readValues(c.tensor('big')!)), Array.from(big));
      // Default chunk size: one chunk for a small tensor.
      assert.deepEqual((await collect(c.chunks(c.tensor('big')!))).chunks, [10_000]);
      // Empty tensors have no chunks; 0-d tensors have one element.
      assert.deepEqual((await collect(c.chunks(c.tensor('empty')!, 4))).chunks, []);
      assert.deepEqual((await collect(c.chunks(c.tensor('scalar')!, 4))).all, [-5]);
      assert.deepEqual(Array.from(await c.readValues(c.tensor('empty')!)), []);
      await assert.rejects(collect(c.chunks(c.tensor('big')!, 0)), RangeError);
    });
  });

  test('chunks() stops with an AbortError between chunks', async () => {
    await withCheckpoint(file, async (c) => {
      const ac = new AbortController();
      let seen = 0;
      await assert.rejects(
        (async () => {
          for await (const chunk of c.chunks(c.tensor('big')!, 1000, ac.signal)) {
            seen += chunk.length;
            ac.abort();
          }
        })(),
        (e: unknown) => e instanceof Error && e.name === 'AbortError',
      );
      assert.equal(seen, 1000);
      const done = new AbortController();
      done.abort();
      await assert.rejects(collect(c.chunks(c.tensor('big')!, 1000, done.signal)), { name: 'AbortError' });
    });
  });

  test('readBytes() reads sub-ranges and refuses ranges outside the tensor', async () => {
    await withCheckpoint(file, async (c) => {
      const t = c.tensor('big')!;
      const all = await c.readBytes(t);
      assert.equal(all.byteLength, 40_000);
      assert.deepEqual(await c.readBytes(t, 4, 12), all.subarray(4, 12));
      assert.deepEqual(await c.readBytes(t, 40_000, 40_000), new Uint8Array(0));
      for (const [s, e] of [
        [-1, 4],
        [8, 4],
        [0, 40_001],
        [0.5, 4],
        [0, Number.NaN],
      ] as const) {
        await rejectsWithRule(c.readBytes(t, s, e), 'invalid-range', file);
      }
      assert.deepEqual(await c.readBytes(c.tensor('nibbles')!), new Uint8Array([0x21, 0x43]));
    });
  });

  test('values of undecoded dtypes and of foreign tensors are refused', async () => {
    const c = await openCheckpoint(file);
    const other = await openCheckpoint(real('tinygrad-mnist-cnn.safetensors'));
    try {
      await rejectsWithRule(c.readValues(c.tensor('nibbles')!), 'dtype-not-decoded', file);
      await rejectsWithRule(collect(c.chunks(c.tensor('nibbles')!)), 'dtype-not-decoded', file);
      await rejectsWithRule(c.readBytes(other.tensors[0]), 'tensor-not-found');
      await rejectsWithRule(c.readValues({ ...c.tensor('big')!, fileOffset: 9 }), 'tensor-not-found');
      assert.equal(c.tensor('missing'), undefined);
    } finally {
      await c.close();
      await other.close();
    }
  });

  test('close() closes the handles, is idempotent, and later reads are refused', async (t) => {
    const before = openFdCount(file);
    const c = await openCheckpoint(file);
    if (before !== undefined) assert.equal(openFdCount(file), before + 1);
    await c.close();
    await c.close();
    await rejectsWithRule(c.readBytes(c.tensors[0]), 'closed');
    if (before === undefined) return t.skip('no /proc/self/fd on this platform');
    assert.equal(openFdCount(file), before);
  });

  test('header tensors come in offset order (name order for our writer) with frozen shapes', async () => {
    const h = await readHeader(file);
    assert.deepEqual(
      h.tensors.map((t) => t.name),
      ['big', 'empty', 'half', 'nibbles', 'scalar'],
    );
    assert.throws(() => (h.tensors[0].shape as number[]).push(1), TypeError);
  });

  test('shapes: each tensor its own, frozen; equal neighbours one array; more distinct shapes than the parser remembers', async () => {
    // 20 distinct shapes twice over (more than the parser keeps at hand), then a run of one shape and
    // its transpose.
    const shapes = [...Array.from({ length: 40 }, (_, i) => [1 + (i % 20), 2]), [3, 4], [3, 4], [4, 3], [3, 4], [12], [3, 4]];
    const tensors = shapes.map((shape, i) => ({
      name: `t${String(i).padStart(2, '0')}`,
      dtype: 'U8' as const,
      shape,
      data: new Uint8Array(shape.reduce((x, y) => x * y, 1)),
    }));
    const many = path.join(tmp.dir, 'shapes.safetensors');
    await writeSafetensors(many, tensors);
    const h = await readHeader(many);
    assert.deepEqual(
      h.tensors.map((t) => [t.name, [...t.shape]]),
      tensors.map((t) => [t.name, t.shape]),
    );
    for (const t of h.tensors) assert.ok(Object.isFrozen(t.shape), t.name);
    const run = h.tensors.slice(40);
    assert.equal(run[0].shape, run[1].shape, 'equal neighbouring shapes are one array');
    assert.equal(run[0].shape, run[5].shape);
    assert.notEqual(run[0].shape, run[2].shape);
  });

  test('a file truncated after opening fails with short-read, not garbage', async () => {
    const { truncate, copyFile } = await import('node:fs/promises');
    const copy = path.join(tmp.dir, 'shrinking.safetensors');
    await copyFile(file, copy);
    await withCheckpoint(copy, async (c) => {
      await truncate(copy, c.tensors[0].fileOffset + 10);
      await rejectsWithRule(c.readBytes(c.tensors[0]), 'short-read', copy);
    });
  });

  test('an aborted signal stops openCheckpoint before it opens anything', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(openCheckpoint(file, { signal: ac.signal }), { name: 'AbortError' });
  });
});
