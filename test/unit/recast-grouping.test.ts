import { ReconstructError } from '../../src/mimicry/recast/errors';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { DType } from '../../src/mimicry/safetensors/types';
import { parseWeightName, planGroups, templatesForRatio, type TensorLike } from '../../src/mimicry/recast/grouping';

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
