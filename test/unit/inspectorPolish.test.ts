// Natural name order, middle ellipsis, round histogram ticks, plurals and distinct dtype colours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { naturalCompare } from '../../src/mimicry/naming/naturalCompare';
import { niceAxis, plural, splitForMiddleEllipsis } from '../../src/webview/shared/format';
import { distinctPalette, hexLab } from '../../src/webview/shared/theme';

test('naturalCompare orders digit runs as numbers and is a total order', () => {
  const names = ['h.10.attn', 'h.2.attn', 'h.1.attn', 'h.0.attn', 'h.11.attn', 'layer10', 'layer9', 'ln_f.weight', 'h.2.attn'];
  assert.deepEqual([...names].sort(naturalCompare), [
    'h.0.attn',
    'h.1.attn',
    'h.2.attn',
    'h.2.attn',
    'h.10.attn',
    'h.11.attn',
    'layer9',
    'layer10',
    'ln_f.weight',
  ]);
  assert.equal(naturalCompare('x', 'x'), 0);
  // Names the collator finds equal still get a fixed order (sorting stays deterministic).
  assert.notEqual(naturalCompare('A', 'a'), 0);
  assert.equal(Math.sign(naturalCompare('A', 'a')), -Math.sign(naturalCompare('a', 'A')));
});

test('splitForMiddleEllipsis keeps the distinguishing end of a name whole', () => {
  const a = 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight';
  const [head, tail] = splitForMiddleEllipsis(a);
  assert.equal(head + tail, a);
  assert.ok(tail.endsWith('lora_A.weight'), tail);
  assert.ok(tail.length <= 28, tail);
  assert.ok(tail.startsWith('.'), 'the tail starts at a segment boundary');
  assert.deepEqual(splitForMiddleEllipsis('wte.weight'), ['wte', '.weight']);
  // A last segment longer than the budget is kept whole; a name without dots keeps its last characters.
  assert.deepEqual(splitForMiddleEllipsis(`a.${'b'.repeat(40)}`), ['a', `.${'b'.repeat(40)}`]);
  const plain = 'x'.repeat(50);
  assert.deepEqual(splitForMiddleEllipsis(plain, 10), ['x'.repeat(40), 'x'.repeat(10)]);
  assert.deepEqual(splitForMiddleEllipsis(''), ['', '']);
});

test('niceAxis gives round bounds that cover the range and a 1-2-5 step', () => {
  const cases: [number, number][] = [
    [-19.83, 17.2],
    [-3.26, 4.1],
    [-0.0123, 0.0456],
    [1e-7, 3.3e-7],
    [0.1, 0.1],
    [0, 0],
    [-1234.5, 98765],
  ];
  for (const [lo, hi] of cases) {
    const { min, max, step } = niceAxis(lo, hi);
    assert.ok(min <= lo && max >= hi && max > min, `${lo}..${hi} -> ${min}..${max}`);
    const mantissa = step / 10 ** Math.floor(Math.log10(step));
    assert.ok(
      [1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-9),
      `step ${step}`,
    );
    for (const bound of [min, max]) {
      const k = bound / step;
      assert.ok(Math.abs(k - Math.round(k)) < 1e-9, `${bound} is not a multiple of ${step}`);
    }
    assert.ok((max - min) / step <= 12, `${(max - min) / step} intervals`);
  }
  assert.deepEqual(niceAxis(-19.83, 17.2), { min: -20, max: 20, step: 10 });
  assert.deepEqual(niceAxis(-3.26, 4.1), { min: -4, max: 6, step: 2 });
  assert.deepEqual(niceAxis(-0.0123, 0.0456), { min: -0.02, max: 0.06, step: 0.02 });
});

test('plural says "1 tensor" and "2 tensors"', () => {
  assert.equal(plural(1, 'tensor'), '1 tensor');
  assert.equal(plural(0, 'tensor'), '0 tensors');
  assert.equal(plural(12345, 'tensor'), '12,345 tensors');
  assert.equal(plural(2, 'shard', '2'), '2 shards');
  assert.equal(plural(1, 'param', '1'), '1 param');
});

test('hexLab: CIE L*a*b* (D65) of sRGB colours, as published', () => {
  const cases: [string, [number, number, number]][] = [
    ['#ffffff', [100, 0, 0]],
    ['#000000', [0, 0, 0]],
    ['#ff0000', [53.24, 80.09, 67.2]],
    ['#00ff00', [87.73, -86.18, 83.18]],
    ['#0000ff', [32.3, 79.19, -107.86]],
    ['#808080', [53.59, 0, 0]],
  ];
  for (const [hex, want] of cases) {
    const got = hexLab(hex);
    assert.ok(got, hex);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i] - want[i]) < 0.05, `${hex}: ${got.join(', ')} against ${want.join(', ')}`);
  }
  assert.equal(hexLab('orange'), null);
});

test('distinctPalette: eighteen different colours from the six chart colours of a theme, the first ones far apart, dark and light', () => {
  const themes: [string[], string, string][] = [
    [['#3794ff', '#d18616', '#89d185', '#b180d7', '#cca700', '#f14c4c'], '#cccccc', '#1e1e1e'],
    // Light Modern: its orange (#d18616) and yellow (#bf8803) are near twins (CIE76 9.5).
    [['#1a85ff', '#d18616', '#388a34', '#652d90', '#bf8803', '#e51400'], '#3b3b3b', '#ffffff'],
  ];
  const rgb = (c: string): number[] => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  const lab = (c: string): number[] => hexLab(c) ?? [Number.NaN, 0, 0];
  const apart = (a: string, b: string): number => Math.hypot(...lab(a).map((v, i) => v - lab(b)[i]));
  for (const [themed, fg, bg] of themes) {
    const p = distinctPalette(themed, fg, bg);
    assert.equal(p.length, 18);
    assert.equal(p[0], themed[0], "the theme's first chart colour comes first");
    for (const c of themed) assert.ok(p.includes(c), `${c} missing`);
    // Far enough apart to tell apart side by side (Euclidean RGB distance).
    for (let i = 0; i < p.length; i++) {
      for (let j = i + 1; j < p.length; j++) {
        const [a, b] = [rgb(p[i]), rgb(p[j])];
        assert.ok(Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]) > 12, `${p[i]} and ${p[j]}`);
      }
    }
    // The first eight (more dtypes than most files hold) differ clearly: CIE76 above 30.
    for (let i = 0; i < 8; i++)
      for (let j = i + 1; j < 8; j++) assert.ok(apart(p[i], p[j]) > 30, `${p[i]} and ${p[j]}: ${apart(p[i], p[j])}`);
  }
  // Light Modern: orange and yellow are not both among a file's first seven dtypes (F64 and U16 in the e2e file).
  const light = distinctPalette(themes[1][0], themes[1][1], themes[1][2]).slice(0, 7);
  assert.ok(!(light.includes('#d18616') && light.includes('#bf8803')), light.join(' '));
  // Colours that are not hex (rgb(), names) are mixed by the browser, still one per entry.
  const named = distinctPalette(['rgb(0, 0, 255)', 'orange'], 'white', 'black');
  assert.equal(new Set(named).size, 6);
  assert.equal(named[2], 'color-mix(in srgb, rgb(0, 0, 255) 50%, white)');
});
