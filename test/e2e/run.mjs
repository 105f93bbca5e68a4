// Browser end-to-end tests: Playwright (playwright-core) drives the system Chromium through a real
// code-server workbench with the packaged extension installed, along a user's path. A tiny runner:
// specs are run in order on one page (a user's session), each bounded by a timeout; every test
// leaves screenshots in test-results/e2e/, a failed one a FAILED-*.png of the moment it failed.
// Counts go to env MIMICRY_RESULTS.  env MIMICRY_E2E_GREP: run only tests whose name matches.
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  repoRoot, cleanupAll, watchdog, requireChromium, prepareExtension, installExtension, startCodeServer,
  launchChromium, openWorkbench,
} from '../../scripts/code-server.mjs';
import { setupCodeServer } from '../../scripts/setup-code-server.mjs';
import { makeTestWorkspace } from '../../scripts/make-test-workspace.mjs';
import { tests as inspectorTests } from './inspector.spec.mjs';

const TEST_TIMEOUT_MS = 150_000;
const shots = join(repoRoot, 'test-results', 'e2e');
const countsPath = process.env.MIMICRY_RESULTS;

function writeCounts(r) {
  if (countsPath) writeFileSync(countsPath, JSON.stringify({ passed: r.passed, failed: r.failed, skipped: r.skipped }) + '\n');
}

function slug(s) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
}

async function withTimeout(promise, ms, what) {
  let timer;
  try {
    return await Promise.race([promise, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${what} took longer than ${ms / 1000} s`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

async function main() {
  watchdog(20 * 60_000, 'the end-to-end layer');
  requireChromium(); // first: a missing browser fails at once, and leaves the last artifacts alone
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });

  const ext = prepareExtension();
  const { entry } = setupCodeServer();
  const tmp = mkdtempSync(join(tmpdir(), 'mimicry-e2e-'));
  if (process.env.MIMICRY_KEEP_TMP !== '1') process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const workspace = makeTestWorkspace(join(tmp, 'workspace'));
  const userDataDir = join(tmp, 'user-data');
  const extensionsDir = join(tmp, 'extensions');
  installExtension(entry, extensionsDir, userDataDir, ext);

  const server = await startCodeServer({ userDataDir, extensionsDir, workspace, logFile: join(shots, 'code-server.log') });
  const browser = await launchChromium();
  const page = await openWorkbench(browser, server.url, workspace);
  const dialogs = [];
  // Any alert/confirm/prompt from any frame is recorded (and dismissed so nothing blocks).
  page.on('dialog', (d) => { dialogs.push(`${d.type()}: ${d.message()}`); void d.dismiss().catch(() => undefined); });
  const console_ = [];
  page.on('console', (m) => { if (m.type() === 'error') console_.push(m.text()); });
  const ctx = { page, workspace, shots, dialogs };

  const grep = process.env.MIMICRY_E2E_GREP ? new RegExp(process.env.MIMICRY_E2E_GREP, 'i') : undefined;
  const results = { passed: 0, failed: 0, skipped: 0, tests: [] };
  for (const t of inspectorTests) {
    if (grep && !grep.test(t.name)) {
      results.skipped++;
      results.tests.push({ title: t.name, state: 'skipped' });
      continue;
    }
    process.stdout.write(`  ... ${t.name}\n`);
    try {
      await withTimeout(t.run(ctx), TEST_TIMEOUT_MS, t.name);
      results.passed++;
      results.tests.push({ title: t.name, state: 'passed' });
      console.log(`  ok   ${t.name}`);
    } catch (err) {
      const error = err instanceof Error ? err.stack ?? err.message : String(err);
      results.failed++;
      results.tests.push({ title: t.name, state: 'failed', error });
      console.log(`  FAIL ${t.name}\n${error.split('\n').slice(0, 8).map((l) => `         ${l}`).join('\n')}`);
      await page.screenshot({ path: join(shots, `FAILED-${slug(t.name)}.png`) }).catch(() => undefined);
      await page.keyboard.press('Escape').catch(() => undefined); // a menu or palette left open
    }
  }
  writeFileSync(join(shots, 'results.json'), JSON.stringify({ ...results, installedFrom: ext.kind, dialogs, consoleErrors: console_.slice(0, 100) }, null, 2));
  await cleanupAll();
  if (ext.kind !== 'vsix') console.log('  (warning: the built folder was tested, not the packaged .vsix)');
  console.log(`[e2e] ${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped (screenshots: ${shots})`);
  writeCounts(results);
  return results.failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(`[e2e] ERROR: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    writeCounts({ passed: 0, failed: 1, skipped: 0 });
    await cleanupAll();
    process.exit(1);
  },
);
