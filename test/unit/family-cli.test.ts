// `mimicry family` end to end through runCli: the JSON document's shape on the real GPT-2 adapter
// family (and a numpy spot check of its numbers), the text tables, and every bad member refused with
// exit 2 and one line naming the file and the rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FamilyReport } from '../../src/mimicry/family/analyze';
import { inTempDir } from './helpers/temp-dir';
import { cli } from './helpers/cli-in-process';
import { numpyMissing, peftConfig, randomTensor, writeAdapter, writeTensors, type Tensors } from './helpers/family-craft';

const FAMILY = 'test/fixtures/real/gpt2-lora-family';
const REAL = ['math', 'medical', 'shakespeare-cattn/checkpoint-1000', 'shakespeare-cattn/checkpoint-7500'].map((m) => join(FAMILY, m));

test('family --json on the real GPT-2 adapters: the documented shape, shared layers only, steps from checkpoint-N', async () => {
  const r = await cli(['family', ...REAL, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  const doc = JSON.parse(r.out) as FamilyReport;
  const names = ['math', 'medical', 'checkpoint-1000', 'checkpoint-7500'];
  assert.deepEqual(
    doc.members.map(({ name, path, kind, step }) => ({ name, path, kind, step })),
    [
      { name: 'math', path: REAL[0], kind: 'peft-lora', step: null },
      { name: 'medical', path: REAL[1], kind: 'peft-lora', step: null },
      { name: 'checkpoint-1000', path: REAL[2], kind: 'peft-lora', step: 1000 },
      { name: 'checkpoint-7500', path: REAL[3], kind: 'peft-lora', step: 7500 },
    ],
  );
  // The task adapters also change attn.c_proj and mlp.c_proj; the snapshots only c_attn: compared on c_attn, the rest listed.
  assert.equal(doc.members[0].unshared.length, 24);
  assert.ok(doc.members[0].unshared.includes('transformer.h.0.mlp.c_proj'));
  assert.deepEqual(doc.members[2].unshared, []);
  assert.deepEqual(
    doc.layers.map((l) => l.name),
    Array.from({ length: 12 }, (_, i) => `transformer.h.${i}.attn.c_attn`),
  );
  for (const l of doc.layers) {
    assert.deepEqual(l.shape, [768, 2304]); // Conv1D's stored [in, out]
    assert.equal(l.norms.length, 4);
    assert.ok(l.norms.every((n) => n > 0));
    assert.equal(l.cosine.length, 4);
    l.cosine.forEach((row, a) => {
      assert.equal(row.length, 4);
      row.forEach((c, b) => {
        assert.ok(Math.abs(c - l.cosine[b][a]) < 1e-12 && c >= -1 && c <= 1);
        if (a === b) assert.ok(Math.abs(c - 1) < 1e-12);
      });
    });
    // rank <= r = 8, and the singular values carry the whole Frobenius norm
    l.singularValues.forEach((sv, m) => {
      assert.equal(sv?.length, 8);
      assert.ok(Math.abs(Math.sqrt((sv ?? []).reduce((s, x) => s + x * x, 0)) - l.norms[m]) < 1e-9 * l.norms[m]);
    });
    assert.equal(l.relative, null);
  }
  assert.equal(doc.cosine.length, 4);
  assert.ok(doc.cosine[2][3] > 0.5, 'two snapshots of one run point the same way');
  assert.equal(doc.banks.length, 1);
  const bank = doc.banks[0];
  assert.deepEqual(
    bank.layers,
    doc.layers.map((l) => l.name),
  );
  assert.equal(bank.templates, 4); // default n: the number of members
  assert.deepEqual(Object.keys(bank.captured), names);
  assert.deepEqual(Object.keys(bank.share), names);
  for (const n of names) {
    assert.ok(bank.captured[n] >= 0 && bank.captured[n] <= 1);
    assert.equal(bank.share[n].length, 4);
    const curve = bank.fidelity.cosine[n];
    assert.equal(curve.length, bank.rank);
    for (let i = 1; i < curve.length; i++) assert.ok(curve[i] >= curve[i - 1] - 1e-12, 'fidelity grows with n');
    assert.ok(Math.abs(curve[curve.length - 1] - 1) < 1e-9, 'exact at the rank');
  }
  assert.equal(doc.map.method, 'pca');
  assert.equal(doc.map.points.length, 4 * 12);
  assert.deepEqual(Object.keys(doc.map.points[0]), ['member', 'layer', 'x', 'y']);
  // The run's two snapshots, joined in step order; the task adapters are no snapshots.
  assert.deepEqual(doc.map.trajectories, [{ run: join(FAMILY, 'shakespeare-cattn'), members: ['checkpoint-1000', 'checkpoint-7500'] }]);
  assert.deepEqual(doc.members[0].coefficients, 12 * 4);
});

test("the real family's numbers for one layer agree with numpy on the dense update", { skip: numpyMissing() }, async () => {
  const r = await cli(['family', REAL[0], REAL[1], '--json']);
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as FamilyReport;
  const py = `
import json, sys, importlib.util
import numpy as np
spec = importlib.util.spec_from_file_location("l", "test/unit/recast-python-loader.py"); l = importlib.util.module_from_spec(spec); spec.loader.exec_module(l)
def update(folder, module):
    cfg = json.load(open(folder + "/adapter_config.json"))
    _, t = l.read_safetensors(folder + "/adapter_model.safetensors")
    a = t["base_model.model." + module + ".lora_A.weight"][2].astype(np.float64)
    b = t["base_model.model." + module + ".lora_B.weight"][2].astype(np.float64)
    d = cfg["lora_alpha"] / cfg["r"] * (b @ a)
    return d.T if cfg["fan_in_fan_out"] else d
x = update(sys.argv[1], "transformer.h.3.mlp.c_proj"); y = update(sys.argv[2], "transformer.h.3.mlp.c_proj")
print(json.dumps({"shape": list(x.shape), "norms": [float(np.linalg.norm(x)), float(np.linalg.norm(y))],
  "cos": float(np.sum(x * y) / np.linalg.norm(x) / np.linalg.norm(y)), "sv": np.linalg.svd(x, compute_uv=False)[:8].tolist()}))
`;
  const p = spawnSync('python3', ['-c', py, REAL[0], REAL[1]], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const ref = JSON.parse(p.stdout) as { shape: number[]; norms: number[]; cos: number; sv: number[] };
  const layer = doc.layers.find((l) => l.name === 'transformer.h.3.mlp.c_proj');
  assert.ok(layer);
  assert.deepEqual(layer.shape, ref.shape);
  layer.norms.forEach((n, i) => assert.ok(Math.abs(n - ref.norms[i]) < 1e-9 * ref.norms[i]));
  assert.ok(Math.abs(layer.cosine[0][1] - ref.cos) < 1e-9);
  ref.sv.forEach((s, i) => assert.ok(Math.abs((layer.singularValues[0]?.[i] ?? 0) - s) < 1e-9 * ref.sv[0], `s${i}`));
  assert.equal(doc.banks.length, 3); // c_attn, attn.c_proj, mlp.c_proj: one bank per role
});

test('family prints the members, whole-model cosines, per-layer norms and banks as tables', async () => {
  const r = await cli(['family', ...REAL, '--templates', '2']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^member\s+kind\s+step\s+parameters\s+coefficients\s+unshared layers$/m);
  assert.match(r.out, /^checkpoint-7500\s+peft-lora\s+7500\s+294,912\s+24\s+0$/m);
  assert.match(r.out, /compared on 12 shared layers/);
  assert.match(r.out, /whole-model cosine of the updates/);
  assert.match(r.out, /^transformer\.h\.11\.attn\.c_attn\s/m);
  assert.match(r.out, /^attn\.c_attn\.g0\s+12\s+2\s+48\s/m);
});

/** One adapter folder of a tiny LLaMA-style model, `modules` per block over 2 blocks. */
function tiny(seed: number, modules = ['q_proj'], shapes: Record<string, [number, number]> = {}): Tensors {
  const t: Tensors = {};
  for (let i = 0; i < 2; i++)
    for (const m of modules) {
      const [out, inDim] = shapes[m] ?? [4, 3];
      t[`base_model.model.model.layers.${i}.self_attn.${m}.lora_A.weight`] = randomTensor(seed + i, [2, inDim]);
      t[`base_model.model.model.layers.${i}.self_attn.${m}.lora_B.weight`] = randomTensor(seed + i + 7, [out, 2]);
    }
  return t;
}

/** Exit 2, one line on stderr naming `file` and `(rule: <rule>)`, nothing on stdout. */
async function refused(args: string[], file: string, rule: string): Promise<void> {
  const r = await cli(['family', ...args]);
  assert.equal(r.code, 2, `exit status for ${rule}: ${r.err}`);
  assert.equal(r.out, '');
  const lines = r.err.split('\n').filter((l) => l.length > 0);
  assert.equal(lines.length, 1, r.err);
  assert.ok(lines[0].startsWith(`mimicry: ${file}`), `names ${file}: ${lines[0]}`);
  assert.ok(lines[0].endsWith(`(rule: ${rule})`), `rule ${rule}: ${lines[0]}`);
}

test('bad members: exit 2 with one line naming the file and the rule', () =>
  inTempDir(async (dir) => {
    const good = await writeAdapter(join(dir, 'good'), tiny(1), peftConfig());
    const good2 = await writeAdapter(join(dir, 'good2'), tiny(2), peftConfig());

    const dora = await writeAdapter(join(dir, 'dora'), tiny(3), peftConfig({ use_dora: true }));
    await refused([good, dora], join(dora, 'adapter_config.json'), 'dora-unsupported');
    const doraTensors = tiny(3);
    doraTensors['base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector'] = randomTensor(5, [4, 1]);
    const dora2 = await writeAdapter(join(dir, 'dora2'), doraTensors, peftConfig());
    await refused([good, dora2], join(dora2, 'adapter_model.safetensors'), 'dora-unsupported');

    const bare = await writeAdapter(join(dir, 'bare'), tiny(4), null);
    await refused([good, bare], join(bare, 'adapter_model.safetensors'), 'adapter-config-missing');

    const other = await writeAdapter(join(dir, 'other-base'), tiny(5), peftConfig({ base_model_name_or_path: 'another-model' }));
    await refused([good, other], other, 'mixed-bases');
    const wider = await writeAdapter(
      join(dir, 'wider'),
      tiny(6, ['q_proj'], { q_proj: [8, 3] }),
      peftConfig({ base_model_name_or_path: null }),
    );
    await refused([good, wider], wider, 'mixed-bases');

    const disjoint = await writeAdapter(join(dir, 'disjoint'), tiny(7, ['v_proj']), peftConfig());
    await refused([good, disjoint], good, 'no-shared-layers');

    await refused([good], good, 'family-too-small');
    await refused([good, good2, good], good, 'duplicate-member');

    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await refused([good, empty], empty, 'member-not-found');
    await refused([good, join(dir, 'nowhere')], join(dir, 'nowhere'), 'file-not-found');

    const full = await writeTensors(join(dir, 'full.safetensors'), { 'model.layers.0.self_attn.q_proj.weight': randomTensor(8, [4, 3]) });
    await refused([good, full], full, 'base-required');

    const broken = await writeAdapter(join(dir, 'broken'), tiny(9), null);
    writeFileSync(join(broken, 'adapter_config.json'), '{"r": 2,');
    await refused([good, broken], join(broken, 'adapter_config.json'), 'adapter-config-invalid');
    const ranked = await writeAdapter(join(dir, 'ranked'), tiny(10), peftConfig({ r: 4 }));
    await refused([good, ranked], join(ranked, 'adapter_config.json'), 'adapter-config-invalid');
    // A pattern key that could backtrack for ever on a hostile module name is refused, not run.
    const redos = await writeAdapter(join(dir, 'redos'), tiny(17), peftConfig({ rank_pattern: { '(a+)+b': 2 } }));
    await refused([good, redos], join(redos, 'adapter_config.json'), 'adapter-config-invalid');
    const grouped = await writeAdapter(
      join(dir, 'grouped'),
      tiny(18),
      peftConfig({ alpha_pattern: { '(q|v)_proj': 2 }, rank_pattern: { 'layers\\.[0-9]+\\.self_attn\\.q_proj': 2 } }),
    );
    assert.equal((await cli(['family', good, grouped])).code, 0, 'groups and quantifiers that do not nest are fine');
    const loha = await writeAdapter(join(dir, 'loha'), tiny(11), peftConfig({ peft_type: 'LOHA' }));
    await refused([good, loha], join(loha, 'adapter_config.json'), 'adapter-unsupported');

    const half = tiny(12);
    delete half['base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight'];
    const halfDir = await writeAdapter(join(dir, 'half'), half, peftConfig());
    await refused([good, halfDir], join(halfDir, 'adapter_model.safetensors'), 'lora-pair-incomplete');

    const nan = tiny(13);
    nan['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].values = [NaN, 1, 2, 3, 4, 5];
    const nanDir = await writeAdapter(join(dir, 'nan'), nan, peftConfig());
    await refused([good, nanDir], join(nanDir, 'adapter_model.safetensors'), 'non-finite-update');

    const base = await writeTensors(join(dir, 'base.safetensors'), { 'model.layers.0.self_attn.q_proj.weight': randomTensor(14, [4, 3]) });
    await refused([good, good2, '--base', base], base, 'base-mismatch');
    const transposed = await writeTensors(join(dir, 'transposed.safetensors'), {
      'model.layers.0.self_attn.q_proj.weight': randomTensor(15, [3, 4]),
      'model.layers.1.self_attn.q_proj.weight': randomTensor(16, [3, 4]),
    });
    await refused([good, good2, '--base', transposed], transposed, 'base-mismatch');

    // A corrupt adapter file: the safetensors reader's own rule, naming the file.
    const corrupt = join(dir, 'corrupt');
    mkdirSync(corrupt);
    copyFileSync(join(good, 'adapter_config.json'), join(corrupt, 'adapter_config.json'));
    writeFileSync(join(corrupt, 'adapter_model.safetensors'), Buffer.from([1, 2, 3]));
    await refused([good, corrupt], join(corrupt, 'adapter_model.safetensors'), 'file-too-small');

    const r = await cli(['family', good, good2, '--map', 'tsne']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--map/);
  }));

test('family --base prints the full-weights fit (frozen base templates, joint, dW part) and puts it in the JSON; a NaN in the base is refused naming it', () =>
  inTempDir(async (dir) => {
    const good = await writeAdapter(join(dir, 'good'), tiny(1), peftConfig());
    const good2 = await writeAdapter(join(dir, 'good2'), tiny(2), peftConfig());
    const baseTensors: Tensors = {
      'model.layers.0.self_attn.q_proj.weight': randomTensor(20, [4, 3]),
      'model.layers.1.self_attn.q_proj.weight': randomTensor(21, [4, 3]),
    };
    const base = await writeTensors(join(dir, 'base.safetensors'), baseTensors);
    const text = await cli(['family', good, good2, '--base', base]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /full weights W_base \+ dW/);
    assert.match(text.out, /^self_attn\.q_proj\.g0\s+2\s+1\.0000\s+[01]\.\d{4} \/ [01]\.\d{4} \/ [01]\.\d{4}\s/m);
    const json = await cli(['family', good, good2, '--base', base, '--json']);
    assert.equal(json.code, 0, json.err);
    const report = JSON.parse(json.out) as FamilyReport;
    const w = report.banks[0].weights;
    assert.ok(w);
    assert.equal(w.baseRank, 2);
    assert.deepEqual(Object.keys(w.frozen), ['good', 'good2']);
    assert.equal(w.base.length, 2);
    assert.ok(Math.abs(w.base[1] - 1) < 1e-12, 'the base is exact over all its templates');
    const plain = JSON.parse((await cli(['family', good, good2, '--json'])).out) as FamilyReport;
    assert.equal(plain.banks[0].weights, null);

    (baseTensors['model.layers.1.self_attn.q_proj.weight'].values as Float64Array)[3] = NaN;
    const nanBase = await writeTensors(join(dir, 'nan-base.safetensors'), baseTensors);
    await refused([good, good2, '--base', nanBase], nanBase, 'non-finite-update');
  }));
