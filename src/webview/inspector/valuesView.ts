// The values view of the detail pane: a paged grid of a 2-D slice of the tensor (its last two
// dimensions at chosen leading indices; rank 1 is one column, rank 0 one value). The engine reads
// only the rows shown and writes each value in the tensor's own precision (safetensors/slice.ts);
// this view asks for pages and shows the text it gets, and copies the page as CSV or a numpy literal.
//
// Keyboard: Page Up / Page Down (rows), Shift+Page Up / Page Down (columns), Home / End (first and
// last rows) on the grid; every control is a native button or input with an accessible name.
import type { TensorRow, ValuesPage, ValuesRequest, WireError } from '../protocol';
import { formatInteger } from '../shared/format';
import { codicon, h, replace } from '../shared/dom';

export const PAGE_ROWS = 16;
export const PAGE_COLS = 8;

/** The slice's rows, columns and leading dimensions of a shape (as the engine's sliceShape). */
function sliceOf(shape: readonly number[]): { rows: number; cols: number; lead: readonly number[] } {
  if (shape.length === 0) return { rows: 1, cols: 1, lead: [] };
  if (shape.length === 1) return { rows: shape[0], cols: 1, lead: [] };
  return { rows: shape[shape.length - 2], cols: shape[shape.length - 1], lead: shape.slice(0, -2) };
}

const keyOf = (r: ValuesRequest): string => JSON.stringify([r.name, r.lead, r.row, r.col, r.rows, r.cols]);

export class ValuesView {
  readonly element: HTMLElement;
  private readonly controls: HTMLElement;
  private readonly position: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly status: HTMLElement;
  private tensor: TensorRow | undefined;
  private request: ValuesRequest | undefined;
  private page: ValuesPage | undefined;
  private readonly leadInputs: HTMLInputElement[] = [];
  private rowInput: HTMLInputElement | undefined;
  private colInput: HTMLInputElement | undefined;
  private readonly copyButtons: HTMLButtonElement[] = [];

  constructor(private readonly ask: (request: ValuesRequest) => void) {
    this.controls = h('div', { class: 'values-controls' });
    this.position = h('span', { class: 'muted values-position', 'aria-live': 'polite', 'data-testid': 'values-position' });
    this.grid = h('div', {
      class: 'values-grid-wrap',
      tabindex: 0,
      role: 'region',
      'aria-label': 'Values (Page Up and Page Down move by rows, with Shift by columns)',
      'data-testid': 'values-grid',
    });
    this.grid.addEventListener('keydown', (e) => this.onKey(e));
    this.status = h('div', { class: 'status-line', 'data-testid': 'values-status' });
    const copy = (label: string, kind: 'csv' | 'numpy'): HTMLButtonElement => {
      const b = h(
        'button',
        { type: 'button', class: 'text-button', 'data-testid': `values-copy-${kind}`, title: `${label} (the page shown)` },
        codicon('copy'),
        ` ${label}`,
      );
      b.addEventListener('click', () => this.copy(kind));
      this.copyButtons.push(b);
      return b;
    };
    this.element = h(
      'section',
      { class: 'detail-section', 'aria-labelledby': 'values-heading', 'data-testid': 'values' },
      h(
        'div',
        { class: 'section-head' },
        h('h3', { id: 'values-heading' }, 'Values'),
        h('div', { class: 'values-copy' }, copy('Copy as CSV', 'csv'), copy('Copy as numpy', 'numpy')),
      ),
      this.controls,
      this.position,
      this.status,
      this.grid,
    );
  }

  /** Shows `t` from its first page (or says why its values are not shown). */
  open(t: TensorRow): void {
    if (this.tensor?.name === t.name) return;
    this.tensor = t;
    this.page = undefined;
    this.request = undefined;
    replace(this.grid);
    replace(this.position);
    this.buildControls(t);
    if (!t.decodable) {
      this.setStatus('info', `${t.dtype} values are not decoded, so they are not shown.`);
      this.setCopyEnabled(false);
      return;
    }
    const { lead } = sliceOf(t.shape);
    this.go(
      lead.map(() => 0),
      0,
      0,
    );
  }

  /** A page or a failure from the extension; stale ones (an earlier request) are dropped. */
  receive(m: { request: ValuesRequest; page?: ValuesPage; error?: WireError }): void {
    if (!this.request || keyOf(m.request) !== keyOf(this.request)) return;
    if (m.error) {
      if (!m.error.cancelled) this.setStatus('error', m.error.message);
      return;
    }
    if (m.page) this.show(m.page);
  }

  private buildControls(t: TensorRow): void {
    const { rows, cols, lead } = sliceOf(t.shape);
    this.leadInputs.length = 0;
    const field = (label: string, max: number, testid: string): HTMLInputElement => {
      const input = h('input', {
        type: 'number',
        class: 'values-index',
        min: 0,
        max: Math.max(0, max - 1),
        step: 1,
        value: 0,
        'aria-label': `${label} (0 to ${formatInteger(Math.max(0, max - 1))})`,
        title: `${label} (0 to ${formatInteger(Math.max(0, max - 1))})`,
        'data-testid': testid,
      });
      input.addEventListener('change', () => this.fromInputs());
      return input;
    };
    const parts: HTMLElement[] = [];
    lead.forEach((size, d) => {
      const input = field(`Index in dimension ${d}`, size, `values-lead-${d}`);
      this.leadInputs.push(input);
      parts.push(h('label', { class: 'values-field' }, h('span', { class: 'muted' }, `dim ${d}`), input));
    });
    this.rowInput = t.shape.length >= 1 ? field('First row shown', rows, 'values-row') : undefined;
    this.colInput = t.shape.length >= 2 ? field('First column shown', cols, 'values-col') : undefined;
    if (this.rowInput) parts.push(h('label', { class: 'values-field' }, h('span', { class: 'muted' }, 'row'), this.rowInput));
    if (this.colInput) parts.push(h('label', { class: 'values-field' }, h('span', { class: 'muted' }, 'col'), this.colInput));
    const nav = (icon: string, label: string, testid: string, move: () => void): HTMLElement => {
      const b = h(
        'button',
        { type: 'button', class: 'icon-button', 'aria-label': label, title: label, 'data-testid': testid },
        codicon(icon),
      );
      b.addEventListener('click', move);
      return b;
    };
    if (t.shape.length >= 1) {
      parts.push(
        h(
          'span',
          { class: 'values-nav' },
          nav('arrow-up', 'Previous rows (Page Up)', 'values-prev-rows', () => this.move(-PAGE_ROWS, 0)),
          nav('arrow-down', 'Next rows (Page Down)', 'values-next-rows', () => this.move(PAGE_ROWS, 0)),
          ...(t.shape.length >= 2
            ? [
                nav('arrow-left', 'Previous columns (Shift+Page Up)', 'values-prev-cols', () => this.move(0, -PAGE_COLS)),
                nav('arrow-right', 'Next columns (Shift+Page Down)', 'values-next-cols', () => this.move(0, PAGE_COLS)),
              ]
            : []),
        ),
      );
    }
    replace(this.controls, ...parts);
    this.controls.hidden = parts.length === 0;
  }

  private fromInputs(): void {
    const read = (input: HTMLInputElement | undefined): number => (input ? Number(input.value) : 0);
    this.go(this.leadInputs.map(read), read(this.rowInput), read(this.colInput));
  }

  private move(dRows: number, dCols: number): void {
    const r = this.request;
    const t = this.tensor;
    if (!r || !t) return;
    const { rows, cols } = sliceOf(t.shape);
    const clamp = (v: number, size: number, step: number): number =>
      Math.max(0, Math.min(v, Math.max(0, Math.floor((size - 1) / step) * step)));
    this.go(r.lead, clamp(r.row + dRows, rows, PAGE_ROWS), clamp(r.col + dCols, cols, PAGE_COLS));
  }

  /** Asks for the page at (lead, row, col); the engine checks the indices (a bad one comes back as an error). */
  private go(lead: readonly number[], row: number, col: number): void {
    const t = this.tensor;
    if (!t) return;
    this.request = { name: t.name, lead: [...lead], row, col, rows: PAGE_ROWS, cols: PAGE_COLS };
    this.leadInputs.forEach((input, d) => (input.value = String(lead[d])));
    if (this.rowInput) this.rowInput.value = String(row);
    if (this.colInput) this.colInput.value = String(col);
    const bad = [...lead, row, col].some((v) => !Number.isSafeInteger(v) || v < 0);
    if (bad) {
      this.setStatus('error', 'Indices are whole numbers from 0.');
      return;
    }
    this.setStatus('loading', 'Reading…');
    this.ask(this.request);
  }

  private show(page: ValuesPage): void {
    this.page = page;
    this.setStatus('none');
    this.setCopyEnabled(page.cells.length > 0);
    const cols = page.cells[0]?.length ?? 0;
    const lastRow = page.row + page.cells.length;
    this.position.textContent =
      page.cells.length === 0
        ? 'No values (an empty slice).'
        : `Rows ${formatInteger(page.row)}–${formatInteger(lastRow - 1)} of ${formatInteger(page.sliceRows)}` +
          (page.shape.length >= 2
            ? ` · columns ${formatInteger(page.col)}–${formatInteger(page.col + cols - 1)} of ${formatInteger(page.sliceCols)}`
            : '') +
          (page.lead.length > 0 ? ` · at [${page.lead.join(', ')}, :, :]` : '');
    const head = h(
      'tr',
      {},
      h('th', { scope: 'col', class: 'corner' }),
      ...Array.from({ length: cols }, (_, c) => h('th', { scope: 'col' }, formatInteger(page.col + c))),
    );
    const body = page.cells.map((row, r) =>
      h('tr', {}, h('th', { scope: 'row' }, formatInteger(page.row + r)), ...row.map((cell) => h('td', { class: cellClass(cell) }, cell))),
    );
    replace(
      this.grid,
      h('table', { class: 'values-grid mono', 'aria-label': `Values of ${page.name}` }, h('thead', {}, head), h('tbody', {}, ...body)),
    );
  }

  private onKey(e: KeyboardEvent): void {
    const shift = e.shiftKey;
    let handled = true;
    if (e.key === 'PageDown') this.move(shift ? 0 : PAGE_ROWS, shift ? PAGE_COLS : 0);
    else if (e.key === 'PageUp') this.move(shift ? 0 : -PAGE_ROWS, shift ? -PAGE_COLS : 0);
    else if (e.key === 'Home') this.move(-Number.MAX_SAFE_INTEGER, 0);
    else if (e.key === 'End') this.move(Number.MAX_SAFE_INTEGER, 0);
    else handled = false;
    if (handled) e.preventDefault();
  }

  private copy(kind: 'csv' | 'numpy'): void {
    const page = this.page;
    if (!page) return;
    void navigator.clipboard?.writeText(kind === 'csv' ? page.csv : page.numpy).then(
      () =>
        this.setStatus(
          'info',
          `Copied ${page.cells.length} × ${page.cells[0]?.length ?? 0} values as ${kind === 'csv' ? 'CSV' : 'a numpy literal'}.`,
        ),
      () => this.setStatus('error', 'The clipboard refused the copy.'),
    );
  }

  private setCopyEnabled(on: boolean): void {
    for (const b of this.copyButtons) b.disabled = !on;
  }

  private setStatus(kind: 'none' | 'info' | 'error' | 'loading', text = ''): void {
    if (kind === 'none') return replace(this.status);
    if (kind === 'error') return replace(this.status, h('span', { class: 'error-text', role: 'alert' }, codicon('error'), ` ${text}`));
    replace(this.status, codicon(kind === 'loading' ? 'loading' : 'info'), h('span', { class: 'muted' }, text));
  }
}

function cellClass(text: string): string | undefined {
  return text === 'nan' || text === 'inf' || text === '-inf' ? 'special' : undefined;
}
