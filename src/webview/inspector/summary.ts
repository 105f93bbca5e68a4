// The header view: file, size, tensor count, parameters, dtype breakdown, metadata, shards.
import type { CheckpointSummary } from '../protocol';
import { formatBytes, formatCount, formatInteger, formatPercent } from '../shared/format';
import { codicon, h } from '../shared/dom';

function card(label: string, value: string, title?: string): HTMLElement {
  return h('div', { class: 'card', title }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value));
}

function dtypeBreakdown(s: CheckpointSummary): HTMLElement {
  const total = Math.max(1, s.totalBytes > 0 ? s.dtypes.reduce((a, d) => a + d.bytes, 0) : 1);
  const bar = h('div', {
    class: 'dtype-bar',
    role: 'img',
    'aria-label': s.dtypes.map((d) => `${d.dtype} ${formatPercent(d.bytes / total, 1)} of bytes`).join(', '),
  });
  const legend = h('ul', { class: 'dtype-legend' });
  s.dtypes.forEach((d, i) => {
    const seg = h('span', { class: `seg seg-${i % 6}`, title: `${d.dtype}: ${formatBytes(d.bytes)}` });
    seg.style.flexGrow = String(Math.max(d.bytes / total, 0.004));
    bar.appendChild(seg);
    legend.appendChild(
      h(
        'li',
        {},
        h('span', { class: `swatch seg-${i % 6}`, 'aria-hidden': 'true' }),
        h('span', { class: 'dtype' }, d.dtype),
        h('span', { class: 'muted' }, `${formatInteger(d.tensors)} tensors · ${formatCount(d.params)} params · ${formatBytes(d.bytes)}`),
      ),
    );
  });
  return h('div', { class: 'summary-block' }, h('h3', {}, 'DTypes'), bar, legend);
}

function keyValueTable(caption: string, rows: readonly (readonly [string, string])[], empty: string, testId: string): HTMLElement {
  if (rows.length === 0) return h('div', { class: 'summary-block' }, h('h3', {}, caption), h('p', { class: 'muted' }, empty));
  const table = h('table', { class: 'kv', 'data-testid': testId }, h('caption', { class: 'visually-hidden' }, caption));
  const body = h('tbody');
  for (const [k, v] of rows) body.appendChild(h('tr', {}, h('th', { scope: 'row', class: 'mono' }, k), h('td', { class: 'mono' }, v)));
  table.appendChild(body);
  return h('div', { class: 'summary-block' }, h('h3', {}, caption), h('div', { class: 'kv-scroll' }, table));
}

export function renderSummary(s: CheckpointSummary): HTMLElement {
  const cards = h(
    'div',
    { class: 'cards' },
    card('File', s.fileName, s.path),
    card('Size', formatBytes(s.totalBytes), `${formatInteger(s.totalBytes)} bytes`),
    card('Tensors', formatInteger(s.tensorCount)),
    card('Parameters', formatCount(s.params), formatInteger(s.params)),
    card('Layout', s.kind === 'sharded' ? `${s.shards.length} shards` : 'single file'),
  );
  const blocks = h(
    'div',
    { class: 'summary-blocks' },
    dtypeBreakdown(s),
    keyValueTable('Metadata', s.metadata, 'No __metadata__ in this file.', 'metadata'),
  );
  if (s.kind === 'sharded') {
    blocks.appendChild(
      keyValueTable(
        'Shards',
        s.shards.map((sh) => [sh.file, `${formatInteger(sh.tensors)} tensors · ${formatBytes(sh.bytes)}`] as const),
        'No shards.',
        'shards',
      ),
    );
  }
  const details = h(
    'details',
    { class: 'summary', 'data-testid': 'summary', open: true },
    h('summary', {}, codicon('chevron-right'), h('span', {}, 'Overview')),
    cards,
    blocks,
  );
  return details;
}
