// Training snapshots joined as trajectories: by the step of a `checkpoint-N` / `N_adapters` name,
// and a run's final save without a step (PEFT's adapter in the run folder itself, mlx-lm's
// adapters.safetensors beside its numbered ones) after them, in file order; task adapters elsewhere
// are no snapshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { analyzeFamily } from '../../src/mimicry/family/analyze';
import { loadFamily } from '../../src/mimicry/family/members';
import { inTempDir } from './helpers/temp-dir';
import { peftConfig, randomTensor, writeAdapter, type Tensors } from './helpers/family-craft';

function peft(seed: number): Tensors {
  const t: Tensors = {};
  for (let i = 0; i < 2; i++) {
    const p = `base_model.model.model.layers.${i}.self_attn.q_proj`;
    t[`${p}.lora_A.weight`] = randomTensor(seed + i, [2, 5]);
    t[`${p}.lora_B.weight`] = randomTensor(seed + i + 50, [4, 2]);
  }
  return t;
}

function mlx(seed: number): Tensors {
  const t: Tensors = {};
  for (let i = 0; i < 2; i++) {
    t[`model.layers.${i}.self_attn.q_proj.lora_a`] = randomTensor(seed + i, [5, 2]);
    t[`model.layers.${i}.self_attn.q_proj.lora_b`] = randomTensor(seed + i + 50, [2, 4]);
  }
  return t;
}

async function trajectories(paths: string[]) {
  const family = await loadFamily(paths);
  try {
    const report = await analyzeFamily(family);
    return { steps: report.members.map((m) => [m.name, m.step]), trajectories: report.map.trajectories };
  } finally {
    await family.close();
  }
}

test("PEFT: checkpoint-N folders by step, the run folder's own (final) adapter after them; a task adapter is no snapshot", () =>
  inTempDir(async (dir) => {
    const run = join(dir, 'run');
    const paths = [
      await writeAdapter(join(run, 'checkpoint-500'), peft(1), peftConfig()),
      await writeAdapter(run, peft(2), peftConfig()), // the final save, beside its checkpoints
      await writeAdapter(join(run, 'checkpoint-40'), peft(3), peftConfig()),
      await writeAdapter(join(dir, 'math'), peft(4), peftConfig()),
    ];
    const r = await trajectories(paths);
    assert.deepEqual(r.steps, [
      ['checkpoint-500', 500],
      ['run', null],
      ['checkpoint-40', 40],
      ['math', null],
    ]);
    assert.equal(r.trajectories.length, 1);
    assert.deepEqual(r.trajectories[0].members, ['checkpoint-40', 'checkpoint-500', 'run']);
  }));

test('mlx-lm: N_adapters.safetensors by step, then adapters.safetensors of the same folder', () =>
  inTempDir(async (dir) => {
    const config = { fine_tune_type: 'lora', lora_parameters: { rank: 2, scale: 10, dropout: 0 } };
    const folder = join(dir, 'mlx');
    await writeAdapter(folder, mlx(1), config, '0000200_adapters.safetensors');
    await writeAdapter(folder, mlx(2), config, 'adapters.safetensors');
    await writeAdapter(folder, mlx(3), config, '0000100_adapters.safetensors');
    const r = await trajectories(['adapters', '0000200_adapters', '0000100_adapters'].map((f) => join(folder, `${f}.safetensors`)));
    assert.deepEqual(
      r.trajectories.map((t) => t.members),
      [['0000100_adapters', '0000200_adapters', 'mlx']],
    );
  }));
