// Runs the extension-host suite (test/vscode/suite) inside code-server's real extension host:
// packages the extension (.vsix) and installs it the way users do, installs a small harness
// extension beside it that runs the bundled mocha suite on startup, starts code-server on a free
// loopback port, connects headless Chromium (the extension host starts only when a browser does),
// waits for the results file, and kills everything. Counts go to env MIMICRY_RESULTS.
//   env MIMICRY_VSCODE_GREP: run only tests whose title matches
//   env MIMICRY_KEEP_TMP=1: keep the temp folders (workspace, user data, logs) for a look
import { mkdtempSync, mkdirSync, existsSync, readFileSync, writeFileSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  repoRoot,
  cleanupAll,
  watchdog,
  writeCounts,
  runLayer,
  requireChromium,
  prepareExtension,
  installExtension,
  startCodeServer,
  launchChromium,
  openWorkbench,
} from '../../scripts/code-server.mjs';
import { setupCodeServer } from '../../scripts/setup-code-server.mjs';
import { makeTestWorkspace } from '../../scripts/make-test-workspace.mjs';
import { buildSuite, packageHarness, suiteIndex, harnessInstallName } from './build.mjs';

const RESULTS_TIMEOUT_MS = 15 * 60_000; // the whole suite, once the workbench is up
const artifacts = join(repoRoot, 'test-results', 'vscode');

/** Copies the extension host's logs next to the other artifacts: the first place to look. */
function keepLogs(userDataDir) {
  const logs = join(userDataDir, 'logs');
  if (existsSync(logs)) cpSync(logs, join(artifacts, 'logs'), { recursive: true });
}

/** Counts from the harness's per-test log lines ("PASS title", "FAIL title", "SKIP title"). */
function resultsFromLog(text) {
  const r = { passed: 0, failed: 0, skipped: 0, tests: [] };
  const states = { PASS: 'passed', FAIL: 'failed', SKIP: 'skipped' };
  for (const m of text.matchAll(/^(PASS|FAIL|SKIP) (.*)$/gm)) {
    const state = states[m[1]];
    r[state]++;
    r.tests.push({ title: m[2], state });
  }
  return r;
}

async function main() {
  watchdog(22 * 60_000, 'the extension-host layer');
  requireChromium(); // first: a missing browser fails at once, and leaves the last artifacts alone
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });

  const ext = prepareExtension();
  await buildSuite();
  const { entry } = setupCodeServer();

  const tmp = mkdtempSync(join(tmpdir(), 'mimicry-vscode-'));
  const workspace = makeTestWorkspace(join(tmp, 'workspace'));
  const userDataDir = join(tmp, 'user-data');
  const extensionsDir = join(tmp, 'extensions');
  const resultsPath = join(tmp, 'results.json');
  const logPath = join(tmp, 'tests.log'); // per run: other runs in the same tree must not mix in
  if (process.env.MIMICRY_KEEP_TMP !== '1') process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  else console.log(`[vscode] temp folders kept in ${tmp}`);

  // The harness (test-only, never shipped) is installed beside the extension, both as .vsix;
  // harness.json, written into its installed folder, says where the suite and the results are.
  installExtension(entry, extensionsDir, userDataDir, ext, [packageHarness()]);
  const harness = join(extensionsDir, harnessInstallName);
  if (!existsSync(join(harness, 'package.json'))) throw new Error(`the test harness is not installed in ${harness}`);
  writeFileSync(
    join(harness, 'harness.json'),
    JSON.stringify(
      {
        suiteIndex,
        resultsPath,
        logPath,
        grep: process.env.MIMICRY_VSCODE_GREP || undefined,
      },
      null,
      2,
    ),
  );
  writeFileSync(logPath, '');

  const server = await startCodeServer({ userDataDir, extensionsDir, workspace, logFile: join(artifacts, 'code-server.log') });
  const browser = await launchChromium();
  const page = await openWorkbench(browser, server.url, workspace);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  // Print each test's line as the harness logs it, until the results file appears.
  let printed = 0;
  const printNew = () => {
    const lines = readFileSync(logPath, 'utf8').split('\n');
    for (; printed < lines.length - 1; printed++) console.log(`  ${lines[printed]}`);
  };
  const deadline = Date.now() + RESULTS_TIMEOUT_MS;
  while (!existsSync(resultsPath) && Date.now() < deadline) {
    printNew();
    await new Promise((r) => setTimeout(r, 1000));
  }
  printNew();
  await page.screenshot({ path: join(artifacts, 'workbench-at-end.png') }).catch(() => undefined);
  keepLogs(userDataDir);
  cpSync(logPath, join(artifacts, 'tests.log'));

  let results;
  if (existsSync(resultsPath)) {
    results = JSON.parse(readFileSync(resultsPath, 'utf8'));
  } else {
    // What finished is still counted, from the harness's log; the missing end is one more failure.
    results = resultsFromLog(readFileSync(logPath, 'utf8'));
    const why =
      `no results within ${RESULTS_TIMEOUT_MS / 60_000} min ` +
      `(${results.tests.length ? 'the suite did not finish' : 'did the harness activate?'}): ` +
      `see ${artifacts}/logs (exthost*.log) and code-server.log`;
    results.failed++;
    results.tests.push({ title: 'extension-host suite finished', state: 'failed', error: why });
  }
  writeFileSync(join(artifacts, 'results.json'), JSON.stringify({ ...results, installedFrom: ext.kind, pageErrors }, null, 2));
  await cleanupAll();

  console.log('\n[vscode] extension-host tests in code-server:');
  for (const t of results.tests) {
    const mark = t.state === 'passed' ? 'ok  ' : t.state === 'skipped' ? 'skip' : 'FAIL';
    console.log(`  ${mark} ${t.title}`);
    if (t.state === 'failed' && t.error)
      console.log(
        t.error
          .split('\n')
          .slice(0, 12)
          .map((l) => `         ${l}`)
          .join('\n'),
      );
  }
  if (ext.kind !== 'vsix') console.log('  (warning: the built folder was tested, not the packaged .vsix)');
  console.log(`[vscode] ${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped (artifacts: ${artifacts})`);
  writeCounts(results);
  return results.failed > 0 ? 1 : 0;
}

runLayer('vscode', main);
