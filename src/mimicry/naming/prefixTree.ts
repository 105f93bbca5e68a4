// Groups tensor names into a tree by dotted prefix and folds repeated numbered blocks
// (`blocks.0 … blocks.11` with the same roles) into one node, so a 12-layer model reads as one layer.
// Pure: no I/O, no VS Code; used by the inspector webview and unit-tested on its own.

/** What the tree needs to know about a tensor; extra fields decide whether blocks are "the same". */
export interface NamedTensor {
  readonly name: string;
  readonly params: number;
  /** Part of a block's signature: blocks fold only when every role has the same dtype and shape. */
  readonly dtype?: string;
  readonly shape?: readonly number[];
}

export type PrefixNodeKind =
  /** A dotted prefix with children (`model.layers`). */
  | 'group'
  /** Numbered siblings with identical roles, folded into one (`blocks.{0..11}`). */
  | 'folded'
  /** A tensor (a leaf, or a prefix that is also a tensor's full name). */
  | 'tensor'
  /** A role inside a folded node (`attn.qkv.weight` of every block): stands for one tensor per block. */
  | 'role';

export interface PrefixNode {
  /** Stable key, unique in the tree (the dotted path; folded nodes use their `{…}` label). */
  readonly id: string;
  /** What to show: one segment, `{0..11}`, or several segments joined when a chain has one child. */
  readonly label: string;
  readonly kind: PrefixNodeKind;
  readonly children: readonly PrefixNode[];
  /** The tensor this node is (kind 'tensor'), or the first instance of a role. */
  readonly tensorName?: string;
  /** For 'role' nodes: the tensor in each folded block, in index order. For 'folded': the block prefixes. */
  readonly instances?: readonly string[];
  /** The block indices a folded node stands for. */
  readonly indices?: readonly number[];
  /** Tensors under this node, counting every folded copy. */
  readonly tensorCount: number;
  /** Parameters under this node, counting every folded copy. */
  readonly params: number;
}

interface RawNode {
  segment: string;
  path: string;
  tensor?: NamedTensor;
  children: Map<string, RawNode>;
}

const INDEX = /^(0|[1-9]\d{0,8})$/;

/** Builds the folded prefix tree. Children keep the order of first appearance; numbers sort numerically. */
export function buildPrefixTree(tensors: readonly NamedTensor[], options: { compact?: boolean } = {}): PrefixNode[] {
  const root: RawNode = { segment: '', path: '', children: new Map() };
  for (const t of tensors) {
    let node = root;
    for (const segment of t.name.split('.')) {
      const path = node === root ? segment : `${node.path}.${segment}`;
      let child = node.children.get(segment);
      if (!child) {
        child = { segment, path, children: new Map() };
        node.children.set(segment, child);
      }
      node = child;
    }
    node.tensor = t;
  }
  const nodes = convertChildren(root);
  return options.compact === false ? nodes : nodes.map(compactChain);
}

function convertChildren(raw: RawNode): PrefixNode[] {
  const kids = [...raw.children.values()];
  const numbered = kids.filter((k) => INDEX.test(k.segment)).sort((a, b) => Number(a.segment) - Number(b.segment));
  // Numbered children (folded groups and leftovers) sit together, in index order, where the first one appeared.
  const numberedNodes: { first: number; node: PrefixNode }[] = [];
  for (const group of numbered.length >= 2 ? groupsOfSameSignature(numbered) : numbered.map((n) => [n])) {
    if (group.length >= 2) numberedNodes.push({ first: Number(group[0].segment), node: foldGroup(raw, group) });
    else numberedNodes.push({ first: Number(group[0].segment), node: convert(group[0]) });
  }
  numberedNodes.sort((a, b) => a.first - b.first);
  const out: PrefixNode[] = [];
  let numberedDone = false;
  for (const k of kids) {
    if (!INDEX.test(k.segment)) out.push(convert(k));
    else if (!numberedDone) {
      out.push(...numberedNodes.map((n) => n.node));
      numberedDone = true;
    }
  }
  return out;
}

function convert(raw: RawNode): PrefixNode {
  const children = convertChildren(raw);
  const own = raw.tensor;
  const tensorCount = children.reduce((s, c) => s + c.tensorCount, own ? 1 : 0);
  const params = children.reduce((s, c) => s + c.params, own ? own.params : 0);
  return {
    id: raw.path,
    label: raw.segment,
    kind: own && children.length === 0 ? 'tensor' : 'group',
    children,
    tensorName: own?.name,
    tensorCount,
    params,
  };
}

/** The relative names (with dtype and shape) under a block: equal signatures mean the same roles. */
function signature(raw: RawNode): string {
  const parts: string[] = [];
  const walk = (n: RawNode, rel: string): void => {
    if (n.tensor) parts.push(`${rel}|${n.tensor.dtype ?? ''}|${(n.tensor.shape ?? []).join('x')}`);
    for (const c of n.children.values()) walk(c, rel === '' ? c.segment : `${rel}.${c.segment}`);
  };
  walk(raw, '');
  return parts.sort().join('\n');
}

function groupsOfSameSignature(numbered: RawNode[]): RawNode[][] {
  // Blocks with equal roles fold together even when not adjacent (e.g. alternating layer kinds).
  const bySig = new Map<string, RawNode[]>();
  for (const n of numbered) {
    const sig = signature(n);
    const list = bySig.get(sig);
    if (list) list.push(n);
    else bySig.set(sig, [n]);
  }
  return [...bySig.values()];
}

function foldGroup(parent: RawNode, run: RawNode[]): PrefixNode {
  const indices = run.map((r) => Number(r.segment));
  const label = `{${formatIndices(indices)}}`;
  const id = parent.path === '' ? label : `${parent.path}.${label}`;
  // The first block, converted (so nested numbering folds too), stands for all: lift it to every block.
  const first = convert(run[0]);
  const lift = (n: PrefixNode): PrefixNode => {
    const rel = (name: string): string => name.slice(run[0].path.length);
    const own = n.kind === 'role' || n.kind === 'folded' ? (n.instances ?? []) : n.tensorName !== undefined ? [n.tensorName] : [];
    const instances = own.length > 0 ? run.flatMap((r) => own.map((name) => r.path + rel(name))) : undefined;
    return {
      ...n,
      id: id + rel(n.id),
      kind: n.kind === 'tensor' ? 'role' : n.kind,
      children: n.children.map(lift),
      instances,
      tensorCount: n.tensorCount * run.length,
      params: n.params * run.length,
    };
  };
  const children = first.children.map(lift);
  const ownTensor = run.map((r) => r.tensor).filter((x): x is NamedTensor => x !== undefined);
  return {
    id,
    label,
    kind: 'folded',
    children,
    tensorName: ownTensor[0]?.name,
    instances: run.map((r) => r.path),
    indices,
    tensorCount: first.tensorCount * run.length,
    params: first.params * run.length,
  };
}

/** `0,1,2,3,5,7,8,9` -> `0..3,5,7..9`. Runs of two stay as a list (`4,5`). */
export function formatIndices(indices: readonly number[]): string {
  const sorted = [...indices].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    if (j - i >= 2) parts.push(`${sorted[i]}..${sorted[j]}`);
    else for (let k = i; k <= j; k++) parts.push(String(sorted[k]));
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * Joins chains of single-child groups into one row: `model` > `decoder` > `layers` reads `model.decoder.layers`,
 * `blocks` > `{0..11}` reads `blocks.{0..11}`, `wte` > `weight` reads `wte.weight`.
 */
function compactChain(node: PrefixNode): PrefixNode {
  let n = node;
  let label = n.label;
  while (n.kind === 'group' && n.tensorName === undefined && n.children.length === 1) {
    n = n.children[0];
    label = `${label}.${n.label}`;
  }
  return { ...n, label, children: n.children.map(compactChain) };
}

/** Depth-first list of the nodes a reader sees, given which node ids are expanded. */
export interface VisibleNode {
  readonly node: PrefixNode;
  readonly depth: number;
  /** For instance rows under a role: the tensor name of that instance. */
  readonly instance?: string;
}

export function flattenVisible(roots: readonly PrefixNode[], expanded: ReadonlySet<string>): VisibleNode[] {
  const out: VisibleNode[] = [];
  const walk = (nodes: readonly PrefixNode[], depth: number): void => {
    for (const node of nodes) {
      out.push({ node, depth });
      if (!expanded.has(node.id)) continue;
      if (node.children.length > 0) walk(node.children, depth + 1);
      else if ((node.kind === 'role' || node.kind === 'folded') && node.instances) {
        // Leaves that stand for several tensors list each one (a folded node without children folds tensors).
        for (const name of node.instances) out.push({ node, depth: depth + 1, instance: name });
      }
    }
  };
  walk(roots, 0);
  return out;
}

/** Whether a node can be expanded in the UI. */
export function isExpandable(node: PrefixNode): boolean {
  return node.children.length > 0 || ((node.kind === 'role' || node.kind === 'folded') && (node.instances?.length ?? 0) > 1);
}
