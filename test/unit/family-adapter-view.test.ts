// One LoRA adapter alone (docs/RECAST.md section 6.7): reconstruction, its curve and metrics read the
// adapter's layer updates scale * (B @ A), as numpy computes them from the factors, by default;
// --factors keeps the stored factors; the project's own outputs are never read as adapters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { adapterUpdateView, openFitSource, UPDATES_METADATA_KEY, updatesNoteOf } from '../../src/mimicry/family/adapterView';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { decode } from '../../src/mimicry/safetensors/dtypes';
import { inTempDir } from './helpers/temp-dir';
import { numpyMissing, peftConfig, randomTensor, writeAdapter, type Tensors } from './helpers/family-craft';
import { cli } from './helpers/cli-in-process';

const MATH = 'test/fixtures/real/gpt2-lora-family/math';

/** numpy's updates of an adapter folder: {module: [shape, flattened values]} (family-reference.py). */
function numpyUpdates(folder: string, file: string, kind: 'peft' | 'mlx'): Record<string, { shape: number[]; values: number[] }> {
  const py = `
import json, sys, importlib.util
spec = importlib.util.spec_from_file_location("ref", "test/unit/family-reference.py"); ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)
fn = ref.peft_updates if sys.argv[3] == "peft" else ref.mlx_updates
u = fn(sys.argv[1] + "/" + sys.argv[2], sys.argv[1] + "/adapter_config.json")
print(json.dumps({k: {"shape": list(v.shape), "values": v.ravel().tolist()} for k, v in u.items()}))
`;
  const p = spawnSync('python3', ['-c', py, folder, file, kind], { encoding: 'utf8', maxBuffer: 1 << 30 });
  assert.equal(p.status, 0, p.stderr);
  return JSON.parse(p.stdout) as Record<string, { shape: number[]; values: number[] }>;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, what);
  let top = 0;
  for (let i = 0; i < want.length; i++) top = Math.max(top, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-6 * top, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

/** GPT-2 style Conv1D (fan_in_fan_out) PEFT adapter with rsLoRA and a saved head, 2 blocks. */
function gpt2Adapter(): Tensors {
  const t: Tensors = {};
  for (let i = 0; i < 2; i++) {
    const p = `base_model.model.transformer.h.${i}`;
    t[`${p}.attn.c_attn.lora_A.weight`] = randomTensor(10 * i + 1, [3, 6]); // r x in
    t[`${p}.attn.c_attn.lora_B.weight`] = randomTensor(10 * i + 2, [9, 3]); // out x r
  }
  t['base_model.model.score.weight'] = randomTensor(99, [2, 6]);
  return t;
}

test(
  'the update view: F32 <module>.weight tensors in the stored orientation, read whole, in ranges and in chunks, as numpy',
  { skip: numpyMissing() },
  () =>
    inTempDir(async (dir) => {
      const folder = await writeAdapter(
        join(dir, 'a'),
        gpt2Adapter(),
        peftConfig({ r: 3, lora_alpha: 5, use_rslora: true, fan_in_fan_out: true }),
      );
      const want = numpyUpdates(folder, 'adapter_model.safetensors', 'peft');
      const { checkpoint: view, note } = await openFitSource(join(folder, 'adapter_model.safetensors'));
      assert.match(note ?? '', /^LoRA adapter: its 2 layer updates scale \* \(lora_B @ lora_A\)/);
      try {
        assert.deepEqual(
          view.tensors.map((t) => [t.name, t.dtype, t.shape]),
          [
            ['transformer.h.0.attn.c_attn.weight', 'F32', [6, 9]],
            ['transformer.h.1.attn.c_attn.weight', 'F32', [6, 9]],
            ['base_model.model.score.weight', 'F32', [2, 6]], // not a factor: passed through as stored
          ],
        );
        assert.deepEqual(updatesNoteOf(view.metadata), {
          kind: 'peft-lora',
          rule: 'scale * (lora_B @ lora_A), transposed for fan_in_fan_out',
          layers: 2,
          tensors: 5,
        });
        for (const module of ['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']) {
          const t = view.tensor(`${module}.weight`);
          assert.ok(t);
          assert.deepEqual([...t.shape], want[module].shape);
          assertClose(await view.readValues(t), want[module].values, module);
          const part = decode('F32', await view.readBytes(t, 4 * 7, 4 * 31)); // rows 0..3, not aligned to rows
          assertClose(part, want[module].values.slice(7, 31), `${module} bytes [28, 124)`);
          const chunks: number[] = [];
          for await (const c of view.chunks(t, 5)) chunks.push(...c);
          assertClose(chunks, want[module].values, `${module} in chunks`);
        }
      } finally {
        await view.close();
      }
      // --factors: the stored tensors
      const { checkpoint: plain } = await openFitSource(join(folder, 'adapter_model.safetensors'), { factors: true });
      try {
        assert.equal(plain.tensors.length, 5);
        assert.equal(plain.metadata[UPDATES_METADATA_KEY], undefined);
      } finally {
        await plain.close();
      }
    }),
);

test('an mlx-lm adapter alone: scale * (lora_a @ lora_b)^T, as numpy', { skip: numpyMissing() }, () =>
  inTempDir(async (dir) => {
    const t: Tensors = {
      'model.layers.0.self_attn.q_proj.lora_a': randomTensor(1, [6, 4]),
      'model.layers.0.self_attn.q_proj.lora_b': randomTensor(2, [4, 8]),
    };
    const folder = await writeAdapter(
      join(dir, 'mlx'),
      t,
      { fine_tune_type: 'lora', lora_parameters: { rank: 4, scale: 20, dropout: 0 } },
      'adapters.safetensors',
    );
    const want = numpyUpdates(folder, 'adapters.safetensors', 'mlx');
    const { checkpoint: view } = await openFitSource(join(folder, 'adapters.safetensors'));
    try {
      const info = view.tensor('model.layers.0.self_attn.q_proj.weight');
      assert.ok(info);
      assert.deepEqual(info.shape, [8, 6]);
      assertClose(await view.readValues(info), want['model.layers.0.self_attn.q_proj'].values, 'q_proj');
    } finally {
      await view.close();
    }
  }),
);

test(
  "reconstruct on a real GPT-2 adapter fits its 36 layer updates (said on stderr); the dense rebuild is numpy's update",
  { skip: numpyMissing() },
  () =>
    inTempDir(async (dir) => {
      const out = join(dir, 'math.recast.safetensors');
      const r = await cli(['reconstruct', join(MATH, 'adapter_model.safetensors'), '--out', out, '--preset', 'exact', '--json']);
      assert.equal(r.code, 0, r.err);
      assert.equal(
        r.err,
        'mimicry: LoRA adapter: its 36 layer updates scale * (lora_B @ lora_A), transposed for fan_in_fan_out are reconstructed, not its factors\n',
      );
      const recast = await openCheckpoint(out);
      try {
        const banks = JSON.parse(recast.metadata['recast.banks']) as Record<string, { members: string[]; shape: number[] }>;
        assert.deepEqual(banks['attn.c_attn.g0'], {
          ...banks['attn.c_attn.g0'],
          members: ['transformer.h.0.attn.c_attn.weight', 'transformer.h.1.attn.c_attn.weight'],
          shape: [768, 2304],
        });
        assert.ok(Object.keys(banks).every((b) => !b.includes('lora')));
        assert.equal(updatesNoteOf(recast.metadata)?.layers, 36);
      } finally {
        await recast.close();
      }
      // The rebuilt update of one layer against numpy's scale * (B @ A)^T.
      const py = `
import json, sys, importlib.util
import numpy as np
def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); return m
loader = load("loader", "test/unit/recast-python-loader.py"); ref = load("ref", "test/unit/family-reference.py")
want = ref.peft_updates(sys.argv[1] + "/adapter_model.safetensors", sys.argv[1] + "/adapter_config.json")
state = loader.load_recast(sys.argv[2])
err = max(float(np.abs(state[k + ".weight"] - w).max() / np.abs(w).max()) for k, w in want.items())
print(json.dumps({"layers": len(want), "tensors": len(state), "err": err}))
`;
      const p = spawnSync('python3', ['-c', py, MATH, out], { encoding: 'utf8' });
      assert.equal(p.status, 0, p.stderr);
      const ref = JSON.parse(p.stdout) as { layers: number; tensors: number; err: number };
      assert.equal(ref.layers, 36);
      assert.equal(ref.tensors, 36);
      assert.ok(ref.err < 1e-5, `max relative error ${ref.err}`);

      // metrics --source compares with the same view of the adapter.
      const m = await cli(['metrics', out, '--source', join(MATH, 'adapter_model.safetensors'), '--json']);
      assert.equal(m.code, 0, m.err);
      const recomputed = (JSON.parse(m.out) as { recomputed: { cosine: number }[] }).recomputed;
      assert.equal(recomputed.length, 36);
      assert.ok(recomputed.every((l) => l.cosine > 0.99999));
    }),
);

test('reconstruct --factors and curve --factors keep the stored factors as tensors (labelled lora_A / lora_B banks)', () =>
  inTempDir(async (dir) => {
    const out = join(dir, 'f.recast.safetensors');
    const r = await cli(['reconstruct', join(MATH, 'adapter_model.safetensors'), '--factors', '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.err,
      'mimicry: LoRA adapter: its stored factors are fitted as separate tensors, defined only up to an invertible r x r change (--factors)\n',
    );
    assert.match(r.out, /^reconstructed 72 layers in 36 banks/m);
    const recast = await openCheckpoint(out);
    try {
      const banks = JSON.parse(recast.metadata['recast.banks']) as Record<string, { members: string[] }>;
      assert.ok('attn.c_attn.lora_A.g0' in banks);
      assert.equal(updatesNoteOf(recast.metadata), null);
      // The project's own output is never read as an adapter, though its names end in .lora_A.weight.
      assert.equal(await adapterUpdateView(recast), null);
    } finally {
      await recast.close();
    }
    const c = await cli(['curve', join(MATH, 'adapter_model.safetensors'), '--json']);
    assert.equal(c.code, 0, c.err);
    assert.match(c.err, /^mimicry: LoRA adapter: its 36 layer updates/);
    const f = await cli(['curve', join(MATH, 'adapter_model.safetensors'), '--factors', '--json']);
    assert.equal(f.code, 0, f.err);
    assert.match(f.err, /^mimicry: LoRA adapter: its stored factors are fitted as separate tensors.* \(--factors\)\n$/);
    assert.ok(f.out.includes('lora_A') && !c.out.includes('lora_A'));
  }));

test('LoRA factors without an adapter_config.json beside them are fitted as stored, and the CLI says why', () =>
  inTempDir(async (dir) => {
    const folder = await writeAdapter(join(dir, 'noconf'), gpt2Adapter(), null);
    const r = await cli(['reconstruct', join(folder, 'adapter_model.safetensors'), '--out', join(dir, 'x.safetensors')]);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.err,
      "mimicry: LoRA adapter: its stored factors are fitted as separate tensors, defined only up to an invertible r x r change: no adapter_config.json beside it gives the updates' scale\n",
    );
    assert.match(r.out, /^reconstructed 4 layers/m);
  }));

test('inspect --spectra on an adapter: a factor has its layer update spectrum (spectrumOf), --factors its own', async () => {
  const file = join(MATH, 'adapter_model.safetensors');
  const name = 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight';
  interface Doc {
    tensors: { name: string; spectrum?: { rows: number; cols: number; rank: number }; spectrumOf?: { module: string } }[];
  }
  const r = await cli(['inspect', file, '--spectra', '--json']);
  assert.equal(r.code, 0, r.err);
  const a = (JSON.parse(r.out) as Doc).tensors.find((t) => t.name === name);
  assert.deepEqual(a?.spectrumOf, {
    module: 'transformer.h.0.attn.c_attn',
    rule: 'scale * (lora_B @ lora_A), transposed for fan_in_fan_out',
  });
  assert.deepEqual([a?.spectrum?.rows, a?.spectrum?.cols, a?.spectrum?.rank], [768, 2304, 8]);
  const text = await cli(['inspect', file, '--spectra']);
  assert.match(text.out, /^the spectra of the 72 LoRA factors are those of their layer updates scale \* \(lora_B @ lora_A\)/m);
  const f = await cli(['inspect', file, '--spectra', '--factors', '--json']);
  const own = (JSON.parse(f.out) as Doc).tensors.find((t) => t.name === name);
  assert.equal(own?.spectrumOf, undefined);
  assert.deepEqual([own?.spectrum?.rows, own?.spectrum?.cols], [8, 768]);
});
