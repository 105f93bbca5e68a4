// GPU tests: in CI (CI=true) a missing adapter is a failure, never a skip; elsewhere the test is
// skipped with the reason printed. CI installs Mesa's lavapipe (.ci/run), a software adapter.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { requestAdapter, type AdapterReport } from '../../../src/mimicry/gpu/webgpu';

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
