// Playwright's global teardown for the browser end-to-end tests: stops code-server (its whole
// process group) and removes the temporary workspace (kept with MIMICRY_KEEP_TMP=1).
import { rmSync } from 'node:fs';
import { cleanupAll } from '../../scripts/code-server.mjs';

export default async function globalTeardown() {
  await cleanupAll();
  const tmp = process.env.MIMICRY_E2E_TMP;
  if (tmp && process.env.MIMICRY_KEEP_TMP !== '1') rmSync(tmp, { recursive: true, force: true });
  else if (tmp) console.log(`[e2e] kept ${tmp} (MIMICRY_KEEP_TMP=1)`);
}
