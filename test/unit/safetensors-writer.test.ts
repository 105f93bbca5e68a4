// The writer: byte-exact against the reference's own test vectors, layout rules, property-based
// write/read round trips, atomicity, refusing to overwrite inputs, and the streaming variant.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFile, writeFile, symlink, link, mkdir, stat } from 'node:fs/promises';
import fc from 'fast-check';
import {
  writeSafetensors,
  writeSafetensorsStreaming,
  stageSafetensorsStreaming,
  stageSafetensorsData,
  compareNames,
  type StreamingTensor,
  type WriteProgress,
} from '../../src/mimicry/safetensors/writer';
import { openCheckpoint, readHeader } from '../../src/mimicry/safetensors/reader';
import { setDirectWrites, writeRoutes } from '../../src/mimicry/io/directWrite';
import { ALL_DTYPES, DTYPES, byteLengthOf, decode, encodeF32, isDecodable } from '../../src/mimicry/safetensors/dtypes';
import type { DType, TensorToWrite } from '../../src/mimicry/safetensors/types';
import { tempDir, listDir, rejectsWithRule, bytesOf } from './helpers/safetensors-craft';
import { withCheckpoint } from './helpers/temp-dir';

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir();
});
after(() => tmp.cleanup());

let counter = 0;
/** A fresh empty folder per test, so listings show only that test's files. */
async function folder(): Promise<string> {
  const d = path.join(tmp.dir, `case-${counter++}`);
  await mkdir(d);
  return d;
}

const f32Tensor = (name: string, values: number[], shape: number[] = [values.length]): TensorToWrite => ({
  name,
  dtype: 'F32',
  shape,
  data: encodeF32(values),
});

describe('layout (reference test vectors, safetensors/src/tensor.rs)', () => {
  test('test_serialization: "attn.0" F32 [1,2,3] is byte-identical', async () => {
    const file = path.join(await folder(), 'a.safetensors');
    await writeSafetensors(file, [f32Tensor('attn.0', [0, 1, 2, 3, 4, 5], [1, 2, 3])]);
    assert.deepEqual(
      [...(await readFile(file))],
      [
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34,
        44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115,
        34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
      ],
    );
  });

  test('test_serialization_forced_alignement: header padded with spaces to a multiple of 8', async () => {
    const file = path.join(await folder(), 'a.safetensors');
    await writeSafetensors(file, [f32Tensor('attn0', [0, 1, 2, 3, 4, 5], [1, 1, 2, 3])]);
    assert.deepEqual(
      [...(await readFile(file))],
      [
        72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44,
        34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116,
        115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0,
        0, 128, 64, 0, 0, 160, 64,
      ],
    );
  });

  test('test_empty: no tensors, with and without metadata', async () => {
    const d = await folder();
    await writeSafetensors(path.join(d, 'e.safetensors'), []);
    assert.deepEqual([...(await readFile(path.join(d, 'e.safetensors')))], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    await writeSafetensors(path.join(d, 'm.safetensors'), [], { framework: 'pt' });
    assert.deepEqual(
      [...(await readFile(path.join(d, 'm.safetensors')))],
      [
        40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119,
        111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
      ],
    );
  });

  test('names sorted by code point, data in name order, __metadata__ first', async () => {
    const file = path.join(await folder(), 'a.safetensors');
    const names = ['b', 'a.10', 'a.9', 'B', '\u00e9', '\u{1F600}', '\uffff'];
    await writeSafetensors(
      file,
      names.map((n, i) => f32Tensor(n, [i])),
      { z: '1', a: '2' },
    );
    const h = await readHeader(file);
    const expected = ['B', 'a.10', 'a.9', 'b', '\u00e9', '\uffff', '\u{1F600}']; // UTF-8 byte order: U+FFFF before U+1F600
    assert.deepEqual(
      h.tensors.map((t) => t.name),
      expected,
    );
    assert.deepEqual(
      h.tensors.map((t) => t.dataOffsets[0]),
      [0, 4, 8, 12, 16, 20, 24],
    );
    const text = new TextDecoder().decode((await readFile(file)).subarray(8, h.dataStart));
    assert.ok(text.startsWith('{"__metadata__":{"z":"1","a":"2"},"B":'), text);
    assert.equal(h.headerLength % 8, 0);
    assert.match(text, / *$/);
    assert.ok(compareNames('\uffff', '\u{1F600}') < 0 && compareNames('a', 'ab') < 0 && compareNames('b', 'a') > 0);
  });
});

describe('write/read round trips (property-based)', () => {
  // Shapes with 0-3 dims of size 0..4: includes 0-d tensors (one element) and empty ones.
  const tensorArb = fc
    .record({ dtype: fc.constantFrom(...ALL_DTYPES), shape: fc.array(fc.nat(4), { maxLength: 3 }) })
    .filter(
      ({ dtype, shape }) =>
        byteLengthOf(
          dtype,
          shape.reduce((a, b) => a * b, 1),
        ) !== undefined,
    )
    .chain(({ dtype, shape }) => {
      const n =
        byteLengthOf(
          dtype,
          shape.reduce((a, b) => a * b, 1),
        ) ?? 0;
      return fc.uint8Array({ minLength: n, maxLength: n }).map((data) => ({ dtype, shape, data }));
    });
  const nameArb = fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => s !== '__metadata__');
  const modelArb = fc.uniqueArray(fc.tuple(nameArb, tensorArb), { selector: (t) => t[0], maxLength: 6 });
  const metaArb = fc.option(
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 16 }), { maxKeys: 4 }),
    { nil: undefined },
  );

  test('write then read returns the same names, dtypes, shapes, bytes, values and metadata', async () => {
    const d = await folder();
    let i = 0;
    await fc.assert(
      fc.asyncProperty(modelArb, metaArb, async (model, metadata) => {
        const file = path.join(d, `rt-${i++}.safetensors`);
        const tensors: TensorToWrite[] = model.map(([name, t]) => ({ name, ...t }));
        await writeSafetensors(file, tensors, metadata);
        const c = await openCheckpoint(file);
        try {
          assert.equal(c.tensors.length, tensors.length);
          assert.deepEqual(Object.entries(c.metadata).sort(), Object.entries(metadata ?? {}).sort());
          for (const t of tensors) {
            const info = c.tensor(t.name);
            assert.ok(info, `missing ${JSON.stringify(t.name)}`);
            assert.equal(info.dtype, t.dtype);
            assert.deepEqual(info.shape, t.shape);
            assert.equal(
              info.params,
              t.shape.reduce((a, b) => a * b, 1),
            );
            assert.deepEqual(await c.readBytes(info), t.data);
            if (isDecodable(t.dtype)) assert.deepEqual(bytesOf(await c.readValues(info)), bytesOf(decode(t.dtype, t.data)));
          }
        } finally {
          await c.close();
        }
      }),
      { numRuns: 60 },
    );
    assert.ok(
      (await listDir(d)).every((f) => /^rt-\d+\.safetensors$/.test(f)),
      'no temporary files left',
    );
  });

  test('the same tensors in any input order give the same file', async () => {
    const d = await folder();
    await fc.assert(
      fc.asyncProperty(
        modelArb.chain((m) => fc.shuffledSubarray(m, { minLength: m.length, maxLength: m.length }).map((s) => [m, s] as const)),
        async ([a, b]) => {
          const toWrite = (m: typeof a): TensorToWrite[] => m.map(([name, t]) => ({ name, ...t }));
          await writeSafetensors(path.join(d, 'x.safetensors'), toWrite(a));
          await writeSafetensors(path.join(d, 'y.safetensors'), toWrite(b));
          assert.deepEqual(await readFile(path.join(d, 'x.safetensors')), await readFile(path.join(d, 'y.safetensors')));
        },
      ),
      { numRuns: 25 },
    );
  });

  test('every dtype, including sub-byte and undecoded ones, survives byte for byte', async () => {
    const file = path.join(await folder(), 'all.safetensors');
    const tensors: TensorToWrite[] = ALL_DTYPES.map((dtype, k) => {
      const n = byteLengthOf(dtype, 8) ?? 0;
      return { name: `t.${dtype}`, dtype, shape: [2, 4], data: Uint8Array.from({ length: n }, (_, i) => (i * 37 + k) & 0xff) };
    });
    await writeSafetensors(file, tensors);
    await withCheckpoint(file, async (c) => {
      for (const t of tensors) {
        assert.deepEqual(await c.readBytes(c.tensor(t.name)!), t.data, t.dtype);
        assert.equal(c.tensor(t.name)!.bytes, (8 * DTYPES[t.dtype].bits) / 8);
      }
    });
  });
});

describe('refusals and atomicity', () => {
  test('invalid tensors are refused before anything is written', async () => {
    const d = await folder();
    const file = path.join(d, 'x.safetensors');
    const cases: Array<[TensorToWrite[], Record<string, string> | undefined]> = [
      [[f32Tensor('a', [1]), f32Tensor('a', [2])], undefined], // duplicate name
      [[f32Tensor('__metadata__', [1])], undefined],
      [[{ name: 'a', dtype: 'F32', shape: [3], data: new Uint8Array(8) }], undefined], // size mismatch
      [[{ name: 'a', dtype: 'F4', shape: [3], data: new Uint8Array(2) }], undefined], // 12 bits
      [[{ name: 'a', dtype: 'F32', shape: [-1], data: new Uint8Array(0) }], undefined],
      [[{ name: 'a', dtype: 'F32', shape: [1.5], data: new Uint8Array(4) }], undefined],
      [[{ name: 'a', dtype: 'F128' as DType, shape: [1], data: new Uint8Array(16) }], undefined],
      [[], { a: 1 as unknown as string }],
    ];
    for (const [tensors, meta] of cases) await rejectsWithRule(writeSafetensors(file, tensors, meta), 'invalid-tensor', file);
    assert.deepEqual(await listDir(d), []);
  });

  test('a failing producer leaves the target untouched and no temporary file', async () => {
    const d = await folder();
    const file = path.join(d, 'model.safetensors');
    await writeFile(file, 'original');
    const entries: StreamingTensor[] = [
      { name: 'a', dtype: 'U8', shape: [2], byteLength: 2, bytes: async () => new Uint8Array(2) },
      { name: 'b', dtype: 'U8', shape: [2], byteLength: 2, bytes: async () => Promise.reject(new Error('producer failed')) },
    ];
    await assert.rejects(writeSafetensorsStreaming(file, entries), /producer failed/);
    assert.equal(await readFile(file, 'utf8'), 'original');
    assert.deepEqual(await listDir(d), ['model.safetensors']);
  });

  test('a producer that returns the wrong length is refused, target untouched', async () => {
    const d = await folder();
    const file = path.join(d, 'model.safetensors');
    await writeFile(file, 'original');
    await rejectsWithRule(
      writeSafetensorsStreaming(file, [{ name: 'a', dtype: 'F32', shape: [2], byteLength: 8, bytes: async () => new Uint8Array(4) }]),
      'stream-length-mismatch',
      file,
    );
    assert.equal(await readFile(file, 'utf8'), 'original');
    assert.deepEqual(await listDir(d), ['model.safetensors']);
  });

  test('progress: after the header, then after each tensor in name order, ending at the file size', async () => {
    const d = await folder();
    const file = path.join(d, 'model.safetensors');
    const seen: WriteProgress[] = [];
    const entries: StreamingTensor[] = [
      ['b', 12],
      ['a', 4],
      ['c', 0],
    ].map(([name, n]) => ({
      name: name as string,
      dtype: 'U8',
      shape: [n as number],
      byteLength: n as number,
      bytes: async () => new Uint8Array(n as number),
    }));
    await writeSafetensorsStreaming(file, entries, { note: 'x' }, { onProgress: (p) => seen.push(p) });
    const size = (await stat(file)).size;
    assert.deepEqual(
      seen.map((p) => [p.tensor, p.tensors, p.totalTensors]),
      [
        ['', 0, 3],
        ['a', 1, 3],
        ['b', 2, 3],
        ['c', 3, 3],
      ],
    );
    const header = seen[0].bytes;
    assert.deepEqual(
      seen.map((p) => p.bytes),
      [header, header + 4, header + 16, header + 16],
    );
    assert.equal(seen.at(-1)?.bytes, size);
    assert.ok(seen.every((p) => p.totalBytes === size));
  });

  test('an abort between tensors throws AbortError and cleans up', async () => {
    const d = await folder();
    const file = path.join(d, 'model.safetensors');
    const ac = new AbortController();
    const entries: StreamingTensor[] = ['a', 'b', 'c'].map((name) => ({
      name,
      dtype: 'U8',
      shape: [1],
      byteLength: 1,
      bytes: async () => {
        ac.abort();
        return new Uint8Array(1);
      },
    }));
    await assert.rejects(writeSafetensorsStreaming(file, entries, undefined, { signal: ac.signal }), { name: 'AbortError' });
    assert.deepEqual(await listDir(d), []);
  });

  test('a successful write replaces the target atomically and leaves no temporary file', async () => {
    const d = await folder();
    const file = path.join(d, 'model.safetensors');
    await writeFile(file, 'old');
    await writeSafetensors(file, [f32Tensor('w', [1, 2])]);
    assert.deepEqual(await listDir(d), ['model.safetensors']);
    assert.equal((await readHeader(file)).tensors[0].name, 'w');
  });

  test('refuses to write over an input: same path, other spelling, symlink or hard link', async () => {
    const d = await folder();
    const source = path.join(d, 'source.safetensors');
    await writeSafetensors(source, [f32Tensor('w', [1])]);
    const original = await readFile(source);
    const sym = path.join(d, 'sym.safetensors');
    const hard = path.join(d, 'hard.safetensors');
    await symlink(source, sym);
    await link(source, hard);
    const attempts: Array<[string, string]> = [
      [source, source],
      [path.join(d, '.', 'sub', '..', 'source.safetensors'), source],
      [path.relative(process.cwd(), source), source],
      [sym, source],
      [hard, source],
      [source, sym],
    ];
    for (const [target, input] of attempts) {
      await rejectsWithRule(
        writeSafetensors(target, [f32Tensor('x', [2])], undefined, { refuse: [input] }),
        'refuse-overwrite-source',
        path.resolve(target),
      );
    }
    assert.deepEqual(await readFile(source), original);
    assert.deepEqual(await listDir(d), ['hard.safetensors', 'source.safetensors', 'sym.safetensors']);
    // A different, new file is fine.
    await writeSafetensors(path.join(d, 'out.safetensors'), [f32Tensor('x', [2])], undefined, { refuse: [source, sym] });
    assert.deepEqual(await readFile(source), original);
  });

  test('a missing folder fails without creating anything', async () => {
    const file = path.join(tmp.dir, 'no-such-folder', 'x.safetensors');
    await assert.rejects(writeSafetensors(file, [f32Tensor('x', [2])]), { code: 'ENOENT' });
  });
});

describe('streaming writer', () => {
  test('asks for one tensor at a time, in name order, once each; result equals the in-memory writer', async () => {
    const d = await folder();
    const values: Record<string, number[]> = { 'layer.2': [5, 6], 'layer.10': [1], 'layer.1': [2, 3, 4] };
    const calls: string[] = [];
    let active = 0;
    let maxActive = 0;
    const entries: StreamingTensor[] = Object.entries(values).map(([name, v]) => ({
      name,
      dtype: 'F32',
      shape: [v.length],
      byteLength: v.length * 4,
      bytes: async () => {
        calls.push(name);
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setImmediate(r));
        active--;
        return encodeF32(v);
      },
    }));
    const streamed = path.join(d, 'streamed.safetensors');
    const inMemory = path.join(d, 'memory.safetensors');
    await writeSafetensorsStreaming(streamed, entries, { format: 'pt' });
    await writeSafetensors(
      inMemory,
      Object.entries(values).map(([n, v]) => f32Tensor(n, v)),
      { format: 'pt' },
    );
    assert.deepEqual(calls, ['layer.1', 'layer.10', 'layer.2']);
    assert.equal(maxActive, 1);
    assert.deepEqual(await readFile(streamed), await readFile(inMemory));
    await withCheckpoint(streamed, async (c) => {
      assert.deepEqual(Array.from(await c.readValues(c.tensor('layer.1')!)), [2, 3, 4]);
      assert.deepEqual(c.metadata, { format: 'pt' });
    });
  });

  test('direct writes (around the page cache): the same bytes as the buffered route at every chunk boundary; an abort leaves nothing', async (t) => {
    const d = await folder();
    // Payloads around the 8 KiB chunk used here: under one block, exactly one chunk with the header, several chunks and a byte.
    const sizes = [[3], [2040], [4096, 1], [1, 6000, 2043, 9000]];
    const before = writeRoutes.direct;
    try {
      for (const [i, lengths] of sizes.entries()) {
        const tensors = lengths.map((n, k) => ({
          name: `t${k}`,
          dtype: 'U8' as DType,
          shape: [n],
          data: Uint8Array.from({ length: n }, (_, j) => (j * 31 + k * 7 + i) & 255),
        }));
        setDirectWrites({ enabled: true, minBytes: 0, chunk: 8192 });
        const viaDirect = path.join(d, `direct-${i}.safetensors`);
        await writeSafetensors(viaDirect, tensors, { case: String(i) });
        setDirectWrites({ enabled: false });
        const viaCache = path.join(d, `cache-${i}.safetensors`);
        await writeSafetensors(viaCache, tensors, { case: String(i) });
        assert.deepEqual(await readFile(viaDirect), await readFile(viaCache), `case ${i}`);
      }
      setDirectWrites({ enabled: true, minBytes: 0, chunk: 8192 });
      const ac = new AbortController();
      const big = Array.from({ length: 4 }, (_, k) => ({
        name: `b${k}`,
        dtype: 'U8' as DType,
        shape: [10000],
        byteLength: 10000,
        bytes: () => {
          if (k === 2) ac.abort();
          return Promise.resolve(new Uint8Array(10000).fill(k));
        },
      }));
      await assert.rejects(writeSafetensorsStreaming(path.join(d, 'stopped.safetensors'), big, undefined, { signal: ac.signal }), {
        name: 'AbortError',
      });
      // A staging buffer the system refuses (misaligned): the file goes on through the page cache, the same bytes.
      const fallbacks = writeRoutes.fallback;
      const tensors = [{ name: 'x', dtype: 'U8' as DType, shape: [20000], data: Uint8Array.from({ length: 20000 }, (_, j) => j & 255) }];
      setDirectWrites({ enabled: true, minBytes: 0, chunk: 8192, offset: 1 });
      await writeSafetensors(path.join(d, 'direct-9.safetensors'), tensors);
      setDirectWrites({ enabled: false });
      await writeSafetensors(path.join(d, 'cache-9.safetensors'), tensors);
      assert.deepEqual(await readFile(path.join(d, 'direct-9.safetensors')), await readFile(path.join(d, 'cache-9.safetensors')));
      if (writeRoutes.direct > before)
        assert.equal(writeRoutes.fallback, fallbacks + 1, 'the misaligned direct write was refused and redone buffered');
    } finally {
      setDirectWrites();
    }
    assert.deepEqual(
      (await listDir(d)).filter((f) => !/^(direct|cache)-\d\.safetensors$/.test(f)),
      [],
      'no temporary file left',
    );
    if (writeRoutes.direct === before) t.diagnostic('O_DIRECT is not available here: only the buffered route was tested');
  });

  test('a staged file appears only when committed, in place of the target; discarded, or stopped before its commit, it leaves nothing', async () => {
    const d = await folder();
    const file = path.join(d, 'x.safetensors');
    await writeFile(file, 'old');
    const entries = (v: number): StreamingTensor[] => [
      { name: 'a', dtype: 'F32', shape: [1], byteLength: 4, bytes: () => Promise.resolve(encodeF32([v])) },
    ];
    const staged = await stageSafetensorsStreaming(file, entries(1));
    assert.equal(await readFile(file, 'utf8'), 'old');
    assert.equal((await listDir(d)).length, 2, 'the target and its temporary file');
    await staged.commit();
    assert.deepEqual(await listDir(d), ['x.safetensors']);
    await withCheckpoint(file, async (c) => assert.deepEqual(Array.from(await c.readValues(c.tensor('a')!)), [1]));
    await assert.rejects(staged.commit(), /already committed/);

    const dropped = await stageSafetensorsStreaming(file, entries(2));
    await dropped.discard();
    await dropped.discard();
    const ac = new AbortController();
    const stopped = await stageSafetensorsStreaming(file, entries(3), undefined, { signal: ac.signal });
    ac.abort();
    await assert.rejects(stopped.commit(), { name: 'AbortError' });
    assert.deepEqual(await listDir(d), ['x.safetensors']);
    await withCheckpoint(file, async (c) => assert.deepEqual(Array.from(await c.readValues(c.tensor('a')!)), [1]));
  });

  test('data staged before its metadata: the header written last into the reserved space gives the file the one-pass writer gives, but for padding; one that outgrows it is refused and leaves nothing', async () => {
    const d = await folder();
    const values = Float32Array.from({ length: 300_000 }, (_, i) => Math.sin(i));
    const entries = (): StreamingTensor[] => [
      { name: 'w', dtype: 'F32', shape: [600, 500], byteLength: values.byteLength, bytes: () => Promise.resolve(bytesOf(values)) },
      { name: 'b', dtype: 'F32', shape: [2], byteLength: 8, bytes: () => Promise.resolve(encodeF32([1, 2])) },
    ];
    const provisional = { note: 'x'.repeat(40), entropy: String(-2.2250738585072014e-308) };
    const final = { note: 'final', entropy: '1.5' };
    // Direct writes for the data (the header then goes through the page cache over it), and buffered.
    for (const [route, change] of [
      ['direct', { minBytes: 0, chunk: 64 << 10 }],
      ['buffered', { enabled: false }],
    ] as const) {
      setDirectWrites(change);
      try {
        const file = path.join(d, `${route}.safetensors`);
        const staged = await stageSafetensorsData(file, entries(), provisional, 16);
        assert.deepEqual(await listDir(d).then((l) => l.filter((f) => f.startsWith(route))), [], 'nothing in place before the commit');
        await (await staged.finish(final)).commit();
        const oneGo = path.join(d, `${route}-one-go.safetensors`);
        await writeSafetensorsStreaming(oneGo, entries(), final);
        const [a, b] = [await readFile(file), await readFile(oneGo)];
        const n = (buf: Buffer) => Number(buf.readBigUInt64LE(0));
        // The reserved header: the provisional one's length plus the slack, to a multiple of 8.
        const provisionalLength =
          Buffer.byteLength(`{"__metadata__":${JSON.stringify(provisional)}`) -
          Buffer.byteLength(`{"__metadata__":${JSON.stringify(final)}`);
        assert.equal(n(a) % 8, 0);
        assert.ok(n(a) >= n(b) + provisionalLength + 16 - 8 && n(a) <= n(b) + provisionalLength + 16 + 8, `reserved ${n(a)} for ${n(b)}`);
        assert.equal(
          a
            .subarray(8, 8 + n(a))
            .toString('utf8')
            .trimEnd(),
          b
            .subarray(8, 8 + n(b))
            .toString('utf8')
            .trimEnd(),
          'the same header JSON',
        );
        assert.deepEqual(a.subarray(8 + n(a)), b.subarray(8 + n(b)), 'the same data bytes');
        await withCheckpoint(file, async (c) => {
          assert.deepEqual(c.metadata, final);
          assert.deepEqual(Array.from(await c.readValues(c.tensor('b')!)), [1, 2]);
          assert.deepEqual(await c.readValues(c.tensor('w')!), values);
        });
      } finally {
        setDirectWrites();
      }
    }
    // A header longer than its reservation: refused by rule, the temporary file removed, the target untouched.
    const file = path.join(d, 'grown.safetensors');
    await writeFile(file, 'old');
    const grown = await stageSafetensorsData(file, entries(), { note: 'short' }, 0);
    await rejectsWithRule(grown.finish({ note: 'x'.repeat(100) }), 'header-outgrew-reservation');
    await assert.rejects(grown.finish({ note: 'short' }), /already finished or discarded/);
    assert.equal(await readFile(file, 'utf8'), 'old');
    const dropped = await stageSafetensorsData(file, entries(), { note: 'short' }, 0);
    await dropped.discard();
    assert.deepEqual(
      (await listDir(d)).filter((f) => f.startsWith('grown')),
      ['grown.safetensors'],
      'no temporary file left',
    );
  });

  test('declared sizes are checked against dtype and shape before any producer runs', async () => {
    const d = await folder();
    const file = path.join(d, 'x.safetensors');
    let called = false;
    const bytes = async (): Promise<Uint8Array> => {
      called = true;
      return new Uint8Array(3);
    };
    await rejectsWithRule(
      writeSafetensorsStreaming(file, [{ name: 'a', dtype: 'BF16', shape: [2], byteLength: 3, bytes }]),
      'invalid-tensor',
      file,
    );
    assert.equal(called, false);
    assert.deepEqual(await listDir(d), []);
  });
});
