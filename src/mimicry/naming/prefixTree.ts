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

/** A node of the trie of dotted names (every field set up front: one object shape for all). */
class RawNode {
  tensor: NamedTensor | undefined = undefined;
  /** Children in order of first appearance, as a list (no array per node: most nodes are leaves). */
  first: RawNode | undefined = undefined;
  last: RawNode | undefined = undefined;
  next: RawNode | undefined = undefined;
  /** Children by segment, once there are more than a few. */
  index: Map<string, RawNode> | undefined = undefined;
  /** Structural signature (see Signatures), once computed; -1 before. */
  sig = -1;
  constructor(
    readonly segment: string,
    /** A tensor name under this node, and where this node's dotted path ends in it. */
    readonly under: string,
    readonly end: number,
  ) {}

  child(segment: string): RawNode | undefined {
    if (this.index) return this.index.get(segment);
    let count = 0;
    for (let c = this.first; c; c = c.next) {
      if (c.segment === segment) return c;
      count++;
    }
    // A long list is looked through once more at most: from here on, a Map.
    if (count > SMALL) {
      this.index = new Map();
      for (let c = this.first; c; c = c.next) this.index.set(c.segment, c);
    }
    return undefined;
  }

  add(node: RawNode): void {
    if (this.last) this.last.next = node;
    else this.first = node;
    this.last = node;
    this.index?.set(node.segment, node);
  }

  children(): RawNode[] {
    const out: RawNode[] = [];
    for (let c = this.first; c; c = c.next) out.push(c);
    return out;
  }
}

/** Children are found by a scan up to this many, by a Map beyond. */
const SMALL = 8;
const INDEX = /^(0|[1-9]\d{0,8})$/;
/** Deeper than this, the rest of a name is one segment: no name can make the tree's recursion overflow. */
const MAX_DEPTH = 256;

/** The dotted path of a node: a prefix of a name under it. */
function pathOf(n: RawNode): string {
  return n.under.slice(0, n.end);
}

/**
 * The trie of dotted names. A name shares its first segments with the name before it more often
 * than not (`….layers.7.mlp.up_proj.weight` after `….layers.7.mlp.gate_proj.weight`), so the path
 * of the previous name is kept and only the segments after the common prefix are looked up.
 */
function buildTrie(tensors: readonly NamedTensor[]): RawNode {
  const root = new RawNode('', '', 0);
  // The previous name's nodes by depth, and where each one's segment ends in it (ends[0] = -1).
  const nodes: RawNode[] = [root];
  const ends: number[] = [-1];
  let depthOfPrev = 0;
  let prev = '';
  for (const t of tensors) {
    const name = t.name;
    const m = Math.min(name.length, prev.length);
    let k = 0;
    while (k < m && name.charCodeAt(k) === prev.charCodeAt(k)) k++;
    let depth = 0;
    while (depth < depthOfPrev) {
      const e = ends[depth + 1];
      if (!(e < k || (e === k && (k === name.length || name.charCodeAt(k) === 0x2e)))) break;
      depth++;
    }
    let node = nodes[depth];
    if (ends[depth] !== name.length) {
      let pos = ends[depth] + 1;
      for (;;) {
        let e = name.indexOf('.', pos);
        if (e < 0 || depth + 1 === MAX_DEPTH) e = name.length;
        const segment = name.slice(pos, e);
        let child = node.child(segment);
        if (!child) {
          child = new RawNode(segment, name, e);
          node.add(child);
        }
        node = child;
        depth++;
        nodes[depth] = node;
        ends[depth] = e;
        if (e === name.length) break;
        pos = e + 1;
      }
    }
    depthOfPrev = depth;
    node.tensor = t;
    prev = name;
  }
  return root;
}

/** Builds the folded prefix tree. Children keep the order of first appearance; numbers sort numerically. */
export function buildPrefixTree(tensors: readonly NamedTensor[], options: { compact?: boolean } = {}): PrefixNode[] {
  const nodes = convertChildren(buildTrie(tensors), new Signatures());
  return options.compact === false ? nodes : nodes.map(compactChain);
}

/**
 * Equal numbers for equal subtrees: the same segments below, the same dtype and shape at each
 * tensor (so blocks fold only when their roles match). A node's signature is interned from its
 * tensor's dtype and shape and its children's (segment, signature) pairs, sorted: nothing is
 * allocated per node but for signatures not seen before.
 */
class Signatures {
  private readonly table = new Map<number, { key: number[]; id: number }[]>();
  private readonly words = new Map<string, number>();
  private count = 0;
  private key: number[] = [];

  private word(s: string): number {
    let id = this.words.get(s);
    if (id === undefined) this.words.set(s, (id = this.words.size));
    return id;
  }

  /** The id of key[0, length): equal keys, equal ids. */
  private intern(length: number): number {
    const key = this.key;
    let h = length;
    for (let i = 0; i < length; i++) {
      const v = key[i];
      h = (Math.imul(h, 0x01000193) ^ (v | 0) ^ ((v / 4294967296) | 0)) | 0;
    }
    let bucket = this.table.get(h);
    if (!bucket) this.table.set(h, (bucket = []));
    for (const e of bucket) {
      if (e.key.length !== length) continue;
      let same = true;
      for (let i = 0; i < length && same; i++) same = e.key[i] === key[i];
      if (same) return e.id;
    }
    const id = this.count++;
    bucket.push({ key: key.slice(0, length), id });
    return id;
  }

  of(n: RawNode): number {
    if (n.sig >= 0) return n.sig;
    // Children first: they reuse the key buffer.
    for (let c = n.first; c; c = c.next) this.of(c);
    const key = this.key;
    let length = 0;
    const t = n.tensor;
    if (t) {
      const shape = t.shape ?? [];
      key[length++] = this.word(t.dtype ?? '');
      key[length++] = shape.length;
      for (const d of shape) key[length++] = d;
    } else key[length++] = -1;
    if (n.first) {
      const from = length;
      for (let c: RawNode | undefined = n.first; c; c = c.next) {
        // Insertion by segment word, so the order children were written in does not matter.
        const w = this.word(c.segment);
        let at = length;
        while (at > from && key[at - 2] > w) {
          key[at] = key[at - 2];
          key[at + 1] = key[at - 1];
          at -= 2;
        }
        key[at] = w;
        key[at + 1] = c.sig;
        length += 2;
      }
    }
    return (n.sig = this.intern(length));
  }
}

function convertChildren(raw: RawNode, sigs: Signatures): PrefixNode[] {
  if (!raw.first) return [];
  const kids = raw.children();
  const numbered = kids.filter((k) => INDEX.test(k.segment)).sort((a, b) => Number(a.segment) - Number(b.segment));
  // Numbered children (folded groups and leftovers) sit together, in index order, where the first one appeared.
  const numberedNodes: { first: number; node: PrefixNode }[] = [];
  for (const group of numbered.length >= 2 ? groupsOfSameSignature(numbered, sigs) : numbered.map((n) => [n])) {
    if (group.length >= 2) numberedNodes.push({ first: Number(group[0].segment), node: foldGroup(raw, group, sigs) });
    else numberedNodes.push({ first: Number(group[0].segment), node: convert(group[0], sigs) });
  }
  numberedNodes.sort((a, b) => a.first - b.first);
  const out: PrefixNode[] = [];
  let numberedDone = false;
  for (const k of kids) {
    if (!INDEX.test(k.segment)) out.push(convert(k, sigs));
    else if (!numberedDone) {
      for (const n of numberedNodes) out.push(n.node);
      numberedDone = true;
    }
  }
  return out;
}

function convert(raw: RawNode, sigs: Signatures): PrefixNode {
  const children = convertChildren(raw, sigs);
  const own = raw.tensor;
  let tensorCount = own ? 1 : 0;
  let params = own ? own.params : 0;
  for (const c of children) {
    tensorCount += c.tensorCount;
    params += c.params;
  }
  return {
    id: pathOf(raw),
    label: raw.segment,
    kind: own && children.length === 0 ? 'tensor' : 'group',
    children,
    tensorName: own?.name,
    tensorCount,
    params,
  };
}

function groupsOfSameSignature(numbered: RawNode[], sigs: Signatures): RawNode[][] {
  // Blocks with equal roles fold together even when not adjacent (e.g. alternating layer kinds).
  const bySig = new Map<number, RawNode[]>();
  for (const n of numbered) {
    const sig = sigs.of(n);
    const list = bySig.get(sig);
    if (list) list.push(n);
    else bySig.set(sig, [n]);
  }
  return [...bySig.values()];
}

function foldGroup(parent: RawNode, run: RawNode[], sigs: Signatures): PrefixNode {
  const indices = run.map((r) => Number(r.segment));
  const label = `{${formatIndices(indices)}}`;
  const parentPath = pathOf(parent);
  const id = parentPath === '' ? label : `${parentPath}.${label}`;
  const paths = run.map(pathOf);
  const firstLength = paths[0].length;
  // The first block, converted (so nested numbering folds too), stands for all: lift it to every block.
  const first = convert(run[0], sigs);
  const lift = (n: PrefixNode): PrefixNode => {
    const own = n.kind === 'role' || n.kind === 'folded' ? (n.instances ?? []) : n.tensorName !== undefined ? [n.tensorName] : [];
    let instances: string[] | undefined;
    if (own.length > 0) {
      // Every block holds the same names after its own prefix (equal signatures).
      const rels = own.map((name) => name.slice(firstLength));
      instances = [];
      for (const p of paths) for (const rel of rels) instances.push(p + rel);
    }
    return {
      ...n,
      id: id + n.id.slice(firstLength),
      kind: n.kind === 'tensor' ? 'role' : n.kind,
      children: n.children.map(lift),
      instances,
      tensorCount: n.tensorCount * run.length,
      params: n.params * run.length,
    };
  };
  const children = first.children.map(lift);
  return {
    id,
    label,
    kind: 'folded',
    children,
    tensorName: run.find((r) => r.tensor !== undefined)?.tensor?.name,
    instances: paths,
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
