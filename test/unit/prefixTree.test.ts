import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildPrefixTree,
  flattenVisible,
  formatIndices,
  isExpandable,
  type NamedTensor,
  type PrefixNode,
} from '../../src/mimicry/naming/prefixTree';
import { rng } from './helpers/rng';

const t = (name: string, params = 4, shape: number[] = [2, 2], dtype = 'F32'): NamedTensor => ({ name, params, shape, dtype });

function gpt(blocks: number): NamedTensor[] {
  const out: NamedTensor[] = [t('wte.weight', 100, [50, 2])];
  for (let i = 0; i < blocks; i++) {
    out.push(
      t(`blocks.${i}.attn.qkv.weight`, 12, [6, 2]),
      t(`blocks.${i}.attn.qkv.bias`, 6, [6]),
      t(`blocks.${i}.mlp.fc.weight`, 16, [8, 2]),
    );
  }
  out.push(t('ln_f.weight', 2, [2]));
  return out;
}

const find = (nodes: readonly PrefixNode[], label: string): PrefixNode => {
  const n = nodes.find((x) => x.label === label);
  assert.ok(n, `no node ${label} in ${nodes.map((x) => x.label).join(', ')}`);
  return n;
};

test('formatIndices compresses runs', () => {
  assert.equal(formatIndices([0, 1, 2, 3, 5, 7, 8, 9]), '0..3,5,7..9');
  assert.equal(formatIndices([4, 5]), '4,5');
  assert.equal(formatIndices([11, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), '0..11');
  assert.equal(formatIndices([]), '');
});

test('twelve identical blocks fold into one node with the shared role list', () => {
  const tree = buildPrefixTree(gpt(12));
  assert.deepEqual(
    tree.map((n) => n.label),
    ['wte.weight', 'blocks.{0..11}', 'ln_f.weight'],
  );
  assert.equal(tree[0].kind, 'tensor');
  const folded = find(tree, 'blocks.{0..11}');
  assert.equal(folded.kind, 'folded');
  assert.equal(folded.id, 'blocks.{0..11}');
  assert.deepEqual(folded.indices, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.equal(folded.tensorCount, 36);
  assert.equal(folded.params, 12 * (12 + 6 + 16));
  assert.deepEqual(
    folded.children.map((c) => c.label),
    ['attn.qkv', 'mlp.fc.weight'],
  );
  const qkv = find(folded.children, 'attn.qkv');
  const w = find(qkv.children, 'weight');
  assert.equal(w.kind, 'role');
  assert.equal(w.instances?.length, 12);
  assert.equal(w.instances?.[11], 'blocks.11.attn.qkv.weight');
  assert.equal(w.tensorName, 'blocks.0.attn.qkv.weight');
});

test('counts add up to the whole checkpoint', () => {
  const tensors = gpt(12);
  const tree = buildPrefixTree(tensors);
  assert.equal(
    tree.reduce((s, n) => s + n.tensorCount, 0),
    tensors.length,
  );
  assert.equal(
    tree.reduce((s, n) => s + n.params, 0),
    tensors.reduce((s, x) => s + x.params, 0),
  );
});

test('blocks with different roles or shapes are not folded together', () => {
  const tensors = [...gpt(4), t('blocks.4.attn.qkv.weight', 12, [6, 2]), t('blocks.5.attn.qkv.weight', 24, [12, 2])];
  const blocks = find(buildPrefixTree(tensors), 'blocks');
  assert.deepEqual(
    blocks.children.map((c) => c.label),
    ['{0..3}', '4.attn.qkv.weight', '5.attn.qkv.weight'],
  );
  assert.equal(blocks.children[1].kind, 'tensor');
});

test('alternating block kinds fold into two groups in index order', () => {
  const tensors: NamedTensor[] = [];
  for (let i = 0; i < 6; i++) tensors.push(t(`layers.${i}.${i % 2 === 0 ? 'attn' : 'mlp'}.weight`));
  const layers = find(buildPrefixTree(tensors), 'layers');
  assert.deepEqual(
    layers.children.map((c) => c.label),
    ['{0,2,4}', '{1,3,5}'],
  );
});

test('nested numbering folds inside folded blocks', () => {
  const tensors: NamedTensor[] = [];
  for (let l = 0; l < 3; l++) for (let e = 0; e < 4; e++) tensors.push(t(`model.layers.${l}.experts.${e}.w1`));
  const tree = buildPrefixTree(tensors);
  assert.equal(tree.length, 1);
  const folded = tree[0];
  assert.equal(folded.label, 'model.layers.{0..2}');
  assert.equal(folded.children[0].label, 'experts.{0..3}');
  assert.equal(folded.children[0].kind, 'folded');
  assert.equal(folded.tensorCount, 12);
});

test('a name that is also a prefix of another keeps both', () => {
  const tree = buildPrefixTree([t('a.b'), t('a.b.c')]);
  const ab = tree[0];
  assert.equal(ab.label, 'a.b');
  assert.equal(ab.kind, 'group');
  assert.equal(ab.tensorName, 'a.b');
  assert.equal(ab.tensorCount, 2);
  assert.equal(ab.children[0].tensorName, 'a.b.c');
});

test("hostile names are kept verbatim (escaping is the renderer's job)", () => {
  const name = '<img src=x onerror=alert(1)>';
  const tree = buildPrefixTree([t(name)]);
  assert.equal(tree[0].tensorName, name);
  assert.equal(tree[0].kind, 'tensor');
});

test('empty segments and leading zeros are not treated as indices', () => {
  const tree = buildPrefixTree([t('x.01.w'), t('x.02.w'), t('y..z')], { compact: false });
  const x = find(tree, 'x');
  assert.deepEqual(
    x.children.map((c) => c.label),
    ['01', '02'],
  );
  const y = find(tree, 'y');
  assert.equal(y.children[0].label, '');
});

test('flattenVisible lists expanded children and role instances', () => {
  const tree = buildPrefixTree(gpt(3));
  const folded = find(tree, 'blocks.{0..2}');
  const mlp = find(folded.children, 'mlp.fc.weight');
  assert.equal(mlp.kind, 'role');
  assert.ok(isExpandable(mlp));
  assert.equal(flattenVisible(tree, new Set()).length, 3);
  const rows = flattenVisible(tree, new Set([folded.id, mlp.id]));
  const instances = rows.filter((r) => r.instance).map((r) => r.instance);
  assert.deepEqual(instances, ['blocks.0.mlp.fc.weight', 'blocks.1.mlp.fc.weight', 'blocks.2.mlp.fc.weight']);
  assert.equal(rows.find((r) => r.instance)?.depth, 2);
});

test('10,000 tensors build quickly', () => {
  const tensors: NamedTensor[] = [];
  for (let i = 0; i < 1000; i++) for (let j = 0; j < 10; j++) tensors.push(t(`model.layers.${i}.proj${j}.weight`));
  const start = performance.now();
  const tree = buildPrefixTree(tensors);
  assert.ok(performance.now() - start < 2000);
  assert.equal(tree[0].label, 'model.layers.{0..999}');
  assert.equal(tree[0].children.length, 10);
  assert.equal(tree[0].tensorCount, 10_000);
});

test('numbered leaf tensors fold and list their instances', () => {
  const tree = buildPrefixTree([t('pos.0'), t('pos.1'), t('pos.2')]);
  assert.equal(tree[0].label, 'pos.{0..2}');
  assert.equal(tree[0].kind, 'folded');
  assert.ok(isExpandable(tree[0]));
  const rows = flattenVisible(tree, new Set([tree[0].id]));
  assert.deepEqual(
    rows.map((r) => r.instance),
    [undefined, 'pos.0', 'pos.1', 'pos.2'],
  );
});

test('every tensor is in the tree exactly once, whatever the order and shape of the names', () => {
  const random = rng(5);
  const parts = ['model', 'layers', '0', '1', '2', '10', 'mlp', 'w', 'weight', 'bias', '', 'x'];
  for (let c = 0; c < 200; c++) {
    const names = new Set<string>();
    const n = 1 + Math.floor(random() * 40);
    while (names.size < n)
      names.add(Array.from({ length: 1 + Math.floor(random() * 5) }, () => parts[Math.floor(random() * parts.length)]).join('.'));
    const tensors = [...names].sort(() => random() - 0.5).map((name) => (random() < 0.8 ? t(name, 4, [2, 2]) : t(name, 5, [5])));
    const tree = buildPrefixTree(tensors);
    // Every tensor: a tensor node, a role instance, or the own tensor of a group or folded block.
    const seen: string[] = [];
    const ids = new Set<string>();
    const walk = (nodes: readonly PrefixNode[]): void => {
      for (const node of nodes) {
        assert.ok(!ids.has(node.id), `id ${node.id} twice`);
        ids.add(node.id);
        if (node.kind === 'role') seen.push(...(node.instances ?? []));
        else if (node.kind === 'folded') {
          if (node.tensorName !== undefined) seen.push(...(node.instances ?? []));
        } else if (node.tensorName !== undefined) seen.push(node.tensorName);
        walk(node.children);
      }
    };
    walk(tree);
    assert.deepEqual(seen.sort(), [...names].sort(), JSON.stringify([...names]));
    assert.equal(
      tree.reduce((s, x) => s + x.tensorCount, 0),
      tensors.length,
    );
    assert.equal(
      tree.reduce((s, x) => s + x.params, 0),
      tensors.reduce((s, x) => s + x.params, 0),
    );
  }
});

test('blocks fold when their roles match whatever order each block lists them in', () => {
  const tree = buildPrefixTree([t('h.0.q'), t('h.0.k'), t('h.1.k'), t('h.1.q')]);
  assert.equal(tree[0].label, 'h.{0,1}');
  assert.deepEqual(
    tree[0].children.map((c) => c.label),
    ['q', 'k'],
  );
  // An empty segment is a segment: `0..w` (0 > "" > w) is not `1.w` (1 > w).
  const odd = buildPrefixTree([t('0..w'), t('1.w')], { compact: false });
  assert.deepEqual(
    odd.map((n) => n.label),
    ['0', '1'],
  );
});

test('a name of 100,000 segments builds without overflowing the stack', () => {
  const deep = Array.from({ length: 100_000 }, (_, i) => `s${i}`).join('.');
  const tree = buildPrefixTree([t(deep), t('other.weight')]);
  assert.equal(tree.length, 2);
  assert.equal(tree[0].tensorCount, 1);
  assert.ok(tree[0].label.endsWith('s99999'));
});

test('numbered blocks written in text order (h.0, h.1, h.10, h.11, h.2) are listed in natural order', () => {
  // Each block its own shape, so none fold: the tree lists every block, h.2 before h.10.
  const names = [0, 1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => t(`transformer.h.${i}.attn.weight`, 4 + i, [2, 2 + i]));
  const tree = buildPrefixTree(names);
  const h = tree[0];
  assert.equal(h.label, 'transformer.h');
  assert.deepEqual(
    h.children.map((c) => c.label),
    ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'].map((i) => `${i}.attn.weight`),
  );
});
