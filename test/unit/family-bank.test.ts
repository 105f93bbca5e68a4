// The task bank export (docs/FORMAT.md section 8): the README's numpy loader rebuilds every member's
// update from the file, checked against numpy's own dense updates from the adapters' factors (exact
// with n = all items, the stored fit figures with fewer), the metadata as documented, the size line,
// and the atomic write (never over a member, nothing left behind when stopped).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { FamilyReport } from '../../src/mimicry/family/analyze';
import { TASK_BANK_RULE, writeTaskBank } from '../../src/mimicry/family/bank';
import { loadFamily } from '../../src/mimicry/family/members';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { inTempDir } from './helpers/temp-dir';
import { cli } from './helpers/cli-in-process';
import { numpyMissing, peftConfig, randomTensor, writeAdapter, writeTensors, type Tensors } from './helpers/family-craft';

const FAMILY = 'test/fixtures/real/gpt2-lora-family';
const REAL = ['math', 'medical', 'shakespeare-cattn/checkpoint-1000', 'shakespeare-cattn/checkpoint-7500'].map((m) => join(FAMILY, m));

interface Rebuilt {
  members: { name: string; kind: string; step: number | null; file: string; bytes: number }[];
  /** Per member and layer: max |rebuilt - numpy| / max |numpy|. */
  error: Record<string, Record<string, number>>;
  /** Per member: cosine and relative error of its rebuilt updates (all layers of the bank concatenated) to numpy's. */
  cosine: Record<string, number>;
  relError: Record<string, number>;
}

interface Spec {
  readonly file: string;
  readonly config: string | null;
  readonly kind: 'peft' | 'full';
}

const peft = (folder: string): Spec => ({
  file: join(folder, 'adapter_model.safetensors'),
  config: join(folder, 'adapter_config.json'),
  kind: 'peft',
});

/** Rebuilds every member's update with load_task_bank and compares it with numpy's update (from the factors, or W - W_base). */
function rebuildWithNumpy(bank: string, members: readonly Spec[], base: string | null = null): Rebuilt {
  const py = `
import json, sys, importlib.util
import numpy as np
def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); return m
loader = load("loader", "test/unit/recast-python-loader.py")
ref = load("ref", "test/unit/family-reference.py")
spec = json.load(sys.stdin)
members, updates = loader.load_task_bank(spec["bank"])
error, cosine, rel = {}, {}, {}
for m, s in zip(members, spec["members"]):
    truth = ref.peft_updates(s["file"], s["config"]) if s["kind"] == "peft" else ref.full_updates(s["file"], spec["base"])
    error[m["name"]] = {}
    xs, fs = [], []
    for layer, got in updates[m["name"]].items():
        want = truth[layer]
        assert got.size == want.size, (layer, got.shape, want.shape)
        got = got.reshape(want.shape)
        error[m["name"]][layer] = float(np.abs(got - want).max() / np.abs(want).max())
        xs.append(want.ravel()); fs.append(got.ravel())
    x, f = np.concatenate(xs), np.concatenate(fs)
    cosine[m["name"]] = float(x @ f / np.linalg.norm(x) / np.linalg.norm(f))
    rel[m["name"]] = float(np.linalg.norm(x - f) / np.linalg.norm(x))
print(json.dumps({"members": members, "error": error, "cosine": cosine, "relError": rel}))
`;
  const input = JSON.stringify({ bank, members, base });
  const p = spawnSync('python3', ['-c', py], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(p.status, 0, p.stderr);
  return JSON.parse(p.stdout) as Rebuilt;
}

async function metadataOf(file: string): Promise<Record<string, string>> {
  const ck = await openCheckpoint(file);
  try {
    return { ...ck.metadata, tensors: JSON.stringify(ck.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape }))) };
  } finally {
    await ck.close();
  }
}

test(
  'family --out on the real GPT-2 adapters: the numpy loader rebuilds each member, its fit as the report and the metadata say',
  { skip: numpyMissing() },
  () =>
    inTempDir(async (dir) => {
      const out = join(dir, 'family.bank.safetensors');
      const r = await cli(['family', ...REAL, '--out', out, '--json']);
      assert.equal(r.code, 0, r.err);
      const doc = JSON.parse(r.out) as FamilyReport & {
        taskBank: { path: string; bytes: number; membersBytes: number; denseBytes: number };
      };
      const names = ['math', 'medical', 'checkpoint-1000', 'checkpoint-7500'];
      const membersBytes = REAL.reduce((s, m) => s + statSync(join(m, 'adapter_model.safetensors')).size, 0);
      assert.deepEqual(doc.taskBank, { path: out, bytes: statSync(out).size, membersBytes, denseBytes: 4 * 12 * 768 * 2304 * 4 });

      const meta = await metadataOf(out);
      assert.equal(meta.format, 'recast-taskbank');
      assert.equal(meta['taskbank.version'], '1');
      assert.equal(meta['taskbank.rule'], TASK_BANK_RULE);
      const banks = JSON.parse(meta['taskbank.banks']) as Record<
        string,
        { layers: string[]; shape: number[]; templates: number; rank: number }
      >;
      assert.deepEqual(Object.keys(banks), ['attn.c_attn.g0']);
      const bank = banks['attn.c_attn.g0'];
      assert.deepEqual(bank.layers, doc.banks[0].layers);
      assert.deepEqual(bank.shape, [768, 2304]);
      assert.equal(bank.templates, 4);
      assert.deepEqual(JSON.parse(meta.tensors), [
        { name: 'taskbank.coefficients.attn.c_attn.g0', dtype: 'F32', shape: [4, 12, 4] },
        { name: 'taskbank.templates.attn.c_attn.g0', dtype: 'F32', shape: [4, 768, 2304] },
      ]);
      assert.deepEqual(JSON.parse(meta['taskbank.fit']), { method: 'spectral', objective: 'per-layer', templates: 4, base: null });

      const py = rebuildWithNumpy(out, REAL.map(peft));
      assert.deepEqual(
        py.members.map(({ name, step, file, bytes }) => ({ name, step, file, bytes })),
        names.map((name, i) => ({
          name,
          step: doc.members[i].step,
          file: 'adapter_model.safetensors',
          bytes: statSync(join(REAL[i], 'adapter_model.safetensors')).size,
        })),
      );
      const stored = (
        JSON.parse(meta['taskbank.metrics']) as Record<string, { cosine: Record<string, number>; relError: Record<string, number> }>
      )['attn.c_attn.g0'];
      for (const name of names) {
        // numpy's cosine of the rebuilt float32 bank against the true updates = the stored fit = the report's curve at n = 4
        assert.ok(Math.abs(py.cosine[name] - stored.cosine[name]) < 1e-5, `${name}: ${py.cosine[name]} vs ${stored.cosine[name]}`);
        assert.ok(Math.abs(py.relError[name] - stored.relError[name]) < 1e-5, `${name} relError`);
        assert.ok(Math.abs(stored.cosine[name] - doc.banks[0].fidelity.cosine[name][3]) < 1e-9, `${name}: the report's curve`);
        assert.ok(Math.abs(stored.relError[name] - doc.banks[0].fidelity.relError[name][3]) < 1e-9);
      }
    }),
);

/** LLaMA-style names, 2 blocks, q_proj [6, 5] at r = 2 and v_proj [4, 5] at r = 3. */
function adapter(seed: number): Tensors {
  const t: Tensors = {};
  for (let i = 0; i < 2; i++) {
    const p = `base_model.model.model.layers.${i}.self_attn`;
    t[`${p}.q_proj.lora_A.weight`] = randomTensor(seed + 10 * i + 1, [2, 5]);
    t[`${p}.q_proj.lora_B.weight`] = randomTensor(seed + 10 * i + 2, [6, 2]);
    t[`${p}.v_proj.lora_A.weight`] = randomTensor(seed + 10 * i + 3, [3, 5]);
    t[`${p}.v_proj.lora_B.weight`] = randomTensor(seed + 10 * i + 4, [4, 3]);
  }
  return t;
}

async function craftFamily(dir: string): Promise<string[]> {
  const configs = [
    peftConfig({ rank_pattern: { v_proj: 3 } }),
    peftConfig({ rank_pattern: { 'self_attn.v_proj': 3 }, use_rslora: true, lora_alpha: 7 }),
    peftConfig({ rank_pattern: { v_proj: 3 }, alpha_pattern: { q_proj: 1.5 } }),
  ];
  const folders: string[] = [];
  for (const [i, config] of configs.entries())
    folders.push(await writeAdapter(join(dir, 'run', `checkpoint-${(i + 1) * 50}`), adapter(100 * i), config));
  return folders;
}

test(
  'with n = every item the bank rebuilds each update as numpy does from the factors (rsLoRA, rank and alpha patterns)',
  { skip: numpyMissing() },
  () =>
    inTempDir(async (dir) => {
      const folders = await craftFamily(dir);
      const family = await loadFamily(folders);
      const out = join(dir, 'bank.safetensors');
      try {
        const result = await writeTaskBank(family, out, { templates: 6 });
        assert.equal(result.banks, 2);
        assert.equal(result.coefficientValues, 2 * 3 * 2 * 6);
        assert.equal(result.templateValues, 6 * (6 * 5 + 4 * 5));
      } finally {
        await family.close();
      }
      const py = rebuildWithNumpy(out, folders.map(peft));
      assert.deepEqual(
        py.members.map((m) => [m.name, m.step]),
        [
          ['checkpoint-50', 50],
          ['checkpoint-100', 100],
          ['checkpoint-150', 150],
        ],
      );
      for (const [name, layers] of Object.entries(py.error)) {
        assert.equal(Object.keys(layers).length, 4);
        for (const [layer, e] of Object.entries(layers)) assert.ok(e < 2e-6, `${name} ${layer}: ${e}`); // float32 storage
        assert.ok(py.cosine[name] > 1 - 1e-10);
      }
    }),
);

test('full checkpoints with a base: the bank rebuilds W - W_base (read in row blocks), as numpy', { skip: numpyMissing() }, () =>
  inTempDir(async (dir) => {
    const base: Tensors = {};
    for (let i = 0; i < 3; i++) {
      base[`h.${i}.attn.q.weight`] = randomTensor(500 + i, [6, 5]);
      base[`h.${i}.mlp.fc.weight`] = randomTensor(600 + i, [5, 7]);
    }
    const baseFile = await writeTensors(join(dir, 'base.safetensors'), base);
    const files: string[] = [];
    for (let m = 0; m < 2; m++) {
      const tuned: Tensors = {};
      for (const [name, t] of Object.entries(base)) {
        const noise = randomTensor(40 * m + name.length, t.shape, 0.05).values;
        tuned[name] = { shape: t.shape, values: Float64Array.from(t.values, (v, i) => Math.fround(v) + noise[i]) };
      }
      files.push(await writeTensors(join(dir, `step-${m + 1}.safetensors`), tuned));
    }
    const family = await loadFamily(files, { base: baseFile });
    const out = join(dir, 'bank.safetensors');
    try {
      await writeTaskBank(family, out, { templates: 6 });
    } finally {
      await family.close();
    }
    const meta = await metadataOf(out);
    assert.equal(JSON.parse(meta['taskbank.fit']).base, 'base.safetensors');
    const py = rebuildWithNumpy(
      out,
      files.map((file) => ({ file, config: null, kind: 'full' as const })),
      baseFile,
    );
    assert.deepEqual(
      py.members.map((m) => [m.name, m.kind, m.step]),
      [
        ['step-1', 'full', 1],
        ['step-2', 'full', 2],
      ],
    );
    for (const [name, layers] of Object.entries(py.error)) {
      assert.equal(Object.keys(layers).length, 6);
      for (const [layer, e] of Object.entries(layers)) assert.ok(e < 2e-6, `${name} ${layer}: ${e}`);
    }
  }),
);

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('the bank is written atomically: never over a member, nothing left behind when stopped', () =>
  inTempDir(async (dir) => {
    const folders = await craftFamily(dir);
    const member = join(folders[0], 'adapter_model.safetensors');
    const before = sha(member);
    const r = await cli(['family', ...folders, '--out', member]);
    assert.equal(r.code, 2);
    assert.match(r.err, /^mimicry: .*adapter_model\.safetensors: .*\(rule: refuse-overwrite-source\)\n$/);
    assert.equal(sha(member), before);
    assert.deepEqual(readdirSync(folders[0]).sort(), ['adapter_config.json', 'adapter_model.safetensors']);

    const family = await loadFamily(folders);
    try {
      const stop = new AbortController();
      const out = join(dir, 'stopped.safetensors');
      await assert.rejects(
        writeTaskBank(family, out, { signal: stop.signal, onWrite: (p) => p.tensors === 1 && stop.abort() }),
        (e: Error) => e.name === 'AbortError',
      );
      assert.deepEqual(
        readdirSync(dir).filter((f) => f !== 'run'),
        [],
      );
    } finally {
      await family.close();
    }
  }));

test('family --out prints the bank size next to the members files and the dense updates', () =>
  inTempDir(async (dir) => {
    const folders = await craftFamily(dir);
    const out = join(dir, 'sub', 'bank.safetensors');
    const r = await cli(['family', ...folders, '--out', out]);
    assert.equal(r.code, 0, r.err);
    const kib = (statSync(out).size / 2 ** 20).toFixed(2);
    assert.match(
      r.out,
      new RegExp(
        `^task bank .*bank\\.safetensors: ${kib} MiB \\(150 template and 36 coefficient values in 2 banks\\); the members' files: `,
        'm',
      ),
    );
    assert.match(r.out, /their shared layers' updates stored dense: 0\.00 MiB\n$/);
  }));
