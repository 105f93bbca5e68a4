// The engine worker (src/mimicry/worker) end to end over a real fixture: open, stats, spectrum, batch, cancel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { resolve } from 'node:path';
import type { HostToWorker, WorkerToHost } from '../../src/mimicry/worker/protocol';

const FIXTURE = resolve('test/fixtures/real/capp-gpt2-4layer.safetensors');

function startWorker(): { send(m: HostToWorker): void; next(pred: (m: WorkerToHost) => boolean, timeoutMs?: number): Promise<WorkerToHost>; all: WorkerToHost[]; stop(): Promise<number> } {
  // tsx's require hook lets the worker run the TypeScript entry directly (no build needed for unit tests).
  const entry = JSON.stringify(resolve('src/mimicry/worker/workerMain.ts'));
  const worker = new Worker(`require('tsx/cjs'); require(${entry});`, { eval: true });
  const all: WorkerToHost[] = [];
  const waiters: { pred: (m: WorkerToHost) => boolean; resolve: (m: WorkerToHost) => void }[] = [];
  worker.on('message', (m: WorkerToHost) => {
    all.push(m);
    for (const w of [...waiters]) if (w.pred(m)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
  });
  return {
    all,
    send: (m) => worker.postMessage(m),
    next: (pred, timeoutMs = 20_000) =>
      new Promise((res, rej) => {
        const found = all.find(pred);
        if (found) return res(found);
        const timer = setTimeout(() => rej(new Error('timed out waiting for a worker message')), timeoutMs);
        waiters.push({ pred, resolve: (m) => { clearTimeout(timer); res(m); } });
      }),
    stop: () => worker.terminate(),
  };
}

test('worker opens a checkpoint and computes statistics and a spectrum', async () => {
  const w = startWorker();
  try {
    w.send({ type: 'open', path: FIXTURE });
    const opened = await w.next((m) => m.type === 'opened' || m.type === 'openFailed');
    assert.equal(opened.type, 'opened');
    if (opened.type !== 'opened') return;
    assert.equal(opened.overview.tensorCount, 52);
    assert.equal(opened.overview.params, opened.tensors.reduce((s, t) => s + t.params, 0));
    assert.deepEqual(opened.overview.metadata, [['format', 'pt']]);
    const matrix = opened.tensors.find((t) => t.shape.length === 2);
    assert.ok(matrix);
    w.send({ type: 'stats', jobId: 1, name: matrix.name, bins: 16 });
    w.send({ type: 'spectrum', jobId: 2, name: matrix.name, maxDim: 1024 });
    const stats = await w.next((m) => m.type === 'stats' && m.jobId === 1);
    assert.ok(stats.type === 'stats' && stats.stats.count === matrix.params && stats.stats.histogram.counts.length === 16);
    const spectrum = await w.next((m) => m.type === 'spectrum' && m.jobId === 2);
    assert.ok(spectrum.type === 'spectrum' && spectrum.spectrum.singularValues.length === Math.min(matrix.shape[0], matrix.shape[1]));
    await w.next((m) => m.type === 'done' && m.jobId === 2);
  } finally {
    await w.stop();
  }
});

test('a cancelled batch stops and reports cancelled', async () => {
  const w = startWorker();
  try {
    w.send({ type: 'open', path: FIXTURE });
    const opened = await w.next((m) => m.type === 'opened');
    if (opened.type !== 'opened') return;
    const names = Array.from({ length: 200 }, () => opened.tensors.map((t) => t.name)).flat();
    w.send({ type: 'statsBatch', jobId: 7, names, bins: 8 });
    w.send({ type: 'cancel', jobId: 7 });
    const done = await w.next((m) => m.type === 'done' && m.jobId === 7);
    assert.ok(done.type === 'done' && done.cancelled);
    const results = w.all.filter((m) => m.type === 'stats' && m.jobId === 7).length;
    assert.ok(results < names.length, `${results} of ${names.length} ran`);
  } finally {
    await w.stop();
  }
});

test('a corrupt file answers openFailed with the file and rule', async () => {
  const w = startWorker();
  try {
    w.send({ type: 'open', path: resolve('package.json') });
    const m = await w.next((x) => x.type === 'opened' || x.type === 'openFailed');
    assert.equal(m.type, 'openFailed');
    if (m.type !== 'openFailed') return;
    assert.equal(m.error.file, resolve('package.json'));
    assert.ok(typeof m.error.rule === 'string' && m.error.rule.length > 0);
    assert.equal(m.error.cancelled, false);
  } finally {
    await w.stop();
  }
});
