// A reparameterized file written from a dashboard run stores what its dashboard draws (recast.spectra,
// recast.method.phases): reading it back reads no tensor and runs no spectrum. A file without them
// (the CLI's, or an older one) opens from its metrics at once and gets its spectra computed after,
// with progress. The optional key is checked like every other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import type { Checkpoint } from '../../src/mimicry/safetensors/types';
import { ReconstructSessionJob } from '../../src/mimicry/worker/reconstruct/job';
import type { RunProgress } from '../../src/mimicry/worker/reconstruct/protocol';
import { computeSpectra, dashboardFromRecast, recastDashboard, type SpectraProgress } from '../../src/mimicry/dashboard/fromRecast';
import type { DashboardData } from '../../src/mimicry/dashboard/types';
import { exportRecast } from '../../src/mimicry/recast/export';
import { readRecastMetadata } from '../../src/mimicry/recast/recastSchema';
import { RecastFormatError } from '../../src/mimicry/recast/errors';
import { bankEigens, energyShares } from '../../src/mimicry/recast/curve';
import { parseRecast } from '../../src/mimicry/recast/rebuild';

const FIXTURE = 'test/fixtures/real/capp-gpt2-4layer.safetensors';
const OPTIONS = { preset: 'paper', templates: 1 } as const;
let dir: string;
let fromRun: string;
let fromCli: string;
let run: DashboardData;
const runPhases: RunProgress[] = [];

/** The checkpoint with every way to read tensor values made to fail: reading one is the heavy path. */
function metadataOnly(ck: Checkpoint): Checkpoint {
  const refuse = (): never => {
    throw new Error('a tensor was read');
  };
  return new Proxy(ck, {
    get(target, key, receiver) {
      if (key === 'readValues' || key === 'readBytes' || key === 'chunks') return refuse;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

async function withCheckpoint<T>(file: string, fn: (ck: Checkpoint) => Promise<T> | T): Promise<T> {
  const ck = await openCheckpoint(file);
  try {
    return await fn(ck);
  } finally {
    await ck.close();
  }
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mimicry-stored-'));
  fromRun = path.join(dir, 'run.recast.safetensors');
  fromCli = path.join(dir, 'cli.recast.safetensors');
  await withCheckpoint(FIXTURE, async (ck) => {
    const job = new ReconstructSessionJob(ck);
    try {
      run = await job.run(OPTIONS, 1024, {
        signal: new AbortController().signal,
        onFit: () => undefined,
        onPhase: (p) => runPhases.push(p),
      });
      await job.export('model', fromRun, false, {});
    } finally {
      await job.dropResult();
    }
    await exportRecast(ck, OPTIONS, { out: fromCli });
  });
});
after(() => rm(dir, { recursive: true, force: true }));

test('a run reports every phase with its seconds; the export stores them and the spectra', async () => {
  const phases = run.method.phases ?? {};
  for (const p of ['fit', 'fidelity', 'diversity', 'entropy', 'spectra', 'digest'] as const)
    assert.ok(typeof phases[p] === 'number' && phases[p] >= 0, `phase ${p}`);
  assert.ok(runPhases.some((p) => p.phase === 'entropy' && p.phaseFraction === 1));
  await withCheckpoint(fromRun, (ck) => {
    const meta = readRecastMetadata(ck.metadata, ck.path);
    assert.deepEqual(meta.method.phases, run.method.phases);
    assert.equal(meta.spectra?.length, run.spectra.length);
  });
});

test('the dashboard of a file with stored spectra reads no tensor and returns the stored values', async () => {
  const data = await withCheckpoint(fromRun, (ck) => recastDashboard(metadataOnly(ck)));
  assert.equal(data.origin, 'recast-file');
  assert.ok(data.spectra.every((s) => !s.pending));
  assert.deepEqual(
    data.spectra.map((s) => s.bank),
    run.spectra.map((s) => s.bank),
  );
  for (const [i, s] of data.spectra.entries()) {
    const want = run.spectra[i];
    assert.deepEqual(
      s.lines.map((l) => [l.label, l.kind, l.values.length]),
      want.lines.map((l) => [l.label, l.kind, l.values.length]),
    );
    // Stored to float32 precision (7 significant digits).
    s.lines.forEach((l, j) =>
      l.values.forEach((v, k) => {
        const w = want.lines[j].values[k];
        assert.ok(Math.abs(v - w) <= 1e-6 * Math.abs(w), `${s.bank} ${l.label}[${k}]: ${v} vs ${w}`);
      }),
    );
  }
  assert.deepEqual(data.method.phases, run.method.phases);
  assert.deepEqual(data.layers, run.layers);
  // The complete (checked) read agrees: it keeps the stored spectra and computes none.
  const full = await withCheckpoint(fromRun, (ck) => dashboardFromRecast(ck, 1024));
  assert.deepEqual(full.spectra, data.spectra);
});

test('a file without stored spectra opens from its metrics, then computes them with progress inside each bank', async () => {
  const data = await withCheckpoint(fromCli, (ck) => recastDashboard(metadataOnly(ck)));
  assert.ok(data.spectra.length > 0 && data.spectra.every((s) => s.pending && s.lines.length === 0));
  assert.equal(data.method.phases?.spectra, undefined);
  const events: SpectraProgress[] = [];
  const banks = data.spectra.map((s) => s.bank);
  const spectra = await withCheckpoint(fromCli, (ck) => computeSpectra(ck, banks, 1024, undefined, (p) => events.push(p)));
  assert.deepEqual(
    spectra.map((s) => s.bank),
    banks,
  );
  assert.ok(spectra.every((s) => s.lines.some((l) => l.kind === 'rebuilt') && s.lines.some((l) => l.kind === 'template')));
  for (const [i, bank] of banks.entries()) {
    const mine = events.filter((e) => e.bank === bank);
    assert.ok(mine.every((e) => e.bankIndex === i && e.banks === banks.length));
    const fractions = mine.map((e) => e.done / e.total);
    assert.equal(fractions[0], 0);
    assert.equal(fractions.at(-1), 1);
    assert.ok(
      fractions.every((f, k) => k === 0 || f >= fractions[k - 1]),
      String(fractions),
    );
  }
});

test('recast.spectra is checked: unknown bank, rising values, too many values, wrong kind are refused', async () => {
  const meta = await withCheckpoint(fromRun, (ck) => ({ ...ck.metadata }));
  const stored = JSON.parse(meta['recast.spectra']) as Record<string, { lines: { label: string; kind: string; values: number[] }[] }>;
  const bank = Object.keys(stored)[0];
  const cases: [string, (s: typeof stored) => void, string, RegExp][] = [
    ['unknown bank', (s) => (s['no.such.bank'] = s[bank]), 'metadata-inconsistent', /no\.such\.bank/],
    ['rising', (s) => s[bank].lines[0].values.reverse(), 'metadata-invalid', /descending/],
    [
      'too long',
      (s) => s[bank].lines[0].values.push(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
      'metadata-inconsistent',
      /values/,
    ],
    ['kind', (s) => (s[bank].lines[0].kind = 'other'), 'metadata-invalid', /kind/],
    ['negative', (s) => (s[bank].lines[0].values[s[bank].lines[0].values.length - 1] = -1), 'metadata-invalid', /values/],
  ];
  for (const [name, mutate, rule, detail] of cases) {
    const s = JSON.parse(meta['recast.spectra']) as typeof stored;
    mutate(s);
    assert.throws(
      () => readRecastMetadata({ ...meta, 'recast.spectra': JSON.stringify(s) }, fromRun),
      (e: unknown) => e instanceof RecastFormatError && e.rule === rule && detail.test(e.message),
      name,
    );
  }
  // Without the optional keys, the file reads as before.
  const { ['recast.spectra']: _dropped, ...old } = meta;
  void _dropped;
  assert.equal(readRecastMetadata(old, fromRun).spectra, undefined);
});

test('closed-form energy shares are in the metrics: the same as the curve’s, stored in the file, drawn from it', async () => {
  const out = path.join(dir, 'energy.recast.safetensors');
  const options = { blocksPerGroup: 4, templates: 2, modules: ['mlp.c_fc'] };
  const { result, eigens } = await withCheckpoint(FIXTURE, async (ck) => {
    const r = await exportRecast(ck, options, { out });
    const banks = r.result.banks.map((b) => ({ name: b.plan.name, members: b.plan.members, size: b.plan.size }));
    return { result: r.result, eigens: await bankEigens(ck, banks, 'per-layer') };
  });
  result.banks.forEach((b, i) => {
    const want = energyShares(eigens[i], b.n);
    assert.equal(b.metrics.energy?.length, b.n);
    b.metrics.energy?.forEach((e, t) => assert.ok(Math.abs(e - want[t]) < 1e-12, `${b.plan.name}#${t}: ${e} vs ${want[t]}`));
  });
  const data = await withCheckpoint(out, (ck) => recastDashboard(metadataOnly(ck), parseRecast(ck)));
  assert.deepEqual(
    data.banks.map((b) => b.energy),
    result.banks.map((b) => b.metrics.energy),
  );
});
