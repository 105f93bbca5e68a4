// The stats pool (statsPool.ts) on worker threads: the same statistics as one thread, bit for bit,
// for batches of small tensors and for big tensors split into ranges; progress; cancel; and a job that
// fails in a worker ends with the engine's own error (file and rule).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBF16, encodeF16, encodeF32 } from '../../src/mimicry/safetensors/dtypes';
import { SafetensorsError } from '../../src/mimicry/safetensors/errors';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import type { TensorInfo, TensorToWrite } from '../../src/mimicry/safetensors/types';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import { SUPER } from '../../src/mimicry/stats/accumulators';
import { tensorStatsOf } from '../../src/mimicry/stats/checkpointStats';
import {
  computeCheckpointStats,
  planPoolJobs,
  RANGE_BYTES,
  rangeElements,
  TAIL_SPLIT,
  threadsFor,
  WORKERS_FROM_BYTES,
  type PoolPlan,
  type StatsProgress,
} from '../../src/mimicry/stats/statsPool';
import { rng } from './helpers/rng';
import { tsWorkerEntry } from './helpers/worker-entry';

const ENTRY = tsWorkerEntry('src/mimicry/stats/statsWorker.ts');
/** The smallest range: one superblock; tensors over SUPER elements are split. */
const RANGE = 1;

let dir = '';
let file = '';

function normal(seed: number, n: number, scale: number): Float32Array {
  const rand = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * (rand() + rand() + rand() - 1.5);
  out[n >> 1] = NaN;
  out[n >> 2] = -Infinity;
  out[3] = 0;
  return out;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mimicry-pool-'));
  file = join(dir, 'pool.safetensors');
  const big = SUPER + SUPER / 2 + 17; // two ranges, the last one partial
  const tensors: TensorToWrite[] = [
    { name: 'a.f32.big', dtype: 'F32', shape: [big], data: encodeF32(normal(1, big, 0.02)) },
    { name: 'b.bf16.big', dtype: 'BF16', shape: [big], data: encodeBF16(normal(2, big, 0.5)) },
    { name: 'c.f16.big', dtype: 'F16', shape: [big], data: encodeF16(normal(3, big, 2)) },
    { name: 'd.u8.big', dtype: 'U8', shape: [big], data: Uint8Array.from({ length: big }, (_, i) => (i * 7) & 0xff) },
    { name: 'e.f32.const', dtype: 'F32', shape: [big], data: encodeF32(new Float32Array(big).fill(0.75)) },
    // The 32/64-bit road: quantiles from a fine histogram, whose counts add up across ranges like the histogram's.
    {
      name: 'e.i32.big',
      dtype: 'I32',
      shape: [big],
      data: new Uint8Array(Int32Array.from({ length: big }, (_, i) => ((i * 7919) % 100003) - 50000).buffer),
    },
    { name: 'f.f4', dtype: 'F4', shape: [8], data: new Uint8Array(4) },
    { name: 'g.empty', dtype: 'F32', shape: [0], data: new Uint8Array(0) },
  ];
  for (let i = 0; i < 40; i++) {
    tensors.push({
      name: `h.small.${String(i).padStart(2, '0')}`,
      dtype: 'F32',
      shape: [i * 100 + 1],
      data: encodeF32(normal(10 + i, i * 100 + 1, 1)),
    });
  }
  await writeSafetensors(file, tensors);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('worker threads give exactly the statistics of one thread, big tensors split into ranges included', async () => {
  const ck = await openCheckpoint(file);
  try {
    const big = ck.tensors.filter((t) => t.name.includes('.big'));
    for (const t of big) assert.ok(t.params > rangeElements(t, RANGE), `${t.name} is split`);
    const one = await computeCheckpointStats(ck, ck.tensors, { threads: 1, bins: 40 });
    const progress: StatsProgress[] = [];
    const pooled = await computeCheckpointStats(ck, ck.tensors, {
      threads: 2,
      bins: 40,
      workerEntry: ENTRY,
      rangeBytes: RANGE,
      onProgress: (p) => progress.push(p),
    });
    assert.deepEqual(pooled, one);
    for (const [i, t] of ck.tensors.entries()) assert.deepEqual(pooled[i], await tensorStatsOf(ck, t, { bins: 40 }), t.name);
    assert.deepEqual(pooled[ck.tensors.findIndex((t) => t.name === 'f.f4')], { skipped: 'dtype F4 is not decoded to numbers' });
    const last = progress.at(-1) as StatsProgress;
    assert.equal(last.doneBytes, last.totalBytes);
    assert.equal(last.tensorsDone, ck.tensors.length);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].doneBytes >= progress[i - 1].doneBytes - 1e-6);
  } finally {
    await ck.close();
  }
});

test('a cancelled pool run rejects with an AbortError and stops its workers', async () => {
  const ck = await openCheckpoint(file);
  try {
    const controller = new AbortController();
    const run = computeCheckpointStats(ck, ck.tensors, {
      threads: 2,
      workerEntry: ENTRY,
      rangeBytes: RANGE,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.doneBytes > 0) controller.abort();
      },
    });
    await assert.rejects(run, { name: 'AbortError' });
    // On one thread too.
    const again = new AbortController();
    again.abort();
    await assert.rejects(computeCheckpointStats(ck, ck.tensors, { threads: 1, signal: again.signal }), { name: 'AbortError' });
  } finally {
    await ck.close();
  }
});

test("a file cut short after opening: the workers fail, and the error is the reader's own, with file and rule", async () => {
  const copy = join(dir, 'cut.safetensors');
  const { copyFileSync, statSync } = await import('node:fs');
  copyFileSync(file, copy);
  const ck = await openCheckpoint(copy);
  try {
    truncateSync(copy, statSync(copy).size - 1000);
    await assert.rejects(computeCheckpointStats(ck, ck.tensors, { threads: 2, workerEntry: ENTRY, rangeBytes: RANGE }), (e: unknown) => {
      assert.ok(e instanceof SafetensorsError, String(e));
      assert.equal(e.file, copy);
      assert.equal(e.rule, 'short-read');
      return true;
    });
  } finally {
    await ck.close();
  }
});

test('the bundled CLI finds dist/statsWorker.js beside it: --threads 2 prints what --threads 1 prints', async () => {
  const { bundleCli, bundleEntry } = await import('./helpers/cli-bundle');
  const { execFileSync } = await import('node:child_process');
  const out = join(dir, 'dist');
  const cli = await bundleCli(out);
  // As esbuild.config.mjs bundles the worker: next to cli.js.
  await bundleEntry('src/mimicry/stats/statsWorker.ts', join(out, 'statsWorker.js'));
  const run = (threads: number): string =>
    execFileSync(process.execPath, [cli, 'inspect', file, '--json', '--stats', '--bins', '16', '--threads', String(threads)], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
  const one = run(1);
  assert.equal(run(2), one);
  const report = JSON.parse(one) as { tensors: { name: string; stats: { histogram: { counts: number[] } } | null }[] };
  assert.equal(report.tensors.length, 48);
  assert.equal(report.tensors.find((t) => t.name === 'a.f32.big')?.stats?.histogram.counts.length, 16);
});

test('threadsFor: as many threads as the cores feed (a thread keeps about 1.1 cores busy) from WORKERS_FROM_BYTES of data, else one', () => {
  const t = (dtype: 'F32' | 'BF16' | 'F4', params: number) => ({ dtype, params, bytes: params * (dtype === 'F32' ? 4 : 2) }) as TensorInfo;
  const f32 = [t('F32', 1 << 27), t('F32', 1 << 20)];
  const bf16 = [t('BF16', 1 << 28), t('BF16', 1 << 20)];
  assert.equal(threadsFor(f32, 2), 2);
  assert.equal(threadsFor(bf16, 2), 2);
  assert.equal(threadsFor(f32, 4), 4);
  assert.equal(threadsFor(f32, 1), 1);
  assert.equal(threadsFor(bf16, 16), 15);
  // Too little to pay for a worker's start: a ViT-S (88 MB), or just under the floor.
  assert.equal(threadsFor([t('F32', 22_000_000)], 16), 1);
  assert.equal(threadsFor([t('F32', WORKERS_FROM_BYTES / 4 - 1)], 2), 1);
  assert.equal(threadsFor([t('F32', WORKERS_FROM_BYTES / 4)], 2), 2);
  // Nothing to compute (a dtype not decoded, empty tensors) counts nothing.
  assert.equal(threadsFor([t('F4', 1 << 30), t('F32', 0)], 8), 1);
  assert.equal(threadsFor([], 8), 1);
});

test('the pool plan: batches and ranges of about rangeBytes, the last threads x rangeBytes in jobs TAIL_SPLIT times smaller', () => {
  const MiB = 1 << 20;
  const t = (dtype: 'F32' | 'BF16' | 'F4', params: number) => ({ dtype, params, bytes: params * (dtype === 'F32' ? 4 : 2) }) as TensorInfo;
  const sizes = (plan: PoolPlan, i: number) => (plan.ranges.get(i) ?? []).map(([a, b]) => b - a);
  // The stats bench's F32 checkpoint: 8 tensors of 128 MiB on 2 threads.
  const f32 = planPoolJobs(
    Array.from({ length: 8 }, () => t('F32', 32 * MiB)),
    2,
    RANGE_BYTES,
  );
  for (let i = 0; i < 7; i++) assert.deepEqual(sizes(f32, i), [16 * MiB, 16 * MiB], `tensor ${i}: two 64 MiB ranges`);
  assert.equal(TAIL_SPLIT, 4);
  assert.deepEqual(sizes(f32, 7), Array(8).fill(4 * MiB), 'the last tensor: eight 16 MiB ranges');
  assert.equal(f32.jobs.length, 7 * 2 + 8);
  assert.ok(f32.jobs.every((j) => j.kind === 'pass1'));
  // Ranges cover each tensor in order, on superblock boundaries.
  for (const [i, ranges] of f32.ranges) {
    assert.equal(ranges[0][0], 0);
    assert.equal(ranges.at(-1)?.[1], 32 * MiB, `tensor ${i}`);
    ranges.forEach(([a], k) => k > 0 && assert.equal(a, ranges[k - 1][1]));
    ranges.forEach(([a]) => assert.equal(a % SUPER, 0));
  }
  // 300 tensors of 1 MiB: batches of 64 MiB, then of 16 MiB for the last 128 MiB (the one before
  // them cut where they start); a skipped dtype left out.
  const small = [...Array.from({ length: 300 }, () => t('F32', MiB / 4)), t('F4', 1 << 20)];
  const plan = planPoolJobs(small, 2, RANGE_BYTES);
  const batches = plan.jobs.map((j) => (j.kind === 'whole' ? j.tensors.length : -1));
  assert.deepEqual(batches, [64, 64, 44, 16, 16, 16, 16, 16, 16, 16, 16]);
  assert.equal(plan.ranges.size, 0);
  assert.ok(!plan.jobs.some((j) => j.kind === 'whole' && j.tensors.includes(300)), 'the F4 tensor is not computed');
});
