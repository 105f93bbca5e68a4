// The two faces of an inspect report: one JSON document, or a summary and an aligned table.

import { isSpectrumSkipped } from '../mimicry/stats/spectrum';
import { QUANTILE_PROBS } from '../mimicry/stats/quantiles';
import { cell, grouped, humanBytes, num, percent, table, type Column } from './format';
import type { InspectReport, TensorEntry } from './inspectReport';
import { plural } from '../webview/shared/format';

/**
 * The JSON document (`JSON.stringify(report, null, 2)` and a newline) in pieces of `batch`
 * tensors, so a report of many tensors is never one string of hundreds of MB.
 */
export function* renderJsonChunks(report: InspectReport, batch = 2000): Generator<string> {
  const { tensors, ...rest } = report;
  // Everything but the tensors, laid out by JSON.stringify itself ("tensors" comes last), and
  // each batch of tensors as JSON.stringify lays it out at that depth, between `[` and `]`.
  const head = JSON.stringify({ ...rest, tensors: [] }, null, 2);
  const open = '{\n  "tensors": [\n';
  const close = '\n  ]\n}';
  if (tensors.length === 0 || !head.endsWith('[]\n}')) {
    yield `${JSON.stringify(report, null, 2)}\n`;
    return;
  }
  yield `${head.slice(0, -'[]\n}'.length)}[\n`;
  for (let i = 0; i < tensors.length; i += batch) {
    const text = JSON.stringify({ tensors: tensors.slice(i, i + batch) }, null, 2);
    yield `${i > 0 ? ',\n' : ''}${text.slice(open.length, -close.length)}`;
  }
  yield `${close}\n`;
}

export function renderJson(report: InspectReport): string {
  return [...renderJsonChunks(report)].join('');
}

function tensorBytes(t: TensorEntry): number {
  return t.offsets[1] - t.offsets[0];
}

function summary(report: InspectReport): string {
  const byDtype = new Map<string, { tensors: number; params: number; bytes: number }>();
  let params = 0;
  for (const t of report.tensors) {
    const d = byDtype.get(t.dtype) ?? { tensors: 0, params: 0, bytes: 0 };
    d.tensors++;
    d.params += t.params;
    d.bytes += tensorBytes(t);
    byDtype.set(t.dtype, d);
    params += t.params;
  }
  const shards = new Set(report.tensors.map((t) => t.shard).filter((s): s is string => s !== undefined));
  const rows: [string, string][] = [
    ['file', cell(report.file, 200)],
    ['size', `${humanBytes(report.bytes)} (${grouped(report.bytes)} bytes)`],
  ];
  if (shards.size > 0) rows.push(['shards', String(shards.size)]);
  rows.push(['tensors', grouped(report.tensors.length)], ['params', grouped(params)]);
  const dtypes = [...byDtype.entries()].sort((a, b) => b[1].params - a[1].params);
  if (dtypes.length === 0) rows.push(['dtypes', '(none)']);
  for (const [i, [dtype, d]] of dtypes.entries()) {
    rows.push([
      i === 0 ? 'dtypes' : '',
      `${dtype}: ${plural(d.tensors, 'tensor', grouped(d.tensors))}, ${plural(d.params, 'param', grouped(d.params))}, ${humanBytes(d.bytes)}`,
    ]);
  }
  const meta = Object.entries(report.metadata);
  if (meta.length === 0) rows.push(['metadata', '(none)']);
  for (const [i, [k, v]] of meta.entries()) rows.push([i === 0 ? 'metadata' : '', `${cell(k, 40)} = ${cell(v)}`]);
  return rows.map(([k, v]) => `${k.padEnd(10)}${v}`.trimEnd()).join('\n') + '\n';
}

function tensorTable(report: InspectReport, withStats: boolean, withSpectra: boolean): string {
  const columns: Column[] = [
    { title: 'name', align: 'left' },
    { title: 'dtype', align: 'left' },
    { title: 'shape', align: 'left' },
    { title: 'params', align: 'right' },
    { title: 'bytes', align: 'right' },
  ];
  if (withStats) {
    for (const title of ['min', 'max', 'mean', 'std', 'zero%', ...QUANTILE_PROBS.map((q) => `p${Math.round(q * 100)}`)]) {
      columns.push({ title, align: 'right' });
    }
  }
  if (withSpectra) {
    for (const title of ['s1', 'stable rank', 'eff. rank']) columns.push({ title, align: 'right' });
  }
  const notes: string[] = [];
  // Equal shapes are mostly one array (the header's): one text each.
  const shapeTexts = new Map<readonly number[], string>();
  const shapeText = (shape: readonly number[]): string => {
    let text = shapeTexts.get(shape);
    if (text === undefined) shapeTexts.set(shape, (text = `[${shape.join(', ')}]`));
    return text;
  };
  const rows = report.tensors.map((t) => {
    const row = [cell(t.name, 100), t.dtype, shapeText(t.shape), grouped(t.params), grouped(tensorBytes(t))];
    const note: string[] = [];
    if (withStats) {
      const s = t.stats;
      row.push(num(s?.min ?? null), num(s?.max ?? null), num(s?.mean ?? null), num(s?.std ?? null), percent(s?.zeroFraction ?? null));
      row.push(...QUANTILE_PROBS.map((_, i) => num(s?.quantiles?.values[i] ?? null)));
      if (s?.quantiles && s.quantiles.error > 0) note.push(`percentiles within ${num(s.quantiles.error)}`);
      if (t.statsSkipped) note.push(`stats: ${t.statsSkipped}`);
      if (s && s.nanCount + s.infCount > 0) note.push(`${grouped(s.nanCount)} NaN, ${grouped(s.infCount)} Inf`);
    }
    if (withSpectra) {
      const sp = t.spectrum;
      if (sp && !isSpectrumSkipped(sp)) row.push(num(sp.spectralNorm), num(sp.stableRank), num(sp.effectiveRank));
      else row.push('-', '-', '-');
      if (sp && isSpectrumSkipped(sp) && sp.rows !== null) note.push(`spectrum: ${sp.skipped}`);
      if (sp && !isSpectrumSkipped(sp) && sp.estimated)
        note.push(`spectrum: estimated from the top ${sp.estimated.topK} singular values (randomized; ranks are estimates)`);
    }
    if (note.length) notes.push(`${cell(t.name, 100)}: ${note.join('; ')}`);
    return row;
  });
  let out = table(columns, rows);
  if (notes.length) out += `\nnotes:\n${notes.map((n) => `  ${n}`).join('\n')}\n`;
  const factors = report.tensors.filter((t) => t.spectrumOf);
  if (withSpectra && factors.length > 0)
    out +=
      `\nthe spectra of the ${factors.length} LoRA factors are those of their layer updates ${factors[0].spectrumOf?.rule ?? ''}, ` +
      "from both factors (JSON: spectrumOf); --factors: each factor's own\n";
  return out;
}

export function renderText(report: InspectReport, withStats: boolean, withSpectra: boolean): string {
  return `${summary(report)}\n${tensorTable(report, withStats, withSpectra)}`;
}
