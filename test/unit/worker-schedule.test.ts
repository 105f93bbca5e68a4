// The inspector worker's scheduler (src/mimicry/worker/inspect/schedule.ts) with a fake computation
// whose chunks the test releases one by one: a tensor the user asks for runs while "compute all"
// waits between chunks, its result is not computed twice, the tensor the batch is reading is handed
// over, and a cancel stops a batch even while it waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsScheduler, type BatchOutcome, type StatsCompute } from '../../src/mimicry/worker/inspect/schedule';
import type { TensorStats } from '../../src/mimicry/stats/tensorStats';

const CHUNKS = 3;

/** A computation of CHUNKS chunks per tensor; each chunk waits for `step()`; the log says who read what. */
function fake(): { compute: StatsCompute; log: string[]; step: () => Promise<void>; started: string[] } {
  const log: string[] = [];
  const started: string[] = [];
  let release: (() => void)[] = [];
  const compute: StatsCompute = async (name, _bins, signal, onFraction, gate) => {
    started.push(name);
    for (let c = 0; c < CHUNKS; c++) {
      await new Promise<void>((r) => release.push(r));
      signal.throwIfAborted();
      if (gate) await gate();
      signal.throwIfAborted();
      log.push(`${name}#${c}`);
      onFraction((c + 1) / CHUNKS);
    }
    return { count: name.length } as unknown as TensorStats;
  };
  const step = async (): Promise<void> => {
    const go = release;
    release = [];
    for (const r of go) r();
    // Let every continuation run (a few microtask turns and one macrotask).
    await new Promise((r) => setTimeout(r, 0));
  };
  return { compute, log, step, started };
}

async function until(cond: () => boolean, step: () => Promise<void>): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await step();
  assert.ok(cond(), 'condition never met');
}

test('a tensor the user asks for jumps the queue: the batch waits between chunks, then reports it without reading it again', async () => {
  const f = fake();
  const s = new StatsScheduler(f.compute);
  const outcomes: BatchOutcome[] = [];
  const names = ['a', 'b', 'c', 'd', 'e'];
  const batch = s.batch(
    names,
    8,
    new AbortController().signal,
    () => undefined,
    (o) => outcomes.push(o),
  );
  await until(() => f.log.includes('a#0'), f.step);
  // The user clicks the last tensor: it is computed at once, the batch reads nothing meanwhile.
  const asked = s.one('e', 8, new AbortController().signal, () => undefined);
  const doneAt: number[] = [];
  void asked.then(() => doneAt.push(f.log.length));
  await until(() => doneAt.length === 1, f.step);
  const during = f.log.slice(f.log.indexOf('a#0') + 1, doneAt[0]);
  assert.ok(
    during.every((x) => x.startsWith('e#')),
    `the batch read while the user's tensor ran: ${during.join(' ')}`,
  );
  assert.deepEqual(
    during.filter((x) => x.startsWith('e#')),
    ['e#0', 'e#1', 'e#2'],
  );
  await until(() => outcomes.length === names.length, f.step);
  await batch;
  assert.deepEqual(
    outcomes.map((o) => o.name),
    names,
  );
  assert.equal(f.started.filter((n) => n === 'e').length, 1, 'e was computed once');
});

test('asking for the tensor the batch is reading hands it over: read once more from the start, not twice to the end', async () => {
  const f = fake();
  const s = new StatsScheduler(f.compute);
  const outcomes: BatchOutcome[] = [];
  const batch = s.batch(
    ['a', 'b'],
    8,
    new AbortController().signal,
    () => undefined,
    (o) => outcomes.push(o),
  );
  await until(() => f.log.includes('a#0'), f.step);
  const asked = s.one('a', 8, new AbortController().signal, () => undefined);
  await until(() => outcomes.length === 2, f.step);
  await batch;
  await asked;
  assert.deepEqual(
    outcomes.map((o) => ('stats' in o ? o.name : `failed ${o.name}`)),
    ['a', 'b'],
  );
  // The batch's own reading of a stopped after its first chunk; the user's read it whole.
  assert.equal(f.log.filter((x) => x.startsWith('a#')).length, 1 + CHUNKS);
});

test('a batch waiting for the user is cancelled at once; a cancelled user request is redone by the batch', async () => {
  const f = fake();
  const s = new StatsScheduler(f.compute);
  const stop = new AbortController();
  const batch = s.batch(
    ['a', 'b'],
    8,
    stop.signal,
    () => undefined,
    () => undefined,
  );
  await until(() => f.log.includes('a#0'), f.step);
  const user = new AbortController();
  const asked = s.one('b', 8, user.signal, () => undefined);
  await f.step();
  stop.abort();
  await assert.rejects(batch, (e: unknown) => (e as Error).name === 'AbortError');
  user.abort();
  await assert.rejects(asked, (e: unknown) => (e as Error).name === 'AbortError');
  await f.step();

  const outcomes: BatchOutcome[] = [];
  const mine = new AbortController();
  const again = s.one('c', 8, mine.signal, () => undefined);
  const second = s.batch(
    ['c'],
    8,
    new AbortController().signal,
    () => undefined,
    (o) => outcomes.push(o),
  );
  await f.step();
  mine.abort();
  await assert.rejects(again);
  await until(() => outcomes.length === 1, f.step);
  await second;
  assert.ok('stats' in outcomes[0], 'the batch computed c itself after the user gave it up');
});
