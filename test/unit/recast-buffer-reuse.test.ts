// The pieces that let an export reuse its buffers (bench/memory.bench.ts measures why): reading
// into a given buffer, decoding and encoding in place, the scratch slots, the stores' copies and
// reads into a buffer, and the digest read through one buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decode,
  decodeFloat32Into,
  encodeBF16,
  encodeF16,
  encodeF32,
  encodeF64,
  f32Bytes,
  roundFloat32To,
} from '../../src/mimicry/safetensors/dtypes';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import type { DType } from '../../src/mimicry/safetensors/types';
import { digestFile } from '../../src/mimicry/recast/hash';
import { Scratch } from '../../src/mimicry/recast/scratch';
import { FileTemplateStore, MemoryTemplateStore } from '../../src/mimicry/recast/store';
import { readFloat32Into, STREAM_CHUNK } from '../../src/mimicry/recast/stream';
import { rng } from './helpers/rng';
import { inTempDir, withCheckpoint } from './helpers/temp-dir';

function values(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => (r() - 0.5) * 8);
}

/** Same bits, NaN payloads included. */
function sameBits(a: Float32Array, b: ArrayLike<number>): void {
  const fb = b instanceof Float32Array ? b : Float32Array.from(b);
  assert.deepEqual([...new Uint32Array(a.buffer, a.byteOffset, a.length)], [...new Uint32Array(fb.buffer, fb.byteOffset, fb.length)]);
}

test('readBytes into a given buffer: the same bytes, in that buffer, and too small a buffer is refused', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'a.safetensors');
    const small = encodeF32(values(5, 1));
    const big = encodeF32(values(300, 2));
    await writeSafetensors(file, [
      { name: 'small', dtype: 'F32', shape: [5], data: small },
      { name: 'big', dtype: 'F32', shape: [300], data: big },
    ]);
    await withCheckpoint(file, async (ck) => {
      const into = new Uint8Array(2000).fill(7);
      const got = await ck.readBytes(ck.tensor('big')!, 0, 1200, into);
      assert.equal(got.buffer, into.buffer);
      assert.equal(got.byteLength, 1200);
      assert.deepEqual(got, big);
      assert.equal(into[1200], 7, 'bytes past the range are left alone');
      // A sub-range, then a smaller tensor into the same buffer.
      assert.deepEqual(await ck.readBytes(ck.tensor('big')!, 8, 40, into), big.subarray(8, 40));
      assert.deepEqual(await ck.readBytes(ck.tensor('small')!, 0, 20, into), small);
      await assert.rejects(ck.readBytes(ck.tensor('big')!, 0, 1200, new Uint8Array(100)), /cannot hold 1200/);
    });
  });
});

test('decodeFloat32Into equals decode() (rounded to float32) for every float dtype, aligned or not', () => {
  const xs = [...values(64, 3), 0, -0, Infinity, -Infinity, NaN, 65504, 1e-8, 3.4e38];
  const cases: [DType, Uint8Array][] = [
    ['F32', encodeF32(xs)],
    ['F16', encodeF16(xs)],
    ['BF16', encodeBF16(xs)],
    ['F64', encodeF64(xs)],
    ['I8', new Uint8Array(Int8Array.from(xs.slice(0, 20), (v) => (Number.isFinite(v) ? Math.trunc(v) : 0)).buffer)],
  ];
  for (const [dtype, raw] of cases) {
    const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    const want = Float32Array.from(decode(dtype, bytes));
    sameBits(decodeFloat32Into(dtype, bytes, new Float32Array(want.length)), want);
    // Unaligned input (one byte in): copied, same values.
    const shifted = new Uint8Array(bytes.byteLength + 1);
    shifted.set(bytes, 1);
    sameBits(decodeFloat32Into(dtype, shifted.subarray(1), new Float32Array(want.length)), want);
    // Into a view in the middle of a larger array: only that view is written.
    const host = new Float32Array(want.length + 4).fill(42);
    decodeFloat32Into(dtype, bytes, host.subarray(2, 2 + want.length));
    assert.deepEqual([host[0], host[1], host[want.length + 2], host[want.length + 3]], [42, 42, 42, 42], dtype);
    sameBits(host.subarray(2, 2 + want.length), want);
  }
  assert.throws(() => decodeFloat32Into('F32', encodeF32([1, 2]), new Float32Array(3)), /2 F32 elements into an array of 3/);
});

test('encodeF16/encodeBF16 into a given buffer give the same bytes; f32Bytes shares memory', () => {
  const xs = Float32Array.from(values(33, 4));
  for (const enc of [encodeF16, encodeBF16]) {
    const out = new Uint8Array(100).fill(1);
    const got = enc(xs, out);
    assert.deepEqual(got, enc(xs));
    assert.equal(got.buffer, out.buffer, 'written into the given buffer');
    assert.equal(out[66], 1, 'nothing past the values');
    assert.throws(() => enc(xs, new Uint8Array(10)), /cannot hold 33/);
  }
  const view = f32Bytes(xs);
  assert.equal(view.buffer, xs.buffer);
  assert.deepEqual(view, encodeF32(xs));
  xs[0] = 123;
  assert.deepEqual(view.subarray(0, 4), encodeF32([123]));
});

test('Scratch slots are reused while big enough and regrown when not', () => {
  const s = new Scratch();
  const a = s.floats('x', 100);
  a.fill(5);
  const b = s.floats('x', 40);
  assert.equal(b.buffer, a.buffer, 'a smaller request reuses the slot');
  assert.equal(b.length, 40);
  assert.equal(b[0], 5, 'contents are whatever was there');
  const c = s.floats('x', 200);
  assert.notEqual(c.buffer, a.buffer);
  assert.equal(c.length, 200);
  assert.notEqual(s.bytes('y', 8).buffer, c.buffer, 'slots are separate');
  assert.equal(s.size, 800 + 8);
  s.clear();
  assert.equal(s.size, 0);
});

test('Scratch.recycle keeps the buffers for new names: the smallest that fits is taken, a bigger request allocates', () => {
  const s = new Scratch();
  const big = s.floats('member0', 1000).buffer;
  const mid = s.floats('member1', 500).buffer;
  const small = s.bytes('raw', 64).buffer;
  s.recycle();
  assert.equal(s.size, 4000 + 2000 + 64, 'recycled buffers are still held');
  assert.equal(s.floats('templates', 400).buffer, mid, 'the smallest spare that holds 400 floats');
  assert.equal(s.floats('templates', 300).buffer, mid, 'the name keeps it from then on');
  assert.equal(s.bytes('out', 10).buffer, small);
  const grown = s.floats('wide', 2000).buffer;
  assert.ok(grown !== big && grown !== mid && grown !== small, 'no spare holds 2000 floats: a new buffer');
  assert.equal(s.floats('last', 900).buffer, big, 'the big spare is still there for the next name');
  // Recycling again hands the writers' buffers to whatever comes after them (the drain's templates slot).
  s.recycle();
  assert.equal(s.floats('templates', 1000).buffer, big);
  s.clear();
  assert.equal(s.size, 0, 'clear drops the spares too');
  assert.notEqual(s.floats('templates', 10).buffer, big);
});

test('template stores keep a copy on put and read into a given buffer on get, whole or a part', async () => {
  await inTempDir(async (dir) => {
    const mem = new MemoryTemplateStore();
    const file = new FileTemplateStore(dir);
    try {
      for (const store of [mem, file]) {
        const t = Float32Array.from(values(12, 5));
        const kept = t.slice();
        await store.put('b0', t);
        t.fill(0); // the caller reuses its buffer at once
        const into = new Float32Array(12);
        const got = await store.get('b0', into);
        assert.equal(got, into);
        assert.deepEqual(got, kept);
        assert.deepEqual(await store.get('b0'), kept);
        await assert.rejects(store.get('b0', new Float32Array(5)), /12 template values, not 5/);
        // A part at a time (how 16-bit templates are encoded for the file).
        const part = new Float32Array(5);
        assert.equal(await store.read('b0', 7, part), part);
        assert.deepEqual(part, kept.subarray(7, 12));
        assert.deepEqual(await store.read('b0', 0, new Float32Array(12)), kept);
        await assert.rejects(store.read('b0', 8, new Float32Array(5)), /12 template values, not \[8, 13\)/);
        await assert.rejects(store.read('b1', 0, new Float32Array(1)), /no templates for bank b1/);
      }
    } finally {
      await mem.dispose();
      await file.dispose();
    }
  });
});

test('readFloat32Into reads F32 straight into the array and 16-bit members through the raw slot', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'm.safetensors');
    const xs = values(50, 6);
    await writeSafetensors(file, [
      { name: 'a.f32', dtype: 'F32', shape: [5, 10], data: encodeF32(xs) },
      { name: 'b.bf16', dtype: 'BF16', shape: [5, 10], data: encodeBF16(xs) },
      { name: 'c.f16', dtype: 'F16', shape: [50], data: encodeF16(xs) },
    ]);
    const ck = await openCheckpoint(file);
    const scratch = new Scratch();
    try {
      for (const name of ['a.f32', 'b.bf16', 'c.f16']) {
        const info = ck.tensor(name)!;
        const want = Float32Array.from(await ck.readValues(info));
        sameBits(await readFloat32Into(ck, info, scratch.floats('m', 50), scratch), want);
        sameBits(await readFloat32Into(ck, info, scratch.floats('m', 20), scratch, 10, 30), want.subarray(10, 30));
      }
    } finally {
      await ck.close();
    }
  });
});

test('readFloat32Into decodes a 16-bit member longer than STREAM_CHUNK a chunk at a time: the same bits, a chunk-sized raw slot', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'big.safetensors');
    const count = 2 * STREAM_CHUNK + 1001;
    const xs = Float32Array.from(values(count, 9));
    await writeSafetensors(file, [
      { name: 'b.bf16', dtype: 'BF16', shape: [count], data: encodeBF16(xs) },
      { name: 'c.f16', dtype: 'F16', shape: [count], data: encodeF16(xs) },
    ]);
    await withCheckpoint(file, async (ck) => {
      const scratch = new Scratch();
      for (const name of ['b.bf16', 'c.f16']) {
        const info = ck.tensor(name)!;
        const want = Float32Array.from(await ck.readValues(info));
        sameBits(await readFloat32Into(ck, info, new Float32Array(count), scratch), want);
        // A range that starts and ends inside chunks.
        const [a, b] = [STREAM_CHUNK - 5, 2 * STREAM_CHUNK + 700];
        sameBits(await readFloat32Into(ck, info, new Float32Array(b - a), scratch, a, b), want.subarray(a, b));
      }
      assert.equal(scratch.size, 2 * STREAM_CHUNK, 'only one chunk of 16-bit bytes is held');
    });
  });
});

test('roundFloat32To rounds in place chunk by chunk: the same bits as encoding the whole array and decoding it', () => {
  const specials = [0, -0, Infinity, -Infinity, NaN, 65504, 65519.99, 65520, -65520, 3.4e38, -3.4e38, 1e-8, -1e-40, 5.96e-8, 2.98e-8];
  // Longer than the 65,536-value chunk, not a multiple of it; specials at both ends and at the boundary.
  const xs = Float32Array.from([...specials, ...values(150_000, 8), ...specials]);
  xs.set(Float32Array.from(specials), 65_536 - 7);
  for (const dtype of ['BF16', 'F16'] as const) {
    const want = Float32Array.from(decode(dtype, dtype === 'BF16' ? encodeBF16(xs) : encodeF16(xs)));
    const apart = new Float32Array(xs.length);
    assert.equal(roundFloat32To(dtype, xs, apart), apart);
    sameBits(apart, want);
    const inPlace = xs.slice();
    assert.equal(roundFloat32To(dtype, inPlace), inPlace);
    sameBits(inPlace, want);
    // Rounding what is already rounded changes nothing (the writer encodes the stored templates again).
    sameBits(roundFloat32To(dtype, inPlace.slice()), want);
  }
  assert.equal(roundFloat32To('BF16', new Float32Array(0)).length, 0);
  assert.throws(() => roundFloat32To('F16', xs, new Float32Array(3)), /into an array of 3/);
});

test('digestFile equals a SHA-256 of the whole file, for empty, small and multi-chunk files; abort stops it', async () => {
  await inTempDir(async (dir) => {
    const r = rng(7);
    for (const size of [0, 1, 1 << 20, (3 << 20) + 17]) {
      const file = join(dir, `f${size}`);
      writeFileSync(
        file,
        Uint8Array.from({ length: size }, () => Math.floor(r() * 256)),
      );
      const d = await digestFile(file);
      assert.equal(d.bytes, size);
      assert.equal(d.file, `f${size}`);
      assert.equal(d.sha256, createHash('sha256').update(readFileSync(file)).digest('hex'));
    }
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(digestFile(join(dir, `f${1 << 20}`), ac.signal), { name: 'AbortError' });
  });
});
