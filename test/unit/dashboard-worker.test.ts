// The reconstruction worker through its host (what the dashboard uses): plan, run with
// progress, exports without leftovers, prompt cancel, and a recast file read back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { RemoteError } from '../../src/mimicry/errors';
import { reconstructHost } from '../../src/mimicry/worker/reconstruct/client';
import type { RunProgress } from '../../src/mimicry/worker/reconstruct/protocol';
import { EngineShare, engineFraction, fitJobFraction } from '../../src/mimicry/worker/reconstruct/job';
import { tsWorkerEntry } from './helpers/worker-entry';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';

const ENTRY = tsWorkerEntry('src/mimicry/worker/reconstruct/main.ts');
let dir: string;
let source: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mimicry-dash-'));
  source = path.join(dir, 'gpt2.safetensors');
  await copyFile('test/fixtures/real/capp-gpt2-4layer.safetensors', source);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Every phase reports progress inside itself: per bank, its share goes up to 1 and never back; the
 * job's share (the notification's bar) never goes back and ends at 1.
 */
function assertPhasesProgress(events: readonly RunProgress[], phases: readonly string[]): void {
  for (const phase of phases) {
    const mine = events.filter((e) => e.phase === phase && e.phaseFraction !== undefined && !(e.event && e.event.steps === 0));
    assert.ok(mine.length >= 2, `phase ${phase}: ${mine.length} progress events`);
    // Per bank (the message names it), the share inside the phase rises to 1.
    const byBank = new Map<string, number[]>();
    for (const e of mine) {
      const bank = /\(([^)]+)\)/.exec(e.message ?? '')?.[1] ?? '';
      byBank.set(bank, [...(byBank.get(bank) ?? []), e.phaseFraction ?? -1]);
    }
    for (const [bank, fractions] of byBank) {
      assert.ok(
        fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1])),
        `${phase} ${bank}: ${String(fractions)}`,
      );
      assert.equal(fractions.at(-1), 1, `${phase} ${bank} ends at 1`);
      if (phase !== 'fit' && phase !== 'digest') assert.equal(fractions[0], 0, `${phase} ${bank} starts at 0`);
    }
  }
  const job = events.map((e) => e.fraction ?? -1);
  assert.ok(
    job.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= job[i - 1])),
    `the job's share: ${String(job)}`,
  );
  assert.equal(job.at(-1), 1);
}

test('plan, run with progress, export model and dense; no temporary files remain', async () => {
  const client = reconstructHost(ENTRY, source);
  try {
    const brief = await client.open();
    assert.equal(brief.isRecast, false);
    assert.equal(brief.tensorCount, 52);
    const plan = await client.request('plan', { options: { preset: 'paper' } }).done;
    assert.ok(plan.ok);
    const events: RunProgress[] = [];
    const data = await client.request('run', { options: { preset: 'paper' }, spectrumMaxSide: 256 }, (p) => events.push(p)).done;
    assert.equal(data.origin, 'run');
    assert.equal(data.banks.length, plan.ok ? plan.plan.banks.length : -1);
    assert.ok(events.some((e) => e.phase === 'fit' && e.event));
    assert.ok(events.some((e) => e.phase === 'spectra'));
    assertPhasesProgress(events, ['fit', 'fidelity', 'diversity', 'entropy', 'spectra', 'digest']);
    // The run's time has its phases, stored for the results card and the export.
    const phases = data.method.phases ?? {};
    for (const p of ['fit', 'fidelity', 'diversity', 'entropy', 'spectra', 'digest'] as const)
      assert.ok(typeof phases[p] === 'number' && phases[p] >= 0, `phase ${p}: ${String(phases[p])}`);
    const model = path.join(dir, 'gpt2.recast.safetensors');
    const dense = path.join(dir, 'gpt2.dense.safetensors');
    const writes: RunProgress[] = [];
    assert.equal(await client.request('export', { kind: 'model', file: model }, (p) => writes.push(p)).done, model);
    // The notification's bar: write progress from 0 to the whole file, never backwards.
    assert.ok(writes.length >= 2 && writes.every((p) => p.phase === 'write'));
    const fractions = writes.map((p) => p.fraction ?? -1);
    assert.equal(fractions[0], 0);
    assert.equal(fractions.at(-1), 1);
    assert.ok(
      fractions.every((f, i) => i === 0 || f >= fractions[i - 1]),
      String(fractions),
    );
    // The notification's title names the file; its message only counts (no repeated file name).
    assert.match(writes.at(-1)?.message ?? '', /^(\d+) of \1 tensors$/);
    assert.ok(writes.every((p) => !(p.message ?? '').includes('gpt2')));
    assert.equal(await client.request('export', { kind: 'dense', file: dense }).done, dense);
    const files = (await readdir(dir)).sort();
    assert.deepEqual(files, ['gpt2.dense.safetensors', 'gpt2.recast.safetensors', 'gpt2.safetensors']);
    const out = await openCheckpoint(model);
    assert.equal(out.metadata.format, 'recast');
    await out.close();
    await assert.rejects(client.request('export', { kind: 'model', file: source }).done, /source|refus/i);
  } finally {
    client.dispose();
  }
});

test('a recast file opens as a dashboard from its stored metrics', async () => {
  const client = reconstructHost(ENTRY, path.join(dir, 'gpt2.recast.safetensors'));
  try {
    const brief = await client.open();
    assert.equal(brief.isRecast, true);
    const data = await client.request('load', { spectrumMaxSide: 256 }).done;
    assert.equal(data.origin, 'recast-file');
    assert.equal(data.source.file, 'gpt2.safetensors');
    assert.equal(data.layers.length, 16);
    // Written from a run: the file stores the run's spectra (originals against templates), nothing is pending.
    assert.ok(data.spectra.length > 0 && data.spectra.every((s) => !s.pending && s.lines.some((l) => l.kind === 'original')));
    // On request, the worker computes a bank's spectra from the file (rebuilt members), with progress.
    const events: RunProgress[] = [];
    const bank = data.spectra[0].bank;
    const computed = await client.request('spectra', { banks: [bank], spectrumMaxSide: 256 }, (p) => events.push(p)).done;
    assert.deepEqual(
      computed.map((s) => s.bank),
      [bank],
    );
    assert.ok(computed[0].lines.some((l) => l.kind === 'rebuilt'));
    assert.equal(events.at(-1)?.phaseFraction, 1);
    assert.equal(events.at(-1)?.fraction, 1);
    await assert.rejects(client.request('export', { kind: 'model', file: path.join(dir, 'again.safetensors') }).done, /already/);
  } finally {
    client.dispose();
  }
});

test('cancel stops a long optimizer run promptly and writes nothing', async () => {
  const client = reconstructHost(ENTRY, source);
  try {
    await client.open();
    let started!: () => void;
    const firstStep = new Promise<void>((r) => (started = r));
    const job = client.request('run', { options: { method: 'paper', steps: 100000, backend: 'cpu' }, spectrumMaxSide: 256 }, (p) => {
      if (p.event && p.event.step > 0) started();
    });
    await firstStep;
    const t0 = Date.now();
    job.cancel();
    await assert.rejects(job.done, (e: unknown) => e instanceof RemoteError && e.cancelled);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
    );
  } finally {
    client.dispose();
  }
});

test('curve in the worker: the same numbers as the engine, with progress per group; a closed-form run carries energy shares', async () => {
  const { checkpointCurve } = await import('../../src/mimicry/recast/curve');
  // One group per role of 4 members, n = 2: a real trade-off.
  const OPTS = { groups: 1, templates: 2 };
  const client = reconstructHost(ENTRY, source);
  const ck = await openCheckpoint(source);
  try {
    await client.open();
    const progress: { bank: string; fraction: number }[] = [];
    const outcome = await client.request('curve', { options: OPTS }, (p) => progress.push(p)).done;
    assert.ok(outcome.ok, outcome.ok ? '' : outcome.error);
    assert.deepEqual(outcome.curve, JSON.parse(JSON.stringify(await checkpointCurve(ck, OPTS))));
    const banks = new Set(progress.map((p) => p.bank));
    assert.equal(banks.size, 4);
    for (const b of banks) assert.equal(progress.filter((p) => p.bank === b).at(-1)?.fraction, 1, b);
    // Asked again (another K): nothing is read again, the eigenvalues are kept.
    const again: unknown[] = [];
    const k3 = await client.request('curve', { options: { ...OPTS, sets: 3 } }, (p) => again.push(p)).done;
    assert.ok(k3.ok);
    assert.equal(again.length, 0);
    // A bad option: an answer, not a failure.
    const bad = await client.request('curve', { options: { objective: 'nope' as 'total' } }).done;
    assert.equal(bad.ok, false);
    const data = await client.request('run', { options: OPTS, spectrumMaxSide: 64 }).done;
    for (const b of data.banks) {
      assert.ok(b.energy && b.energy.length === b.templates, b.name);
      const sum = b.energy.reduce((a, x) => a + x, 0);
      assert.ok(sum > 0 && sum <= 1 + 1e-12, `${b.name}: ${sum}`);
      assert.ok(Math.abs(b.diversityRelative - Math.SQRT2) < 1e-4, `${b.name}: relative diversity ${b.diversityRelative}`);
    }
    const role = outcome.curve.roles.find((r) => r.banks.includes(data.banks[0].name));
    assert.ok(role);
    // sqrt(1 - kept energy) is the chosen point's relative error (one bank per role).
    const kept = (data.banks[0].energy ?? []).reduce((a, x) => a + x, 0);
    assert.ok(Math.abs(Math.sqrt(Math.max(0, 1 - kept)) - role.chosen.relError) < 1e-9);
    const paper = await client.request('run', { options: { preset: 'paper', method: 'paper', steps: 5 }, spectrumMaxSide: 64 }).done;
    assert.ok(paper.banks.every((b) => b.energy === undefined));
  } finally {
    await ck.close();
    client.dispose();
  }
});

test("the job's share never goes back when a bank's entropy ends while the next bank fits (the entropy pool)", () => {
  const share = new EngineShare();
  const loss = (groupIndex: number, step: number, steps: number) => ({
    group: `g${groupIndex}`,
    groupIndex,
    groups: 2,
    step,
    steps,
    loss: 0,
    elapsed: 0,
  });
  const sent: number[] = [];
  sent.push(share.phase('fit', 0, 2, 0), share.phase('diversity', 0, 2, 1), share.phase('entropy', 0, 2, 0));
  // Closed form: bank 0's loss is reported before its entropy is done; then bank 1 fits (the paper loop's steps).
  share.fit(loss(0, 0, 0));
  sent.push(fitJobFraction(loss(0, 0, 0)));
  sent.push(share.phase('fit', 1, 2, 0));
  share.fit(loss(1, 5, 10));
  sent.push(fitJobFraction(loss(1, 5, 10)));
  // Bank 0's templates finish now: they show the bar where it is.
  sent.push(share.phase('entropy', 0, 2, 0.5), share.phase('entropy', 0, 2, 1));
  assert.ok(
    sent.every((f, i) => i === 0 || f >= sent[i - 1]),
    String(sent),
  );
  assert.equal(sent.at(-1), fitJobFraction(loss(1, 5, 10)));
  assert.equal(share.phase('entropy', 1, 2, 1), engineFraction('entropy', 1, 2, 1));
});
