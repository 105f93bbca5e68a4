import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import { exportRecast } from '../../src/mimicry/recast/export';
import { Random } from '../../src/mimicry/recast/random';

const LOADER = 'test/unit/recast-python-loader.py';

function numpyMissing(): string | false {
  const r = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  if (r.error) return `python3 is not available (${r.error.message})`;
  if (r.status !== 0) return 'numpy is not installed for python3';
  return false;
}

async function compareWithPython(source: string, options: Parameters<typeof exportRecast>[1]) {
  const dir = mkdtempSync(join(tmpdir(), 'recast-py-'));
  const ck = await openCheckpoint(source);
  try {
    const out = join(dir, 'r.safetensors');
    const dense = join(dir, 'd.safetensors');
    await exportRecast(ck, options, { out, dense });
    const r = spawnSync('python3', [LOADER, out, dense], { encoding: 'utf8' });
    assert.equal(r.status, 0, `loader: ${r.stdout} ${r.stderr}`);
    const written = await openCheckpoint(out);
    const templates = written.tensors.filter((t) => t.name.startsWith('recast.templates.')).map((t) => t.dtype);
    await written.close();
    return { ...(JSON.parse(r.stdout) as { tensors: number; mismatched: string[] }), templates };
  } finally {
    await ck.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the numpy-only loader rebuilds the real GPT-2 export exactly as the dense export', { skip: numpyMissing() }, async () => {
  const rep = await compareWithPython('test/fixtures/real/capp-gpt2-4layer.safetensors', { blocksPerGroup: 4, templates: 3, sets: 3 });
  assert.deepEqual(rep, { tensors: 52, dense_tensors: 52, mismatched: [], max_abs_diff: 0, templates: ['F32', 'F32', 'F32', 'F32'] });
});

test('the numpy-only loader handles BF16 and F16 banks bit for bit, with 16-bit or F32 templates', { skip: numpyMissing() }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recast-py-src-'));
  try {
    const rng = new Random(5);
    const tensors = [];
    for (let i = 0; i < 4; i++) {
      const v = rng.normals(64, 0.1);
      const u = new Uint32Array(v.buffer);
      const bf = new Uint16Array(64).map((_, j) => (u[j] + 0x7fff + ((u[j] >>> 16) & 1)) >>> 16);
      tensors.push({ name: `h.${i}.attn.weight`, dtype: 'BF16' as const, shape: [8, 8], data: new Uint8Array(bf.buffer) });
      const f16 = new Uint16Array(24).map(() => 0x2000 + Math.floor(rng.uniform() * 0x1000));
      tensors.push({ name: `h.${i}.mlp.weight`, dtype: 'F16' as const, shape: [4, 6], data: new Uint8Array(f16.buffer) });
    }
    const src = join(dir, 's.safetensors');
    await writeSafetensors(src, tensors);
    // The default stores each bank's templates in its source dtype; F32 keeps them exact.
    const stored = await compareWithPython(src, { blocksPerGroup: 4, templates: 2 });
    assert.deepEqual(stored.mismatched, []);
    assert.equal(stored.tensors, 8);
    assert.deepEqual(stored.templates.sort(), ['BF16', 'F16']);
    const exact = await compareWithPython(src, { blocksPerGroup: 4, templates: 2, templateDtype: 'F32' });
    assert.deepEqual(exact.mismatched, []);
    assert.deepEqual(exact.templates, ['F32', 'F32']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the README carries the tested Python loader verbatim', () => {
  const readme = readFileSync('README.md', 'utf8');
  const block = /```python\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README has a python block');
  assert.equal(block[1].trimEnd(), readFileSync(LOADER, 'utf8').trimEnd());
});
