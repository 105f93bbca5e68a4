// The one worker channel (src/mimicry/worker/channel): requests, progress, errors with file and
// rule, cancel, a cancel that does not stop in time, a crash (an error, never "cancelled"), dispose.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerHost } from '../../src/mimicry/worker/channel/host';
import { RemoteError } from '../../src/mimicry/errors';
import type { TestService } from './helpers/channel-test-worker';
import { tsWorkerEntry } from './helpers/worker-entry';

const ENTRY = tsWorkerEntry('test/unit/helpers/channel-test-worker.ts');
const hosts: WorkerHost<TestService, 'open'>[] = [];
after(() => hosts.forEach((h) => h.dispose()));

function host(graceMs = 300): WorkerHost<TestService, 'open'> {
  const h = new WorkerHost<TestService, 'open'>({
    entry: ENTRY,
    name: 'test-worker',
    open: { method: 'open', params: { path: '/models/a.safetensors' } },
    cancelGraceMs: () => graceMs,
    closedMessage: 'closed by the test',
  });
  hosts.push(h);
  return h;
}

async function rejection(p: Promise<unknown>): Promise<RemoteError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RemoteError, `expected a RemoteError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the request to fail');
}

test('a request opens the worker first, reports progress and answers', async () => {
  const h = host();
  const fractions: number[] = [];
  assert.equal(await h.request('echo', { text: 'hi', steps: 4 }, (f) => fractions.push(f)).done, '/models/a.safetensors: hi');
  assert.deepEqual(fractions, [0.25, 0.5, 0.75, 1]);
  assert.equal(await h.open(), 'opened /models/a.safetensors');
});

test('a result handed over arrives whole and its buffer moved out of the worker', async () => {
  const h = host();
  const { values } = await h.request('handOver', { n: 1000 }).done;
  assert.ok(values instanceof Float64Array);
  assert.deepEqual(Array.from(values.subarray(0, 3)), [0, 1, 2]);
  assert.equal(values[999], 999);
  assert.equal(await h.request('leftBehind', {}).done, 0); // detached there: moved, not copied
});

test('an engine refusal arrives with its file and rule, not cancelled', async () => {
  const e = await rejection(host().request('refuse', { file: '/x/bad.safetensors' }).done);
  assert.equal(e.wire.file, '/x/bad.safetensors');
  assert.equal(e.wire.rule, 'header-not-json');
  assert.equal(e.cancelled, false);
  assert.match(e.message, /bad\.safetensors: header is not valid JSON \(at byte 9\) \[header-not-json\]/);
});

test('a cancel stops a request that checks its signal, and the worker lives on', async () => {
  const h = host();
  await h.open();
  const job = h.request('wait', {});
  setTimeout(() => job.cancel(), 50);
  const e = await rejection(job.done);
  assert.equal(e.cancelled, true);
  assert.equal(h.generation, 0);
  assert.equal(await h.request('echo', { text: 'again', steps: 0 }).done, '/models/a.safetensors: again');
});

test('a cancel that is not honoured in time restarts the worker: that request is cancelled, the others fail', async () => {
  const h = host(200);
  await h.open();
  const blocked = h.request('block', { ms: 3000 });
  const bystander = h.request('wait', {});
  await new Promise((r) => setTimeout(r, 50));
  blocked.cancel();
  assert.equal((await rejection(blocked.done)).cancelled, true);
  const other = await rejection(bystander.done);
  assert.equal(other.cancelled, false);
  assert.match(other.message, /restarted/);
  assert.equal(h.generation, 1);
  assert.equal(await h.request('echo', { text: 'fresh', steps: 0 }).done, '/models/a.safetensors: fresh');
});

test('a crash fails every request in flight as an error, never as cancelled, and the next request respawns', async () => {
  const h = host();
  await h.open();
  const waiting = h.request('wait', {});
  const crash = await rejection(h.request('crash', {}).done);
  assert.equal(crash.cancelled, false);
  assert.match(crash.message, /test-worker failed: it exited \(code 3\)/);
  const lost = await rejection(waiting.done);
  assert.equal(lost.cancelled, false);
  assert.equal(h.generation, 1);
  assert.equal(await h.request('echo', { text: 'back', steps: 0 }).done, '/models/a.safetensors: back');
});

test('a request cancelled before the worker opened never runs; dispose cancels what is left', async () => {
  const h = host();
  const early = h.request('echo', { text: 'never', steps: 0 });
  early.cancel();
  assert.equal((await rejection(early.done)).cancelled, true);
  const waiting = h.request('wait', {});
  await h.open();
  h.dispose();
  const e = await rejection(waiting.done);
  assert.equal(e.cancelled, true);
  assert.equal((await rejection(h.request('echo', { text: 'x', steps: 0 }).done)).message, 'closed by the test');
});
