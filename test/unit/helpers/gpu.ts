// GPU tests: in CI (CI=true) a missing adapter is a failure, never a skip; elsewhere the test is
// skipped with the reason printed. CI installs Mesa's lavapipe (.ci/run), a software adapter.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { requestAdapter, webGpuState, type AdapterReport } from '../../../src/mimicry/gpu/webgpu';
import { LIMIT_OVERRIDE_ENV } from '../../../src/mimicry/recast/tfjs';

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
 * Runs `fn` with the device's buffer limit lowered to `bytes` (MIMICRY_GPU_MAX_BINDING_BYTES),
 * recording the largest buffer the GPU device was asked to create meanwhile. Needs the webgpu
 * backend running. Use sizes no earlier test used: tfjs reuses a freed buffer of the same size
 * without asking the device.
 */
export async function withGpuLimit<T>(bytes: number, fn: () => Promise<T>): Promise<{ value: T; largest: number }> {
  const device = webGpuState()?.gpuDevice;
  assert.ok(device, 'the webgpu backend is running');
  const create = device.createBuffer.bind(device);
  let largest = 0;
  device.createBuffer = (d: GPUBufferDescriptor) => {
    largest = Math.max(largest, d.size);
    return create(d);
  };
  process.env[LIMIT_OVERRIDE_ENV] = String(bytes);
  try {
    return { value: await fn(), largest };
  } finally {
    delete process.env[LIMIT_OVERRIDE_ENV];
    device.createBuffer = create;
  }
}
