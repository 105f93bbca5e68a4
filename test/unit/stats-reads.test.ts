// How statistics read a checkpoint (checkpointStats.ts): with the checkpoint's blocking read where it
// has one (Checkpoint.readBytesSync), else through its promise reads; both give the same statistics bit
// for bit. Blocking reads still give the event loop its turns (timers fire, a cancel gets through), and
// a file cut short fails with its file and rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBF16, encodeF32 } from '../../src/mimicry/safetensors/dtypes';
import { SafetensorsError } from '../../src/mimicry/safetensors/errors';
import type { Checkpoint, TensorToWrite } from '../../src/mimicry/safetensors/types';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import { KEEP_BYTES, tensorStatsOf } from '../../src/mimicry/stats/checkpointStats';
import { computeCheckpointStats } from '../../src/mimicry/stats/statsPool';
import { inTempDir, withCheckpoint } from './helpers/temp-dir';
import { rng } from './helpers/rng';

function values(seed: number, n: number, scale: number): Float32Array {
  const rand = rng(seed);
  return Float32Array.from({ length: n }, () => scale * (rand() + rand() - 1));
}

/** The same checkpoint without its blocking read: statistics take the promise reads. */
function promiseReadsOnly(ck: Checkpoint): Checkpoint {
  return Object.create(ck, { readBytesSync: { value: undefined } }) as Checkpoint;
}

const TENSORS: TensorToWrite[] = [
  { name: 'bias', dtype: 'F32', shape: [384], data: encodeF32(values(1, 384, 0.1)) },
  { name: 'proj', dtype: 'F32', shape: [384, 384], data: encodeF32(values(2, 384 * 384, 0.02)) },
  // Over 2^22 values: counted per low bits, and over 8 MiB: read in several chunks into the keep area.
  { name: 'big', dtype: 'F32', shape: [(1 << 22) + 4099], data: encodeF32(values(3, (1 << 22) + 4099, 1)) },
  { name: 'bf16', dtype: 'BF16', shape: [300_001], data: encodeBF16(values(4, 300_001, 3)) },
];

test('blocking reads and promise reads give the same statistics, bit for bit', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'reads.safetensors');
    await writeSafetensors(file, TENSORS);
    await withCheckpoint(file, async (ck) => {
      assert.ok(ck.readBytesSync, 'a file checkpoint reads blocking');
      assert.ok(ck.tensors.some((t) => t.bytes > 8 << 20 && t.bytes <= KEEP_BYTES));
      const blocking = await computeCheckpointStats(ck, ck.tensors, { threads: 1 });
      const promised = await computeCheckpointStats(promiseReadsOnly(ck), ck.tensors, { threads: 1 });
      assert.deepStrictEqual(blocking, promised);
      // Small chunks: many reads per tensor, the same numbers.
      for (const [i, t] of ck.tensors.entries())
        assert.deepStrictEqual(await tensorStatsOf(ck, t, { chunkElements: 77_777 }), blocking[i], t.name);
    });
  });
});

/** How often a 0 ms timer fired while one thread computed the checkpoint's statistics. */
async function ticksDuring(ck: Checkpoint): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  try {
    await computeCheckpointStats(ck, ck.tensors, { threads: 1 });
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

test('blocking reads give the event loop its turns: timers fire during a run, and a cancel from one stops it', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'turns.safetensors');
    await writeSafetensors(file, TENSORS);
    await withCheckpoint(file, async (ck) => {
      assert.ok((await ticksDuring(ck)) > 0, 'a timer fired while the statistics ran');
      const controller = new AbortController();
      setImmediate(() => controller.abort());
      await assert.rejects(computeCheckpointStats(ck, ck.tensors, { threads: 1, signal: controller.signal }), { name: 'AbortError' });
    });
  });
});

test('a run through thousands of tiny tensors gives the event loop its turns too (by time, not bytes)', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'tiny.safetensors');
    const tiny = Array.from({ length: 4000 }, (_, i) => ({
      name: `t.${String(i).padStart(4, '0')}`,
      dtype: 'F32' as const,
      shape: [64],
      data: encodeF32(values(i, 64, 1)),
    }));
    await writeSafetensors(file, tiny);
    await withCheckpoint(file, async (ck) => {
      assert.ok((await ticksDuring(ck)) > 0, 'a timer fired while 4,000 tensors of 256 bytes were computed');
    });
  });
});

test('a file cut short after opening: blocking reads fail with its file and rule', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'cut.safetensors');
    await writeSafetensors(file, TENSORS);
    await withCheckpoint(file, async (ck) => {
      truncateSync(file, 8 + 2_000);
      await assert.rejects(computeCheckpointStats(ck, ck.tensors, { threads: 1 }), (e: unknown) => {
        assert.ok(e instanceof SafetensorsError, String(e));
        assert.equal(e.file, file);
        assert.equal(e.rule, 'short-read');
        return true;
      });
    });
  });
});
