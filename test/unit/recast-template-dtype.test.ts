// Template dtype (docs/FORMAT.md section 1): templates stored in the bank's 16-bit source dtype make
// an export smaller than its source; the metrics are of what the file rebuilds (the rounded
// templates), the float32 templates' fidelity beside them; the reader accepts F32 or the bank's own
// source_dtype and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import type { TensorToWrite } from '../../src/mimicry/safetensors/types';
import { EngineError } from '../../src/mimicry/errors';
import { exportRecast } from '../../src/mimicry/recast/export';
import { openRecast, rebuildDense } from '../../src/mimicry/recast/rebuild';
import { readRecastMetadata } from '../../src/mimicry/recast/recastSchema';
import { Random } from '../../src/mimicry/recast/random';
import { fitSpectral } from '../../src/mimicry/recast/spectral';
import { inTempDir, withCheckpoint } from './helpers/temp-dir';
import { Command, CommanderError } from 'commander';
import { CliError, type CliIO } from '../../src/cli/io';
import { registerReconstruct } from '../../src/cli/reconstruct';
import { registerMetrics } from '../../src/cli/metrics';
import { formatSizeAgainst } from '../../src/webview/shared/format';

/** float32 to bfloat16 bits, nearest even (independent of the engine's encoder). */
function toBf16(v: Float32Array): Uint8Array {
  const u = new Uint32Array(v.buffer.slice(0));
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16;
  return new Uint8Array(out.buffer);
}
const bf16Values = (b: Uint8Array): Float64Array => {
  const bits = new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const u = new Uint32Array(bits.length).map((_, i) => bits[i] << 16);
  return Float64Array.from(new Float32Array(u.buffer));
};
const f32Values = (b: Uint8Array): Float64Array =>
  Float64Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));

/** 8 blocks of a 64 x 96 BF16 matrix that share structure (a common low-rank part plus noise), and one BF16 norm vector each. */
async function bf16Source(file: string): Promise<TensorToWrite[]> {
  const rng = new Random(7);
  const base = [rng.normals(64 * 96, 0.05), rng.normals(64 * 96, 0.05)];
  const tensors: TensorToWrite[] = [];
  for (let i = 0; i < 8; i++) {
    const w = new Float32Array(64 * 96);
    const noise = rng.normals(64 * 96, 0.005);
    const a = 1 + 0.1 * i;
    const b = 0.5 - 0.05 * i;
    for (let j = 0; j < w.length; j++) w[j] = a * base[0][j] + b * base[1][j] + noise[j];
    tensors.push({ name: `model.layers.${i}.mlp.up_proj.weight`, dtype: 'BF16', shape: [64, 96], data: toBf16(w) });
    tensors.push({ name: `model.layers.${i}.norm.weight`, dtype: 'BF16', shape: [64], data: toBf16(rng.normals(64)) });
  }
  await writeSafetensors(file, tensors);
  return tensors;
}

/** Cosine and relative error of docs/FORMAT.md's rule applied to the file's own bytes, rounded to float32, against the source. */
function fidelityFromFile(templates: Float64Array, n: number, coefficients: Float64Array, original: Float64Array) {
  const d = templates.length / n;
  const K = coefficients.length / n;
  const mean = Array.from({ length: n }, (_, t) => {
    let s = 0;
    for (let k = 0; k < K; k++) s += coefficients[k * n + t];
    return s / K;
  });
  let ab = 0,
    aa = 0,
    bb = 0,
    dd = 0;
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let t = 0; t < n; t++) s += mean[t] * templates[t * d + i];
    const w = Math.fround(s);
    const o = original[i];
    ab += o * w;
    aa += o * o;
    bb += w * w;
    dd += (w - o) ** 2;
  }
  return { cosine: ab / Math.sqrt(aa * bb), relError: Math.sqrt(dd / aa) };
}

test('a BF16 source exported with BF16 templates is smaller than the source; F32 templates are not', async () => {
  await inTempDir(async (dir) => {
    const src = join(dir, 'bf16.safetensors');
    await bf16Source(src);
    await withCheckpoint(src, async (ck) => {
      const stored = join(dir, 'stored.recast.safetensors');
      const exact = join(dir, 'exact.recast.safetensors');
      // 4 blocks per group, 1 template: a 2x compressing setting in parameters.
      const a = await exportRecast(ck, { blocksPerGroup: 4, templates: 1 }, { out: stored });
      const b = await exportRecast(ck, { blocksPerGroup: 4, templates: 1, templateDtype: 'F32' }, { out: exact });
      assert.deepEqual(
        a.result.banks.map((x) => x.templateDtype),
        ['BF16', 'BF16'],
      );
      assert.deepEqual(
        b.result.banks.map((x) => x.templateDtype),
        ['F32', 'F32'],
      );
      assert.equal(a.result.method.templateDtype, 'source');
      assert.equal(b.result.method.templateDtype, 'F32');
      const source = statSync(src).size;
      const small = statSync(stored).size;
      const big = statSync(exact).size;
      assert.ok(small < 0.6 * source, `BF16 templates: ${small} bytes against a ${source}-byte source`);
      assert.ok(big > small, `F32 templates: ${big} bytes, BF16: ${small}`);
    });
  });
});

test('the reported fidelity is what the file rebuilds; the float32 templates\u2019 is reported beside it', async () => {
  await inTempDir(async (dir) => {
    const src = join(dir, 'bf16.safetensors');
    const tensors = await bf16Source(src);
    await withCheckpoint(src, async (ck) => {
      const out = join(dir, 'stored.recast.safetensors');
      const { result } = await exportRecast(ck, { blocksPerGroup: 4, templates: 1 }, { out });
      const exact = await exportRecast(
        ck,
        { blocksPerGroup: 4, templates: 1, templateDtype: 'F32' },
        { out: join(dir, 'exact.safetensors') },
      );
      const recast = await openCheckpoint(out);
      try {
        for (const b of result.banks) {
          const t = recast.tensor(`recast.templates.${b.plan.name}`);
          assert.equal(t?.dtype, 'BF16');
          const T = bf16Values(await recast.readBytes(t!));
          for (const name of b.plan.members) {
            const C = f32Values(await recast.readBytes(recast.tensor(`recast.coefficients.${name}`)!));
            const original = bf16Values(tensors.find((x) => x.name === name)!.data);
            const want = fidelityFromFile(T, b.n, C, original);
            const got = result.layers.find((l) => l.name === name)!;
            assert.ok(Math.abs(got.cosine - want.cosine) < 1e-12, `${name}: reported ${got.cosine}, the file gives ${want.cosine}`);
            assert.ok(Math.abs(got.relError - want.relError) < 1e-12, `${name}: reported ${got.relError}, the file gives ${want.relError}`);
            // Beside it: exactly what F32 templates give (the same fit, not rounded).
            const f32 = exact.result.layers.find((l) => l.name === name)!;
            assert.equal(got.f32Cosine, f32.cosine);
            assert.equal(got.f32RelError, f32.relError);
            assert.equal(f32.f32Cosine, undefined);
            // Rounding to BF16 moves the result (by about 2^-9 relative per value), little next to the fit's own error.
            assert.notEqual(got.relError, f32.relError);
            assert.ok(Math.abs(got.relError - f32.relError) < 0.01 * f32.relError, `${got.relError} vs ${f32.relError}`);
          }
        }
      } finally {
        await recast.close();
      }
      const s = result.summary;
      assert.ok(s.f32Templates, 'summary.f32Templates');
      assert.equal(s.f32Templates.meanCosine, exact.result.summary.meanCosine);
      assert.equal(s.f32Templates.minCosine, exact.result.summary.minCosine);
      assert.equal(s.f32Templates.meanRelError, exact.result.summary.meanRelError);
      assert.equal(exact.result.summary.f32Templates, undefined);
      // The stored metadata says the same (and passes the reader's schema).
      const { checkpoint, file } = await openRecast(out);
      await checkpoint.close();
      assert.deepEqual(file.docs.metrics.summary.f32Templates, s.f32Templates);
      assert.equal(file.docs.method.templateDtype, 'source');
      assert.equal(file.docs.metrics.layers[0].f32Cosine, result.layers[0].f32Cosine);
    });
  });
});

/** `from` with every template tensor's dtype replaced by `dtype` (a 16-bit one: the bytes and shape stay). */
async function retypeTemplates(from: string, to: string, dtype: 'F16' | 'BF16'): Promise<void> {
  const ck = await openCheckpoint(from);
  try {
    const tensors: TensorToWrite[] = [];
    for (const t of ck.tensors) {
      const data = (await ck.readBytes(t)).slice();
      const retype = t.name.startsWith('recast.templates.');
      tensors.push({ name: t.name, dtype: retype ? dtype : t.dtype, shape: [...t.shape], data });
    }
    await writeSafetensors(to, tensors, { ...ck.metadata });
  } finally {
    await ck.close();
  }
}

test('a bank bigger than the encoder\u2019s and the reader\u2019s chunks: the file holds the float32 fit rounded to BF16, bit for bit', async () => {
  await inTempDir(async (dir) => {
    // Two BF16 members of 1024 x 1040 (more than 2^20 values each), n = 2: 2.1M template values.
    const rng = new Random(11);
    const [rows, cols] = [1024, 1040];
    const base = rng.normals(rows * cols, 0.05);
    const members = [0, 1].map((i) => {
      const noise = rng.normals(rows * cols, 0.01);
      return Float32Array.from(base, (v, j) => (1 + 0.2 * i) * v + noise[j]);
    });
    const src = join(dir, 'big.safetensors');
    const names = [0, 1].map((i) => `model.layers.${i}.mlp.up_proj.weight`);
    await writeSafetensors(
      src,
      members.map((w, i) => ({ name: names[i], dtype: 'BF16' as const, shape: [rows, cols], data: toBf16(w) })),
    );
    const out = join(dir, 'big.recast.safetensors');
    const { result } = await withCheckpoint(src, (ck) => exportRecast(ck, { blocksPerGroup: 2, templates: 2 }, { out }));
    assert.equal(result.banks.length, 1);
    const [bank] = result.banks;
    assert.equal(bank.templateDtype, 'BF16');
    // The closed form on the members as the file holds them, in float32, independently of the engine's reader.
    const originals = members.map((w) => Float32Array.from(bf16Values(toBf16(w))));
    const exact = fitSpectral(originals, 2, 'per-layer');
    const recast = await openCheckpoint(out);
    try {
      const bytes = await recast.readBytes(recast.tensor(`recast.templates.${bank.plan.name}`)!);
      assert.ok(Buffer.from(bytes).equals(Buffer.from(toBf16(exact.templates))), 'the templates are the float32 fit rounded to BF16');
      const T = bf16Values(bytes);
      for (const [l, name] of names.entries()) {
        const C = f32Values(await recast.readBytes(recast.tensor(`recast.coefficients.${name}`)!));
        const want = fidelityFromFile(T, 2, C, Float64Array.from(originals[l]));
        const got = result.layers.find((x) => x.name === name)!;
        assert.ok(Math.abs(got.cosine - want.cosine) < 1e-12, `${name}: reported ${got.cosine}, the file gives ${want.cosine}`);
        assert.ok(Math.abs(got.relError - want.relError) < 1e-12, `${name}: reported ${got.relError}, the file gives ${want.relError}`);
        // Beside it, the float32 templates' own fidelity (measured before they were rounded in place).
        const f32 = fidelityFromFile(Float64Array.from(exact.templates), 2, C, Float64Array.from(originals[l]));
        assert.ok(Math.abs(got.f32Cosine! - f32.cosine) < 1e-12, `${name}: f32Cosine ${got.f32Cosine} vs ${f32.cosine}`);
        assert.ok(Math.abs(got.f32RelError! - f32.relError) < 1e-12, `${name}: f32RelError ${got.f32RelError} vs ${f32.relError}`);
      }
    } finally {
      await recast.close();
    }
  });
});

test('the reader accepts templates in F32 or the bank\u2019s source dtype, and refuses any other (tensor-invalid)', async () => {
  await inTempDir(async (dir) => {
    const src = join(dir, 'bf16.safetensors');
    await bf16Source(src);
    const out = join(dir, 'stored.recast.safetensors');
    await withCheckpoint(src, (ck) =>
      exportRecast(ck, { blocksPerGroup: 4, templates: 1 }, { out, dense: join(dir, 'dense.safetensors') }),
    );
    // Round trip: BF16 templates are read, decoded exactly, and rebuild the dense export byte for byte.
    const rebuilt = join(dir, 'rebuilt.safetensors');
    await rebuildDense(out, rebuilt);
    assert.ok(readFileSync(rebuilt).equals(readFileSync(join(dir, 'dense.safetensors'))));
    // F16 templates on a BF16 bank: the same bytes, another dtype. Refused before anything is written.
    const f16 = join(dir, 'f16-templates.safetensors');
    await retypeTemplates(out, f16, 'F16');
    const refused = join(dir, 'never.safetensors');
    await assert.rejects(rebuildDense(f16, refused), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.rule, 'tensor-invalid');
      assert.equal(e.file, f16);
      assert.match(e.message, /recast\.templates\.\S+ must be F32 or BF16 \(the bank's source_dtype\) \[1, 64, 96\], is F16 \[1, 64, 96\]/);
      return true;
    });
    assert.throws(() => statSync(refused), /ENOENT/);
  });
  // 16-bit templates on an F32 bank are refused too: F32 is the only dtype such a bank may have.
  await inTempDir(async (dir) => {
    const src = join(dir, 'f32.safetensors');
    const rng = new Random(3);
    await writeSafetensors(
      src,
      [0, 1, 2, 3].map((i) => ({
        name: `h.${i}.mlp.weight`,
        dtype: 'F32' as const,
        shape: [8, 6],
        data: new Uint8Array(rng.normals(48).buffer),
      })),
    );
    const out = join(dir, 'f32.recast.safetensors');
    const { result } = await withCheckpoint(src, (ck) => exportRecast(ck, { blocksPerGroup: 4, templates: 2 }, { out }));
    assert.deepEqual(
      result.banks.map((b) => b.templateDtype),
      ['F32'],
    );
    assert.equal(result.summary.f32Templates, undefined);
    // The same templates as BF16, shape kept.
    const ck = await openCheckpoint(out);
    const tensors: TensorToWrite[] = [];
    for (const t of ck.tensors) {
      const data = (await ck.readBytes(t)).slice();
      if (t.name.startsWith('recast.templates.'))
        tensors.push({ name: t.name, dtype: 'BF16', shape: [...t.shape], data: toBf16(new Float32Array(data.buffer)) });
      else tensors.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], data });
    }
    const meta = { ...ck.metadata };
    await ck.close();
    const bad = join(dir, 'bf16-templates.safetensors');
    await writeSafetensors(bad, tensors, meta);
    await assert.rejects(openRecast(bad), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.rule, 'tensor-invalid');
      assert.match(e.message, /must be F32 \[2, 8, 6\], is BF16 \[2, 8, 6\]/);
      return true;
    });
  });
});

test('templateDtype is checked: only F32 or source', async () => {
  await inTempDir(async (dir) => {
    const src = join(dir, 'bf16.safetensors');
    await bf16Source(src);
    await withCheckpoint(src, async (ck) => {
      await assert.rejects(
        exportRecast(ck, { templateDtype: 'F16' as unknown as 'F32' }, { out: join(dir, 'x.safetensors') }),
        /template dtype must be one of source, F32, got "F16"/,
      );
    });
  });
});

/** `mimicry reconstruct ...` as src/cli/main.ts runs it, output captured. */
async function reconstructCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '',
    err = '';
  const io: CliIO = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
  const program = new Command('mimicry').exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  registerReconstruct(program, io);
  try {
    await program.parseAsync(['reconstruct', ...args], { from: 'user' });
    return { code: 0, out, err };
  } catch (e) {
    if (e instanceof CommanderError) return { code: e.exitCode === 0 ? 0 : 2, out, err };
    if (e instanceof CliError) return { code: e.exitCode, out, err: err + e.message };
    throw e;
  }
}

test('mimicry reconstruct --template-dtype: the summary gives each file its size next to the source and the F32 templates\u2019 fidelity', async () => {
  await inTempDir(async (dir) => {
    const src = join(dir, 'bf16.safetensors');
    await bf16Source(src);
    const out = join(dir, 'm.recast.safetensors');
    const dense = join(dir, 'm.dense.safetensors');
    const report = join(dir, 'm.json');
    const grouping = ['--blocks-per-group', '4', '--templates', '1'];
    const r = await reconstructCli([src, '--out', out, '--dense', dense, '--report', report, ...grouping]);
    assert.equal(r.code, 0, r.err);
    const source = statSync(src).size;
    const size = (f: string, ratio = true) =>
      formatSizeAgainst(f, statSync(f).size, ratio ? source : undefined).replace(/[.()]/g, (c) => `\\${c}`);
    assert.match(
      r.out,
      new RegExp(`wrote ${size(out)} \\(reparameterized\\), ${size(dense)} \\(dense\\), ${size(report, false)} \\(report\\)`),
    );
    // The numbers themselves: 0.5x or less of the source for BF16 templates.
    const ratio = Number(/\((\d\.\d\d)x of source/.exec(r.out)?.[1]);
    assert.ok(ratio > 0 && ratio < 0.6, r.out);
    assert.match(
      r.out,
      /templates stored as BF16 \(the metrics above are of those\); cosine with F32 templates: mean 0\.\d{5}, min 0\.\d{5}/,
    );
    const exact = await reconstructCli([src, '--out', out, '--template-dtype', 'F32', ...grouping]);
    assert.equal(exact.code, 0, exact.err);
    assert.doesNotMatch(exact.out, /F32 templates/);
    assert.ok(Number(/\((\d\.\d\d)x of source/.exec(exact.out)?.[1]) > ratio, exact.out);
    const bad = await reconstructCli([src, '--out', out, '--template-dtype', 'F16']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--template-dtype.*F16.*Allowed choices are source, F32/);
  });
});

test('mimicry metrics --source recomputes, from the BF16 templates, exactly the stored metrics', async () => {
  await inTempDir(async (dir) => {
    const src = join(dir, 'bf16.safetensors');
    await bf16Source(src);
    const out = join(dir, 'm.recast.safetensors');
    await withCheckpoint(src, (ck) => exportRecast(ck, { blocksPerGroup: 4, templates: 1 }, { out }));
    let text = '';
    const io: CliIO = { stdout: { write: (s: string) => (text += s) }, stderr: { write: () => undefined } };
    const program = new Command('mimicry').exitOverride();
    registerMetrics(program, io);
    await program.parseAsync(['metrics', out, '--source', src, '--json'], { from: 'user' });
    const r = JSON.parse(text) as {
      metrics: { layers: { name: string; cosine: number; relError: number; f32Cosine: number }[] };
      recomputed: { name: string; cosine: number; relError: number }[];
    };
    assert.equal(r.recomputed.length, 8);
    for (const [i, l] of r.metrics.layers.entries()) {
      assert.equal(r.recomputed[i].name, l.name);
      assert.ok(Math.abs(r.recomputed[i].cosine - l.cosine) < 1e-12, `${l.name}: ${r.recomputed[i].cosine} vs ${l.cosine}`);
      assert.ok(Math.abs(r.recomputed[i].relError - l.relError) < 1e-12);
      assert.equal(typeof l.f32Cosine, 'number');
    }
    text = '';
    await program.parseAsync(['metrics', out], { from: 'user' });
    assert.match(text, /cosine \(F32 templates\)/);
  });
});

test('an F16 bank whose templates F16 cannot hold keeps F32 templates (no infinities), and rebuilds', async () => {
  await inTempDir(async (dir) => {
    // One member with a single 65504 (F16's largest value), one all 65504: a template scaled to the
    // members' RMS norm then holds values beyond F16's range.
    const one = new Uint16Array(16);
    one[0] = 0x7bff;
    const all = new Uint16Array(16).fill(0x7bff);
    const src = join(dir, 'f16.safetensors');
    await writeSafetensors(src, [
      { name: 'h.0.w.weight', dtype: 'F16', shape: [4, 4], data: new Uint8Array(one.buffer) },
      { name: 'h.1.w.weight', dtype: 'F16', shape: [4, 4], data: new Uint8Array(all.buffer) },
    ]);
    const out = join(dir, 'f16.recast.safetensors');
    const dense = join(dir, 'f16.dense.safetensors');
    const { result } = await withCheckpoint(src, (ck) => exportRecast(ck, {}, { out, dense }));
    assert.deepEqual(
      result.banks.map((b) => b.templateDtype),
      ['F32'],
    );
    const templates = await result.store.get(result.banks[0].plan.name).catch(() => null);
    assert.equal(templates, null, 'the export disposed of its scratch');
    assert.equal(result.summary.f32Templates, undefined);
    assert.equal(result.layers[0].f32Cosine, undefined);
    const { checkpoint, file } = await openRecast(out);
    try {
      assert.equal(file.banks[0].templateTensor.dtype, 'F32');
      const values = await checkpoint.readValues(file.banks[0].templateTensor);
      assert.ok(Math.max(...Array.from(values, Math.abs)) > 65504);
    } finally {
      await checkpoint.close();
    }
    const rebuilt = join(dir, 'rebuilt.safetensors');
    await rebuildDense(out, rebuilt);
    assert.ok(readFileSync(rebuilt).equals(readFileSync(dense)));
  });
});

test('the schema: f32Cosine and f32RelError come together; templateDtype is source or F32 (metadata-invalid)', async () => {
  await inTempDir(async (dir) => {
    const src = join(dir, 'bf16.safetensors');
    await bf16Source(src);
    const out = join(dir, 'm.recast.safetensors');
    await withCheckpoint(src, (ck) => exportRecast(ck, { blocksPerGroup: 4, templates: 1 }, { out }));
    const meta = await withCheckpoint(out, (ck) => Promise.resolve({ ...ck.metadata }));
    assert.ok(readRecastMetadata(meta, out));
    const metrics = JSON.parse(meta['recast.metrics']) as { layers: Record<string, unknown>[] };
    delete metrics.layers[2].f32RelError;
    assert.throws(
      () => readRecastMetadata({ ...meta, 'recast.metrics': JSON.stringify(metrics) }, out),
      (e: unknown) =>
        e instanceof EngineError &&
        e.rule === 'metadata-invalid' &&
        /recast\.metrics\.layers\[2\]\.f32RelError: f32Cosine and f32RelError come together/.test(e.message),
    );
    const method = JSON.parse(meta['recast.method']) as Record<string, unknown>;
    assert.equal(method.templateDtype, 'source');
    assert.throws(
      () => readRecastMetadata({ ...meta, 'recast.method': JSON.stringify({ ...method, templateDtype: 'BF16' }) }, out),
      (e: unknown) => e instanceof EngineError && e.rule === 'metadata-invalid' && /recast\.method\.templateDtype/.test(e.message),
    );
    // Absent (a file written before it existed): read as before.
    delete method.templateDtype;
    assert.equal(readRecastMetadata({ ...meta, 'recast.method': JSON.stringify(method) }, out).method.templateDtype, undefined);
  });
});
