import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { stageSafetensorsData, writeSafetensors } from '../../src/mimicry/safetensors/writer';
import type { DType, TensorToWrite } from '../../src/mimicry/safetensors/types';
import { exportRecast, finishReparameterized } from '../../src/mimicry/recast/export';
import { rebuildDense } from '../../src/mimicry/recast/rebuild';
import { reconstruct } from '../../src/mimicry/recast/reconstruct';
import { metricsJson } from '../../src/mimicry/recast/report';
import { Random } from '../../src/mimicry/recast/random';
import { inTempDir, withCheckpoint } from './helpers/temp-dir';

const GPT2 = 'test/fixtures/real/capp-gpt2-4layer.safetensors';

interface RawTensor {
  dtype: DType;
  shape: number[];
  data: Buffer;
}
interface RawFile {
  meta: Record<string, string> | undefined;
  tensors: Map<string, RawTensor>;
  order: string[];
}

/** An independent safetensors reader: header JSON and byte slices, nothing from the project. */
function readRaw(file: string): RawFile {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const tensors = new Map<string, RawTensor>();
  const order: string[] = [];
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    const e = v as { dtype: DType; shape: number[]; data_offsets: [number, number] };
    tensors.set(k, { dtype: e.dtype, shape: e.shape, data: buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]) });
    order.push(k);
  }
  return { meta: header.__metadata__ as Record<string, string> | undefined, tensors, order };
}

const f32 = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
/** bfloat16 bits are the top half of float32's. */
const bf16 = (b: Buffer) => {
  const out = new Float32Array(b.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = f32(Buffer.from([0, 0, b[2 * i], b[2 * i + 1]]))[0];
  return out;
};

test('exact preset on the real GPT-2: every layer cosine >= 0.99999, both objectives', async () => {
  await withCheckpoint(GPT2, async (ck) => {
    for (const objective of ['per-layer', 'total'] as const) {
      const r = await reconstruct(ck, { preset: 'exact', blocksPerGroup: 4, objective });
      assert.equal(r.layers.length, 16);
      assert.ok(r.summary.minCosine >= 0.99999, `${objective}: min cos ${r.summary.minCosine}`);
      for (const b of r.banks) assert.equal(b.n, 4);
    }
    // the authors' ViT-S setting (n = blocks per group = 2) is exact too
    const paper = await reconstruct(ck, {});
    assert.ok(paper.summary.minCosine >= 0.99999);
    assert.equal(paper.banks.length, 8);
    // Above the side limit entropy is estimated (with its error, near the exact value), or skipped
    // (null, with the reason) without estimates; everything else is still measured.
    const exact = await reconstruct(ck, { modules: ['attn.c_proj'] });
    const estimated = await reconstruct(ck, { modules: ['attn.c_proj'], entropyMaxSide: 32 });
    for (const [i, b] of estimated.banks.entries()) {
      const e = b.metrics.entropyEstimated;
      const h = exact.banks[i].metrics.entropy ?? Number.NaN;
      assert.ok(e && e.probes === 4 && e.steps === 24 && e.error > 0 && e.error < 0.2, JSON.stringify(e));
      assert.equal(exact.banks[i].metrics.entropyEstimated, undefined);
      assert.ok(Math.abs((b.metrics.entropy ?? Number.NaN) - h) <= 3 * e.error, `${b.metrics.entropy} ± ${e.error} vs ${h}`);
      assert.equal(b.metrics.entropySkipped, undefined);
    }
    const capped = await reconstruct(ck, { modules: ['attn.c_proj'], entropyMaxSide: 32, entropyEstimate: false });
    assert.equal(capped.banks[0].metrics.entropy, null);
    assert.equal(capped.banks[0].metrics.entropyEstimated, undefined);
    assert.match(capped.banks[0].metrics.entropySkipped ?? '', /64 > 32/);
    assert.ok(capped.banks[0].metrics.diversity > 0);
  });
});

test('compressing the real GPT-2 (4 blocks/group, n = 3): per-layer beats total on the worst layer', async () => {
  await withCheckpoint(GPT2, async (ck) => {
    const total = await reconstruct(ck, { blocksPerGroup: 4, templates: 3, objective: 'total' });
    const per = await reconstruct(ck, { blocksPerGroup: 4, templates: 3, objective: 'per-layer' });
    assert.ok(per.summary.minCosine > total.summary.minCosine, `${per.summary.minCosine} vs ${total.summary.minCosine}`);
    assert.ok(total.summary.meanCosine < 0.999);
    for (const l of [...total.layers, ...per.layers]) assert.ok(Number.isFinite(l.cosine) && Number.isFinite(l.relError));
    // parameters: 16 layers of 4 roles -> 4 banks with 3 templates each and [2, 3] coefficients per layer
    const d = [64 * 192, 64 * 64, 64 * 256, 256 * 64];
    const before = 236224;
    const after = before - 4 * d.reduce((a, v) => a + v, 0) + 3 * d.reduce((a, v) => a + v, 0) + 16 * 2 * 3;
    assert.deepEqual(per.summary.parameters, { before, after, ratio: before / after });
    assert.equal(per.summary.coefficientsPerTask, 16 * 2 * 3);
  });
});

test('export of the real GPT-2 follows docs/FORMAT.md field by field; dense == rebuild == independent rebuild', async () => {
  await inTempDir(async (dir) => {
    await withCheckpoint(GPT2, async (ck) => {
      const sourceBytes = readFileSync(GPT2);
      const out = join(dir, 'gpt2.recast.safetensors');
      const dense = join(dir, 'gpt2.dense.safetensors');
      const report = join(dir, 'gpt2.report.json');
      const progress: string[] = [];
      const { result } = await exportRecast(
        ck,
        { blocksPerGroup: 4, templates: 3, sets: 2, probes: 4, seed: 7 },
        { out, dense, report },
        { onProgress: (ev) => progress.push(ev.group) },
      );
      assert.deepEqual(progress.sort(), ['attn.c_attn.g0', 'attn.c_proj.g0', 'mlp.c_fc.g0', 'mlp.c_proj.g0']);
      // the source is untouched and no scratch files are left behind
      assert.ok(readFileSync(GPT2).equals(sourceBytes));
      assert.deepEqual(readdirSync(dir).sort(), ['gpt2.dense.safetensors', 'gpt2.recast.safetensors', 'gpt2.report.json']);

      const src = readRaw(GPT2);
      const rc = readRaw(out);
      const meta = rc.meta;
      assert.ok(meta);
      for (const v of Object.values(meta)) assert.equal(typeof v, 'string');
      assert.equal(meta.format, 'recast');
      assert.equal(meta['recast.version'], '1');
      assert.equal(meta['recast.coefficient_sets'], '2');
      assert.deepEqual(JSON.parse(meta['recast.source']), {
        file: 'capp-gpt2-4layer.safetensors',
        bytes: statSync(GPT2).size,
        sha256: createHash('sha256').update(sourceBytes).digest('hex'),
      });
      // source metadata: every key kept (format is docs/FORMAT.md's own key; the original value is kept too)
      assert.deepEqual(JSON.parse(meta['recast.source_metadata']), { format: 'pt' });

      const banks = JSON.parse(meta['recast.banks']) as Record<
        string,
        { members: string[]; shape: number[]; templates: number; source_dtype: string }
      >;
      assert.deepEqual(Object.keys(banks).sort(), ['attn.c_attn.g0', 'attn.c_proj.g0', 'mlp.c_fc.g0', 'mlp.c_proj.g0']);
      assert.deepEqual(banks['mlp.c_fc.g0'], {
        members: [0, 1, 2, 3].map((i) => `transformer.h.${i}.mlp.c_fc.weight`),
        shape: [64, 256],
        templates: 3,
        source_dtype: 'F32',
      });
      const method = JSON.parse(meta['recast.method']) as Record<string, unknown>;
      for (const k of ['method', 'grouping', 'n', 'K', 'loss', 'steps', 'lr', 'noise', 'seed', 'backend', 'elapsed'])
        assert.ok(k in method, `recast.method.${k}`);
      assert.equal(method.method, 'spectral');
      assert.equal(method.n, 3);
      assert.equal(method.K, 2);
      assert.equal(method.seed, 7);
      assert.equal(typeof method.elapsed, 'number');
      const metrics = JSON.parse(meta['recast.metrics']) as {
        layers: { name: string; bank: string; cosine: number; relError: number; probeCosine: number }[];
        banks: {
          name: string;
          members: string[];
          templates: number;
          diversity: number;
          diversityRelative: number;
          entropy: number;
          entropyNormalized: number;
          coefficientSimilarity: number[][];
          energy: number[];
        }[];
        summary: { probeKind: string };
      };
      assert.equal(metrics.layers.length, 16);
      for (const l of metrics.layers) {
        assert.deepEqual(Object.keys(l).slice(0, 4), ['name', 'bank', 'cosine', 'relError']);
        assert.ok(banks[l.bank].members.includes(l.name));
        assert.ok(l.probeCosine > 0 && l.probeCosine <= 1);
      }
      assert.match(metrics.summary.probeKind, /random/);
      for (const b of metrics.banks) {
        // Optional keys (entropySkipped, entropyEstimated, energy) sit before coefficientSimilarity, as FORMAT lists them.
        const optionalKeys = new Set(['entropySkipped', 'entropyEstimated', 'energy']);
        assert.deepEqual(Object.keys(b).slice(7, 8), ['energy'], 'a closed-form run stores its energy shares');
        assert.equal(b.energy.length, b.templates);
        assert.deepEqual(
          Object.keys(b)
            .filter((k) => !optionalKeys.has(k))
            .slice(0, 8),
          ['name', 'members', 'templates', 'diversity', 'diversityRelative', 'entropy', 'entropyNormalized', 'coefficientSimilarity'],
        );
        assert.deepEqual(b.members, banks[b.name].members);
        assert.equal(b.coefficientSimilarity.length, 4);
        assert.ok(b.entropyNormalized > 0 && b.entropyNormalized <= 1);
        assert.ok(Math.abs(b.diversityRelative - Math.SQRT2) < 1e-5); // orthogonal templates of equal norm
      }

      // tensors: templates [n, ...shape] F32, coefficients [K, n] F32, everything else byte for byte
      const members = new Set(Object.values(banks).flatMap((b) => b.members));
      for (const [name, b] of Object.entries(banks)) {
        const t = rc.tensors.get(`recast.templates.${name}`);
        assert.ok(t);
        assert.equal(t.dtype, 'F32');
        assert.deepEqual(t.shape, [b.templates, ...b.shape]);
        for (const m of b.members) {
          const c = rc.tensors.get(`recast.coefficients.${m}`);
          assert.ok(c);
          assert.equal(c.dtype, 'F32');
          assert.deepEqual(c.shape, [2, b.templates]);
          assert.equal(rc.tensors.has(m), false);
        }
      }
      for (const name of src.order) {
        if (members.has(name)) continue;
        const a = src.tensors.get(name) as RawTensor;
        const b = rc.tensors.get(name);
        assert.ok(b, name);
        assert.equal(b.dtype, a.dtype);
        assert.deepEqual(b.shape, a.shape);
        assert.ok(b.data.equals(a.data), name);
      }
      assert.equal(rc.tensors.size, src.tensors.size - members.size + members.size + Object.keys(banks).length);

      // dense export: original names/shapes/dtypes; members by the rule computed here independently
      const dn = readRaw(dense);
      assert.deepEqual([...dn.tensors.keys()].sort(), [...src.tensors.keys()].sort());
      assert.deepEqual(dn.meta, src.meta);
      for (const [name, b] of Object.entries(banks)) {
        const T = f32(rc.tensors.get(`recast.templates.${name}`)!.data);
        const d = b.shape.reduce((a, v) => a * v, 1);
        for (const m of b.members) {
          const C = f32(rc.tensors.get(`recast.coefficients.${m}`)!.data);
          const got = f32(dn.tensors.get(m)!.data);
          const orig = f32(src.tensors.get(m)!.data);
          let maxRel = 0,
            on = 0;
          for (let i = 0; i < d; i++) {
            let w = 0;
            for (let k = 0; k < 2; k++) for (let t = 0; t < b.templates; t++) w += C[k * b.templates + t] * T[t * d + i];
            w /= 2;
            maxRel = Math.max(maxRel, Math.abs(w - got[i]));
            on = Math.max(on, Math.abs(w));
          }
          assert.ok(maxRel <= 1e-6 * on, `${m}: ${maxRel}`);
          // the metric in the file is the cosine of this dense tensor against the source
          let ab = 0,
            aa = 0,
            bb = 0;
          for (let i = 0; i < d; i++) {
            ab += got[i] * orig[i];
            aa += got[i] ** 2;
            bb += orig[i] ** 2;
          }
          const cos = metrics.layers.find((l) => l.name === m)!.cosine;
          assert.ok(Math.abs(ab / Math.sqrt(aa * bb) - cos) < 1e-9);
        }
      }
      const rebuilt = join(dir, 'rebuilt.safetensors');
      await rebuildDense(out, rebuilt);
      assert.ok(readFileSync(rebuilt).equals(readFileSync(dense)), 'rebuild == dense export, byte for byte');

      const rep = JSON.parse(readFileSync(report, 'utf8')) as { method: unknown; metrics: unknown; banks: unknown };
      assert.deepEqual(rep.method, method);
      assert.deepEqual(rep.metrics, metrics);
      assert.deepEqual(rep.banks, banks);
      assert.equal(result.summary.layers, 16);
    });
  });
});

test('the dense file is written while template entropy runs and appears after the reparameterized one; a run stopped later leaves no file', async () => {
  await inTempDir(async (dir) => {
    await withCheckpoint(GPT2, async (ck) => {
      const out = join(dir, 'm.recast.safetensors');
      const dense = join(dir, 'm.dense.safetensors');
      const report = join(dir, 'm.report.json');
      const events: string[] = [];
      let denseThereDuringOut = false;
      const outcome = await exportRecast(
        ck,
        {},
        { out, dense, report },
        {
          onPhase: (ev) => void (ev.phase === 'entropy' && events.at(-1) !== 'entropy' && events.push('entropy')),
          onWrite: (file, p) => {
            if (events.at(-1) !== file) events.push(file);
            if (file === out && p.tensors === 0) denseThereDuringOut = existsSync(dense);
          },
        },
      );
      // Written before the reparameterized file (inside the run), renamed into place after it.
      assert.equal(events.indexOf(dense) < events.indexOf(out), true, events.join(' > '));
      assert.equal(denseThereDuringOut, false, 'the dense file appears only after the reparameterized one');
      assert.ok(outcome.timing.writeDuringEntropy > 0);
      assert.deepEqual(readdirSync(dir).sort(), ['m.dense.safetensors', 'm.recast.safetensors', 'm.report.json']);
      // The reparameterized file's data was written inside the run too, its header (entropy in its
      // metrics) last, into space reserved by stand-ins: the header JSON ends in more than the one-pass
      // writer's padding (under 8 spaces), and never outgrew its reservation (no second write).
      const bytes = readFileSync(out);
      const header = bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8');
      const padding = header.length - header.trimEnd().length;
      assert.ok(padding >= 8 && padding < 4096, `${padding} spaces of padding`);
      assert.ok(
        outcome.result.banks.every((b) => b.metrics.entropy !== null && b.metrics.entropy > 0),
        'the final metrics are in',
      );
      assert.deepEqual(
        (JSON.parse(header) as { __metadata__: Record<string, string> }).__metadata__['recast.metrics'],
        JSON.stringify(metricsJson(outcome.result)),
      );
      const rebuilt = join(dir, 'rebuilt.safetensors');
      await rebuildDense(out, rebuilt);
      assert.ok(readFileSync(rebuilt).equals(readFileSync(dense)), 'rebuild == dense export, byte for byte');

      // Stopped while the reparameterized file is written, the dense one already staged: neither file, no temporary.
      const fresh = join(dir, 'stopped');
      const ac = new AbortController();
      await assert.rejects(
        exportRecast(
          ck,
          {},
          { out: `${fresh}.recast.safetensors`, dense: `${fresh}.dense.safetensors` },
          { signal: ac.signal, onWrite: (file) => void (file.endsWith('.recast.safetensors') && ac.abort()) },
        ),
        { name: 'AbortError' },
      );
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.includes('stopped')),
        [],
      );
    });
  });
});

test('a staged reparameterized file whose final header outgrows its reservation is dropped (the export then writes it whole); other failures are not swallowed', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'm.recast.safetensors');
    const entries = () => [
      { name: 'a', dtype: 'F32' as const, shape: [1], byteLength: 4, bytes: () => Promise.resolve(new Uint8Array(4)) },
    ];
    const grown = await stageSafetensorsData(file, entries(), { k: 'short' }, 0);
    assert.equal(await finishReparameterized(grown, { k: 'x'.repeat(64) }), null);
    assert.deepEqual(readdirSync(dir), [], 'the staged file is gone');
    const fits = await stageSafetensorsData(file, entries(), { k: 'x'.repeat(64) }, 0);
    const staged = await finishReparameterized(fits, { k: 'short' });
    assert.ok(staged);
    await staged.commit();
    assert.deepEqual(readdirSync(dir), ['m.recast.safetensors']);
    assert.equal(await finishReparameterized(null, {}), null);
    const ac = new AbortController();
    const stopped = await stageSafetensorsData(join(dir, 'n.safetensors'), entries(), { k: 'v' }, 0, { signal: ac.signal });
    ac.abort();
    await assert.rejects(finishReparameterized(stopped, { k: 'v' }), { name: 'AbortError' });
    assert.deepEqual(readdirSync(dir), ['m.recast.safetensors']);
  });
});

test('BF16 and F16 sources: dense casts with round-to-nearest-even; rebuild matches; source is refused as target', async () => {
  await inTempDir(async (dir) => {
    const rng = new Random(11);
    const tensors: TensorToWrite[] = [];
    const toBf16 = (v: Float32Array) => {
      const u = new Uint32Array(v.buffer.slice(0));
      const out = new Uint16Array(v.length);
      for (let i = 0; i < v.length; i++) out[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16;
      return new Uint8Array(out.buffer);
    };
    for (let i = 0; i < 4; i++) {
      tensors.push({
        name: `model.layers.${i}.mlp.up_proj.weight`,
        dtype: 'BF16' as const,
        shape: [8, 12],
        data: toBf16(rng.normals(96, 0.05)),
      });
      const h = Buffer.alloc(2 * 40);
      rng.normals(40, 0.05).forEach((v, j) => h.writeUInt16LE((Math.round(v * 100) & 0x3ff) | 0x2000, 2 * j)); // small positive F16 values
      tensors.push({ name: `model.layers.${i}.mlp.down_proj.weight`, dtype: 'F16' as const, shape: [5, 8], data: new Uint8Array(h) });
      tensors.push({ name: `model.layers.${i}.norm.weight`, dtype: 'BF16' as const, shape: [8], data: toBf16(rng.normals(8)) });
    }
    const src = join(dir, 'half.safetensors');
    await writeSafetensors(src, tensors, { note: 'kept' });
    await withCheckpoint(src, async (ck) => {
      await assert.rejects(exportRecast(ck, {}, { out: src }), /overwrite the source/);
      const out = join(dir, 'half.recast.safetensors');
      const dense = join(dir, 'half.dense.safetensors');
      const { result } = await exportRecast(ck, { blocksPerGroup: 4, templates: 2 }, { out, dense });
      assert.deepEqual(result.banks.map((b) => [b.plan.name, b.plan.dtype]).sort(), [
        ['mlp.down_proj.g0', 'F16'],
        ['mlp.up_proj.g0', 'BF16'],
      ]);
      const rc = readRaw(out);
      assert.equal(rc.meta?.note, 'kept');
      const banks = JSON.parse(rc.meta!['recast.banks']) as Record<string, { source_dtype: string }>;
      assert.equal(banks['mlp.up_proj.g0'].source_dtype, 'BF16');
      const dn = readRaw(dense);
      // By default the templates are stored in each bank's source dtype.
      assert.equal(rc.tensors.get('recast.templates.mlp.down_proj.g0')!.dtype, 'F16');
      const stored = rc.tensors.get('recast.templates.mlp.up_proj.g0')!;
      assert.equal(stored.dtype, 'BF16');
      const T = bf16(stored.data);
      for (let i = 0; i < 4; i++) {
        const name = `model.layers.${i}.mlp.up_proj.weight`;
        const C = f32(rc.tensors.get(`recast.coefficients.${name}`)!.data);
        const w = new Float32Array(96);
        for (let j = 0; j < 96; j++) w[j] = ((C[0] + C[2]) / 2) * T[j] + ((C[1] + C[3]) / 2) * T[96 + j];
        assert.equal(dn.tensors.get(name)!.dtype, 'BF16');
        // the rule in float64, rounded once to float32, then to bf16 with ties to even: bit for bit
        const got = dn.tensors.get(name)!.data;
        assert.ok(got.equals(Buffer.from(toBf16(w))), name);
      }
      assert.equal(dn.tensors.get('model.layers.0.mlp.down_proj.weight')!.dtype, 'F16');
      assert.ok(dn.tensors.get('model.layers.2.norm.weight')!.data.equals(Buffer.from(tensors[8].data)));
      const rebuilt = join(dir, 'rebuilt.safetensors');
      await rebuildDense(out, rebuilt);
      assert.ok(readFileSync(rebuilt).equals(readFileSync(dense)));
      await assert.rejects(rebuildDense(out, out), /input|source|overwrite/i);
    });
  });
});

test('cancelling stops between groups; a recast file is not reconstructed again', async () => {
  await inTempDir(async (dir) => {
    await withCheckpoint(GPT2, async (ck) => {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(reconstruct(ck, {}, { signal: ac.signal }), { name: 'AbortError' });
      const out = join(dir, 'a.safetensors');
      const ac2 = new AbortController();
      await assert.rejects(exportRecast(ck, {}, { out }, { signal: ac2.signal, onProgress: () => ac2.abort() }), { name: 'AbortError' });
      assert.deepEqual(readdirSync(dir), []);
      await exportRecast(ck, {}, { out });
      const again = await openCheckpoint(out);
      try {
        await assert.rejects(reconstruct(again, {}), /already a reparameterized/);
      } finally {
        await again.close();
      }
    });
  });
});

test('a sharded source: recast.source describes the index and each shard; the dense export is one file', async () => {
  await inTempDir(async (dir) => {
    const rng = new Random(2);
    const f32bytes = (n: number) => new Uint8Array(rng.normals(n, 0.1).buffer);
    const shardA = [0, 1].map((i) => ({ name: `layers.${i}.ffn.weight`, dtype: 'F32' as const, shape: [6, 4], data: f32bytes(24) }));
    const shardB = [2, 3].map((i) => ({ name: `layers.${i}.ffn.weight`, dtype: 'F32' as const, shape: [6, 4], data: f32bytes(24) }));
    shardB.push({ name: 'head.weight', dtype: 'F32', shape: [3, 4], data: f32bytes(12) });
    await writeSafetensors(join(dir, 'm-00001.safetensors'), shardA);
    await writeSafetensors(join(dir, 'm-00002.safetensors'), shardB);
    const weightMap = Object.fromEntries([
      ...shardA.map((t) => [t.name, 'm-00001.safetensors']),
      ...shardB.map((t) => [t.name, 'm-00002.safetensors']),
    ]);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'm.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 1000 }, weight_map: weightMap }));
    await withCheckpoint(join(dir, 'm.safetensors.index.json'), async (ck) => {
      const out = join(dir, 'out.safetensors');
      const dense = join(dir, 'dense.safetensors');
      await exportRecast(ck, { blocksPerGroup: 4, templates: 'exact' }, { out, dense });
      const rc = readRaw(out);
      const source = JSON.parse(rc.meta!['recast.source']) as { file: string; shards: { file: string; sha256: string }[] };
      assert.equal(source.file, 'm.safetensors.index.json');
      assert.deepEqual(
        source.shards.map((s) => s.file),
        ['m-00001.safetensors', 'm-00002.safetensors'],
      );
      assert.equal(
        source.shards[1].sha256,
        createHash('sha256')
          .update(readFileSync(join(dir, 'm-00002.safetensors')))
          .digest('hex'),
      );
      const dn = readRaw(dense);
      assert.equal(dn.tensors.size, 5);
      assert.ok(dn.tensors.get('head.weight')!.data.equals(Buffer.from(shardB[2].data)));
      await assert.rejects(exportRecast(ck, {}, { out: join(dir, 'm-00001.safetensors') }), /overwrite the source/);
    });
  });
});

test('NaN in a member is refused with a message that names the tensor and its role', async () => {
  await inTempDir(async (dir) => {
    const bad = new Float32Array(8).fill(0.5);
    bad[3] = Number.NaN;
    const ok = new Float32Array(8).fill(0.25);
    const src = join(dir, 'nan.safetensors');
    await writeSafetensors(src, [
      { name: 'h.0.mlp.weight', dtype: 'F32', shape: [2, 4], data: new Uint8Array(bad.buffer) },
      { name: 'h.1.mlp.weight', dtype: 'F32', shape: [2, 4], data: new Uint8Array(ok.buffer) },
    ]);
    await withCheckpoint(src, async (ck) => {
      await assert.rejects(
        reconstruct(ck, {}),
        /nan\.safetensors: .*NaN or Inf \(h\.0\.mlp\.weight at element 3; .*"mlp"\)\) \[non-finite-weights\]$/,
      );
    });
  });
});
