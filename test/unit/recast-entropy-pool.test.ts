// Template entropy on worker threads (entropyPool.ts): the same bits as this thread's computation,
// whichever thread computes a template; no pool without a worker script; a broken worker's templates
// are computed here; a cancel stops it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { bankEntropy, entropyExact } from '../../src/mimicry/recast/entropy';
import { DEFAULT_ENTROPY_ESTIMATE, estimatedBankEntropy } from '../../src/mimicry/recast/entropyEstimate';
import { EntropyPool, entropyWork, entropyWorkerEntry, POOL_MIN_WORK, pooledBankEntropy } from '../../src/mimicry/recast/entropyPool';
import { planGroups } from '../../src/mimicry/recast/grouping';
import { Random } from '../../src/mimicry/recast/random';
import { reconstruct } from '../../src/mimicry/recast/reconstruct';
import { FileTemplateStore } from '../../src/mimicry/recast/store';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { randomTensor, writeTensors, type Tensors } from './helpers/family-craft';

function bank(n: number, rows: number, cols: number, seed: number): Float32Array {
  const rng = new Random(seed);
  const out = new Float32Array(n * rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal() * 0.05;
  return out;
}

test('the worker script is found from source; no pool without one or without a spare core', () => {
  const entry = entropyWorkerEntry();
  assert.ok(entry && entry.entry.endsWith('entropyWorker.ts'));
  assert.equal(EntropyPool.start({ entry: null }), null);
  assert.equal(EntropyPool.start({ workers: 0 }), null);
});

test('pooled bank entropy: the same bits as bankEntropy in this thread, progress per template, the caller may reuse its buffer', async () => {
  const pool = EntropyPool.start({ workers: 2 });
  assert.ok(pool);
  try {
    const shape = [48, 4, 40];
    const n = 5;
    const templates = bank(n, 48, 160, 3);
    // A template with a NaN: NaN entropy, as in this thread.
    templates[2 * 48 * 160 + 7] = Number.NaN;
    const expected = bankEntropy(templates, n, shape, null);
    const done: number[] = [];
    const pending = pooledBankEntropy(pool, templates, n, shape, (d) => done.push(d));
    templates.fill(1); // copied when queued
    const got = await pending;
    assert.deepEqual(got, expected);
    assert.ok(Number.isNaN(got.templates[2].entropy));
    assert.deepEqual(done, [1, 2, 3, 4, 5]);
    // Some templates taken by this thread (drain), the rest by the workers: still the same bits.
    const again = bank(n, 48, 160, 4);
    const both = pooledBankEntropy(pool, again, n, shape);
    await pool.drain();
    assert.deepEqual(await both, bankEntropy(again, n, shape, null));
    // Estimates (templates over the exact route's limit) go to the pool too: the same bits as here, marked estimated.
    const estimates = pooledBankEntropy(pool, again, n, shape, undefined, DEFAULT_ENTROPY_ESTIMATE);
    const here = estimatedBankEntropy(again, n, shape);
    assert.deepEqual(await estimates, here);
    assert.ok(here.estimated && here.estimated.error > 0 && here.templates.every((t) => t.route === 'estimate' && t.estimated));
  } finally {
    pool.dispose();
  }
});

test('a worker that cannot start: its templates are computed in this thread', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mimicry-entropy-'));
  const broken = path.join(dir, 'broken.cjs');
  writeFileSync(broken, 'throw new Error("broken worker");\n');
  for (const entry of [{ entry: broken }, { entry: path.join(dir, 'missing.cjs') }]) {
    const pool = EntropyPool.start({ workers: 1, entry });
    assert.ok(pool);
    try {
      const values = bank(1, 30, 70, 5);
      const e = pool.entropy({ values, rows: 30, cols: 70 });
      // The failed worker hands the template back; this thread takes it when it drains.
      let settled = false;
      void e.finally(() => (settled = true));
      for (let i = 0; i < 200 && !settled; i++) {
        await new Promise((r) => setTimeout(r, 50));
        await pool.drain();
      }
      assert.deepEqual(await e, entropyExact(values, 30, 70));
    } finally {
      pool.dispose();
    }
  }
});

test('cancel: queued and running templates fail with the abort, the workers end', async () => {
  const ac = new AbortController();
  const pool = EntropyPool.start({ workers: 1, signal: ac.signal });
  assert.ok(pool);
  const runs = [0, 1, 2].map((i) => pool.entropy({ values: bank(1, 200, 400, i), rows: 200, cols: 400 }));
  ac.abort();
  for (const r of runs) await assert.rejects(r, { name: 'AbortError' });
  await assert.rejects(pool.entropy({ values: bank(1, 4, 4, 9), rows: 4, cols: 4 }), { name: 'AbortError' });
  pool.dispose();
});

test('reconstruct: a run big enough for the pool gets the same entropies as in this thread, with progress per template', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mimicry-entropy-run-'));
  const tensors: Tensors = {};
  for (let b = 0; b < 4; b++) {
    tensors[`blocks.${b}.mlp.fc1.weight`] = randomTensor(10 + b, [1024, 384], 0.05);
    tensors[`blocks.${b}.mlp.fc2.weight`] = randomTensor(20 + b, [384, 1024], 0.05);
  }
  const ck = await openCheckpoint(await writeTensors(path.join(dir, 'mlp.safetensors'), tensors));
  try {
    const plan = planGroups(ck.tensors, { preset: 'paper' });
    const work = plan.banks.reduce((a, b) => a + b.templates * entropyWork(b.shape[0], b.size / b.shape[0]), 0);
    assert.ok(work >= POOL_MIN_WORK && plan.banks.length === 4, `work ${work}, ${plan.banks.length} banks`);
    const entropyEvents = new Map<string, number[]>();
    const r = await reconstruct(
      ck,
      { preset: 'paper' },
      { onPhase: (ev) => void (ev.phase === 'entropy' && entropyEvents.set(ev.bank, [...(entropyEvents.get(ev.bank) ?? []), ev.done])) },
    );
    for (const b of r.banks) {
      const here = bankEntropy(await r.store.get(b.plan.name), b.n, b.plan.shape, null);
      assert.equal(b.metrics.entropy, here.entropy, b.plan.name);
      assert.equal(b.metrics.entropyNormalized, here.normalized, b.plan.name);
      assert.deepEqual(entropyEvents.get(b.plan.name), [0, ...Array.from({ length: b.n }, (_, i) => i + 1)], b.plan.name);
    }
    await r.store.dispose();
  } finally {
    await ck.close();
  }
});

test('the bundled CLI writes the same entropies with dist/entropyWorker.js beside it and without it', async () => {
  const { bundleCli, bundleEntry } = await import('./helpers/cli-bundle');
  const { execFileSync } = await import('node:child_process');
  const { readFileSync, rmSync } = await import('node:fs');
  const dir = mkdtempSync(path.join(tmpdir(), 'mimicry-entropy-cli-'));
  const out = path.join(dir, 'dist');
  const cli = await bundleCli(out);
  // As esbuild.config.mjs bundles the worker: next to cli.js.
  const worker = await bundleEntry('src/mimicry/recast/entropyWorker.ts', path.join(out, 'entropyWorker.js'));
  const tensors: Tensors = {};
  for (let b = 0; b < 4; b++) {
    tensors[`blocks.${b}.mlp.fc1.weight`] = randomTensor(30 + b, [1024, 384], 0.05);
    tensors[`blocks.${b}.mlp.fc2.weight`] = randomTensor(40 + b, [384, 1024], 0.05);
  }
  const file = await writeTensors(path.join(dir, 'mlp.safetensors'), tensors);
  const entropies = (tag: string): string => {
    const report = path.join(dir, `${tag}.report.json`);
    execFileSync(process.execPath, [
      cli,
      'reconstruct',
      file,
      '--preset',
      'paper',
      '--out',
      path.join(dir, `${tag}.safetensors`),
      '--report',
      report,
    ]);
    type Bank = { name: string; entropy: number; entropyNormalized: number };
    const banks = (JSON.parse(readFileSync(report, 'utf8')) as { metrics: { banks: Bank[] } }).metrics.banks;
    return JSON.stringify(banks.map((b) => [b.name, b.entropy, b.entropyNormalized]));
  };
  const pooled = entropies('pooled');
  rmSync(worker);
  assert.equal(entropies('alone'), pooled);
  assert.match(pooled, /mlp\.fc1/);
  assert.doesNotMatch(pooled, /null/);
});

test('relieve: the run waits until at most the given bytes of templates are queued or in flight, computing queued ones here', async () => {
  const pool = EntropyPool.start({ workers: 1 });
  assert.ok(pool);
  try {
    const shape = [40, 120];
    const templates = bank(6, 40, 120, 9);
    const size = 40 * 120;
    const settled = new Set<number>();
    const parts = Array.from({ length: 6 }, (_, t) =>
      pool.entropy({ values: templates.slice(t * size, (t + 1) * size), rows: 40, cols: 120 }).then((e) => {
        settled.add(t);
        return e;
      }),
    );
    await pool.relieve(2 * size * 4);
    assert.ok(settled.size >= 4, `at most 2 of 6 left: ${settled.size} settled`);
    await pool.relieve(0);
    assert.equal(settled.size, 6);
    const got = await Promise.all(parts);
    got.forEach((e, t) => assert.deepEqual(e, entropyExact(templates.subarray(t * size, (t + 1) * size), shape[0], shape[1])));
  } finally {
    pool.dispose();
  }
});

test('templates in the run’s store file: the threads read them there (nothing held here), same bits, exact and estimated', async () => {
  const store = new FileTemplateStore();
  const pool = EntropyPool.start({ workers: 1 });
  assert.ok(pool);
  try {
    const shape = [48, 160];
    const n = 3;
    const templates = bank(n, 48, 160, 21);
    await store.put('b', templates);
    const expected = bankEntropy(templates, n, shape, null);
    const expectedEstimate = estimatedBankEntropy(templates, n, shape);
    const from = store.locate('b');
    assert.ok(from);
    const exact = pooledBankEntropy(pool, templates, n, shape, undefined, undefined, from);
    const estimated = pooledBankEntropy(pool, templates, n, shape, undefined, DEFAULT_ENTROPY_ESTIMATE, from);
    // Queued tasks that point at the file hold no bytes here (nothing to relieve), and no copy is made:
    templates.fill(7); // what the threads read is the file's
    await pool.relieve(0);
    assert.deepEqual(await exact, expected);
    assert.deepEqual(await estimated, expectedEstimate);
  } finally {
    pool.dispose();
    await store.dispose();
  }
});
