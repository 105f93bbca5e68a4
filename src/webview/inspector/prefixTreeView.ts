// The tree by dotted prefix, with repeated numbered blocks folded (see src/mimicry/naming/prefixTree.ts).
// Rendered through the same virtualised list as the table, so huge models stay fast.
import { buildPrefixTree, flattenVisible, isExpandable, type PrefixNode, type VisibleNode } from '../../mimicry/naming/prefixTree';
import type { TensorRow } from '../protocol';
import { formatCount, plural } from '../shared/format';
import { parseQuery, matchesQuery } from './tableModel';
import { append, codicon, h } from '../shared/dom';
import { VirtualList } from './virtualList';

const ICONS: Record<PrefixNode['kind'], string> = {
  group: 'symbol-namespace',
  folded: 'layers',
  tensor: 'symbol-array',
  role: 'symbol-field',
};

export class PrefixTreeView {
  readonly element: HTMLElement;
  private readonly list: VirtualList<VisibleNode>;
  private roots: PrefixNode[] = [];
  private readonly expanded = new Set<string>();
  private rows: readonly TensorRow[] = [];
  private query = '';
  private dirty = true;

  constructor(private readonly onOpen: (name: string) => void) {
    this.list = new VirtualList<VisibleNode>({
      rowHeight: 22,
      role: 'tree',
      label: 'Tensors by name prefix',
      testId: 'tensor-tree',
      rowTestId: 'tree-row',
      key: (v) => (v.instance !== undefined ? `${v.node.id}#${v.instance}` : v.node.id),
      render: (row, v) => this.renderRow(row, v),
      onActivate: (v) => this.activate(v),
      onKey: (e, v) => this.onKey(e, v),
    });
    this.element = h('div', { class: 'prefix-tree' }, this.list.element);
  }

  setRows(rows: readonly TensorRow[]): void {
    this.rows = rows;
    this.dirty = true;
  }

  setQuery(query: string): void {
    this.query = query;
    this.dirty = true;
  }

  /** Builds lazily: the tree costs nothing until its tab is shown. */
  show(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const terms = parseQuery(this.query);
    const rows = terms.length === 0 ? this.rows : this.rows.filter((r) => matchesQuery(r, terms));
    this.roots = buildPrefixTree(rows);
    // Small results open up; the full tree starts with its top level (and single roots) open.
    if (terms.length > 0 && rows.length <= 200) this.expandAll(this.roots);
    else if (this.expanded.size === 0) {
      // Open the root that holds most of the model (usually `model` or `transformer`).
      const total = rows.length;
      for (const r of this.roots) if (r.children.length > 0 && r.tensorCount * 2 > total) this.expanded.add(r.id);
    }
    this.relist();
  }

  focus(): void {
    this.list.focusActive();
  }

  private expandAll(nodes: readonly PrefixNode[]): void {
    for (const n of nodes) {
      if (n.children.length > 0) {
        this.expanded.add(n.id);
        this.expandAll(n.children);
      }
    }
  }

  private relist(): void {
    this.list.setItems(flattenVisible(this.roots, this.expanded));
  }

  private toggle(node: PrefixNode, open?: boolean): void {
    const isOpen = this.expanded.has(node.id);
    const want = open ?? !isOpen;
    if (want === isOpen || !isExpandable(node)) return;
    if (want) this.expanded.add(node.id);
    else this.expanded.delete(node.id);
    this.relist();
  }

  private activate(v: VisibleNode): void {
    if (v.instance !== undefined) return this.onOpen(v.instance);
    if (v.node.kind === 'tensor' && v.node.tensorName) return this.onOpen(v.node.tensorName);
    if (isExpandable(v.node)) this.toggle(v.node);
    else if (v.node.tensorName) this.onOpen(v.node.tensorName);
  }

  private onKey(e: KeyboardEvent, v: VisibleNode): boolean {
    if (v.instance !== undefined) return false;
    if (e.key === 'ArrowRight') {
      this.toggle(v.node, true);
      return true;
    }
    if (e.key === 'ArrowLeft') {
      this.toggle(v.node, false);
      return true;
    }
    return false;
  }

  private renderRow(row: HTMLElement, v: VisibleNode): void {
    const { node } = v;
    row.style.paddingLeft = `${8 + v.depth * 14}px`;
    row.setAttribute('aria-level', String(v.depth + 1));
    if (v.instance !== undefined) {
      row.removeAttribute('aria-expanded');
      row.append(
        h('span', { class: 'twisty' }),
        codicon('symbol-array'),
        h('span', { class: 'label mono', title: v.instance }, v.instance),
      );
      return;
    }
    const expandable = isExpandable(node);
    const open = this.expanded.has(node.id);
    if (expandable) row.setAttribute('aria-expanded', String(open));
    else row.removeAttribute('aria-expanded');
    const twisty = h('span', { class: 'twisty' }, expandable ? codicon(open ? 'chevron-down' : 'chevron-right') : null);
    const label = h('span', { class: `label mono kind-${node.kind}`, title: node.tensorName ?? node.id }, node.label);
    const copies =
      node.kind === 'folded'
        ? h('span', { class: 'pill', title: `${node.indices?.length ?? 0} blocks with identical roles` }, `×${node.indices?.length ?? 0}`)
        : null;
    const roleCopies =
      node.kind === 'role' && (node.instances?.length ?? 0) > 1
        ? h('span', { class: 'pill subtle' }, `×${node.instances?.length ?? 0}`)
        : null;
    const meta = h(
      'span',
      { class: 'meta' },
      node.tensorCount > 1 ? `${plural(node.tensorCount, 'tensor', formatCount(node.tensorCount))} · ` : '',
      plural(node.params, 'param', formatCount(node.params)),
    );
    twisty.addEventListener('click', (e) => {
      e.stopPropagation();
      this.toggle(node);
    });
    append(row, twisty, codicon(ICONS[node.kind]), label, copies, roleCopies, meta);
  }
}
