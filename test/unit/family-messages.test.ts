// The Family dashboard's side of the extension: messages from its webview are checked before the
// extension acts on them, options are sanitised, and the charts and their CSV carry the engine
// report's numbers as they are (the webview arranges them; it computes nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { isFromFamily } from '../../src/webview/protocol';
import { sanitizeFamilyOptions } from '../../src/extension/family/options';
import { analyzeFamily, type FamilyReport } from '../../src/mimicry/family/analyze';
import { loadFamily } from '../../src/mimicry/family/members';
import { cosineCsv, fidelityCsv, mapCsv, normsCsv, normsOption, specialisationCsv } from '../../src/webview/family/charts';
import { TEST_THEME } from './helpers/chart-theme';

const ROOT = resolve('test/fixtures/real/gpt2-lora-family');
const GPT2 = ['math', 'medical', 'shakespeare-cattn/checkpoint-1000', 'shakespeare-cattn/checkpoint-7500'].map((p) => join(ROOT, p));

test('well-formed Family messages pass; malformed or unknown ones are refused', () => {
  for (const m of [
    { type: 'ready', version: 1 },
    { type: 'cancel' },
    { type: 'rerun', options: { map: 'umap', templates: 2 } },
    { type: 'pickBase' },
    { type: 'clearBase' },
    { type: 'exportBank' },
    { type: 'exportChart', chart: 'map', format: 'csv', payload: 'a,b\n' },
    { type: 'rendered', view: 'report', charts: 5, members: 4, summary: 's' },
    { type: 'rendered', view: 'error', charts: 0, members: 0, error: 'x: DoRA adapters are not supported' },
  ])
    assert.ok(isFromFamily(m), JSON.stringify(m));
  for (const m of [
    null,
    { type: 'nope' },
    { type: 'rerun' },
    { type: 'rerun', options: [] },
    { type: 'exportChart', chart: '../x', format: 'csv', payload: '' },
    { type: 'exportChart', chart: 'map', format: 'exe', payload: '' },
    { type: 'rendered', view: 'anything', charts: 1, members: 1 },
    { type: 'rendered', view: 'report', charts: -1, members: 1 },
    { type: 'rendered', view: 'report', charts: 1, members: 1, summary: 'x'.repeat(5000) },
    { type: '__proto__' },
  ])
    assert.equal(isFromFamily(m), false, JSON.stringify(m));
});

test('family options keep only known keys of the right type', () => {
  assert.deepEqual(sanitizeFamilyOptions({ map: 'umap', templates: 3, seed: 7, evil: 1 }), { map: 'umap', templates: 3, seed: 7 });
  assert.deepEqual(sanitizeFamilyOptions({ map: 'tsne', templates: 0, seed: -1 }), { map: 'pca' });
  assert.deepEqual(sanitizeFamilyOptions({ templates: '2', seed: 1.5 }), { map: 'pca' });
  assert.deepEqual(sanitizeFamilyOptions(null), { map: 'pca' });
});

const parse = (csv: string): string[][] =>
  csv
    .trim()
    .split('\n')
    .map((l) => l.split(','));

test("the Family charts and their CSV hold the engine report's numbers of the GPT-2 family", async () => {
  const family = await loadFamily(GPT2);
  let r: FamilyReport;
  try {
    r = await analyzeFamily(family, { templates: 2 });
  } finally {
    await family.close();
  }
  const names = r.members.map((m) => m.name);

  const norms = parse(normsCsv(r));
  assert.deepEqual(norms[0], ['layer', 'shape', ...names.map((n) => `norm ${n}`)]);
  assert.deepEqual(
    norms.slice(1).map((row) => [row[0], ...row.slice(2).map(Number)]),
    r.layers.map((l) => [l.name, ...l.norms]),
  );
  const series = normsOption(r, TEST_THEME).series as { name: string; data: (number | null)[] }[];
  assert.deepEqual(
    series.map((s) => [s.name, s.data]),
    r.members.map((m, mi) => [m.name, r.layers.map((l) => l.norms[mi])]),
  );

  const whole = parse(cosineCsv(r, null));
  assert.deepEqual(whole[0], ['whole model', ...names]);
  assert.deepEqual(
    whole.slice(1).map((row) => row.slice(1).map(Number)),
    r.cosine,
  );
  const layer = r.layers[3];
  assert.deepEqual(
    parse(cosineCsv(r, layer.name))
      .slice(1)
      .map((row) => row.slice(1).map(Number)),
    layer.cosine,
  );

  const fidelity = parse(fidelityCsv(r)).slice(1);
  const bank = r.banks[0];
  assert.deepEqual(
    fidelity.filter((row) => row[1] === 'math').map((row) => Number(row[3])),
    bank.fidelity.cosine.math,
  );

  const shares = parse(specialisationCsv(r));
  assert.equal(shares[0].length, 1 + 2 * r.specialisation.templates.length);
  assert.deepEqual(
    shares.slice(1).map((row) => row.slice(1, 1 + r.specialisation.templates.length).map(Number)),
    names.map((n) => r.specialisation.share[n]),
  );

  const map = parse(mapCsv(r)).slice(1);
  assert.deepEqual(
    map.map((row) => [row[0], row[1], Number(row[2]), Number(row[3])]),
    r.map.points.map((p) => [p.member, p.layer, p.x, p.y]),
  );
});
