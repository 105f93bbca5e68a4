// Browser end-to-end tests: Playwright (playwright-core) drives the system Chromium through a real
// code-server workbench with the packaged extension installed, along a user's path. A tiny runner:
// each spec file's tests run in order on one fresh workbench page (a user's session), each
// bounded by a timeout; every test leaves screenshots in test-results/e2e/, a failed one a
// FAILED-*.png of the moment it failed.
// Counts go to env MIMICRY_RESULTS.  env MIMICRY_E2E_GREP: run only tests whose name matches;
// MIMICRY_E2E_SPECS: only spec files whose name matches.
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  repoRoot, cleanupAll, watchdog, writeCounts, runLayer, requireChromium, prepareExtension, installExtension, startCodeServer,
  launchChromium, openWorkbench,
} from '../../scripts/code-server.mjs';
import { setupCodeServer } from '../../scripts/setup-code-server.mjs';
import { makeTestWorkspace } from '../../scripts/make-test-workspace.mjs';

const TEST_TIMEOUT_MS = 150_000;
const shots = join(repoRoot, 'test-results', 'e2e');

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

/**
 * Every test/e2e/*.spec.mjs (each exports `tests: {name, run(ctx)}[]`), the inspector's first: it
 * is the core path. env MIMICRY_E2E_SPECS: only spec files whose name matches.
 */
async function loadSpecs() {
  const dir = join(repoRoot, 'test', 'e2e');
  const only = process.env.MIMICRY_E2E_SPECS ? new RegExp(process.env.MIMICRY_E2E_SPECS, 'i') : undefined;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.spec.mjs') && (!only || only.test(f)))
    .sort((a, b) => Number(b === 'inspector.spec.mjs') - Number(a === 'inspector.spec.mjs') || a.localeCompare(b));
  const specs = [];
  for (const file of files) {
    const mod = await import(pathToFileURL(join(dir, file)).href);
    if (!Array.isArray(mod.tests)) throw new Error(`${file} must export tests: {name, run(ctx)}[]`);
    specs.push({ file, tests: mod.tests });
  }
  return specs;
}

async function main() {
  watchdog(25 * 60_000, 'the end-to-end layer');
  requireChromium(); // first: a missing browser fails at once, and leaves the last artifacts alone
  const specs = await loadSpecs(); // a spec that does not even load fails before anything starts
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
  const grep = process.env.MIMICRY_E2E_GREP ? new RegExp(process.env.MIMICRY_E2E_GREP, 'i') : undefined;
  const results = { passed: 0, failed: 0, skipped: 0, tests: [] };
  const dialogs = [];
  const consoleErrors = [];
  for (const spec of specs) {
    console.log(`  # ${spec.file}`);
    // Each spec is one user's session: a fresh workbench window (and so a fresh extension host).
    const page = await openWorkbench(browser, server.url, workspace);
    // Any alert/confirm/prompt from any frame is recorded (and dismissed so nothing blocks).
    const specDialogs = [];
    page.on('dialog', (d) => { specDialogs.push(`${d.type()}: ${d.message()}`); dialogs.push(`${spec.file}: ${d.type()}: ${d.message()}`); void d.dismiss().catch(() => undefined); });
    page.on('console', (m) => { if (m.type() === 'error' && consoleErrors.length < 200) consoleErrors.push(m.text()); });
    const ctx = { page, workspace, shots, dialogs: specDialogs };
    for (const t of spec.tests) {
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
    await page.context().close().catch(() => undefined);
  }
  writeFileSync(join(shots, 'results.json'), JSON.stringify({ ...results, installedFrom: ext.kind, dialogs, consoleErrors }, null, 2));
  await cleanupAll();
  if (ext.kind !== 'vsix') console.log('  (warning: the built folder was tested, not the packaged .vsix)');
  console.log(`[e2e] ${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped (screenshots: ${shots})`);
  writeCounts(results);
  return results.failed > 0 ? 1 : 0;
}

runLayer('e2e', main);
