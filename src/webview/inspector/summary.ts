// The header view: file, size, tensor count, parameters, dtype breakdown, metadata, shards.
import type { CheckpointSummary } from '../protocol';
import { formatBytes, formatCount, formatInteger, formatPercent, plural } from '../shared/format';
import { codicon, h } from '../shared/dom';
import { readDistinctPalette } from '../shared/theme';

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
    // One colour per dtype present (data-colour indexes the theme's palette: see recolourDtypes).
    const seg = h('span', { class: 'seg', 'data-colour': i, title: `${d.dtype}: ${formatBytes(d.bytes)}` });
    seg.style.flexGrow = String(Math.max(d.bytes / total, 0.004));
    bar.appendChild(seg);
    legend.appendChild(
      h(
        'li',
        { 'data-dtype': d.dtype },
        h('span', { class: 'swatch', 'data-colour': i, 'aria-hidden': 'true' }),
        dtypePill(d.dtype),
        h(
          'span',
          { class: 'muted' },
          `${plural(d.tensors, 'tensor')} · ${plural(d.params, 'param', formatCount(d.params))} · ${formatBytes(d.bytes)}`,
        ),
      ),
    );
  });
  recolourDtypes(bar);
  recolourDtypes(legend);
  return h('div', { class: 'summary-block' }, h('h3', {}, 'DTypes'), bar, legend);
}

/**
 * Paints the dtype swatches under `root` from the current theme (again after a theme change), and
 * sets each dtype's colour on the page (--dtype-<name>) for its pills, in the table too.
 */
export function recolourDtypes(root: ParentNode): void {
  const palette = readDistinctPalette();
  for (const el of root.querySelectorAll<HTMLElement>('[data-colour]')) {
    const colour = palette[Number(el.dataset.colour) % palette.length];
    el.style.backgroundColor = colour;
    const dtype = el.closest<HTMLElement>('[data-dtype]')?.dataset.dtype;
    if (dtype) document.documentElement.style.setProperty(dtypeVar(dtype), colour);
  }
}

/** Dtype names are a closed set of letters, digits and underscores (safetensors/dtypes.ts). */
const dtypeVar = (dtype: string): string => `--dtype-${dtype.toLowerCase()}`;

/** A dtype's pill, tinted with its colour in the breakdown (the badge colour until that is set). */
export function dtypePill(dtype: string): HTMLElement {
  const pill = h('span', { class: 'dtype' }, dtype);
  pill.style.setProperty('--pill', `var(${dtypeVar(dtype)}, var(--vscode-badge-background))`);
  return pill;
}

/** `keysFirst`: keys on one line, as wide as they need (shard file names); the values take the rest. */
function keyValueTable(
  caption: string,
  rows: readonly (readonly [string, string])[],
  empty: string,
  testId: string,
  keysFirst = false,
): HTMLElement {
  if (rows.length === 0) return h('div', { class: 'summary-block' }, h('h3', {}, caption), h('p', { class: 'muted' }, empty));
  const table = h(
    'table',
    { class: keysFirst ? 'kv keys-first' : 'kv', 'data-testid': testId },
    h('caption', { class: 'visually-hidden' }, caption),
  );
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
    card('Layout', s.kind === 'sharded' ? plural(s.shards.length, 'shard') : 'single file'),
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
        s.shards.map((sh) => [sh.file, `${plural(sh.tensors, 'tensor')} · ${formatBytes(sh.bytes)}`] as const),
        'No shards.',
        'shards',
        true,
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
