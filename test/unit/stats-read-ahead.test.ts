// Reading small tensors ahead of their turn (checkpointStats.ts, ReadAhead): one thread's statistics of
// a checkpoint of many tensors, read ahead into the kernels' keep area used as a ring, equal each
// tensor's statistics read in its own turn, bit for bit, past the ring's wrap and around tensors that
// read themselves into the keep area; a read that fails names its file and rule; a cancelled run
// gives the ring back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBF16, encodeF32 } from '../../src/mimicry/safetensors/dtypes';
import { SafetensorsError } from '../../src/mimicry/safetensors/errors';
import type { TensorToWrite } from '../../src/mimicry/safetensors/types';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import { KEEP_BYTES, READ_AHEAD_MAX, ReadAhead, tensorStatsOf } from '../../src/mimicry/stats/checkpointStats';
import { KEEP_AREA_BYTES } from '../../src/mimicry/stats/statsKernels';
import { computeCheckpointStats } from '../../src/mimicry/stats/statsPool';
import { inTempDir, withCheckpoint } from './helpers/temp-dir';
import { rng } from './helpers/rng';

function values(seed: number, n: number, scale: number): Float32Array {
  const rand = rng(seed);
  return Float32Array.from({ length: n }, () => scale * (rand() + rand() - 1));
}

/** Small tensors of many sizes (more than the keep area in all), two that read themselves into it, BF16 ones. */
function mixed(): TensorToWrite[] {
  const out: TensorToWrite[] = [];
  let bytes = 0;
  for (let i = 0; bytes < KEEP_AREA_BYTES * 1.3; i++) {
    const n = [384, 147_456, 589_824, 1_536, 442_368][i % 5] + (i % 7);
    out.push({ name: `f32.${String(i).padStart(3, '0')}`, dtype: 'F32', shape: [n], data: encodeF32(values(i, n, 0.02)) });
    bytes += 4 * n;
    if (i === 20 || i === 45) {
      const big = READ_AHEAD_MAX / 4 + 4099; // over READ_AHEAD_MAX, under KEEP_BYTES: read into the keep area in its turn
      out.push({ name: `f32.${String(i).padStart(3, '0')}.big`, dtype: 'F32', shape: [big], data: encodeF32(values(1000 + i, big, 1)) });
    }
    if (i % 9 === 0)
      out.push({
        name: `bf16.${String(i).padStart(3, '0')}`,
        dtype: 'BF16',
        shape: [70_001],
        data: encodeBF16(values(2000 + i, 70_001, 3)),
      });
  }
  return out;
}

test('one thread reading ahead gives each tensor its statistics read in its own turn, bit for bit', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'many.safetensors');
    const tensors = mixed();
    assert.ok(tensors.some((t) => t.data.byteLength > READ_AHEAD_MAX && t.data.byteLength <= KEEP_BYTES));
    await writeSafetensors(file, tensors);
    await withCheckpoint(file, async (ck) => {
      const ahead = await computeCheckpointStats(ck, ck.tensors, { threads: 1 });
      for (const [i, t] of ck.tensors.entries()) assert.deepStrictEqual(ahead[i], await tensorStatsOf(ck, t), t.name);
      // Twice more: the ring starts where the last run left it, and it was given back.
      assert.deepStrictEqual(await computeCheckpointStats(ck, ck.tensors, { threads: 1 }), ahead);
      assert.deepStrictEqual(await computeCheckpointStats(ck, [...ck.tensors].reverse(), { threads: 1 }), [...ahead].reverse());
    });
  });
});

test('a tensor read ahead from a file cut short fails with its file and rule; a cancelled run gives back what it read ahead', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'cut.safetensors');
    const tensors = Array.from({ length: 12 }, (_, i) => ({
      name: `t.${String(i).padStart(2, '0')}`,
      dtype: 'F32' as const,
      shape: [100_000],
      data: encodeF32(values(i, 100_000, 1)),
    }));
    await writeSafetensors(file, tensors);
    await withCheckpoint(file, async (ck) => {
      const whole = await computeCheckpointStats(ck, ck.tensors, { threads: 1 });
      // Cancelled after the third tensor: what was read ahead is given back, and the next run reads ahead again.
      const controller = new AbortController();
      await assert.rejects(
        computeCheckpointStats(ck, ck.tensors, {
          threads: 1,
          signal: controller.signal,
          onProgress: (p) => p.tensorsDone === 3 && controller.abort(),
        }),
        { name: 'AbortError' },
      );
      assert.deepStrictEqual(await computeCheckpointStats(ck, ck.tensors, { threads: 1 }), whole);
      const ahead = new ReadAhead(ck, ck.tensors);
      assert.ok(ahead.take(0), 'the first tensor is read ahead');
      await ahead.dispose();
      truncateSync(file, 8 + 2_000); // every tensor's bytes are gone
      await assert.rejects(computeCheckpointStats(ck, ck.tensors, { threads: 1 }), (e: unknown) => {
        assert.ok(e instanceof SafetensorsError, String(e));
        assert.equal(e.file, file);
        assert.equal(e.rule, 'short-read');
        return true;
      });
    });
  });
});
