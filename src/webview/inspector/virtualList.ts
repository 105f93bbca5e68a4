// A virtualised list: only the rows in (or near) the viewport exist in the DOM, so 10,000+ tensors
// scroll smoothly. Keyboard: roving tabindex over rows, arrows / PageUp / PageDown / Home / End move,
// Enter (or click) activates. Used by the tensor table (role grid) and the prefix tree (role tree).

import { h } from '../shared/dom';

export interface VirtualListOptions<T> {
  readonly rowHeight: number;
  readonly role: 'grid' | 'tree';
  readonly label: string;
  readonly testId: string;
  readonly rowTestId: string;
  /** Fills a row element (already emptied) for one item. */
  render(row: HTMLElement, item: T, index: number): void;
  /** Stable identity of an item (selection, data-name). */
  key(item: T): string;
  onActivate(item: T, index: number): void;
  /** Extra keys (e.g. tree Left/Right); return true when handled. */
  onKey?(event: KeyboardEvent, item: T, index: number): boolean;
}

const OVERSCAN = 8;

export class VirtualList<T> {
  readonly element: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly pool: HTMLElement[] = [];
  private items: readonly T[] = [];
  private active = 0;
  private selectedKey: string | undefined;
  private frame = 0;

  constructor(private readonly opts: VirtualListOptions<T>) {
    this.spacer = h('div', { class: 'vlist-spacer', role: 'presentation' });
    this.element = h('div', {
      class: 'vlist',
      role: opts.role,
      'aria-label': opts.label,
      'data-testid': opts.testId,
      tabindex: 0,
    });
    if (opts.role === 'grid') this.element.setAttribute('aria-readonly', 'true');
    this.element.appendChild(this.spacer);
    this.element.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.element.addEventListener('keydown', (e) => this.onKeyDown(e));
    this.element.addEventListener('click', (e) => this.onClick(e));
    this.element.addEventListener('focus', () => {
      // Focus entering the list lands on the active row.
      if (document.activeElement === this.element) this.focusActive();
    });
    new ResizeObserver(() => this.schedule()).observe(this.element);
  }

  setItems(items: readonly T[]): void {
    this.items = items;
    this.active = Math.min(this.active, Math.max(0, items.length - 1));
    this.spacer.style.height = `${items.length * this.opts.rowHeight}px`;
    if (this.opts.role === 'grid') this.element.setAttribute('aria-rowcount', String(items.length + 1));
    this.renderNow();
  }

  get length(): number {
    return this.items.length;
  }

  /** Re-renders the visible rows (e.g. when statistics arrive). Coalesced to one frame. */
  refresh(): void {
    this.schedule();
  }

  setSelected(key: string | undefined, reveal: boolean): void {
    this.selectedKey = key;
    if (reveal && key !== undefined) {
      const i = this.items.findIndex((it) => this.opts.key(it) === key);
      if (i >= 0) {
        this.active = i;
        this.scrollIntoView(i);
      }
    }
    this.schedule();
  }

  focusActive(): void {
    this.scrollIntoView(this.active);
    this.renderNow();
    const row = this.rowFor(this.active);
    if (row) row.focus({ preventScroll: true });
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderNow();
    });
  }

  private scrollIntoView(index: number): void {
    const { rowHeight } = this.opts;
    const top = index * rowHeight;
    const view = this.element.clientHeight;
    if (top < this.element.scrollTop) this.element.scrollTop = top;
    else if (top + rowHeight > this.element.scrollTop + view) this.element.scrollTop = top + rowHeight - view;
  }

  private rowFor(index: number): HTMLElement | undefined {
    return this.pool.find((r) => r.dataset.index === String(index) && !r.hidden);
  }

  private renderNow(): void {
    const { rowHeight } = this.opts;
    const height = this.element.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.element.scrollTop / rowHeight) - OVERSCAN);
    const last = Math.min(this.items.length, Math.ceil((this.element.scrollTop + height) / rowHeight) + OVERSCAN);
    const needed = last - first;
    const hadFocus = this.pool.some((r) => r === document.activeElement);
    while (this.pool.length < needed) {
      const row = h('div', {
        class: 'vlist-row',
        role: this.opts.role === 'grid' ? 'row' : 'treeitem',
        'data-testid': this.opts.rowTestId,
      });
      this.pool.push(row);
      this.element.appendChild(row);
    }
    let activeRendered = false;
    this.pool.forEach((row, slot) => {
      const index = first + slot;
      if (slot >= needed) {
        row.hidden = true;
        row.removeAttribute('data-index');
        return;
      }
      row.hidden = false;
      const item = this.items[index];
      const key = this.opts.key(item);
      row.dataset.index = String(index);
      row.dataset.name = key;
      row.style.transform = `translateY(${index * rowHeight}px)`;
      row.setAttribute('aria-selected', String(key === this.selectedKey));
      if (this.opts.role === 'grid') row.setAttribute('aria-rowindex', String(index + 2));
      row.tabIndex = index === this.active ? 0 : -1;
      if (index === this.active) activeRendered = true;
      row.replaceChildren();
      this.opts.render(row, item, index);
    });
    // The list itself is the tab stop only while the active row is scrolled out of the DOM.
    this.element.tabIndex = activeRendered ? -1 : 0;
    if (hadFocus) {
      const row = this.rowFor(this.active);
      if (row) row.focus({ preventScroll: true });
      else this.element.focus({ preventScroll: true });
    }
  }

  private indexOfEvent(e: Event): number | undefined {
    const row = (e.target as HTMLElement | null)?.closest<HTMLElement>('.vlist-row');
    if (!row || row.dataset.index === undefined) return undefined;
    return Number(row.dataset.index);
  }

  private onClick(e: MouseEvent): void {
    const index = this.indexOfEvent(e);
    if (index === undefined || index >= this.items.length) return;
    this.active = index;
    this.opts.onActivate(this.items[index], index);
    this.focusActive();
  }

  private onKeyDown(e: KeyboardEvent): void {
    if (this.items.length === 0) return;
    const page = Math.max(1, Math.floor(this.element.clientHeight / this.opts.rowHeight) - 1);
    let next: number | undefined;
    switch (e.key) {
      case 'ArrowDown':
        next = this.active + 1;
        break;
      case 'ArrowUp':
        next = this.active - 1;
        break;
      case 'PageDown':
        next = this.active + page;
        break;
      case 'PageUp':
        next = this.active - page;
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = this.items.length - 1;
        break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.opts.onActivate(this.items[this.active], this.active);
        return;
      default:
        if (this.opts.onKey?.(e, this.items[this.active], this.active)) e.preventDefault();
        return;
    }
    e.preventDefault();
    this.active = Math.max(0, Math.min(this.items.length - 1, next));
    this.focusActive();
  }
}
