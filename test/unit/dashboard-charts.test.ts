// Every dashboard chart has a title, the one-line definition from docs/RECAST.md section 4, named axes
// with units, and rich-text (not HTML) tooltips that show the layer name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bankBarsOption,
  blockRoleOption,
  compareOption,
  curveOption,
  energyOption,
  heatmapOption,
  lossOption,
  spectraOption,
  type Option,
} from '../../src/webview/dashboard/chartOptions';
import { DEFINITIONS } from '../../src/mimicry/dashboard/definitions';
import {
  byBlockAndRole,
  compareLayers,
  diversityBars,
  energyBars,
  entropyBars,
  LossTracker,
  similarityHeatmaps,
  spectraView,
} from '../../src/webview/dashboard/model';
import type { DashboardTheme } from '../../src/webview/shared/theme';
import { gpt2DashboardData } from './helpers/gpt2-dashboard';

const theme: DashboardTheme = {
  foreground: '#ccc',
  muted: '#999',
  border: '#333',
  grid: '#444',
  primary: '#37f',
  secondary: '#d81',
  tooltipBackground: '#222',
  tooltipBorder: '#444',
  fontFamily: 'sans-serif',
  monoFamily: 'monospace',
  fontSize: 13,
  highContrast: false,
  palette: ['#1', '#2', '#3', '#4', '#5', '#6'],
  red: '#6',
  green: '#3',
  background: '#000',
};

const gpt2 = gpt2DashboardData();

interface Axis {
  name?: string;
}
function axes(o: Option, key: 'xAxis' | 'yAxis'): Axis[] {
  const a = o[key] as Axis | Axis[];
  return Array.isArray(a) ? a : [a];
}

function check(o: Option, definition: string): void {
  const title = (Array.isArray(o.title) ? o.title[0] : o.title) as { text: string; subtext: string };
  assert.ok(title.text.length > 0);
  assert.equal(title.subtext, definition);
  for (const a of [...axes(o, 'xAxis'), ...axes(o, 'yAxis')]) assert.ok(a.name && a.name.length > 0, 'every axis is named');
  assert.ok(
    axes(o, 'yAxis').every((a) => /\(.+\)/.test(a.name ?? '')),
    'value axes carry units in parentheses',
  );
  assert.equal((o.tooltip as { renderMode: string }).renderMode, 'richText');
}

test('fidelity and relative error: titles, definitions, units, threshold line, hover with the layer name', () => {
  const view = byBlockAndRole(gpt2().layers, 'cosine');
  const o = blockRoleOption(view, theme, 'cosine', 0.98, 0.5);
  check(o, DEFINITIONS.cosine);
  const series = o.series as { markLine?: { data: { yAxis: number }[] } }[];
  assert.equal(series[0].markLine?.data[0].yAxis, 0.98);
  const fmt = (o.tooltip as { formatter: (p: unknown) => string }).formatter;
  const text = fmt({ seriesIndex: 0, dataIndex: 1 });
  assert.ok(text.includes('transformer.h.1.attn.c_attn.weight'));
  assert.ok(/cosine/.test(text) && /relative error/.test(text));
  check(blockRoleOption(byBlockAndRole(gpt2().layers, 'relError'), theme, 'relError', 0.98, 0), DEFINITIONS.relError);
  const probe = blockRoleOption(byBlockAndRole(gpt2().layers, 'probeCosine'), theme, 'probeCosine', 0.98, 0);
  check(probe, DEFINITIONS.probeCosine);
  assert.match((probe.title as { text: string }).text, /random probes, not data/);
  assert.ok(gpt2().layers.every((l) => l.probeCosine !== undefined));
});

test('diversity, entropy, heat maps, spectra, loss and compare charts are all labelled', () => {
  check(bankBarsOption(diversityBars(gpt2()), theme, 'diversity'), DEFINITIONS.diversity);
  check(bankBarsOption(entropyBars(gpt2()), theme, 'entropy'), DEFINITIONS.entropy);
  for (const m of similarityHeatmaps(gpt2())) {
    const o = heatmapOption(m, theme);
    assert.ok((o.title as { text: string }).text.includes(m.bank));
    assert.deepEqual([(o.visualMap as { min: number }).min, (o.visualMap as { max: number }).max], [-1, 1]);
  }
  const s = spectraView(gpt2(), gpt2().banks[0].name);
  assert.ok(s);
  check(spectraOption(s, theme), DEFINITIONS.spectra);
  const t = new LossTracker(['a']);
  t.add({ group: 'a', groupIndex: 0, groups: 1, step: 0, steps: 0, loss: 0.5, elapsed: 0 });
  check(lossOption(t.statuses, theme), DEFINITIONS.loss);
  check(compareOption(compareLayers(gpt2(), gpt2()), theme, 'A', 'B'), DEFINITIONS.cosine);
});

test('compression-vs-fidelity curve: a line per role and the chosen point as a diamond, drawn unclipped; definition and units', async () => {
  const { openCheckpoint } = await import('../../src/mimicry/safetensors/reader');
  const { checkpointCurve } = await import('../../src/mimicry/recast/curve');
  const ck = await openCheckpoint('test/fixtures/real/capp-gpt2-4layer.safetensors');
  try {
    const view = await checkpointCurve(ck, { preset: 'paper' });
    const o = curveOption(view, theme);
    check(o, DEFINITIONS.curve);
    const series = o.series as { type: string; data: number[][]; symbol: string; clip?: boolean }[];
    assert.equal(series.length, 2 * view.roles.length);
    const chosen = series.filter((s) => s.type === 'scatter');
    assert.ok(chosen.every((s) => s.symbol === 'diamond' && s.clip === false && s.data.length === 1));
    // The authors' preset: exact (cosine 1) at just under 1x, inside the axis.
    assert.ok(chosen.every((s) => s.data[0][1] > 1 - 1e-6 && s.data[0][0] < 1));
    const min = (o.xAxis as { min: number }).min;
    assert.ok(chosen.every((s) => s.data[0][0] >= min));
  } finally {
    await ck.close();
  }
});

test('energy shares: stacked per bank, with the part left out; each bank sums to 1', () => {
  const view = { banks: ['a', 'b'], shares: [[0.6, 0.3], [0.9]] };
  const o = energyOption(view, theme);
  check(o, DEFINITIONS.energy);
  const series = o.series as { name: string; data: number[] }[];
  assert.deepEqual(
    series.map((s) => s.name),
    ['T1', 'T2', 'left out'],
  );
  for (let i = 0; i < view.banks.length; i++) assert.ok(Math.abs(series.reduce((a, s) => a + s.data[i], 0) - 1) < 1e-12);
  // A closed-form run has them from its fit (each bank's kept shares sum to at most 1); a paper run or a file without them has none.
  const fromRun = energyBars(gpt2());
  assert.ok(fromRun && fromRun.banks.length === gpt2().banks.length);
  for (const shares of fromRun.shares) assert.ok(shares.reduce((a, x) => a + x, 0) <= 1 + 1e-12);
  const without = { ...gpt2(), banks: gpt2().banks.map(({ energy: _energy, ...b }) => b) };
  assert.equal(energyBars(without), undefined, 'no energy: a paper run / a file without it');
});

test('a metric that was not measured says why, and the setting that changes it, in its chart’s own area', () => {
  const data = gpt2();
  assert.equal(entropyBars(data).missing, undefined, 'nothing missing: no note');
  assert.equal(bankBarsOption(entropyBars(data), theme, 'entropy').title instanceof Array, false);
  const skipped = {
    ...data,
    banks: data.banks.map((b) => ({
      ...b,
      templates: 1,
      diversity: 0,
      diversityRelative: 0,
      entropy: null,
      entropyNormalized: null,
      entropySkipped: 'smaller side 2048 > 1024 (entropyMaxSide)',
    })),
  };
  const n = data.banks.length;
  const entropy = bankBarsOption(entropyBars(skipped), theme, 'entropy');
  const [head, note] = entropy.title as { text: string; subtext?: string; top?: string }[];
  check(entropy, DEFINITIONS.entropy);
  assert.equal(head.subtext, DEFINITIONS.entropy);
  assert.equal(note.top, 'middle', 'no bank has a value: the note is in the middle of the chart');
  assert.equal(
    note.text,
    `No template entropy for any of the ${n} banks: smaller side 2048 > 1024 (entropyMaxSide). ` +
      'Raise “Entropy max side” in the form (CLI --entropy-max-side) to measure larger templates exactly.',
  );
  const diversity = (bankBarsOption(diversityBars(skipped), theme, 'diversity').title as { text: string }[])[1];
  assert.match(diversity.text, new RegExp(`^No diversity for any of the ${n} banks: one template per bank has no pair`));
  assert.match(diversity.text, /raise “Templates n” in the form \(CLI --templates\)/);

  // One bank of several: counted, and drawn under the bars rather than over them.
  const one = { ...data, banks: data.banks.map((b, i) => (i === 0 ? skipped.banks[0] : b)) };
  const partial = (bankBarsOption(entropyBars(one), theme, 'entropy').title as { text: string; bottom?: number }[])[1];
  assert.match(partial.text, new RegExp(`^No template entropy for 1 of ${n} banks`));
  assert.equal(partial.bottom, 28);
});

test('estimated entropies are said to be estimates, with their error, in the chart and in each bar’s hover', () => {
  const data = gpt2();
  const est = {
    ...data,
    banks: data.banks.map((b, i) => (i === 0 ? { ...b, entropyEstimated: { probes: 4, steps: 24, error: 0.0123 } } : b)),
  };
  const view = entropyBars(est);
  assert.equal(view.missing, undefined);
  assert.match(view.estimated ?? '', new RegExp(`^Estimated for 1 of ${data.banks.length} banks .*±0\\.012 nats at about 95% confidence`));
  const o = bankBarsOption(view, theme, 'entropy');
  const [, note] = o.title as { text: string }[];
  assert.equal(note.text, view.estimated);
  const fmt = (o.tooltip as { formatter: (p: unknown) => string }).formatter;
  assert.match(fmt([{ dataIndex: 0 }]), /estimated ±0\.012 nats \(4 probes, 24 Lanczos steps\)/);
  assert.doesNotMatch(fmt([{ dataIndex: 1 }]), /estimated/);
});
