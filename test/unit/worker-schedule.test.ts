// The inspector worker's scheduler (src/mimicry/worker/inspect/schedule.ts) with a fake computation
// whose chunks the test releases one by one: a tensor the user asks for runs while "compute all"
// waits between chunks, its result is not computed twice, the tensor the batch is reading is handed
// over, and a cancel stops a batch even while it waits. With helpers (other threads taking runs of the
// queue): every tensor once, a failed run redone here, a tensor asked for waits for its helper.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HELPER_RUN_BYTES,
  StatsScheduler,
  type BatchHelpers,
  type BatchOutcome,
  type StatsCompute,
  type StatsHelper,
} from '../../src/mimicry/worker/inspect/schedule';
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

/** A helper whose runs wait for `release()`; it logs each run, and fails the runs or tensors it is told to. */
function fakeHelper(opts: { failRun?: (names: readonly string[]) => boolean; failTensor?: string } = {}) {
  const runs: string[][] = [];
  let pending: (() => void)[] = [];
  const helper: StatsHelper = {
    async whole(names, _bins, signal) {
      runs.push([...names]);
      await new Promise<void>((r) => pending.push(r));
      signal.throwIfAborted();
      if (opts.failRun?.(names)) throw new Error('the helper thread died');
      return names.map((name) =>
        name === opts.failTensor ? { error: new Error(`${name} is corrupt`) } : { stats: { count: name.length } as unknown as TensorStats },
      );
    },
  };
  const release = (): void => {
    const go = pending;
    pending = [];
    for (const r of go) r();
  };
  return { helper, runs, release, busy: () => pending.length > 0 };
}

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `t${i}`);
const lanesOf = (...helpers: StatsHelper[]): BatchHelpers => ({ helpers, bytesOf: () => HELPER_RUN_BYTES / 4 });

/**
 * A batch of `all` with helper `h`, both stepped until every tensor is reported; `whenBusy` runs once
 * the helper holds its first run. The outcomes.
 */
async function runWithHelper(
  f: ReturnType<typeof fake>,
  h: ReturnType<typeof fakeHelper>,
  all: readonly string[],
  whenBusy?: (s: StatsScheduler) => void,
): Promise<BatchOutcome[]> {
  const s = new StatsScheduler(f.compute);
  const outcomes: BatchOutcome[] = [];
  const batch = s.batch(
    all,
    8,
    new AbortController().signal,
    () => undefined,
    (o) => outcomes.push(o),
    lanesOf(h.helper),
  );
  if (whenBusy) {
    await until(() => h.busy(), f.step);
    whenBusy(s);
  }
  for (let i = 0; i < 300 && outcomes.length < all.length; i++) {
    h.release();
    await f.step();
  }
  await batch;
  assert.deepEqual(outcomes.map((o) => o.name).sort(), [...all].sort(), 'every tensor once');
  return outcomes;
}

test('with a helper: it takes runs of the queue (up to HELPER_RUN_BYTES), this thread one tensor at a time, every tensor reported once', async () => {
  const f = fake();
  const h = fakeHelper();
  const all = names(12);
  const outcomes = await runWithHelper(f, h, all);
  assert.ok(outcomes.every((o) => 'stats' in o));
  // Each run stops once it holds HELPER_RUN_BYTES (four tensors of a quarter each); this thread read the rest.
  assert.ok(h.runs.length > 0 && h.runs.every((r) => r.length <= 4), JSON.stringify(h.runs));
  const byHelper = h.runs.flat();
  assert.deepEqual(
    f.started.filter((n) => byHelper.includes(n)),
    [],
    'no tensor read by both',
  );
  assert.equal(byHelper.length + f.started.length, all.length);
  assert.deepEqual(
    outcomes
      .filter((o) => o.helper)
      .map((o) => o.name)
      .sort(),
    [...byHelper].sort(),
    "marked as the helper's",
  );
});

test("a helper's failed run is done on this thread, tensor by tensor; a tensor the helper could not compute fails alone", async () => {
  const f = fake();
  // The helper's first run (it takes the first four before this thread starts) fails as a whole.
  const h = fakeHelper({ failRun: (run) => run.includes('t1'), failTensor: 't9' });
  const outcomes = await runWithHelper(f, h, names(10));
  assert.deepEqual(h.runs[0], ['t0', 't1', 't2', 't3']);
  for (const n of h.runs[0]) assert.ok(f.started.includes(n), `${n} of the failed run is computed here`);
  const t9 = outcomes.find((o) => o.name === 't9');
  const helperHadIt = h.runs.some((r) => r.includes('t9') && !r.includes('t1'));
  assert.ok(t9 && (helperHadIt ? 'error' in t9 && t9.helper === true : 'stats' in t9), JSON.stringify({ t9, runs: h.runs }));
});

test('a tensor asked for while a helper computes it waits for the helper, and is not read here', async () => {
  const f = fake();
  const h = fakeHelper();
  let inRun = '';
  let asked: Promise<TensorStats> | undefined;
  await runWithHelper(f, h, names(6), (s) => {
    inRun = h.runs[0][0];
    asked = s.one(inRun, 8, new AbortController().signal, () => undefined);
  });
  assert.deepEqual(await asked, { count: inRun.length });
  assert.ok(!f.started.includes(inRun), `${inRun} was read on this thread too`);
});

test('a cancel stops the helpers too: nothing is reported after it', async () => {
  const f = fake();
  const h = fakeHelper();
  const s = new StatsScheduler(f.compute);
  const stop = new AbortController();
  const outcomes: BatchOutcome[] = [];
  const batch = s.batch(
    names(8),
    8,
    stop.signal,
    () => undefined,
    (o) => outcomes.push(o),
    lanesOf(h.helper),
  );
  await until(() => h.busy(), f.step);
  stop.abort();
  const seen = outcomes.length;
  let settled = false;
  const rejected = assert.rejects(batch, (e: unknown) => (e as Error).name === 'AbortError').finally(() => (settled = true));
  await until(() => {
    h.release();
    return settled;
  }, f.step);
  await rejected;
  assert.equal(outcomes.length, seen);
});

test("a tensor asked for while its helper's run fails is computed here once, and reported once", async () => {
  const f = fake();
  const h = fakeHelper({ failRun: (run) => run.includes('t0') });
  let asked: Promise<TensorStats> | undefined;
  const outcomes = await runWithHelper(f, h, names(6), (s) => {
    assert.deepEqual(h.runs[0], ['t0', 't1', 't2', 't3']);
    asked = s.one('t0', 8, new AbortController().signal, () => undefined);
  });
  assert.deepEqual(await asked, { count: 2 });
  assert.equal(f.started.filter((n) => n === 't0').length, 1, 'read once, here');
  assert.equal(outcomes.filter((o) => o.name === 't0').length, 1, 'reported once');
});
