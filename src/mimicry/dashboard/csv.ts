// The CSV report: one row per reparameterized layer, then one per bank, the summary, and the
// definition of each metric (docs/RECAST.md section 4), all in one table with a `kind` column so a
// spreadsheet can filter. RFC 4180 quoting; tensor names are
// untrusted, and cells starting with = + - @ are prefixed with ' so spreadsheets do not run them.
import { DEFINITIONS } from './definitions';
import type { DashboardData } from './types';

const COLUMNS = [
  'kind',
  'name',
  'bank',
  'block',
  'role',
  'cosine',
  'rel_error',
  'probe_cosine',
  'templates',
  'diversity',
  'diversity_relative',
  'entropy',
  'entropy_normalized',
  'params_before',
  'params_after',
  'loss',
  'rank',
  'definition',
] as const;

type Column = (typeof COLUMNS)[number];
type Row = Partial<Record<Column, string | number | null | undefined>>;

export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number')
    return Number.isFinite(value) ? String(value) : Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function reportCsv(data: DashboardData): string {
  const rows: Row[] = [];
  for (const l of data.layers) {
    rows.push({
      kind: 'layer',
      name: l.name,
      bank: l.bank,
      block: l.block,
      role: l.role,
      cosine: l.cosine,
      rel_error: l.relError,
      probe_cosine: l.probeCosine,
    });
  }
  for (const b of data.banks) {
    rows.push({
      kind: 'bank',
      name: b.name,
      bank: b.name,
      role: b.roles.join(' '),
      templates: b.templates,
      diversity: b.diversity,
      diversity_relative: b.diversityRelative,
      entropy: b.entropy,
      entropy_normalized: b.entropyNormalized,
      params_before: b.parameters.before,
      params_after: b.parameters.after,
      loss: b.loss,
      rank: b.rank,
    });
  }
  const s = data.summary;
  rows.push({
    kind: 'summary',
    name: data.source.file,
    cosine: s.meanCosine,
    rel_error: s.meanRelError,
    probe_cosine: s.meanProbeCosine,
    params_before: s.parameters.before,
    params_after: s.parameters.after,
  });
  for (const [name, definition] of Object.entries(DEFINITIONS)) rows.push({ kind: 'definition', name, definition });
  const lines = [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => csvCell(r[c])).join(','))];
  return lines.join('\r\n') + '\r\n';
}
