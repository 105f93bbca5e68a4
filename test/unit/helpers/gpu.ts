// GPU tests: in CI (CI=true) a missing adapter is a failure, never a skip; elsewhere the test is
// skipped with the reason printed. CI installs Mesa's lavapipe (.ci/run), a software adapter.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { requestAdapter, webGpuState, type AdapterReport } from '../../../src/mimicry/gpu/webgpu';
import { gramEngine } from '../../../src/mimicry/recast/entropyGpu';
import { LIMIT_OVERRIDE_ENV, type Tf } from '../../../src/mimicry/recast/tfjs';

let found: Promise<AdapterReport | string> | null = null;

/** The adapter, or null after skipping `t` (outside CI) with the reason. */
export async function adapterOrSkip(t: TestContext): Promise<AdapterReport | null> {
  found ??= requestAdapter().then(
    (r) => r.report,
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );
  const r = await found;
  if (typeof r !== 'string') return r;
  if (process.env.CI === 'true') assert.fail(`CI=true but no GPU adapter (${r}): .ci/run installs lavapipe`);
  const why = `no GPU adapter here (${r}); CI runs this on lavapipe`;
  console.log(`# skipped: ${why}`);
  t.skip(why);
  return null;
}

/**
 * The webgpu Gram engine and a check that a test left no tensor behind (counted from now), or null
 * after skipping `t` as adapterOrSkip does.
 */
export async function webgpuOrSkip(t: TestContext): Promise<{ engine: Tf; assertNoTensorsLeft(message?: string): void } | null> {
  if (!(await adapterOrSkip(t))) return null;
  const engine = await gramEngine('webgpu');
  assert.ok(engine, 'the webgpu backend starts');
  const before = engine.memory().numTensors;
  return { engine, assertNoTensorsLeft: (message) => assert.equal(engine.memory().numTensors, before, message) };
}

/**
 * Runs `fn` with the device's buffer limit lowered to `bytes` (MIMICRY_GPU_MAX_BINDING_BYTES),
 * recording the largest buffer tfjs' webgpu backend asked for meanwhile (new or reused from its
 * pool; uniform buffers, a few bytes per kernel, aside). Needs the webgpu backend running.
 */
export async function withGpuLimit<T>(bytes: number, fn: () => Promise<T>): Promise<{ value: T; largest: number }> {
  const backend = tf.findBackend('webgpu') as WebGPUBackend | undefined;
  assert.ok(backend && webGpuState(), 'the webgpu backend is running');
  const manager = backend.bufferManager;
  const acquire = manager.acquireBuffer.bind(manager);
  let largest = 0;
  manager.acquireBuffer = (size, usage, mappedAtCreation, reuse) => {
    if ((usage & GPUBufferUsage.UNIFORM) === 0) largest = Math.max(largest, size);
    return acquire(size, usage, mappedAtCreation, reuse);
  };
  process.env[LIMIT_OVERRIDE_ENV] = String(bytes);
  try {
    return { value: await fn(), largest };
  } finally {
    delete process.env[LIMIT_OVERRIDE_ENV];
    manager.acquireBuffer = acquire;
  }
}
