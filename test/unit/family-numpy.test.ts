// The family report's numbers against an independent numpy computation (test/unit/family-reference.py)
// that builds every update densely: PEFT (fan_in_fan_out, rsLoRA, rank_pattern / alpha_pattern,
// embeddings, conv factors), mlx-lm and full checkpoints with a base; norms, cosines, singular values,
// stable and effective rank, the fidelity-vs-n curve (dense SVD), leave-one-out "captured", PCA map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadFamily } from '../../src/mimicry/family/members';
import { analyzeFamily, type FamilyReport } from '../../src/mimicry/family/analyze';
import { weightsOption } from '../../src/webview/family/charts';
import { TEST_THEME } from './helpers/chart-theme';
import { inTempDir } from './helpers/temp-dir';
import { numpyMissing, peftConfig, randomTensor, writeAdapter, writeTensors, type Tensors } from './helpers/family-craft';

const REFERENCE = 'test/unit/family-reference.py';

interface Reference {
  layers: Record<
    string,
    { shape: number[]; norms: number[]; cosine: number[][]; singularValues: number[][]; stableRank: number[]; effectiveRank: number[] }
  >;
  cosine: number[][];
  banks: Record<string, { rank: number; cosine: Record<string, number[]>; captured: Record<string, number>; weights?: WeightsReference }>;
  map: { x: number[]; y: number[]; explained: number[] };
}

interface WeightsReference {
  baseRank: number;
  base: number[];
  frozen: number[][];
  update: number[][];
  jointRank: number;
  joint: number[][];
}

interface SpecMember {
  file: string;
  config: string | null;
  kind: 'peft' | 'mlx' | 'full';
}

function reference(report: FamilyReport, members: SpecMember[], templates: number, base: string | null = null): Reference {
  const spec = { members, base, templates, banks: report.banks.map((b) => ({ name: b.name, layers: b.layers })) };
  const r = spawnSync('python3', [REFERENCE], { input: JSON.stringify(spec), encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Reference;
}

function close(actual: number | null, expected: number, tol: number, what: string): void {
  assert.ok(
    actual !== null && Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} vs numpy ${expected}`,
  );
}

function compare(report: FamilyReport, ref: Reference, tol = 1e-9): void {
  const M = report.members.length;
  assert.deepEqual(report.layers.map((l) => l.name).sort(), Object.keys(ref.layers).sort());
  for (const l of report.layers) {
    const r = ref.layers[l.name];
    assert.deepEqual([...l.shape], r.shape, `${l.name} shape`);
    for (let m = 0; m < M; m++) {
      close(l.norms[m], r.norms[m], tol, `${l.name} norm ${m}`);
      for (let k = 0; k < M; k++) close(l.cosine[m][k], r.cosine[m][k], tol, `${l.name} cosine ${m},${k}`);
      const sv = l.singularValues[m] ?? [];
      const s1 = r.singularValues[m][0];
      r.singularValues[m].forEach((s, i) => close(sv[i] ?? 0, s, tol * Math.max(1, s1), `${l.name} s${i} of ${m}`));
      close(l.stableRank[m], r.stableRank[m], 1e-7, `${l.name} stable rank ${m}`);
      close(l.effectiveRank[m], r.effectiveRank[m], 1e-7, `${l.name} effective rank ${m}`);
    }
  }
  for (let a = 0; a < M; a++) for (let b = 0; b < M; b++) close(report.cosine[a][b], ref.cosine[a][b], tol, `whole cosine ${a},${b}`);
  for (const b of report.banks) {
    const r = ref.banks[b.name];
    assert.equal(b.rank, r.rank, `${b.name} rank`);
    report.members.forEach((m, mi) => {
      const curve = b.fidelity.cosine[m.name];
      assert.equal(curve.length, r.rank, `${b.name} curve length`);
      curve.forEach((c, i) => close(c, r.cosine[mi][i], 1e-8, `${b.name} ${m.name} cosine at n = ${i + 1}`));
      b.fidelity.relError[m.name].forEach((e, i) => close(e, Math.sqrt(Math.max(0, 1 - r.cosine[mi][i] ** 2)), 1e-6, `${b.name} relError`));
      close(b.captured[m.name], r.captured[mi], 1e-8, `${b.name} ${m.name} captured`);
      const w = b.weights;
      const rw = r.weights;
      assert.equal(w === null, rw === undefined, `${b.name}: a full-weights fit exactly when there is a base`);
      if (w && rw) {
        assert.equal(w.baseRank, rw.baseRank, `${b.name} base rank`);
        assert.equal(w.jointRank, rw.jointRank, `${b.name} joint rank`);
        const curves: [string, readonly number[], number[]][] = [
          ['frozen', w.frozen[m.name], rw.frozen[mi]],
          ['update', w.update[m.name], rw.update[mi]],
          ['joint', w.joint[m.name], rw.joint[mi]],
        ];
        for (const [what, mine, theirs] of curves) {
          assert.equal(mine.length, theirs.length, `${b.name} ${what} curve length`);
          mine.forEach((c, i) => close(c, theirs[i], 1e-8, `${b.name} ${m.name} ${what} cosine at n = ${i + 1}`));
        }
        w.frozenRelError[m.name].forEach((e, i) => close(e, Math.sqrt(Math.max(0, 1 - rw.frozen[mi][i] ** 2)), 1e-6, 'frozen relError'));
        if (mi === 0) w.base.forEach((c, i) => close(c, rw.base[i], 1e-8, `${b.name} base cosine at n = ${i + 1}`));
      }
      const share = b.share[m.name];
      assert.equal(share.length, b.templates);
      close(
        share.reduce((s, x) => s + x, 0),
        1,
        1e-6,
        'shares sum to 1',
      );
    });
  }
  report.map.points.forEach((p, i) => {
    close(p.x, ref.map.x[i], 1e-8, `map x of ${p.member} ${p.layer}`);
    close(p.y, ref.map.y[i], 1e-8, `map y of ${p.member} ${p.layer}`);
  });
  close(report.map.explained?.[0] ?? null, ref.map.explained[0], 1e-8, 'explained 0');
}

async function analyze(paths: string[], templates: number, base?: string): Promise<FamilyReport> {
  const family = await loadFamily(paths, { base });
  try {
    return await analyzeFamily(family, { templates });
  } finally {
    await family.close();
  }
}

/** LLaMA-style PEFT names over 3 blocks: q_proj [6, 5] at r = 2, v_proj [4, 5] at r = 3 (rank_pattern). */
function llamaAdapter(seed: number, extraRank = 3): Tensors {
  const t: Tensors = {};
  for (let i = 0; i < 3; i++) {
    const p = `base_model.model.model.layers.${i}.self_attn`;
    t[`${p}.q_proj.lora_A.weight`] = randomTensor(seed + 10 * i + 1, [2, 5]);
    t[`${p}.q_proj.lora_B.weight`] = randomTensor(seed + 10 * i + 2, [6, 2]);
    t[`${p}.v_proj.lora_A.weight`] = randomTensor(seed + 10 * i + 3, [extraRank, 5]);
    t[`${p}.v_proj.lora_B.weight`] = randomTensor(seed + 10 * i + 4, [4, extraRank]);
  }
  t['base_model.model.score.weight'] = randomTensor(seed + 99, [3, 5]); // a saved head: not an update
  return t;
}

test(
  'PEFT updates: rank_pattern, alpha_pattern and rsLoRA scales; norms, cosines, spectra, curves, captured and map as numpy',
  { skip: numpyMissing() },
  () =>
    inTempDir(async (dir) => {
      const configs = [
        peftConfig({ rank_pattern: { v_proj: 3 }, alpha_pattern: { 'layers\\.1\\.self_attn\\.v_proj': 12 } }),
        peftConfig({ rank_pattern: { 'self_attn.v_proj': 3 }, use_rslora: true, lora_alpha: 7 }),
        peftConfig({ rank_pattern: { v_proj: 3 }, alpha_pattern: { q_proj: 1.5 } }),
      ];
      const members: SpecMember[] = [];
      for (const [i, config] of configs.entries()) {
        const folder = await writeAdapter(join(dir, `task${i}`), llamaAdapter(100 * i), config);
        members.push({ file: join(folder, 'adapter_model.safetensors'), config: join(folder, 'adapter_config.json'), kind: 'peft' });
      }
      const report = await analyze([join(dir, 'task0'), join(dir, 'task1'), join(dir, 'task2')], 2);
      assert.deepEqual(
        report.layers.map((l) => l.name),
        [0, 1, 2].flatMap((i) => [`model.layers.${i}.self_attn.q_proj`, `model.layers.${i}.self_attn.v_proj`]),
      );
      assert.deepEqual(report.members[0].ignored, ['base_model.model.score.weight']);
      assert.equal(report.banks.length, 2);
      assert.equal(report.banks[0].templates, 2);
      assert.equal(report.members[0].coefficients, 2 * 3 * 2); // 2 banks x 3 layers x n = 2
      compare(report, reference(report, members, 2));
    }),
);

test(
  'GPT-2 style fan_in_fan_out (Conv1D) layers and a LoRA embedding are transposed to the stored orientation, as numpy',
  { skip: numpyMissing() },
  () =>
    inTempDir(async (dir) => {
      const members: SpecMember[] = [];
      const paths: string[] = [];
      for (let m = 0; m < 3; m++) {
        const t: Tensors = {};
        for (let i = 0; i < 4; i++) {
          const p = `base_model.model.transformer.h.${i}`;
          t[`${p}.attn.c_attn.lora_A.weight`] = randomTensor(1000 * m + i, [2, 5]); // [r, in]
          t[`${p}.attn.c_attn.lora_B.weight`] = randomTensor(1000 * m + i + 50, [9, 2]); // [out, r]
        }
        t['base_model.model.transformer.wte.lora_embedding_A'] = randomTensor(1000 * m + 500, [2, 7]); // [r, vocab]
        t['base_model.model.transformer.wte.lora_embedding_B'] = randomTensor(1000 * m + 501, [5, 2]); // [dim, r]
        const folder = await writeAdapter(join(dir, `m${m}`, 'checkpoint-' + (m + 1) * 100), t, peftConfig({ fan_in_fan_out: true }));
        paths.push(folder);
        members.push({ file: join(folder, 'adapter_model.safetensors'), config: join(folder, 'adapter_config.json'), kind: 'peft' });
      }
      const report = await analyze(paths, 3);
      assert.deepEqual(
        report.members.map((m) => [m.name, m.step]),
        [
          ['checkpoint-100', 100],
          ['checkpoint-200', 200],
          ['checkpoint-300', 300],
        ],
      );
      const cattn = report.layers.find((l) => l.name === 'transformer.h.0.attn.c_attn');
      assert.deepEqual(cattn?.shape, [5, 9]); // GPT-2 Conv1D stores [in, out]
      assert.deepEqual(report.layers.find((l) => l.name === 'transformer.wte')?.shape, [7, 5]);
      compare(report, reference(report, members, 3));
    }),
);

test('mlx-lm adapters (scale * (a @ b)^T) and conv LoRA factors, as numpy', { skip: numpyMissing() }, () =>
  inTempDir(async (dir) => {
    const members: SpecMember[] = [];
    const paths: string[] = [];
    for (let m = 0; m < 3; m++) {
      const t: Tensors = {};
      for (let i = 0; i < 3; i++) {
        t[`model.layers.${i}.self_attn.q_proj.lora_a`] = randomTensor(77 * m + i, [6, 4]); // [in, r]
        t[`model.layers.${i}.self_attn.q_proj.lora_b`] = randomTensor(77 * m + i + 30, [4, 8]); // [r, out]
      }
      const folder = await writeAdapter(
        join(dir, `${m * 100}_adapters`),
        t,
        { fine_tune_type: 'lora', model: 'tiny-base', lora_parameters: { rank: 4, scale: 10 + m, dropout: 0 } },
        'adapters.safetensors',
      );
      paths.push(folder);
      members.push({ file: join(folder, 'adapters.safetensors'), config: join(folder, 'adapter_config.json'), kind: 'mlx' });
    }
    const report = await analyze(paths, 2);
    assert.deepEqual(
      report.members.map((m) => m.kind),
      ['mlx-lora', 'mlx-lora', 'mlx-lora'],
    );
    assert.deepEqual(report.layers[0].shape, [8, 6]);
    compare(report, reference(report, members, 2));

    // A conv LoRA: lora_A [r, in, kh, kw], lora_B [out, r, 1, 1]; its update is [out, in, kh, kw].
    const convMembers: SpecMember[] = [];
    const convPaths: string[] = [];
    for (let m = 0; m < 2; m++) {
      const t: Tensors = {};
      for (let i = 0; i < 2; i++) {
        t[`base_model.model.blocks.${i}.conv.lora_A.weight`] = randomTensor(9 * m + i, [2, 3, 3, 3]);
        t[`base_model.model.blocks.${i}.conv.lora_B.weight`] = randomTensor(9 * m + i + 4, [4, 2, 1, 1]);
      }
      const folder = await writeAdapter(join(dir, `conv${m}`), t, peftConfig());
      convPaths.push(folder);
      convMembers.push({ file: join(folder, 'adapter_model.safetensors'), config: join(folder, 'adapter_config.json'), kind: 'peft' });
    }
    const conv = await analyze(convPaths, 2);
    assert.deepEqual(conv.layers[0].shape, [4, 3, 3, 3]);
    compare(conv, reference(conv, convMembers, 2));
  }),
);

test(
  'full checkpoints against a base (dense updates, streamed) beside a LoRA member, and norms relative to the base, as numpy',
  { skip: numpyMissing() },
  () =>
    inTempDir(async (dir) => {
      const base: Tensors = {};
      for (let i = 0; i < 3; i++) {
        base[`h.${i}.attn.q.weight`] = randomTensor(500 + i, [6, 5]);
        base[`h.${i}.mlp.fc.weight`] = randomTensor(600 + i, [5, 7]);
        base[`h.${i}.ln.weight`] = randomTensor(700 + i, [5]);
      }
      const baseFile = await writeTensors(join(dir, 'base.safetensors'), base);
      const members: SpecMember[] = [];
      const paths: string[] = [];
      for (let m = 0; m < 2; m++) {
        const tuned: Tensors = {};
        for (const [name, t] of Object.entries(base)) {
          const noise = randomTensor(40 * m + name.length, t.shape, 0.05).values;
          tuned[name] = { shape: t.shape, values: Float64Array.from(t.values, (v, i) => Math.fround(v) + noise[i]) };
        }
        const file = await writeTensors(join(dir, `tuned${m}.safetensors`), tuned);
        paths.push(file);
        members.push({ file, config: null, kind: 'full' });
      }
      const lora: Tensors = {};
      for (let i = 0; i < 3; i++) {
        lora[`base_model.model.h.${i}.attn.q.lora_A.weight`] = randomTensor(800 + i, [2, 5]);
        lora[`base_model.model.h.${i}.attn.q.lora_B.weight`] = randomTensor(900 + i, [6, 2]);
        lora[`base_model.model.h.${i}.mlp.fc.lora_A.weight`] = randomTensor(810 + i, [2, 7]);
        lora[`base_model.model.h.${i}.mlp.fc.lora_B.weight`] = randomTensor(910 + i, [5, 2]);
      }
      const folder = await writeAdapter(join(dir, 'lora'), lora, peftConfig());
      paths.push(folder);
      members.push({ file: join(folder, 'adapter_model.safetensors'), config: join(folder, 'adapter_config.json'), kind: 'peft' });

      const report = await analyze(paths, 2, baseFile);
      assert.deepEqual(
        report.members.map((m) => m.kind),
        ['full', 'full', 'peft-lora'],
      );
      assert.equal(report.layers.length, 6); // the 1-d ln weights are not layers
      compare(report, reference(report, members, 2, baseFile));
      for (const l of report.layers) {
        const w = base[`${l.name}.weight`].values;
        const bn = Math.sqrt(Array.from(w).reduce((s, v) => s + Math.fround(v) ** 2, 0));
        close(l.baseNorm, bn, 1e-12, `${l.name} base norm`);
        l.norms.forEach((n, m) => close(l.relative?.[m] ?? null, n / bn, 1e-12, `${l.name} relative ${m}`));
      }
    }),
);

test(
  'BERT-style names with three shapes in one member (attention, intermediate, output) group by role and shape, as numpy',
  { skip: numpyMissing() },
  () =>
    inTempDir(async (dir) => {
      const members: SpecMember[] = [];
      const paths: string[] = [];
      const shapes: Record<string, [number, number]> = {
        'attention.self.query': [6, 6],
        'intermediate.dense': [12, 6],
        'output.dense': [6, 12],
      };
      for (let m = 0; m < 3; m++) {
        const t: Tensors = {};
        for (let i = 0; i < 3; i++)
          for (const [role, [out, inDim]] of Object.entries(shapes)) {
            const p = `base_model.model.bert.encoder.layer.${i}.${role}`;
            t[`${p}.lora_A.weight`] = randomTensor(300 * m + 10 * i + out + inDim, [2, inDim]);
            t[`${p}.lora_B.weight`] = randomTensor(300 * m + 10 * i + out + inDim + 1, [out, 2]);
          }
        const folder = await writeAdapter(join(dir, `bert${m}`), t, peftConfig({ target_modules: Object.keys(shapes) }));
        paths.push(folder);
        members.push({ file: join(folder, 'adapter_model.safetensors'), config: join(folder, 'adapter_config.json'), kind: 'peft' });
      }
      const report = await analyze(paths, 2);
      assert.equal(report.layers.length, 9);
      assert.deepEqual(
        report.banks.map((b) => [b.layers.length, b.shape]).sort(),
        [
          [3, [12, 6]],
          [3, [6, 12]],
          [3, [6, 6]],
        ].sort(),
      );
      compare(report, reference(report, members, 2));
    }),
);

test(
  'full weights with a base: GPT-2 Conv1D LoRA members over the base frozen templates and a joint fit, as numpy; an update inside the base span is all captured',
  { skip: numpyMissing() },
  () =>
    inTempDir(async (dir) => {
      const base: Tensors = {};
      for (let i = 0; i < 4; i++) base[`transformer.h.${i}.attn.c_attn.weight`] = randomTensor(40 + i, [5, 9]); // Conv1D: [in, out]
      const baseFile = await writeTensors(join(dir, 'gpt2.safetensors'), base);
      const members: SpecMember[] = [];
      const paths: string[] = [];
      for (let m = 0; m < 2; m++) {
        const t: Tensors = {};
        for (let i = 0; i < 4; i++) {
          const p = `base_model.model.transformer.h.${i}.attn.c_attn`;
          t[`${p}.lora_A.weight`] = randomTensor(70 * m + i, [2, 5], 0.3);
          t[`${p}.lora_B.weight`] = randomTensor(70 * m + i + 9, [9, 2], 0.3);
        }
        const folder = await writeAdapter(join(dir, `task${m}`), t, peftConfig({ fan_in_fan_out: true }));
        paths.push(folder);
        members.push({ file: join(folder, 'adapter_model.safetensors'), config: join(folder, 'adapter_config.json'), kind: 'peft' });
      }
      // A full fine-tune that only rescales every base weight: its update lies in the base's template span.
      const scaled: Tensors = {};
      for (const [name, t] of Object.entries(base))
        scaled[name] = { shape: t.shape, values: Array.from(t.values, (v) => 1.25 * Math.fround(v)) };
      const scaledFile = await writeTensors(join(dir, 'scaled.safetensors'), scaled);
      paths.push(scaledFile);
      members.push({ file: scaledFile, config: null, kind: 'full' });

      const report = await analyze(paths, 2, baseFile);
      compare(report, reference(report, members, 2, baseFile));
      const w = report.banks[0].weights;
      assert.ok(w);
      assert.equal(w.baseRank, 4);
      const scaledName = report.members[2].name;
      close(w.update[scaledName][3], 1, 1e-12, 'an update inside the base span is all captured at n = 4');
      for (const m of report.members) {
        close(w.joint[m.name][w.jointRank - 1], 1, 1e-12, `${m.name}: the joint fit at its full rank is exact`);
        assert.ok(
          w.update[m.name].every((c, i) => i === 0 || c >= w.update[m.name][i - 1] - 1e-12),
          'captured grows with n',
        );
      }
      // The dashboard's chart: the report's curves as they are, opened on the base's n when the joint ones run much further.
      const option = weightsOption(report, report.banks[0].name, TEST_THEME);
      const series = option.series as { name: string; data: number[] }[];
      assert.deepEqual(series.at(-1)?.data, w.base);
      assert.deepEqual(series[0].data, w.update[report.members[0].name]);
      const zoom = option.dataZoom as { startValue: number; endValue: number }[] | undefined;
      if (w.jointRank > 1.5 * w.baseRank) {
        assert.ok(zoom, `joint rank ${w.jointRank} against the base's ${w.baseRank}: the chart opens zoomed`);
        assert.deepEqual(
          zoom.map((z) => [z.startValue, z.endValue]),
          [
            [0, 4],
            [0, 4],
          ],
        );
      } else assert.equal(zoom, undefined);
    }),
);
