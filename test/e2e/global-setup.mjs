// Playwright's global setup for the browser end-to-end tests: packages the extension, makes the
// test workspace, installs the .vsix into a fresh code-server and starts it; the tests find it
// through env MIMICRY_E2E_URL and MIMICRY_E2E_WORKSPACE (workers start after this and inherit
// them). Stopped by test/e2e/global-teardown.mjs; whatever way the run ends, code-server's
// process group is killed at exit (scripts/code-server.mjs).
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  watchdog,
  leaveSignalsToRunner,
  requireChromium,
  prepareExtension,
  installExtension,
  startCodeServer,
} from '../../scripts/code-server.mjs';
import { setupCodeServer } from '../../scripts/setup-code-server.mjs';
import { makeTestWorkspace } from '../../scripts/make-test-workspace.mjs';
import { SHOTS } from './lib.mjs';

/** A hard stop a little after the config's globalTimeout, should Playwright itself never return. */
const HARD_STOP_MS = 27 * 60_000;

export default async function globalSetup() {
  leaveSignalsToRunner(); // Ctrl-C: Playwright interrupts the tests and runs the global teardown
  watchdog(HARD_STOP_MS, 'the end-to-end layer');
  requireChromium(); // first: a missing browser fails at once, and leaves the last screenshots alone
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });

  const ext = prepareExtension();
  const { entry } = setupCodeServer();
  const tmp = mkdtempSync(join(tmpdir(), 'mimicry-e2e-'));
  process.env.MIMICRY_E2E_TMP = tmp;
  if (process.env.MIMICRY_KEEP_TMP !== '1') process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const workspace = makeTestWorkspace(join(tmp, 'workspace'));
  const userDataDir = join(tmp, 'user-data');
  const extensionsDir = join(tmp, 'extensions');
  installExtension(entry, extensionsDir, userDataDir, ext);

  const server = await startCodeServer({ userDataDir, extensionsDir, workspace, logFile: join(SHOTS, 'code-server.log') });
  process.env.MIMICRY_E2E_URL = server.url;
  process.env.MIMICRY_E2E_WORKSPACE = workspace;
  process.env.MIMICRY_E2E_INSTALLED_FROM = ext.kind;
}
