// The family map: UMAP (umap-js) is seeded, so the same input and seed give the same picture and
// another seed another one; on tasks that own separate directions every point's nearest neighbour on
// the map is a layer of the same task. The CLI passes --map and --seed through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadFamily } from '../../src/mimicry/family/members';
import { analyzeFamily, type FamilyOptions, type FamilyReport } from '../../src/mimicry/family/analyze';
import { runCli } from '../../src/cli/main';
import type { CliIO } from '../../src/cli/io';
import { inTempDir } from './helpers/temp-dir';
import { peftConfig, randomValues, writeAdapter, type Tensors } from './helpers/family-craft';

/** 8 blocks of c_attn updates: the task's own direction (rows in `support`) plus a little per-layer noise. */
function task(seed: number, support: [number, number]): Tensors {
  const t: Tensors = {};
  const a = randomValues(seed, 2 * 6);
  const b = randomValues(seed + 1, 10 * 2).map((v, i) => (Math.floor(i / 2) >= support[0] && Math.floor(i / 2) < support[1] ? v : 0));
  for (let i = 0; i < 8; i++) {
    const noiseA = randomValues(seed * 100 + i, 2 * 6, 0.05);
    t[`base_model.model.h.${i}.attn.c_attn.lora_A.weight`] = { shape: [2, 6], values: a.map((v, k) => v * (1 + i / 8) + noiseA[k]) };
    t[`base_model.model.h.${i}.attn.c_attn.lora_B.weight`] = { shape: [10, 2], values: b };
  }
  return t;
}

async function analyze(paths: string[], opts: FamilyOptions): Promise<FamilyReport> {
  const family = await loadFamily(paths);
  try {
    return await analyzeFamily(family, opts);
  } finally {
    await family.close();
  }
}

test('UMAP map: same seed, same picture; another seed, another; tasks apart', () =>
  inTempDir(async (dir) => {
    const paths = [
      await writeAdapter(join(dir, 'one'), task(1, [0, 4]), peftConfig()),
      await writeAdapter(join(dir, 'two'), task(2, [3, 7]), peftConfig()),
      await writeAdapter(join(dir, 'three'), task(3, [6, 10]), peftConfig()),
    ];
    const a = await analyze(paths, { map: 'umap', seed: 7 });
    const b = await analyze(paths, { map: 'umap', seed: 7 });
    const c = await analyze(paths, { map: 'umap', seed: 8 });
    assert.equal(a.map.method, 'umap');
    assert.equal(a.map.seed, 7);
    assert.equal(a.map.neighbors, 15);
    assert.equal(a.map.explained, null);
    assert.equal(a.map.points.length, 24);
    assert.deepEqual(a.map.points, b.map.points);
    assert.notDeepEqual(a.map.points, c.map.points);
    assert.ok(a.map.points.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
    for (const p of a.map.points) {
      let best = Infinity;
      let nearest = '';
      for (const q of a.map.points) {
        if (q === p) continue;
        const d = Math.hypot(p.x - q.x, p.y - q.y);
        if (d < best) [best, nearest] = [d, q.member];
      }
      assert.equal(nearest, p.member, `${p.member} ${p.layer}'s nearest point`);
    }
    // PCA is the default, exact and unseeded.
    const pca = await analyze(paths, {});
    assert.equal(pca.map.method, 'pca');
    assert.equal(pca.map.seed, null);
    assert.ok(pca.map.explained && pca.map.explained[0] > 0);
  }));

test('family --map umap --seed S through the CLI; a map of fewer than 3 points is refused with the rule', () =>
  inTempDir(async (dir) => {
    const paths = [
      await writeAdapter(join(dir, 'one'), task(1, [0, 4]), peftConfig()),
      await writeAdapter(join(dir, 'two'), task(2, [3, 7]), peftConfig()),
    ];
    let out = '';
    let err = '';
    const io: CliIO = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
    assert.equal(await runCli(['family', ...paths, '--map', 'umap', '--seed', '3', '--json'], io), 0, err);
    const doc = JSON.parse(out) as FamilyReport;
    assert.equal(doc.map.method, 'umap');
    assert.equal(doc.map.seed, 3);
    assert.equal(doc.map.points.length, 16);

    const single: Tensors = {};
    const t = task(4, [0, 4]);
    for (const k of Object.keys(t)) if (k.includes('.h.0.')) single[k] = t[k];
    const small = [await writeAdapter(join(dir, 's1'), single, peftConfig()), await writeAdapter(join(dir, 's2'), single, peftConfig())];
    err = '';
    assert.equal(await runCli(['family', ...small, '--map', 'umap'], io), 2);
    assert.match(err, /needs 3 or more \(member, layer\) points.*\(rule: invalid-family-option\)\n$/);
  }));
