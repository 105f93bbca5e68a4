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

/** Children are found by a scan up to this many, by a Map beyond. */
const SMALL = 8;
const INDEX = /^(0|[1-9]\d{0,8})$/;
/** Deeper than this, the rest of a name is one segment: no name can make the tree's recursion overflow. */
const MAX_DEPTH = 256;
const NONE = -1;

/**
 * The trie of dotted names, as parallel arrays indexed by node (0 is the root), not an object per
 * node: a 100,000-tensor header has about 240,000 nodes, and as objects they were most of the tree's
 * time, in allocation and in the collections that moved them. Segments are interned (one id per
 * distinct segment), so children compare by number.
 */
class Trie {
  count = 0;
  /** Per node: its segment's id, its children (first, last, next sibling), its tensor (index), or NONE. */
  seg: Int32Array;
  first: Int32Array;
  last: Int32Array;
  next: Int32Array;
  tensor: Int32Array;
  /** Per node: a tensor whose name runs through it, and where the node's dotted path ends in that name. */
  under: Int32Array;
  end: Int32Array;
  /** Structural signature (see Signatures), once computed; NONE before. */
  sig: Int32Array;
  /** Children by segment id, for nodes with more than SMALL children. */
  private readonly index = new Map<number, Map<number, number>>();
  private readonly segmentIds = new Map<string, number>();
  readonly segments: string[] = [];
  /** Per segment id: the block index it reads as (INDEX), or NONE. */
  readonly numbers: number[] = [];

  constructor(readonly tensors: readonly NamedTensor[]) {
    const capacity = 3 * tensors.length + 16;
    this.seg = new Int32Array(capacity);
    this.first = new Int32Array(capacity);
    this.last = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    this.tensor = new Int32Array(capacity);
    this.under = new Int32Array(capacity);
    this.end = new Int32Array(capacity);
    this.sig = new Int32Array(capacity);
    this.node(this.segmentId(''), NONE, 0);
  }

  /** The id of `segment`, interned. */
  segmentId(segment: string): number {
    let id = this.segmentIds.get(segment);
    if (id === undefined) {
      id = this.segments.length;
      this.segmentIds.set(segment, id);
      this.segments.push(segment);
      this.numbers.push(INDEX.test(segment) ? Number(segment) : NONE);
    }
    return id;
  }

  /** The id of `segment` if any node has it, else NONE (then no node has a child of that segment). */
  knownSegment(segment: string): number {
    return this.segmentIds.get(segment) ?? NONE;
  }

  private node(seg: number, under: number, end: number): number {
    if (this.count === this.seg.length) this.grow();
    const n = this.count++;
    this.seg[n] = seg;
    this.first[n] = NONE;
    this.last[n] = NONE;
    this.next[n] = NONE;
    this.tensor[n] = NONE;
    this.under[n] = under;
    this.end[n] = end;
    this.sig[n] = NONE;
    return n;
  }

  private grow(): void {
    const bigger = (a: Int32Array): Int32Array => {
      const b = new Int32Array(2 * a.length);
      b.set(a);
      return b;
    };
    this.seg = bigger(this.seg);
    this.first = bigger(this.first);
    this.last = bigger(this.last);
    this.next = bigger(this.next);
    this.tensor = bigger(this.tensor);
    this.under = bigger(this.under);
    this.end = bigger(this.end);
    this.sig = bigger(this.sig);
  }

  /** The child of `parent` with segment id `seg`, or NONE. */
  child(parent: number, seg: number): number {
    const map = this.index.get(parent);
    if (map) return map.get(seg) ?? NONE;
    let count = 0;
    for (let c = this.first[parent]; c !== NONE; c = this.next[c]) {
      if (this.seg[c] === seg) return c;
      count++;
    }
    // A long list is looked through once more at most: from here on, a Map.
    if (count > SMALL) {
      const built = new Map<number, number>();
      for (let c = this.first[parent]; c !== NONE; c = this.next[c]) built.set(this.seg[c], c);
      this.index.set(parent, built);
    }
    return NONE;
  }

  /** A new last child of `parent`. */
  addChild(parent: number, seg: number, under: number, end: number): number {
    const n = this.node(seg, under, end);
    const last = this.last[parent];
    if (last !== NONE) this.next[last] = n;
    else this.first[parent] = n;
    this.last[parent] = n;
    this.index.get(parent)?.set(seg, n);
    return n;
  }

  children(n: number): number[] {
    const out: number[] = [];
    for (let c = this.first[n]; c !== NONE; c = this.next[c]) out.push(c);
    return out;
  }

  /** The dotted path of a node: a prefix of a name under it. */
  pathOf(n: number): string {
    const under = this.under[n];
    return under === NONE ? '' : this.tensors[under].name.slice(0, this.end[n]);
  }

  label(n: number): string {
    return this.segments[this.seg[n]];
  }

  /** The block index node n's segment reads as, or NONE. */
  number(n: number): number {
    return this.numbers[this.seg[n]];
  }

  tensorOf(n: number): NamedTensor | undefined {
    const t = this.tensor[n];
    return t === NONE ? undefined : this.tensors[t];
  }
}

/**
 * The trie of dotted names. A name shares its first segments with the name before it more often
 * than not (`….layers.7.mlp.up_proj.weight` after `….layers.7.mlp.gate_proj.weight`), so the path
 * of the previous name is kept and only the segments after the common prefix are looked up.
 */
function buildTrie(tensors: readonly NamedTensor[]): Trie {
  const trie = new Trie(tensors);
  // The previous name's nodes by depth, and where each one's segment ends in it (ends[0] = -1).
  const nodes: number[] = [0];
  const ends: number[] = [-1];
  let depthOfPrev = 0;
  let prev = '';
  for (let ti = 0; ti < tensors.length; ti++) {
    const name = tensors[ti].name;
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
        const known = trie.knownSegment(segment);
        let child = known === NONE ? NONE : trie.child(node, known);
        if (child === NONE) child = trie.addChild(node, known === NONE ? trie.segmentId(segment) : known, ti, e);
        node = child;
        depth++;
        nodes[depth] = node;
        ends[depth] = e;
        if (e === name.length) break;
        pos = e + 1;
      }
    }
    depthOfPrev = depth;
    trie.tensor[node] = ti;
    prev = name;
  }
  return trie;
}

/** Builds the folded prefix tree. Children keep the order of first appearance; numbers sort numerically. */
export function buildPrefixTree(tensors: readonly NamedTensor[], options: { compact?: boolean } = {}): PrefixNode[] {
  const trie = buildTrie(tensors);
  const nodes = convertChildren(trie, 0, new Signatures(trie));
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
  private readonly dtypes = new Map<string, number>();
  private count = 0;
  private key: number[] = [];

  constructor(private readonly trie: Trie) {}

  private dtypeId(s: string): number {
    let id = this.dtypes.get(s);
    if (id === undefined) this.dtypes.set(s, (id = this.dtypes.size));
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

  of(n: number): number {
    const trie = this.trie;
    if (trie.sig[n] !== NONE) return trie.sig[n];
    // Children first: they reuse the key buffer.
    for (let c = trie.first[n]; c !== NONE; c = trie.next[c]) this.of(c);
    const key = this.key;
    let length = 0;
    const t = trie.tensorOf(n);
    if (t) {
      const shape = t.shape ?? [];
      key[length++] = this.dtypeId(t.dtype ?? '');
      key[length++] = shape.length;
      for (let k = 0; k < shape.length; k++) key[length++] = shape[k]; // indexed: shapes are often frozen arrays
    } else key[length++] = -1;
    if (trie.first[n] !== NONE) {
      const from = length;
      for (let c = trie.first[n]; c !== NONE; c = trie.next[c]) {
        // Insertion by segment id, so the order children were written in does not matter.
        const w = trie.seg[c];
        let at = length;
        while (at > from && key[at - 2] > w) {
          key[at] = key[at - 2];
          key[at + 1] = key[at - 1];
          at -= 2;
        }
        key[at] = w;
        key[at + 1] = trie.sig[c];
        length += 2;
      }
    }
    return (trie.sig[n] = this.intern(length));
  }
}

function convertChildren(trie: Trie, raw: number, sigs: Signatures): PrefixNode[] {
  if (trie.first[raw] === NONE) return [];
  const kids = trie.children(raw);
  const numbered = kids.filter((k) => trie.number(k) !== NONE).sort((a, b) => trie.number(a) - trie.number(b));
  // Numbered children (folded groups and leftovers) sit together, in index order, where the first one appeared.
  const numberedNodes: { first: number; node: PrefixNode }[] = [];
  for (const group of numbered.length >= 2 ? groupsOfSameSignature(numbered, sigs) : numbered.map((n) => [n])) {
    const first = trie.number(group[0]);
    if (group.length >= 2) numberedNodes.push({ first, node: foldGroup(trie, raw, group, sigs) });
    else numberedNodes.push({ first, node: convert(trie, group[0], sigs) });
  }
  numberedNodes.sort((a, b) => a.first - b.first);
  const out: PrefixNode[] = [];
  let numberedDone = false;
  for (const k of kids) {
    if (trie.number(k) === NONE) out.push(convert(trie, k, sigs));
    else if (!numberedDone) {
      for (const n of numberedNodes) out.push(n.node);
      numberedDone = true;
    }
  }
  return out;
}

function convert(trie: Trie, raw: number, sigs: Signatures): PrefixNode {
  const children = convertChildren(trie, raw, sigs);
  const own = trie.tensorOf(raw);
  let tensorCount = own ? 1 : 0;
  let params = own ? own.params : 0;
  for (const c of children) {
    tensorCount += c.tensorCount;
    params += c.params;
  }
  return {
    id: trie.pathOf(raw),
    label: trie.label(raw),
    kind: own && children.length === 0 ? 'tensor' : 'group',
    children,
    tensorName: own?.name,
    tensorCount,
    params,
  };
}

function groupsOfSameSignature(numbered: number[], sigs: Signatures): number[][] {
  // Blocks with equal roles fold together even when not adjacent (e.g. alternating layer kinds).
  const bySig = new Map<number, number[]>();
  for (const n of numbered) {
    const sig = sigs.of(n);
    const list = bySig.get(sig);
    if (list) list.push(n);
    else bySig.set(sig, [n]);
  }
  return [...bySig.values()];
}

function foldGroup(trie: Trie, parent: number, run: number[], sigs: Signatures): PrefixNode {
  const indices = run.map((r) => trie.number(r));
  const label = `{${formatIndices(indices)}}`;
  const parentPath = trie.pathOf(parent);
  const id = parentPath === '' ? label : `${parentPath}.${label}`;
  const paths = run.map((r) => trie.pathOf(r));
  const firstLength = paths[0].length;
  // The first block, converted (so nested numbering folds too), stands for all: lift it to every block.
  const first = convert(trie, run[0], sigs);
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
  const withTensor = run.find((r) => trie.tensor[r] !== NONE);
  return {
    id,
    label,
    kind: 'folded',
    children,
    tensorName: withTensor === undefined ? undefined : trie.tensorOf(withTensor)?.name,
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
