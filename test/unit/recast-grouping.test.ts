import { ReconstructError } from '../../src/mimicry/recast/errors';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memberWeights } from '../../src/mimicry/recast/paperInit';
import { blocksAndRoles } from '../../src/mimicry/dashboard/layers';
import { readFileSync } from 'node:fs';
import type { DType } from '../../src/mimicry/safetensors/types';
import {
  assignBlocks,
  parseWeightName,
  planGroups,
  templatesForRatio,
  weightNameSplits,
  type TensorLike,
} from '../../src/mimicry/recast/grouping';

const BANK_NAME = /^[A-Za-z0-9._-]+$/;

/** Names, dtypes and shapes straight from a header, independent of the project's reader. */
function headerTensors(file: string): TensorLike[] {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: DType; shape: number[] }>;
  return Object.entries(header)
    .filter(([k]) => k !== '__metadata__')
    .map(([name, v]) => ({ name, dtype: v.dtype, shape: v.shape }));
}

function synth(
  pattern: (i: number, role: string) => string,
  roles: Record<string, number[]>,
  blocks: number,
  extra: TensorLike[] = [],
): TensorLike[] {
  const out: TensorLike[] = [...extra];
  for (let i = 0; i < blocks; i++)
    for (const [role, shape] of Object.entries(roles)) out.push({ name: pattern(i, role), dtype: 'F32', shape });
  return out;
}

test('parseWeightName: block index, prefix and role', () => {
  assert.deepEqual(parseWeightName('blocks.3.mlp.fc1.weight'), { prefix: 'blocks', block: 3, role: 'mlp.fc1' });
  assert.deepEqual(parseWeightName('transformer.h.11.attn.c_attn.weight'), { prefix: 'transformer.h', block: 11, role: 'attn.c_attn' });
  assert.deepEqual(parseWeightName('model.layers.7.self_attn.q_proj.weight'), {
    prefix: 'model.layers',
    block: 7,
    role: 'self_attn.q_proj',
  });
  assert.deepEqual(parseWeightName('base_model.model.transformer.h.2.attn.c_attn.lora_A.weight'), {
    prefix: 'base_model.model.transformer.h',
    block: 2,
    role: 'attn.c_attn.lora_A',
  });
  assert.deepEqual(parseWeightName('model.layers.20.self_attn.q_proj.lora_a'), {
    prefix: 'model.layers',
    block: 20,
    role: 'self_attn.q_proj.lora_a',
  });
  assert.deepEqual(parseWeightName('layers.6.weight'), { prefix: 'layers', block: 6, role: 'layers' });
  assert.deepEqual(parseWeightName('layer2.1.conv1.weight'), { prefix: 'layer2', block: 1, role: 'conv1' });
  assert.equal(parseWeightName('transformer.wte.weight'), null);
  assert.equal(parseWeightName('transformer.h.0.attn.c_attn.bias'), null);
  assert.equal(parseWeightName('layers.4.running_mean'), null);
});

test('real GPT-2 (4 blocks): 4 roles, 2 groups each with the paper default', () => {
  const plan = planGroups(headerTensors('test/fixtures/real/capp-gpt2-4layer.safetensors'));
  assert.deepEqual(plan.roles.map((r) => r.role).sort(), ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']);
  assert.equal(plan.banks.length, 8);
  const fc = plan.banks.find((b) => b.name === 'mlp.c_fc.g1');
  assert.ok(fc);
  assert.deepEqual(fc.members, ['transformer.h.2.mlp.c_fc.weight', 'transformer.h.3.mlp.c_fc.weight']);
  assert.deepEqual(fc.shape, [64, 256]);
  assert.equal(fc.templates, 2);
  assert.equal(fc.sets, 2);
  for (const b of plan.banks) assert.match(b.name, BANK_NAME);
  // biases, layer norms and embeddings pass through; every tensor is in exactly one place
  assert.equal(plan.passthrough.length, 52 - 16);
  assert.ok(plan.passthrough.includes('transformer.wte.weight'));
  assert.ok(plan.passthrough.includes('transformer.h.0.ln_1.weight'));
  const all = [...plan.passthrough, ...plan.banks.flatMap((b) => b.members)].sort();
  assert.equal(new Set(all).size, 52);
});

test('real GPT-2: --modules, groups, exact and one group per role', () => {
  const tensors = headerTensors('test/fixtures/real/capp-gpt2-4layer.safetensors');
  const sel = planGroups(tensors, { modules: ['mlp.c_fc', 'attn.c_attn'], blocksPerGroup: 4, templates: 3 });
  assert.deepEqual(sel.banks.map((b) => b.name).sort(), ['attn.c_attn.g0', 'mlp.c_fc.g0']);
  assert.equal(sel.banks[0].members.length, 4);
  assert.equal(sel.banks[0].templates, 3);
  const exact = planGroups(tensors, { preset: 'exact', blocksPerGroup: 3 });
  const g = exact.banks.filter((b) => b.roles[0] === 'attn.c_proj');
  assert.deepEqual(
    g.map((b) => [b.name, b.members.length, b.templates]),
    [
      ['attn.c_proj.g0', 3, 3],
      ['attn.c_proj.g1', 1, 1],
    ],
  );
  const groups = planGroups(tensors, { groups: 3, modules: ['mlp.c_proj'] });
  assert.deepEqual(
    groups.banks.map((b) => b.blocks),
    [[0, 1], [2], [3]],
  );
  assert.throws(
    () => planGroups(tensors, { modules: ['mlp.fc1'] }),
    (e: unknown) => e instanceof ReconstructError && /mlp\.fc1/.test(e.message) && /mlp\.c_fc/.test(e.message),
  );
});

test('real PEFT LoRA (12 blocks): lora_A and lora_B are separate roles', () => {
  const plan = planGroups(headerTensors('test/fixtures/real/peft-gpt2-lora-12layer.safetensors'));
  assert.deepEqual(plan.roles.map((r) => r.role).sort(), ['attn.c_attn.lora_A', 'attn.c_attn.lora_B']);
  assert.equal(plan.banks.length, 12);
  const b = plan.banks.find((x) => x.name === 'attn.c_attn.lora_B.g5');
  assert.ok(b);
  // block order is numeric, not the header's string order (h.10 after h.9)
  assert.deepEqual(b.members, [
    'base_model.model.transformer.h.10.attn.c_attn.lora_B.weight',
    'base_model.model.transformer.h.11.attn.c_attn.lora_B.weight',
  ]);
  assert.deepEqual(plan.passthrough, ['base_model.model.score.weight']);
});

test('real mlx LoRA (blocks 20..23): lora_a / lora_b roles', () => {
  const plan = planGroups(headerTensors('test/fixtures/real/mlx-qwen05b-lora-4layer.safetensors'), {
    modules: ['self_attn.v_proj.lora_b'],
  });
  assert.deepEqual(
    plan.banks.map((b) => [b.name, b.blocks]),
    [
      ['self_attn.v_proj.lora_b.g0', [20, 21]],
      ['self_attn.v_proj.lora_b.g1', [22, 23]],
    ],
  );
  assert.equal(planGroups(headerTensors('test/fixtures/real/mlx-qwen05b-lora-4layer.safetensors')).roles.length, 4);
});

test('real tinygrad CNN: no two conv kernels share a shape, so nothing is grouped', () => {
  const plan = planGroups(headerTensors('test/fixtures/real/tinygrad-mnist-cnn.safetensors'));
  assert.equal(plan.banks.length, 0);
  assert.equal(plan.passthrough.length, 20);
});

test('synthetic ViT-S: 12 blocks -> 6 groups of 2 per role, fc1 and fc2', () => {
  const t = synth(
    (i, r) => `blocks.${i}.${r}.weight`,
    { 'attn.qkv': [1152, 384], 'attn.proj': [384, 384], 'mlp.fc1': [1536, 384], 'mlp.fc2': [384, 1536] },
    12,
    [
      { name: 'patch_embed.proj.weight', dtype: 'F32', shape: [384, 3, 16, 16] },
      { name: 'blocks.0.norm1.weight', dtype: 'F32', shape: [384] },
    ],
  );
  const plan = planGroups(t, { modules: ['mlp.fc1', 'mlp.fc2'] });
  assert.equal(plan.banks.length, 12);
  assert.deepEqual(
    plan.banks.filter((b) => b.roles[0] === 'mlp.fc1').map((b) => b.name),
    [0, 1, 2, 3, 4, 5].map((g) => `mlp.fc1.g${g}`),
  );
  assert.ok(plan.passthrough.includes('patch_embed.proj.weight'));
});

test('synthetic Llama: shared bank for q_proj and o_proj (equal shape), k/v separate', () => {
  const t = synth(
    (i, r) => `model.layers.${i}.${r}.weight`,
    {
      'self_attn.q_proj': [64, 64],
      'self_attn.k_proj': [16, 64],
      'self_attn.v_proj': [16, 64],
      'self_attn.o_proj': [64, 64],
    },
    4,
  );
  const plan = planGroups(t, { shareRoles: true });
  assert.ok(plan.banks.every((b) => b.roles.length === 2));
  const shared = plan.banks.filter((b) => b.roles.includes('self_attn.q_proj'));
  assert.equal(shared.length, 2);
  assert.equal(shared[0].name, 'self_attn.o_proj-self_attn.q_proj.g0');
  assert.deepEqual(shared[0].members, [
    'model.layers.0.self_attn.o_proj.weight',
    'model.layers.0.self_attn.q_proj.weight',
    'model.layers.1.self_attn.o_proj.weight',
    'model.layers.1.self_attn.q_proj.weight',
  ]);
  assert.deepEqual(shared[0].blocks, [0, 0, 1, 1]);
  // k and v have equal shapes too: shared with each other
  assert.ok(plan.banks.some((b) => b.name === 'self_attn.k_proj-self_attn.v_proj.g1'));
  for (const b of plan.banks) assert.match(b.name, BANK_NAME);
});

test('ResNet-style stages: same role in two stages gets the stage prefix; shapes split banks', () => {
  const t: TensorLike[] = [];
  for (const [stage, blocks, c] of [
    ['layer1', 3, 64],
    ['layer2', 4, 128],
  ] as const) {
    for (let b = 0; b < blocks; b++) {
      t.push({ name: `${stage}.${b}.conv1.weight`, dtype: 'BF16', shape: [c, b === 0 && stage === 'layer2' ? 64 : c, 3, 3] });
      t.push({ name: `${stage}.${b}.conv2.weight`, dtype: 'BF16', shape: [c, c, 3, 3] });
    }
  }
  const plan = planGroups(t, { preset: 'exact', blocksPerGroup: 8 });
  const names = plan.banks.map((b) => b.name).sort();
  assert.deepEqual(names, ['layer1.conv1.g0', 'layer1.conv2.g0', 'layer2.conv1.g0', 'layer2.conv2.g0']);
  const l2c1 = plan.banks.find((b) => b.name === 'layer2.conv1.g0');
  assert.deepEqual(l2c1?.blocks, [1, 2, 3]); // layer2.0.conv1 has another shape: passed through
  assert.equal(l2c1?.dtype, 'BF16');
  assert.ok(plan.passthrough.includes('layer2.0.conv1.weight'));
});

test('compression-ratio presets pick n per bank', () => {
  assert.equal(templatesForRatio(12, 1536 * 384, 2, 4), 3);
  assert.equal(templatesForRatio(12, 1536 * 384, 2, 10), 1);
  assert.equal(templatesForRatio(4, 100, 2, 1), 4);
  const t = synth((i, r) => `blocks.${i}.${r}.weight`, { 'mlp.fc1': [1536, 384] }, 12);
  const p4 = planGroups(t, { preset: '4x' });
  assert.equal(p4.banks.length, 1);
  assert.equal(p4.banks[0].templates, 3);
  assert.equal(planGroups(t, { preset: '2x' }).banks[0].templates, 6);
  // an explicit n wins over a preset's ratio
  assert.equal(planGroups(t, { preset: '4x', templates: 5 }).banks[0].templates, 5);
  assert.throws(() => planGroups(t, { blocksPerGroup: 0 }), ReconstructError);
  assert.throws(() => planGroups(t, { sets: 1.5 }), ReconstructError);
});

// --- architectures: tensor names as the public Hugging Face checkpoints spell them, small shapes ---

type Spec = readonly [name: string, shape: readonly number[]];

function tensorsOf(specs: readonly Spec[], dtype: DType = 'BF16'): TensorLike[] {
  return specs.map(([name, shape]) => ({ name, dtype, shape: [...shape] }));
}

/** T5 (t5-small's layout, `T5ForConditionalGeneration`), or Flan-T5 (T5 v1.1: gated `wi_0`/`wi_1`, an own lm_head). */
function t5(blocks: number, flan: boolean): TensorLike[] {
  const d = 8;
  const inner = flan ? 6 : 8; // heads x d_kv
  const ff = 16;
  const out: Spec[] = [['shared.weight', [32, d]]];
  const attention = (p: string, kind: 'SelfAttention' | 'EncDecAttention', first: boolean): Spec[] => [
    [`${p}.${kind}.q.weight`, [inner, d]],
    [`${p}.${kind}.k.weight`, [inner, d]],
    [`${p}.${kind}.v.weight`, [inner, d]],
    [`${p}.${kind}.o.weight`, [d, inner]],
    ...(first && kind === 'SelfAttention' ? ([[`${p}.${kind}.relative_attention_bias.weight`, [32, 6]]] as Spec[]) : []),
    [`${p}.layer_norm.weight`, [d]],
  ];
  const mlp = (p: string): Spec[] => [
    ...((flan
      ? [
          [`${p}.DenseReluDense.wi_0.weight`, [ff, d]],
          [`${p}.DenseReluDense.wi_1.weight`, [ff, d]],
        ]
      : [[`${p}.DenseReluDense.wi.weight`, [ff, d]]]) as Spec[]),
    [`${p}.DenseReluDense.wo.weight`, [d, ff]],
    [`${p}.layer_norm.weight`, [d]],
  ];
  for (let i = 0; i < blocks; i++)
    out.push(...attention(`encoder.block.${i}.layer.0`, 'SelfAttention', i === 0), ...mlp(`encoder.block.${i}.layer.1`));
  out.push(['encoder.final_layer_norm.weight', [d]]);
  for (let i = 0; i < blocks; i++) {
    out.push(
      ...attention(`decoder.block.${i}.layer.0`, 'SelfAttention', i === 0),
      ...attention(`decoder.block.${i}.layer.1`, 'EncDecAttention', i === 0),
      ...mlp(`decoder.block.${i}.layer.2`),
    );
  }
  out.push(['decoder.final_layer_norm.weight', [d]]);
  if (flan) out.push(['lm_head.weight', [32, d]]);
  return tensorsOf(out, 'F32');
}

/** Mixtral-8x7B's layout (`MixtralForCausalLM`): attention, a router and `experts` MLPs per layer. */
function mixtral(layers: number, experts: number): TensorLike[] {
  const d = 8;
  const ff = 16;
  const kv = 4;
  const out: Spec[] = [['model.embed_tokens.weight', [32, d]]];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    out.push(
      [`${p}.self_attn.q_proj.weight`, [d, d]],
      [`${p}.self_attn.k_proj.weight`, [kv, d]],
      [`${p}.self_attn.v_proj.weight`, [kv, d]],
      [`${p}.self_attn.o_proj.weight`, [d, d]],
      [`${p}.block_sparse_moe.gate.weight`, [experts, d]],
    );
    for (let e = 0; e < experts; e++) {
      out.push(
        [`${p}.block_sparse_moe.experts.${e}.w1.weight`, [ff, d]],
        [`${p}.block_sparse_moe.experts.${e}.w2.weight`, [d, ff]],
        [`${p}.block_sparse_moe.experts.${e}.w3.weight`, [ff, d]],
      );
    }
    out.push([`${p}.input_layernorm.weight`, [d]], [`${p}.post_attention_layernorm.weight`, [d]]);
  }
  out.push(['model.norm.weight', [d]], ['lm_head.weight', [32, d]]);
  return tensorsOf(out);
}

function roleSummary(plan: ReturnType<typeof planGroups>): string[] {
  return plan.roles.map((r) => `${r.prefix} | ${r.role} | ${r.blocks.join(',')}`).sort();
}

test('T5: the block index is found past the sub-layer index (encoder.block.{i}.layer.{j})', () => {
  const tensors = t5(3, false);
  const plan = planGroups(tensors, { blocksPerGroup: 3 });
  const roles = ['q', 'k', 'v', 'o'];
  assert.deepEqual(
    roleSummary(plan),
    [
      ...['layer.0.SelfAttention', 'layer.1.EncDecAttention'].flatMap((a) => roles.map((r) => `decoder.block | ${a}.${r} | 0,1,2`)),
      'decoder.block | layer.2.DenseReluDense.wi | 0,1,2',
      'decoder.block | layer.2.DenseReluDense.wo | 0,1,2',
      ...roles.map((r) => `encoder.block | layer.0.SelfAttention.${r} | 0,1,2`),
      'encoder.block | layer.1.DenseReluDense.wi | 0,1,2',
      'encoder.block | layer.1.DenseReluDense.wo | 0,1,2',
    ].sort(),
  );
  const wi = plan.banks.find((b) => b.prefix === 'encoder.block' && b.roles[0] === 'layer.1.DenseReluDense.wi');
  assert.deepEqual(
    wi?.members,
    [0, 1, 2].map((i) => `encoder.block.${i}.layer.1.DenseReluDense.wi.weight`),
  );
  assert.deepEqual(wi?.blocks, [0, 1, 2]);
  assert.deepEqual(wi?.memberRoles, ['layer.1.DenseReluDense.wi', 'layer.1.DenseReluDense.wi', 'layer.1.DenseReluDense.wi']);
  // The same role name in the encoder and the decoder: bank names carry the prefix.
  const names = plan.banks.map((b) => b.name);
  assert.ok(names.includes('encoder.block.layer.0.SelfAttention.q.g0'));
  assert.ok(names.includes('decoder.block.layer.0.SelfAttention.q.g0'));
  assert.ok(names.includes('layer.1.EncDecAttention.q.g0'));
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.match(n, BANK_NAME);
  // Only block 0 has the relative attention bias: it is copied, as are norms and embeddings.
  assert.ok(plan.passthrough.includes('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'));
  assert.ok(plan.passthrough.includes('shared.weight'));
  assert.equal(plan.passthrough.length + plan.banks.reduce((s, b) => s + b.members.length, 0), tensors.length);
  // A role selects both stacks; prefix.role one of them.
  const q = planGroups(tensors, { modules: ['layer.0.SelfAttention.q'] });
  assert.deepEqual(q.banks.map((b) => b.prefix).sort(), ['decoder.block', 'decoder.block', 'encoder.block', 'encoder.block']);
  const enc = planGroups(tensors, { modules: ['encoder.block.layer.1.DenseReluDense.wo'], groups: 1 });
  assert.deepEqual(
    enc.banks.map((b) => [b.name, b.members.length]),
    [['layer.1.DenseReluDense.wo.g0', 3]],
  );
});

test('Flan-T5: gated wi_0 / wi_1 are roles of their own, and share a bank with --share-roles', () => {
  const tensors = t5(4, true);
  const plan = planGroups(tensors);
  const encoder = plan.roles.filter((r) => r.prefix === 'encoder.block').map((r) => `${r.role} ${r.shape.join('x')}`);
  assert.deepEqual(encoder.sort(), [
    'layer.0.SelfAttention.k 6x8',
    'layer.0.SelfAttention.o 8x6',
    'layer.0.SelfAttention.q 6x8',
    'layer.0.SelfAttention.v 6x8',
    'layer.1.DenseReluDense.wi_0 16x8',
    'layer.1.DenseReluDense.wi_1 16x8',
    'layer.1.DenseReluDense.wo 8x16',
  ]);
  assert.ok(plan.passthrough.includes('lm_head.weight'));
  const shared = planGroups(tensors, { shareRoles: true, modules: ['layer.2.DenseReluDense.wi_0', 'layer.2.DenseReluDense.wi_1'] });
  assert.deepEqual(
    shared.banks.map((b) => [b.name, b.members.length]),
    [
      ['layer.2.DenseReluDense.wi_0-layer.2.DenseReluDense.wi_1.g0', 4],
      ['layer.2.DenseReluDense.wi_0-layer.2.DenseReluDense.wi_1.g1', 4],
    ],
  );
  assert.deepEqual(shared.banks[0].memberRoles, [
    'layer.2.DenseReluDense.wi_0',
    'layer.2.DenseReluDense.wi_1',
    'layer.2.DenseReluDense.wi_0',
    'layer.2.DenseReluDense.wi_1',
  ]);
  assert.deepEqual(shared.banks[0].blocks, [0, 0, 1, 1]);
});

test('Mixtral: the experts of one layer form the group by default; blockIndex outer groups one expert slot across layers', () => {
  const tensors = mixtral(4, 4);
  const plan = planGroups(tensors, { groups: 1 });
  const experts = plan.roles.filter((r) => r.prefix.endsWith('.block_sparse_moe.experts'));
  assert.equal(experts.length, 4 * 3); // w1, w2, w3 in each of 4 layers
  const w1 = plan.banks.find((b) => b.name === 'model.layers.2.block_sparse_moe.experts.w1.g0');
  assert.deepEqual(
    w1?.members,
    [0, 1, 2, 3].map((e) => `model.layers.2.block_sparse_moe.experts.${e}.w1.weight`),
  );
  assert.deepEqual(w1?.blocks, [0, 1, 2, 3]);
  // Attention and the router repeat across layers.
  assert.deepEqual(
    plan.roles.filter((r) => r.prefix === 'model.layers').map((r) => `${r.role} ${r.blocks.join(',')}`),
    ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'block_sparse_moe.gate'].map((r) => `${r} 0,1,2,3`),
  );
  // The paper's 2 blocks per group: experts {0,1} and {2,3} of each layer.
  const paper = planGroups(tensors, { modules: ['w2'] });
  assert.equal(paper.banks.length, 4 * 2);
  assert.deepEqual(paper.banks.find((b) => b.name === 'model.layers.0.block_sparse_moe.experts.w2.g1')?.blocks, [2, 3]);

  const across = planGroups(tensors, { blockIndex: 'outer', groups: 1 });
  const slot = across.banks.find((b) => b.roles[0] === 'block_sparse_moe.experts.3.w3');
  assert.deepEqual(
    slot?.members,
    [0, 1, 2, 3].map((l) => `model.layers.${l}.block_sparse_moe.experts.3.w3.weight`),
  );
  assert.deepEqual(slot?.blocks, [0, 1, 2, 3]);
  assert.equal(across.roles.length, 5 + 4 * 3);
  assert.throws(() => planGroups(tensors, { blockIndex: 'middle' as 'inner' }), ReconstructError);
});

test('Gemma (2b layout, multi-query attention) and Gemma 2 (extra norms): the LLaMA-style roles', () => {
  for (const gemma2 of [false, true]) {
    const specs: Spec[] = [['model.embed_tokens.weight', [64, 8]]];
    for (let i = 0; i < 4; i++) {
      const p = `model.layers.${i}`;
      specs.push(
        [`${p}.self_attn.q_proj.weight`, [8, 8]],
        [`${p}.self_attn.k_proj.weight`, [4, 8]], // one key/value head
        [`${p}.self_attn.v_proj.weight`, [4, 8]],
        [`${p}.self_attn.o_proj.weight`, [8, 8]],
        [`${p}.mlp.gate_proj.weight`, [32, 8]],
        [`${p}.mlp.up_proj.weight`, [32, 8]],
        [`${p}.mlp.down_proj.weight`, [8, 32]],
        [`${p}.input_layernorm.weight`, [8]],
        [`${p}.post_attention_layernorm.weight`, [8]],
      );
      if (gemma2) specs.push([`${p}.pre_feedforward_layernorm.weight`, [8]], [`${p}.post_feedforward_layernorm.weight`, [8]]);
    }
    specs.push(['model.norm.weight', [8]]);
    const plan = planGroups(tensorsOf(specs));
    assert.deepEqual(
      plan.roles.map((r) => r.role),
      ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'],
    );
    assert.ok(plan.roles.every((r) => r.prefix === 'model.layers' && r.blocks.join() === '0,1,2,3'));
    assert.equal(plan.banks.length, 7 * 2);
    assert.equal(plan.passthrough.length, specs.length - 7 * 4);
  }
});

test('Phi-2 (dense, fc1/fc2, biases) and Phi-3 (fused qkv_proj and gate_up_proj)', () => {
  const phi2: Spec[] = [['model.embed_tokens.weight', [64, 8]]];
  for (let i = 0; i < 4; i++) {
    const p = `model.layers.${i}`;
    for (const r of ['q_proj', 'k_proj', 'v_proj', 'dense'])
      phi2.push([`${p}.self_attn.${r}.weight`, [8, 8]], [`${p}.self_attn.${r}.bias`, [8]]);
    phi2.push(
      [`${p}.mlp.fc1.weight`, [32, 8]],
      [`${p}.mlp.fc1.bias`, [32]],
      [`${p}.mlp.fc2.weight`, [8, 32]],
      [`${p}.mlp.fc2.bias`, [8]],
      [`${p}.input_layernorm.weight`, [8]],
      [`${p}.input_layernorm.bias`, [8]],
    );
  }
  phi2.push(
    ['model.final_layernorm.weight', [8]],
    ['model.final_layernorm.bias', [8]],
    ['lm_head.weight', [64, 8]],
    ['lm_head.bias', [64]],
  );
  const p2 = planGroups(tensorsOf(phi2, 'F16'));
  assert.deepEqual(
    p2.roles.map((r) => r.role),
    ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.dense', 'mlp.fc1', 'mlp.fc2'],
  );
  // q, k, v and dense are all 8 x 8: with --share-roles one bank per group holds the four.
  const shared = planGroups(tensorsOf(phi2, 'F16'), { shareRoles: true, groups: 1 });
  assert.deepEqual(
    shared.banks.map((b) => [b.name, b.members.length]),
    [
      ['self_attn.dense-self_attn.k_proj-self_attn.q_proj-self_attn.v_proj.g0', 16],
      ['mlp.fc1.g0', 4],
      ['mlp.fc2.g0', 4],
    ],
  );

  const phi3: Spec[] = [['model.embed_tokens.weight', [64, 8]]];
  for (let i = 0; i < 6; i++) {
    const p = `model.layers.${i}`;
    phi3.push(
      [`${p}.self_attn.qkv_proj.weight`, [24, 8]],
      [`${p}.self_attn.o_proj.weight`, [8, 8]],
      [`${p}.mlp.gate_up_proj.weight`, [64, 8]],
      [`${p}.mlp.down_proj.weight`, [8, 32]],
      [`${p}.input_layernorm.weight`, [8]],
      [`${p}.post_attention_layernorm.weight`, [8]],
    );
  }
  phi3.push(['model.norm.weight', [8]], ['lm_head.weight', [64, 8]]);
  const p3 = planGroups(tensorsOf(phi3), { blocksPerGroup: 3 });
  assert.deepEqual(
    p3.banks.map((b) => [b.name, b.blocks.join(',')]),
    [
      ['self_attn.qkv_proj.g0', '0,1,2'],
      ['self_attn.qkv_proj.g1', '3,4,5'],
      ['self_attn.o_proj.g0', '0,1,2'],
      ['self_attn.o_proj.g1', '3,4,5'],
      ['mlp.gate_up_proj.g0', '0,1,2'],
      ['mlp.gate_up_proj.g1', '3,4,5'],
      ['mlp.down_proj.g0', '0,1,2'],
      ['mlp.down_proj.g1', '3,4,5'],
    ],
  );
});

test('Swin-style stages: the inner index (blocks in a stage) stays the block; outer groups a block slot across stages', () => {
  const t: TensorLike[] = [];
  for (let s = 0; s < 2; s++)
    for (let b = 0; b < 2; b++) t.push({ name: `layers.${s}.blocks.${b}.attn.qkv.weight`, dtype: 'F32', shape: [12, 4] });
  assert.deepEqual(roleSummary(planGroups(t)), ['layers.0.blocks | attn.qkv | 0,1', 'layers.1.blocks | attn.qkv | 0,1']);
  assert.deepEqual(roleSummary(planGroups(t, { blockIndex: 'outer' })), [
    'layers | blocks.0.attn.qkv | 0,1',
    'layers | blocks.1.attn.qkv | 0,1',
  ]);
});

test('assignBlocks reads names against each other, with or without shapes', () => {
  const names = [0, 1, 2].flatMap((i) => [
    { name: `encoder.block.${i}.layer.0.SelfAttention.q.weight` },
    { name: `encoder.block.${i}.layer.1.DenseReluDense.wi.weight` },
  ]);
  const placed = assignBlocks(names);
  assert.deepEqual(placed.get('encoder.block.2.layer.1.DenseReluDense.wi.weight'), {
    prefix: 'encoder.block',
    block: 2,
    role: 'layer.1.DenseReluDense.wi',
  });
  // A name alone has nothing to be read against: its innermost index.
  assert.deepEqual(parseWeightName('encoder.block.2.layer.1.DenseReluDense.wi.weight'), {
    prefix: 'encoder.block.2.layer',
    block: 1,
    role: 'DenseReluDense.wi',
  });
  assert.deepEqual(
    weightNameSplits('model.layers.5.block_sparse_moe.experts.7.w1.weight').map((p) => [p.prefix, p.block, p.role]),
    [
      ['model.layers.5.block_sparse_moe.experts', 7, 'w1'],
      ['model.layers', 5, 'block_sparse_moe.experts.7.w1'],
    ],
  );
});

test('--modules that match nothing: the refusal lists the roles found, with their prefixes when there are several', () => {
  const refusal = (tensors: TensorLike[], modules: string[]): string => {
    try {
      planGroups(tensors, { modules });
    } catch (e) {
      assert.ok(e instanceof ReconstructError);
      assert.equal(e.rule, 'unknown-module');
      return e.message;
    }
    assert.fail('expected a refusal');
  };
  const moe = refusal(mixtral(3, 4), ['experts.w1']);
  assert.match(moe, /"experts\.w1" matches nothing/);
  assert.match(moe, /w1 \(3 prefixes: model\.layers\.0\.block_sparse_moe\.experts, \.\.\.\)/);
  assert.match(moe, /self_attn\.q_proj, /);
  const t5Message = refusal(t5(2, false), ['SelfAttention.q', 'wo']);
  assert.match(t5Message, /"SelfAttention\.q", "wo" match nothing/);
  assert.match(t5Message, /layer\.0\.SelfAttention\.q \(2 prefixes: encoder\.block, \.\.\.\)/);
  assert.match(t5Message, /layer\.1\.EncDecAttention\.k(,|$)/);
  assert.match(
    refusal(headerTensors('test/fixtures/real/tinygrad-mnist-cnn.safetensors'), ['conv1']),
    /roles in this checkpoint: \(none: /,
  );
});

// A time limit only as a guard against a hang: splitting at every part would take minutes.
test('a name of 100,000 numbered parts is read in linear time (at most 8 candidates)', { timeout: 60_000 }, () => {
  const deep = `${Array.from({ length: 100_000 }, (_, i) => String(i)).join('.')}.weight`;
  const splits = weightNameSplits(deep);
  assert.equal(splits.length, 8);
  assert.equal(splits[0].block, 99_999);
  assert.equal(weightNameSplits(deep, true)[0].block, 0);
  const plan = planGroups([
    { name: deep, dtype: 'F32', shape: [2, 2] },
    { name: deep.replace(/^0\./, '1.'), dtype: 'F32', shape: [2, 2] },
  ]);
  assert.equal(plan.banks.length, 0);
});

test('T5: module weights and the dashboard read each member by its role in the grouping, not by its innermost index', () => {
  const tensors = t5(2, false);
  const plan = planGroups(tensors, { modules: ['layer.1.DenseReluDense.wi', 'layer.1.EncDecAttention.q'] });
  const bank = plan.banks.find((b) => b.prefix === 'decoder.block' && b.roles.includes('layer.1.EncDecAttention.q'));
  assert.ok(bank, 'a decoder bank');
  const weights = memberWeights(bank, { 'layer.1.EncDecAttention.q': 3 });
  assert.deepEqual(
    [...weights],
    bank.memberRoles.map((r) => (r === 'layer.1.EncDecAttention.q' ? 3 : 1)),
  );
  assert.ok(weights.includes(3));
  const names = tensors.map((t) => t.name);
  const of = blocksAndRoles(names);
  assert.deepEqual(of('decoder.block.1.layer.1.EncDecAttention.q.weight'), { block: 1, role: 'layer.1.EncDecAttention.q' });
  assert.deepEqual(of('encoder.block.0.layer.1.DenseReluDense.wi.weight'), { block: 0, role: 'layer.1.DenseReluDense.wi' });
});
