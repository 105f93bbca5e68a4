// Backend choice around the GPU: auto never takes a software adapter, --backend webgpu takes any
// and says so, a GPU that cannot be used is named in one line and the next backend runs, a group
// over the device's buffer limit (lowered by MIMICRY_GPU_MAX_BINDING_BYTES) is fitted in column
// chunks and only one whose coefficients exceed it is refused, and tfjs memory is back to its start
// after a run on webgpu and after a cancelled one. The first test runs everywhere; the others need an adapter
// (CI: lavapipe; they fail there without one, and skip elsewhere with the reason).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { isSoftwareAdapter, webGpuState } from '../../src/mimicry/gpu/webgpu';
import { assertFitsDevice, loadTf, onBackendNote, releaseGpu } from '../../src/mimicry/recast/tfjs';
import { BackendError } from '../../src/mimicry/recast/errors';
import { columnChunks, paperFitter } from '../../src/mimicry/recast/paper';
import { resolveFit } from '../../src/mimicry/recast/options';
import { planGroups } from '../../src/mimicry/recast/grouping';
import { Random } from '../../src/mimicry/recast/random';
import { Scratch } from '../../src/mimicry/recast/scratch';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { bundleCli } from './helpers/cli-bundle';
import type { GpuProbe } from '../../src/mimicry/gpu/probe';
import { adapterOrSkip, withGpuLimit } from './helpers/gpu';
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

test('the CLI: --backend webgpu names the adapter in the summary and a software one on stderr; `gpu` probes it and exits', async (t) => {
  const adapter = await adapterOrSkip(t);
  if (!adapter) return;
  // Processes of their own, as a user runs them: the GPU starts, its note is printed, and the
  // process exits (a GPU instance left behind would keep it alive until the timeout).
  await inTempDir(async (dir) => {
    const cli = await bundleCli(dir);
    const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
    const source = `${REAL}/capp-gpt2-4layer.safetensors`;
    const r = run([
      'reconstruct',
      source,
      '--out',
      join(dir, 'o.safetensors'),
      '--method',
      'paper',
      '--steps',
      '3',
      '--modules',
      'mlp.c_fc',
      '--backend',
      'webgpu',
    ]);
    assert.equal(r.status, 0, `${r.stderr}${r.signal ?? ''}`);
    assert.match(r.stdout, /backend webgpu on [^\n]+/);
    assert.ok(r.stdout.includes(adapter.device.description), r.stdout);
    // Ours is one line; Dawn itself may print its own warnings (lavapipe's reduced limits) around it.
    const ours = r.stderr.split('\n').filter((l) => l.startsWith('mimicry:'));
    if (adapter.software) {
      assert.equal(ours.length, 1, r.stderr);
      assert.match(ours[0], /^mimicry: webgpu runs on a software adapter, .+$/);
    }

    const g = run(['gpu', '--json', '--size', '64']);
    assert.equal(g.status, 0, `${g.stderr}${g.signal ?? ''}`);
    const probe = JSON.parse(g.stdout) as GpuProbe;
    assert.equal(probe.adapter.device.description, adapter.device.description);
    assert.equal(probe.adapter.software, adapter.software);
    assert.equal(probe.matmul.size, 64);
    assert.ok(probe.matmul.gflops > 0 && probe.matmul.relError < 1e-5, JSON.stringify(probe.matmul));
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
      /group huge: a buffer of 1073741824\.0 MiB is needed, the GPU allows/.test(e.message),
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

/** 4 blocks of a [12, 40] role, 2 templates, 2 sets. */
function chunkBank() {
  const rng = new Random(9);
  const rows = [0, 1, 2, 3].map(() => rng.normals(12 * 40, 0.05));
  const plan = planGroups(
    rows.map((_, l) => ({ name: `blocks.${l}.mlp.fc2.weight`, dtype: 'F32' as const, shape: [12, 40] })),
    { blocksPerGroup: 4, templates: 2, sets: 2 },
  );
  return { rows, bank: plan.banks[0] };
}

/**
 * Chunked against whole on the GPU and against the fused CPU loop: all float32, summing in different
 * orders, so the loss curves agree to float32 rounding grown over 20 steps (relative, the tolerance
 * of gpu-paper.test.ts; measured on lavapipe: 2.5e-6), and the final templates relative to their
 * largest value (measured: 1.2e-6).
 */
const CHUNK_LOSS_TOLERANCE = 1e-4;
const CHUNK_TEMPLATE_TOLERANCE = 1e-4;

test('column chunks: nearly equal, covering every column once; one chunk when all fit', () => {
  assert.deepEqual(columnChunks(480, Number.POSITIVE_INFINITY), [{ start: 0, width: 480 }]);
  assert.deepEqual(columnChunks(480, 480), [{ start: 0, width: 480 }]);
  assert.deepEqual(columnChunks(480, 170), [
    { start: 0, width: 160 },
    { start: 160, width: 160 },
    { start: 320, width: 160 },
  ]);
  assert.deepEqual(columnChunks(7, 3), [
    { start: 0, width: 3 },
    { start: 3, width: 3 },
    { start: 6, width: 1 },
  ]);
  assert.deepEqual(
    columnChunks(3, 0),
    [0, 1, 2].map((start) => ({ start, width: 1 })),
  );
});

for (const method of ['paper', 'spectral+refine'] as const) {
  test(`${method} on webgpu: a bank over the buffer limit is fitted in column chunks, as whole and as on the CPU`, async (t) => {
    if (!(await adapterOrSkip(t))) return;
    const { rows, bank } = chunkBank();
    const steps = 20;
    const fit = resolveFit({ backend: 'webgpu', method, steps, seed: 3, ...(method === 'paper' ? {} : { loss: 'mse', noise: 0 }) });
    const run = async (backend: 'webgpu' | 'wasm') => {
      const losses: number[] = [];
      const r = await paperFitter(rows, bank, {
        fit: { ...fit, backend },
        scratch: new Scratch(),
        progress: (step, _steps, loss) => (losses[step - 1] = loss),
      });
      return { r, losses };
    };
    await loadTf('webgpu');
    // Members [4, 480] and templates [2, 480]: one column is 16 bytes; 2720 bytes hold 170, so 3 chunks of 160.
    const limit = 2720;
    const { value: whole, largest: wholeLargest } = await withGpuLimit(2 ** 30, () => run('webgpu'));
    assert.ok(wholeLargest >= 4 * 480 * 4 && wholeLargest > limit, `unchunked, the members are one ${wholeLargest}-byte buffer`);
    const before = tf.memory().numTensors;
    const { value: chunked, largest } = await withGpuLimit(limit, () => run('webgpu'));
    assert.equal(tf.memory().numTensors, before);
    assert.ok(largest <= limit, `a ${largest}-byte buffer over the ${limit}-byte limit`);
    const cpu = await run('wasm');
    assert.equal(chunked.r.backend, 'webgpu');
    assert.equal(cpu.r.backend, 'fused-cpu');
    assert.equal(chunked.losses.length, steps);
    let worst = 0;
    for (const ref of [whole, cpu])
      chunked.losses.forEach((loss, i) => {
        worst = Math.max(worst, Math.abs(loss - ref.losses[i]) / Math.abs(ref.losses[i]));
      });
    assert.ok(worst <= CHUNK_LOSS_TOLERANCE, `loss curves differ by ${worst} (relative)`);
    for (const ref of [whole, cpu]) {
      const top = ref.r.templates.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const off = chunked.r.templates.reduce((m, v, i) => Math.max(m, Math.abs(v - ref.r.templates[i])), 0) / top;
      assert.ok(off <= CHUNK_TEMPLATE_TOLERANCE, `templates differ by ${off} of their largest`);
      assert.ok(Math.abs(chunked.r.loss - ref.r.loss) <= CHUNK_LOSS_TOLERANCE * ref.r.loss);
    }
  });
}

test('a bank whose coefficients exceed the GPU buffer limit is refused with gpu-bank-too-large, naming them', async (t) => {
  if (!(await adapterOrSkip(t))) return;
  const { rows, bank } = chunkBank();
  await loadTf('webgpu');
  const fit = resolveFit({ backend: 'webgpu', method: 'paper', steps: 5 });
  // Coefficients [4, 2, 2]: 64 bytes, the indivisible unit.
  await assert.rejects(
    withGpuLimit(60, () => paperFitter(rows, bank, { fit, scratch: new Scratch(), progress: () => undefined })),
    (e: unknown) =>
      e instanceof BackendError &&
      e.rule === 'gpu-bank-too-large' &&
      /group .*'s coefficients \(4 members x 2 sets x 2 templates\): a buffer of 64 bytes is needed, the GPU allows 60 bytes/.test(
        e.message,
      ),
  );
  // At the limit it fits: 120 chunks of 4 columns.
  const { value: fits } = await withGpuLimit(64, () => paperFitter(rows, bank, { fit, scratch: new Scratch(), progress: () => undefined }));
  assert.ok(Number.isFinite(fits.loss));
});
