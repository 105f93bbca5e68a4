// The tensor table: sortable column headers over a virtualised grid of rows.
import type { TensorRow, TensorStatsView } from '../protocol';
import { formatBytes, formatCount, formatInteger, formatNumber, formatShape, splitForMiddleEllipsis } from '../shared/format';
import { codicon, h } from '../shared/dom';
import { viewOf, type SortKey, type SortState } from './tableModel';
import { VirtualList } from './virtualList';
import { dtypePill } from './summary';

interface Column {
  readonly key: SortKey;
  readonly title: string;
  readonly numeric?: boolean;
  readonly tooltip?: string;
  /** What a screen reader says for a terse title. */
  readonly label?: string;
}

const COLUMNS: readonly Column[] = [
  // File order stays one click away: safetensors' own writer lays tensors out by dtype, then by name
  // as plain text (h.10 before h.2), so the table opens in natural name order instead.
  {
    key: 'order',
    title: '#',
    numeric: true,
    tooltip: "Position of the tensor's data in the file: sort by it for file order",
    label: 'Position in file',
  },
  { key: 'name', title: 'Name' },
  { key: 'dtype', title: 'DType' },
  { key: 'shape', title: 'Shape' },
  { key: 'params', title: 'Params', numeric: true },
  { key: 'bytes', title: 'Size', numeric: true },
  { key: 'std', title: 'Std', numeric: true, tooltip: 'Population standard deviation of the finite values (computed by the engine)' },
];

/** Natural order of the names (tableModel.ts), what a user scanning for a layer expects. */
const DEFAULT_SORT: SortState = { key: 'name', descending: false };
/** Columns whose first click sorts biggest first. */
const DESCENDING_FIRST: ReadonlySet<SortKey> = new Set(['params', 'bytes', 'std']);

export interface TableContext {
  readonly stats: ReadonlyMap<string, TensorStatsView>;
  readonly running: ReadonlySet<string>;
}

export class TensorTable {
  readonly element: HTMLElement;
  private readonly list: VirtualList<number>;
  private readonly headerCells = new Map<SortKey, HTMLElement>();
  private rows: readonly TensorRow[] = [];
  private query = '';
  private sort: SortState = DEFAULT_SORT;
  private shown: number[] = [];

  constructor(
    private readonly ctx: TableContext,
    private readonly onOpen: (name: string) => void,
    private readonly onCount: (shown: number, total: number) => void,
  ) {
    const header = h('div', { class: 'table-header', role: 'row', 'aria-rowindex': 1, id: 'tensor-table-header' });
    for (const col of COLUMNS) {
      const button = h(
        'button',
        {
          class: `th${col.numeric ? ' num' : ''}`,
          type: 'button',
          title: col.tooltip ?? `Sort by ${col.title.toLowerCase()}`,
          'aria-label': col.label,
        },
        h('span', {}, col.title),
        codicon('arrow-small-down'),
      );
      const cell = h('div', { role: 'columnheader', class: `col-${col.key}`, 'aria-sort': 'none' }, button);
      button.addEventListener('click', () => this.toggleSort(col.key));
      this.headerCells.set(col.key, cell);
      header.appendChild(cell);
    }
    this.list = new VirtualList<number>({
      rowHeight: 24,
      role: 'grid',
      label: 'Tensors',
      testId: 'tensor-table',
      rowTestId: 'tensor-row',
      key: (i) => this.rows[i].name,
      render: (row, i) => this.renderRow(row, this.rows[i], i),
      onActivate: (i) => this.onOpen(this.rows[i].name),
    });
    this.element = h('div', { class: 'tensor-table', role: 'presentation' }, header, this.list.element);
    // The header row lives outside the scroller (it must not scroll away); aria-owns makes it the
    // grid's first row for screen readers, so each cell is announced with its column title.
    this.list.element.setAttribute('aria-owns', header.id);
    this.list.element.setAttribute('aria-colcount', String(COLUMNS.length));
    this.showSort();
  }

  setRows(rows: readonly TensorRow[]): void {
    this.rows = rows;
    // The "#" column as wide as the largest position (and its header with the sort arrow).
    this.element.style.setProperty('--order-width', `max(${String(rows.length).length}ch + 2px, 2.4em)`);
    this.update();
  }

  setQuery(query: string): void {
    this.query = query;
    this.update();
  }

  /** Statistics arrived: re-render visible rows (and re-sort when sorting by a statistic). */
  statsChanged(): void {
    if (this.sort.key === 'std') this.update();
    else this.list.refresh();
  }

  setSelected(name: string | undefined, reveal: boolean): void {
    this.list.setSelected(name, reveal);
  }

  focus(): void {
    this.list.focusActive();
  }

  /** A column's first click sorts by it, the second reverses, the third goes back to DEFAULT_SORT. */
  private toggleSort(key: SortKey): void {
    if (this.sort.key !== key) this.sort = { key, descending: DESCENDING_FIRST.has(key) };
    else if (this.sort.descending === DESCENDING_FIRST.has(key) || key === DEFAULT_SORT.key)
      this.sort = { key, descending: !this.sort.descending };
    else this.sort = DEFAULT_SORT;
    this.showSort();
    this.update();
  }

  private showSort(): void {
    for (const [k, cell] of this.headerCells) {
      const on = k === this.sort.key;
      cell.setAttribute('aria-sort', on ? (this.sort.descending ? 'descending' : 'ascending') : 'none');
      cell.classList.toggle('sorted', on);
      cell.classList.toggle('desc', on && this.sort.descending);
    }
  }

  private update(): void {
    this.shown = viewOf(this.rows, this.query, this.sort, this.ctx.stats);
    this.list.setItems(this.shown);
    this.onCount(this.shown.length, this.rows.length);
  }

  private renderRow(row: HTMLElement, t: TensorRow, position: number): void {
    const stats = this.ctx.stats.get(t.name);
    let std: Node;
    if (stats) std = document.createTextNode(formatNumber(stats.std));
    else if (this.ctx.running.has(t.name)) std = codicon('loading codicon-modifier-spin', 'computing');
    else std = h('span', { class: 'muted' }, t.decodable ? '·' : '—');
    const [head, tail] = splitForMiddleEllipsis(t.name);
    // The name column is monospace, so the tail is exactly tail.length ch wide: the head gets the rest.
    // (Inline boxes, not flex items: a copied or read-out name stays one line.)
    const nameHead = h('span', { class: 'name-head' }, head);
    nameHead.style.maxWidth = `calc(100% - ${tail.length}ch)`;
    row.append(
      h('div', { role: 'gridcell', class: 'col-order num muted' }, String(position + 1)),
      // Ellipsis in the middle: the head is cut first, the end that tells adapters and blocks apart stays.
      h('div', { role: 'gridcell', class: 'col-name mono', title: t.name }, nameHead, h('span', { class: 'name-tail' }, tail)),
      h('div', { role: 'gridcell', class: 'col-dtype' }, dtypePill(t.dtype)),
      h('div', { role: 'gridcell', class: 'col-shape mono' }, formatShape(t.shape)),
      h('div', { role: 'gridcell', class: 'col-params num', title: formatInteger(t.params) }, formatCount(t.params)),
      h('div', { role: 'gridcell', class: 'col-bytes num', title: `${formatInteger(t.bytes)} bytes` }, formatBytes(t.bytes)),
      h('div', { role: 'gridcell', class: 'col-std num mono' }, std),
    );
  }
}
