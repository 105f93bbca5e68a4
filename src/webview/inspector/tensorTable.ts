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
}

const COLUMNS: readonly Column[] = [
  { key: 'name', title: 'Name' },
  { key: 'dtype', title: 'DType' },
  { key: 'shape', title: 'Shape' },
  { key: 'params', title: 'Params', numeric: true },
  { key: 'bytes', title: 'Size', numeric: true },
  { key: 'std', title: 'Std', numeric: true, tooltip: 'Population standard deviation of the finite values (computed by the engine)' },
];

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
  private sort: SortState = { key: 'order', descending: false };
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
        { class: `th${col.numeric ? ' num' : ''}`, type: 'button', title: col.tooltip ?? `Sort by ${col.title.toLowerCase()}` },
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
      render: (row, i) => this.renderRow(row, this.rows[i]),
      onActivate: (i) => this.onOpen(this.rows[i].name),
    });
    this.element = h('div', { class: 'tensor-table', role: 'presentation' }, header, this.list.element);
    // The header row lives outside the scroller (it must not scroll away); aria-owns makes it the
    // grid's first row for screen readers, so each cell is announced with its column title.
    this.list.element.setAttribute('aria-owns', header.id);
    this.list.element.setAttribute('aria-colcount', String(COLUMNS.length));
  }

  setRows(rows: readonly TensorRow[]): void {
    this.rows = rows;
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

  private toggleSort(key: SortKey): void {
    if (this.sort.key !== key) this.sort = { key, descending: key === 'params' || key === 'bytes' || key === 'std' };
    else if (this.sort.descending === (key === 'params' || key === 'bytes' || key === 'std'))
      this.sort = { key, descending: !this.sort.descending };
    else this.sort = { key: 'order', descending: false };
    for (const [k, cell] of this.headerCells) {
      const on = k === this.sort.key;
      cell.setAttribute('aria-sort', on ? (this.sort.descending ? 'descending' : 'ascending') : 'none');
      cell.classList.toggle('sorted', on);
      cell.classList.toggle('desc', on && this.sort.descending);
    }
    this.update();
  }

  private update(): void {
    this.shown = viewOf(this.rows, this.query, this.sort, this.ctx.stats);
    this.list.setItems(this.shown);
    this.onCount(this.shown.length, this.rows.length);
  }

  private renderRow(row: HTMLElement, t: TensorRow): void {
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
