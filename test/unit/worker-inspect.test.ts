// The inspector's worker (src/mimicry/worker/inspect) through its host, end to end over a real
// fixture: open, stats, spectrum, batch, cancel, and a corrupt file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { RemoteError } from '../../src/mimicry/errors';
import { inspectHost } from '../../src/mimicry/worker/inspect/client';
import type { BatchEvent } from '../../src/mimicry/worker/inspect/protocol';
import { namesOf, rowsOf, tensorCount } from '../../src/mimicry/worker/inspect/tensorColumns';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { tsWorkerEntry } from './helpers/worker-entry';

const FIXTURE = resolve('test/fixtures/real/capp-gpt2-4layer.safetensors');
const ENTRY = tsWorkerEntry('src/mimicry/worker/inspect/main.ts');

test('worker opens a checkpoint and computes statistics and a spectrum', async () => {
  const host = inspectHost(ENTRY, FIXTURE);
  try {
    const opened = await host.open();
    const rows = rowsOf(opened.tensors);
    assert.equal(opened.overview.tensorCount, 52);
    assert.equal(
      opened.overview.params,
      rows.reduce((s, t) => s + t.params, 0),
    );
    // The rows, after their trip as columns, are the reader's own tensors, in order.
    const ck = await openCheckpoint(FIXTURE);
    try {
      assert.deepEqual(
        rows.map((r) => [r.name, r.dtype, r.shape, r.params, r.bytes, r.fileOffset, r.decodable]),
        ck.tensors.map((t) => [t.name, t.dtype, [...t.shape], t.params, t.bytes, t.fileOffset, true]),
      );
    } finally {
      await ck.close();
    }
    assert.deepEqual(opened.overview.metadata, [['format', 'pt']]);
    const matrix = rows.find((t) => t.shape.length === 2);
    assert.ok(matrix);
    const [stats, spectrum] = await Promise.all([
      host.request('stats', { name: matrix.name, bins: 16 }).done,
      host.request('spectrum', { name: matrix.name, spectrumMaxSide: 1024 }).done,
    ]);
    assert.equal(stats.count, matrix.params);
    assert.equal(stats.histogram.counts.length, 16);
    assert.equal(spectrum.singularValues.length, Math.min(matrix.shape[0], matrix.shape[1]));
  } finally {
    host.dispose();
  }
});

test('a batch reports each tensor; cancelled, it stops and rejects as cancelled', async () => {
  const host = inspectHost(ENTRY, FIXTURE);
  try {
    const opened = await host.open();
    const names = namesOf(opened.tensors);
    const events: BatchEvent[] = [];
    await host.request('statsBatch', { names, bins: 8 }, (e) => events.push(e)).done;
    assert.deepEqual(
      events.filter((e) => e.kind === 'stats').map((e) => e.name),
      names,
    );
    const many = Array.from({ length: 200 }, () => names).flat();
    const seen: BatchEvent[] = [];
    const job = host.request('statsBatch', { names: many, bins: 8 }, (e) => seen.push(e));
    job.cancel();
    await assert.rejects(job.done, (e: unknown) => e instanceof RemoteError && e.cancelled);
    assert.ok(seen.filter((e) => e.kind === 'stats').length < many.length);
  } finally {
    host.dispose();
  }
});

test('a tensor that is not there fails alone, with the file and the rule', async () => {
  const host = inspectHost(ENTRY, FIXTURE);
  try {
    await assert.rejects(host.request('stats', { name: 'no.such.tensor', bins: 8 }).done, (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.wire.rule, 'tensor-not-found');
      assert.equal(e.wire.file, FIXTURE);
      assert.equal(e.cancelled, false);
      return true;
    });
    const opened = await host.open();
    assert.equal(tensorCount(opened.tensors), 52);
  } finally {
    host.dispose();
  }
});

test('a corrupt file fails to open with the file and rule', async () => {
  const host = inspectHost(ENTRY, resolve('package.json'));
  try {
    await assert.rejects(host.open(), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.wire.file, resolve('package.json'));
      assert.ok(typeof e.wire.rule === 'string' && e.wire.rule.length > 0);
      assert.equal(e.cancelled, false);
      return true;
    });
  } finally {
    host.dispose();
  }
});
