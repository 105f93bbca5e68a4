// Backend choice around the GPU: auto never takes a software adapter, --backend webgpu takes any
// and says so, a GPU that cannot be used is named in one line and the next backend runs, a group
// over the device's buffer limit is refused, and tfjs memory is back to its start after a run on
// webgpu and after a cancelled one. The first test runs everywhere; the others need an adapter
// (CI: lavapipe; they fail there without one, and skip elsewhere with the reason).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { isSoftwareAdapter, webGpuState } from '../../src/mimicry/gpu/webgpu';
import { assertFitsDevice, loadTf, onBackendNote, releaseGpu } from '../../src/mimicry/recast/tfjs';
import { BackendError } from '../../src/mimicry/recast/errors';
import { paperFitter } from '../../src/mimicry/recast/paper';
import { resolveFit } from '../../src/mimicry/recast/options';
import { planGroups } from '../../src/mimicry/recast/grouping';
import { Random } from '../../src/mimicry/recast/random';
import { Scratch } from '../../src/mimicry/recast/scratch';
import { runCli } from '../../src/cli/main';
import type { CliIO } from '../../src/cli/io';
import { adapterOrSkip } from './helpers/gpu';
import { inTempDir } from './helpers/temp-dir';
import { REAL } from './helpers/real-fixtures';

after(() => releaseGpu());

function notes(): { lines: string[]; stop: () => void } {
  const lines: string[] = [];
  const stop = onBackendNote((l) => lines.push(l));
  return { lines, stop };
}

// First: before anything in this process has loaded dawn.node.
test('webgpu asked for without a loadable dawn.node: one line with the reason, then the next backend', async () => {
  process.env.MIMICRY_DAWN_NODE = '/nonexistent/dawn.node';
  const n = notes();
  try {
    const { name } = await loadTf('webgpu');
    assert.notEqual(name, 'webgpu');
    assert.equal(n.lines.length, 1, n.lines.join('\n'));
    assert.match(n.lines[0], /^webgpu cannot be used: no dawn\.node for .*\/nonexistent\/dawn\.node.*; trying the next backend$/);
    // auto says nothing: no GPU is the ordinary case, not a failure.
    n.lines.length = 0;
    assert.notEqual((await loadTf('auto')).name, 'webgpu');
    assert.deepEqual(n.lines, []);
  } finally {
    n.stop();
    delete process.env.MIMICRY_DAWN_NODE;
  }
});

test('software adapters are recognised by the fallback flag, the architecture or their names', () => {
  const hw = [
    { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' },
    { vendor: 'apple', architecture: 'metal-3', description: 'Apple M2 Pro' },
    { vendor: 'amd', architecture: 'rdna-3', description: 'AMD Radeon RX 7900 XTX (RADV NAVI31)' },
    { vendor: 'intel', architecture: 'xe-lpg', description: 'Intel(R) Arc(tm) Graphics (MTL)' },
  ];
  const sw = [
    { vendor: 'mesa', architecture: 'software', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)', isFallbackAdapter: true },
    { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' },
    { vendor: 'google', architecture: '', device: 'SwiftShader Device (Subzero)', description: '' },
    { vendor: 'microsoft', architecture: '', description: 'Microsoft Basic Render Driver' },
    { vendor: 'x', architecture: 'y', description: 'z', isFallbackAdapter: true },
  ];
  for (const a of hw) assert.equal(isSoftwareAdapter(a), false, a.description);
  for (const a of sw) assert.equal(isSoftwareAdapter(a), true, a.description);
});

test('auto skips a software adapter; --backend webgpu takes it and says so', async (t) => {
  const adapter = await adapterOrSkip(t);
  if (!adapter) return;
  const n = notes();
  try {
    const auto = await loadTf('auto');
    assert.equal(auto.name === 'webgpu', !adapter.software, `auto took ${auto.name} on ${adapter.device.description}`);
    assert.deepEqual(n.lines, []);
    const forced = await loadTf('webgpu');
    assert.equal(forced.name, 'webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
    if (adapter.software) assert.match(n.lines.join('\n'), /webgpu runs on a software adapter, .*slow, for testing only/);
  } finally {
    n.stop();
  }
});

test('the CLI: --backend webgpu names the adapter in the summary and a software one on stderr', async (t) => {
  const adapter = await adapterOrSkip(t);
  if (!adapter) return;
  releaseGpu(); // as in a fresh CLI process: the GPU starts, and its note is printed, in this run
  await inTempDir(async (dir) => {
    let out = '';
    let err = '';
    const io: CliIO = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
    const args = ['reconstruct', `${REAL}/capp-gpt2-4layer.safetensors`, '--out', `${dir}/o.safetensors`, '--method', 'paper'];
    const code = await runCli([...args, '--steps', '3', '--modules', 'mlp.c_fc', '--backend', 'webgpu'], io);
    assert.equal(code, 0, err);
    assert.match(out, /backend webgpu on [^\n]+/);
    assert.ok(out.includes(adapter.device.description), out);
    if (adapter.software) assert.match(err, /^mimicry: webgpu runs on a software adapter, [^\n]+\n$/);
  });
});

test('a group over the GPU buffer limit is refused with both sizes (rule gpu-bank-too-large)', async (t) => {
  if (!(await adapterOrSkip(t))) return;
  await loadTf('webgpu');
  assert.doesNotThrow(() => assertFitsDevice('webgpu', 2 ** 20, 'group small'));
  assert.doesNotThrow(() => assertFitsDevice('wasm', 2 ** 50, 'group huge'));
  assert.throws(
    () => assertFitsDevice('webgpu', 2 ** 50, 'group huge'),
    (e: unknown) =>
      e instanceof BackendError &&
      e.rule === 'gpu-bank-too-large' &&
      /group huge needs a 1073741824\.0 MiB buffer, the GPU allows/.test(e.message),
  );
});

/** 4 blocks of a [16, 24] role: a bank of 4 members. */
function smallBank() {
  const rng = new Random(5);
  const rows = [0, 1, 2, 3].map(() => rng.normals(16 * 24, 0.05));
  const plan = planGroups(
    rows.map((_, l) => ({ name: `blocks.${l}.mlp.fc1.weight`, dtype: 'F32' as const, shape: [16, 24] })),
    { blocksPerGroup: 4, templates: 2, sets: 2 },
  );
  return { rows, bank: plan.banks[0] };
}

test('tfjs memory on webgpu is back to its start after a run and after a cancelled run', async (t) => {
  if (!(await adapterOrSkip(t))) return;
  const { rows, bank } = smallBank();
  const fit = resolveFit({ backend: 'webgpu', method: 'paper', steps: 25 });
  const ctx = (signal?: AbortSignal, progress: (step: number) => void = () => undefined) => ({
    fit,
    signal,
    scratch: new Scratch(),
    progress,
  });
  const warm = await paperFitter(rows, bank, ctx()); // backend started, kernels compiled
  assert.equal(warm.backend, 'webgpu');
  const before = tf.memory();
  await paperFitter(rows, bank, ctx());
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
  const ac = new AbortController();
  await assert.rejects(
    paperFitter(
      rows,
      bank,
      ctx(ac.signal, (step) => {
        if (step >= 10) ac.abort();
      }),
    ),
    { name: 'AbortError' },
  );
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
});

test('a device lost mid-run fails that run with gpu-device-lost; the next run starts the GPU again', async (t) => {
  if (!(await adapterOrSkip(t))) return;
  const { rows, bank } = smallBank();
  const fit = resolveFit({ backend: 'webgpu', method: 'paper', steps: 40 });
  await loadTf('webgpu');
  await assert.rejects(
    paperFitter(rows, bank, {
      fit,
      scratch: new Scratch(),
      progress: (step) => {
        if (step >= 10) webGpuState()?.gpuDevice.destroy();
      },
    }),
    (e: unknown) => e instanceof BackendError && e.rule === 'gpu-device-lost' && /the GPU device was lost/.test(e.message),
  );
  const again = await paperFitter(rows, bank, { fit, scratch: new Scratch(), progress: () => undefined });
  assert.equal(again.backend, 'webgpu');
  assert.ok(Number.isFinite(again.loss));
});
