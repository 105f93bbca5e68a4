// View-model builders of the dashboards, on a real reconstruction of a real GPT-2 checkpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import type { Checkpoint } from '../../src/mimicry/safetensors/types';
import { ReconstructSessionJob } from '../../src/mimicry/worker/reconstruct/job';
import type { DashboardData } from '../../src/mimicry/dashboard/types';
import {
  belowThreshold,
  byBlockAndRole,
  compareLayers,
  cosineAxisMin,
  diversityBars,
  entropyBars,
  LossTracker,
  similarityHeatmaps,
  spectraView,
  summaryCards,
} from '../../src/webview/dashboard/model';

const FIXTURE = 'test/fixtures/real/capp-gpt2-4layer.safetensors';
let ck: Checkpoint;
let exact: DashboardData;
let lossy: DashboardData;

async function run(options: Parameters<ReconstructSessionJob['run']>[0]): Promise<DashboardData> {
  const job = new ReconstructSessionJob(ck);
  try {
    return await job.run(options, 1024, { signal: new AbortController().signal, onFit: () => undefined, onPhase: () => undefined });
  } finally {
    await job.dropResult();
  }
}

before(async () => {
  ck = await openCheckpoint(FIXTURE);
  exact = await run({ preset: 'paper' });
  lossy = await run({ preset: 'paper', templates: 1, objective: 'total' });
});
after(() => ck.close());

test('fidelity bars: one series per role, one bar per block, every layer exactly once', () => {
  const v = byBlockAndRole(exact.layers, 'cosine');
  assert.deepEqual(v.blocks, ['block 0', 'block 1', 'block 2', 'block 3']);
  assert.deepEqual(
    v.series.map((s) => s.role),
    ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'],
  );
  const shown = v.series.flatMap((s) => s.points.filter((p) => p !== null).map((p) => p?.layer.name));
  assert.equal(shown.length, exact.layers.length);
  assert.equal(new Set(shown).size, exact.layers.length);
  const p = v.series[2].points[1];
  assert.ok(p);
  assert.equal(p.layer.name, 'transformer.h.1.mlp.c_fc.weight');
  assert.equal(p.value, exact.layers.find((l) => l.name === p.layer.name)?.cosine);
});

test('the authors setting is exact on this checkpoint (n = 2 = members): cosines ~1, nothing under 0.98', () => {
  for (const l of exact.layers) assert.ok(l.cosine > 0.999999, `${l.name}: ${l.cosine}`);
  assert.equal(belowThreshold(exact.layers, 0.98).length, 0);
  assert.equal(cosineAxisMin(exact.layers, 0.98), 0.9);
});

test('a lossy run lists the layers under the threshold, worst first, and widens the axis', () => {
  const low = belowThreshold(lossy.layers, 0.98);
  assert.ok(low.length > 0);
  for (let i = 1; i < low.length; i++) assert.ok(low[i - 1].cosine <= low[i].cosine);
  const min = cosineAxisMin(lossy.layers, 0.98);
  assert.ok(min <= Math.min(...lossy.layers.map((l) => l.cosine)));
  assert.ok(min >= -1);
});

test('relative error bars carry the engine values', () => {
  const v = byBlockAndRole(lossy.layers, 'relError');
  const all = v.series.flatMap((s) => s.points.flatMap((p) => (p ? [p.value] : [])));
  assert.deepEqual([...all].sort(), lossy.layers.map((l) => l.relError).sort());
});

test('diversity and entropy bars: one per bank, raw and relative from the engine', () => {
  const d = diversityBars(exact);
  assert.equal(d.banks.length, exact.banks.length);
  assert.deepEqual(
    d.raw,
    exact.banks.map((b) => b.diversity),
  );
  assert.deepEqual(
    d.relative,
    exact.banks.map((b) => b.diversityRelative),
  );
  const e = entropyBars(exact);
  assert.deepEqual(
    e.raw,
    exact.banks.map((b) => b.entropy),
  );
  for (const v of e.relative) if (v !== null) assert.ok(v >= 0 && v <= 1);
});

test('one similarity heat map per group: L x L cells, diagonal 1, colour scale [-1, 1]', () => {
  const maps = similarityHeatmaps(exact);
  assert.equal(maps.length, exact.banks.length);
  for (const m of maps) {
    const L = m.labels.length;
    assert.equal(m.cells.length, L * L);
    for (const [x, y, v] of m.cells) {
      if (x === y) assert.ok(Math.abs(v - 1) < 1e-9);
      assert.ok(v >= -1 - 1e-9 && v <= 1 + 1e-9);
    }
    assert.deepEqual([m.min, m.max], [-1, 1]);
  }
});

test('spectra: originals and templates of a bank, descending', () => {
  const bank = exact.banks[0].name;
  const v = spectraView(exact, bank);
  assert.ok(v);
  assert.equal(v.lines.filter((l) => l.kind === 'original').length, exact.banks[0].members.length);
  assert.equal(v.lines.filter((l) => l.kind === 'template').length, exact.banks[0].templates);
  assert.equal(v.length, 64);
  for (const l of v.lines) for (let i = 1; i < l.values.length; i++) assert.ok(l.values[i] <= l.values[i - 1] + 1e-9);
  assert.equal(spectraView(exact, 'no-such-bank'), null);
});

test('summary cards show the engine summary, formatted only', () => {
  const cards = summaryCards(exact, { count: (n) => `#${n}`, number: (x) => `~${x}` });
  const byId = new Map(cards.map((c) => [c.id, c.value]));
  assert.equal(byId.get('params-before'), `#${exact.summary.parameters.before}`);
  assert.equal(byId.get('params-after'), `#${exact.summary.parameters.after}`);
  assert.equal(byId.get('ratio'), `~${exact.summary.parameters.ratio}×`);
  assert.equal(byId.get('coefficients'), `#${exact.summary.coefficientsPerTask}`);
  assert.equal(byId.get('backend'), exact.method.backend);
  assert.ok(byId.get('method')?.startsWith('spectral'));
  assert.ok(byId.has('time'));
});

test('loss tracker: groups in order, a point per event, earlier groups done', () => {
  const t = new LossTracker(['a', 'b']);
  const ev = (group: string, groupIndex: number, step: number, loss: number) => ({
    group,
    groupIndex,
    groups: 2,
    step,
    steps: 10,
    loss,
    elapsed: 0,
  });
  t.add(ev('a', 0, 0, 1));
  t.add(ev('a', 0, 5, 0.5));
  assert.deepEqual(
    t.statuses.map((s) => s.state),
    ['fitting', 'waiting'],
  );
  t.add(ev('b', 1, 0, 2));
  assert.deepEqual(
    t.statuses.map((s) => s.state),
    ['done', 'fitting'],
  );
  t.add(ev('b', 1, 10, Number.NaN));
  assert.deepEqual(t.statuses[0].points, [
    [0, 1],
    [5, 0.5],
  ]);
  assert.equal(t.statuses[1].points.length, 1);
  assert.equal(t.statuses[1].state, 'done');
});

test('compare: each shared layer with both cosines', () => {
  const rows = compareLayers(exact, lossy);
  assert.equal(rows.length, exact.layers.length);
  const r = rows.find((x) => x.name === 'transformer.h.3.mlp.c_proj.weight');
  assert.ok(r);
  assert.equal(r.b, lossy.layers.find((l) => l.name === r.name)?.cosine);
});
