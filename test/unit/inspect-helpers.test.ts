// The inspector's "compute all" with the other cores (worker/inspect/statsHelpers.ts): real stats
// pool workers take runs of the batch while this thread takes tensors one at a time; every tensor is
// reported once with exactly the statistics one thread computes, and a dtype that is not decoded is
// refused with the same rule whichever thread met it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBF16, encodeF32 } from '../../src/mimicry/safetensors/dtypes';
import { EngineError } from '../../src/mimicry/errors';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import type { TensorToWrite } from '../../src/mimicry/safetensors/types';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import { computeStatsOf } from '../../src/mimicry/worker/inspect/jobs';
import { StatsScheduler, type BatchOutcome, type StatsHelper } from '../../src/mimicry/worker/inspect/schedule';
import { statsHelpers } from '../../src/mimicry/worker/inspect/statsHelpers';
import { rng } from './helpers/rng';
import { tsWorkerEntry } from './helpers/worker-entry';

const ENTRY = tsWorkerEntry('src/mimicry/stats/statsWorker.ts');
let dir = '';
let file = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mimicry-inspect-helpers-'));
  file = join(dir, 'batch.safetensors');
  const tensors: TensorToWrite[] = [];
  for (let i = 0; i < 60; i++) {
    const n = 3000 + i * 500;
    const rand = rng(100 + i);
    const x = Float32Array.from({ length: n }, () => (rand() + rand() - 1) * (0.01 + i * 0.001));
    tensors.push({
      name: `layers.${i}.weight`,
      dtype: i % 3 === 0 ? 'BF16' : 'F32',
      shape: [n],
      data: i % 3 === 0 ? encodeBF16(x) : encodeF32(x),
    });
  }
  tensors.push({ name: 'layers.60.packed', dtype: 'F4', shape: [8], data: new Uint8Array(4) });
  await writeSafetensors(file, tensors);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('compute all with pool workers: every tensor once, the same statistics as one thread, the same refusal', async () => {
  const ck = await openCheckpoint(file);
  const names = ck.tensors.map((x) => x.name);
  // Two threads whatever threadsFor says of these small tensors (one, on 2 cores).
  const helpers = statsHelpers(ck, names, { entry: ENTRY, minBytes: 0, threads: 2 });
  try {
    assert.ok(helpers, 'a helper starts');
    // Count what the helpers computed: they must have had a share.
    let byHelpers = 0;
    const counted: StatsHelper[] = helpers.lanes.helpers.map((h) => ({
      whole: async (run, bins, signal) => {
        const out = await h.whole(run, bins, signal);
        byHelpers += run.length;
        return out;
      },
    }));
    // Sizes scaled up so that a run (HELPER_RUN_BYTES) holds a few tensors: both threads get several.
    const bytesOf = (name: string): number => helpers.lanes.bytesOf(name) * 200;
    const compute = (name: string, bins: number, signal: AbortSignal, onFraction: (f: number) => void, gate?: () => Promise<void>) =>
      computeStatsOf(ck, name, bins, signal, onFraction, gate);
    const outcomes: BatchOutcome[] = [];
    await new StatsScheduler(compute).batch(
      names,
      32,
      new AbortController().signal,
      () => undefined,
      (o) => outcomes.push(o),
      {
        helpers: counted,
        bytesOf,
      },
    );
    assert.deepEqual(outcomes.map((o) => o.name).sort(), [...names].sort(), 'every tensor once');
    assert.ok(byHelpers > 0 && byHelpers < names.length, `the helper computed ${byHelpers} of ${names.length}`);
    for (const o of outcomes) {
      let alone: unknown;
      try {
        alone = await computeStatsOf(ck, o.name, 32, new AbortController().signal, () => undefined);
      } catch (e) {
        alone = e;
      }
      if ('stats' in o) assert.deepEqual(o.stats, alone, o.name);
      else {
        assert.ok(o.error instanceof EngineError && alone instanceof EngineError, `${o.name}: ${String(o.error)}`);
        assert.equal(o.error.rule, 'dtype-not-decoded');
        assert.equal(o.error.message, alone.message);
      }
    }
  } finally {
    helpers?.dispose();
    await ck.close();
  }
});

test('helpers start only where they pay: threadsFor the batch, and a run of bytes to do', async () => {
  const ck = await openCheckpoint(file);
  try {
    const names = ck.tensors.map((x) => x.name);
    // Under 64 MiB of work, no helper whatever the thread count.
    assert.equal(statsHelpers(ck, names, { entry: ENTRY }), undefined);
    assert.equal(statsHelpers(ck, names, { entry: ENTRY, threads: 1, minBytes: 0 }), undefined);
    const three = statsHelpers(ck, names, { entry: ENTRY, threads: 3, minBytes: 0 });
    assert.equal(three?.lanes.helpers.length, 2);
    three?.dispose();
  } finally {
    await ck.close();
  }
});
