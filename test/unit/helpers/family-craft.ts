// Small adapters and checkpoints for the family tests: PEFT and mlx-lm adapter folders (safetensors
// plus adapter_config.json) and full checkpoints, written with the project's writer.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeSafetensors } from '../../../src/mimicry/safetensors/writer';
import { encodeF32 } from '../../../src/mimicry/safetensors/dtypes';
import { rng } from './rng';

export type Tensors = Record<string, { shape: number[]; values: ArrayLike<number> }>;

/** Normal-ish values (sum of uniforms) from a seed, scaled. */
export function randomValues(seed: number, count: number, scale = 1): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: count }, () => (r() + r() + r() - 1.5) * scale);
}

/** `shape`-filled random tensor. */
export function randomTensor(seed: number, shape: number[], scale = 1): { shape: number[]; values: Float64Array } {
  return {
    shape,
    values: randomValues(
      seed,
      shape.reduce((a, b) => a * b, 1),
      scale,
    ),
  };
}

export async function writeTensors(file: string, tensors: Tensors): Promise<string> {
  await writeSafetensors(
    file,
    Object.entries(tensors).map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: encodeF32(t.values) })),
  );
  return file;
}

/** A folder `dir` holding `file` (adapter_model.safetensors by default) and, unless null, adapter_config.json. */
export async function writeAdapter(
  dir: string,
  tensors: Tensors,
  config: object | null,
  file = 'adapter_model.safetensors',
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await writeTensors(join(dir, file), tensors);
  if (config) writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config, null, 2));
  return dir;
}

/** A PEFT config with LoRA defaults and `extra` over them. */
export function peftConfig(extra: object = {}): object {
  return {
    peft_type: 'LORA',
    base_model_name_or_path: 'tiny-base',
    r: 2,
    lora_alpha: 4,
    fan_in_fan_out: false,
    use_rslora: false,
    use_dora: false,
    rank_pattern: {},
    alpha_pattern: {},
    target_modules: ['q_proj', 'v_proj'],
    ...extra,
  };
}

export function numpyMissing(): string | false {
  const r = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  if (r.error) return `python3 is not available (${r.error.message})`;
  if (r.status !== 0) return 'numpy is not installed for python3';
  return false;
}
