// The CSV report: quoting, formula-injection guard, and one row per layer, bank and summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvCell, reportCsv } from '../../src/mimicry/dashboard/csv';
import type { DashboardData } from '../../src/mimicry/dashboard/types';

function parse(csv: string): string[][] {
  // Enough of RFC 4180 for the test: quoted cells with "" escapes and embedded commas / newlines.
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < csv.length; i++) {
    const c = csv[i];
    if (quoted) {
      if (c === '"' && csv[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && csv[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return rows;
}

const data = {
  version: 1,
  origin: 'run',
  source: { file: 'm.safetensors', path: '/x/m.safetensors' },
  method: { method: 'spectral' },
  summary: {
    layers: 2,
    banks: 1,
    meanCosine: 0.9,
    minCosine: 0.8,
    meanRelError: 0.1,
    parameters: { before: 100, after: 50, ratio: 2 },
    coefficientsPerTask: 8,
  },
  layers: [
    { name: 'h.0.attn,"evil".weight', bank: 'b.g0', block: 0, role: 'attn', cosine: 1, relError: 0 },
    { name: '=HYPERLINK("x")', bank: 'b.g0', block: 1, role: 'attn', cosine: 0.8, relError: 0.2, probeCosine: 0.7 },
  ],
  banks: [
    {
      name: 'b.g0',
      roles: ['attn'],
      members: ['a', 'b'],
      blocks: [0, 1],
      shape: [2, 2],
      templates: 1,
      diversity: 0,
      diversityRelative: 0,
      entropy: null,
      entropyNormalized: null,
      coefficientSimilarity: [[1]],
      coefficientSimilarityBlocks: [0],
      parameters: { before: 8, after: 6 },
      rank: 1,
      loss: null,
    },
  ],
  spectra: [],
  report: {},
} as unknown as DashboardData;

test('cells: numbers as is, text quoted when needed, formulas neutralised', () => {
  assert.equal(csvCell(0.5), '0.5');
  assert.equal(csvCell(null), '');
  assert.equal(csvCell(Number.NaN), 'NaN');
  assert.equal(csvCell('plain'), 'plain');
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('line\nbreak'), '"line\nbreak"');
  assert.equal(csvCell('=1+1'), "'=1+1");
  assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
});

test('report: header, a row per layer, per bank, and the summary; names survive the round trip', () => {
  const rows = parse(reportCsv(data));
  const [head, ...body] = rows;
  assert.equal(head[0], 'kind');
  assert.ok(
    head.includes('cosine') && head.includes('rel_error') && head.includes('diversity_relative') && head.includes('entropy_normalized'),
  );
  assert.deepEqual(body.map((r) => r[0]).slice(0, 4), ['layer', 'layer', 'bank', 'summary']);
  const defs = body.filter((r) => r[0] === 'definition');
  assert.ok(defs.some((r) => r[1] === 'cosine' && r[head.indexOf('definition')].startsWith('Per-layer cosine fidelity')));
  for (const r of body) assert.equal(r.length, head.length);
  const col = (r: string[], name: string) => r[head.indexOf(name)];
  assert.equal(col(body[0], 'name'), 'h.0.attn,"evil".weight');
  assert.equal(col(body[1], 'name'), `'=HYPERLINK("x")`);
  assert.equal(col(body[1], 'probe_cosine'), '0.7');
  assert.equal(col(body[2], 'entropy'), '');
  assert.equal(col(body[3], 'params_after'), '50');
});
