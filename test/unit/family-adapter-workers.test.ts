// One LoRA adapter alone in the workers the extension uses: the dashboard's reconstruction worker
// fits the layer updates and says so (brief, results, and a recast file read back), and the
// inspector's worker draws a factor's spectrum as its layer update's (numpy's singular values);
// with `factors` (the mimicry.adapters.useFactors setting) both keep the stored factors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { reconstructHost } from '../../src/mimicry/worker/reconstruct/client';
import { inspectHost } from '../../src/mimicry/worker/inspect/client';
import { namesOf } from '../../src/mimicry/worker/inspect/tensorColumns';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { updatesNoteOf } from '../../src/mimicry/family/adapterView';
import { tsWorkerEntry } from './helpers/worker-entry';
import { inTempDir } from './helpers/temp-dir';
import { numpyMissing, peftConfig, randomTensor, writeAdapter, type Tensors } from './helpers/family-craft';

const RECONSTRUCT = tsWorkerEntry('src/mimicry/worker/reconstruct/main.ts');
const INSPECT = tsWorkerEntry('src/mimicry/worker/inspect/main.ts');
const MATH = resolve('test/fixtures/real/gpt2-lora-family/math');

function adapter(): Tensors {
  const t: Tensors = {};
  for (let i = 0; i < 4; i++) {
    const p = `base_model.model.model.layers.${i}.self_attn.q_proj`;
    t[`${p}.lora_A.weight`] = randomTensor(10 * i + 1, [2, 12]);
    t[`${p}.lora_B.weight`] = randomTensor(10 * i + 2, [10, 2]);
  }
  return t;
}

test('the dashboard worker fits an adapter by its layer updates and says so, also for the recast file read back', () =>
  inTempDir(async (dir) => {
    const folder = await writeAdapter(join(dir, 'lora'), adapter(), peftConfig());
    const file = join(folder, 'adapter_model.safetensors');
    const model = join(dir, 'lora.recast.safetensors');
    const client = reconstructHost(RECONSTRUCT, file);
    try {
      const brief = await client.open();
      assert.equal(brief.tensorCount, 4);
      assert.equal(
        brief.note,
        'LoRA adapter: its 4 layer updates scale * (lora_B @ lora_A), transposed for fan_in_fan_out are reconstructed, not its factors',
      );
      const data = await client.request('run', { options: { blocksPerGroup: 2, templates: 2 }, spectrumMaxSide: 64 }).done;
      assert.equal(data.note, brief.note);
      assert.deepEqual(
        data.layers.map((l) => l.name),
        [0, 1, 2, 3].map((i) => `model.layers.${i}.self_attn.q_proj.weight`),
      );
      await client.request('export', { kind: 'model', file: model }).done;
    } finally {
      client.dispose();
    }
    const out = await openCheckpoint(model);
    try {
      assert.equal(updatesNoteOf(out.metadata)?.layers, 4);
    } finally {
      await out.close();
    }
    const reader = reconstructHost(RECONSTRUCT, model);
    try {
      assert.equal((await reader.open()).isRecast, true);
      const data = await reader.request('load', { spectrumMaxSide: 64 }).done;
      assert.match(data.note ?? '', /^LoRA adapter: its 4 layer updates/);
    } finally {
      reader.dispose();
    }

    const factors = reconstructHost(RECONSTRUCT, file, undefined, true);
    try {
      const brief = await factors.open();
      assert.equal(brief.tensorCount, 8);
      assert.match(brief.note ?? '', /^LoRA adapter: its stored factors are fitted as separate tensors/);
    } finally {
      factors.dispose();
    }
  }));

test(
  "the inspector's spectrum of a LoRA factor is its layer update's, as numpy's SVD of scale * (B @ A)^T",
  { skip: numpyMissing() },
  async () => {
    const name = 'base_model.model.transformer.h.5.attn.c_attn.lora_B.weight';
    const py = `
import json, importlib.util
import numpy as np
spec = importlib.util.spec_from_file_location("ref", "test/unit/family-reference.py"); ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)
u = ref.peft_updates("${MATH}/adapter_model.safetensors", "${MATH}/adapter_config.json")["transformer.h.5.attn.c_attn"]
print(json.dumps({"shape": list(u.shape), "sv": np.linalg.svd(u, compute_uv=False)[:10].tolist()}))
`;
    const p = spawnSync('python3', ['-c', py], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    const want = JSON.parse(p.stdout) as { shape: number[]; sv: number[] };

    const host = inspectHost(INSPECT, join(MATH, 'adapter_model.safetensors'));
    try {
      const opened = await host.open();
      assert.ok(namesOf(opened.tensors).includes(name)); // the inspector lists the stored tensors
      const s = await host.request('spectrum', { name, spectrumMaxSide: 1024 }).done;
      assert.deepEqual(s.update, {
        module: 'transformer.h.5.attn.c_attn',
        rule: 'scale * (lora_B @ lora_A), transposed for fan_in_fan_out',
      });
      assert.deepEqual([s.rows, s.cols], want.shape);
      assert.equal(s.rank, 8);
      assert.equal(s.singularValues.length, 8);
      s.singularValues.forEach((v, i) => assert.ok(Math.abs(v - want.sv[i]) <= 1e-9 * want.sv[0], `s${i}: ${v} vs ${want.sv[i]}`));
      assert.ok(want.sv[8] < 1e-9 * want.sv[0]); // rank <= r: numpy's further values are rounding
      const a = await host.request('spectrum', { name: name.replace('lora_B', 'lora_A'), spectrumMaxSide: 1024 }).done;
      assert.deepEqual(a.singularValues, s.singularValues);
    } finally {
      host.dispose();
    }

    const factors = inspectHost(INSPECT, join(MATH, 'adapter_model.safetensors'), undefined, true);
    try {
      await factors.open();
      const s = await factors.request('spectrum', { name, spectrumMaxSide: 1024 }).done;
      assert.equal(s.update, undefined);
      assert.deepEqual([s.rows, s.cols], [2304, 8]); // lora_B itself
    } finally {
      factors.dispose();
    }
  },
);
