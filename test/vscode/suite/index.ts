// Entry point of the extension-host suite: `run()` is what VS Code's extensionTestsPath convention
// calls (@vscode/test-electron), and what the code-server harness extension calls. It runs every
// bundled *.test.js next to this file with mocha, and writes the counts where the runner reads them.
import Mocha from 'mocha';
import { readdirSync, writeFileSync, appendFileSync, renameSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';

export interface TestResult {
  title: string;
  state: 'passed' | 'failed' | 'skipped';
  durationMs?: number;
  error?: string;
}

export interface SuiteResults {
  passed: number;
  failed: number;
  skipped: number;
  tests: TestResult[];
}

export interface RunOptions {
  /** Where the final results JSON goes (default: env MIMICRY_VSCODE_RESULTS; none: not written). */
  resultsPath?: string;
  /** A line per finished test is appended here as it happens (default: env MIMICRY_VSCODE_LOG). */
  logPath?: string;
  /** Only tests whose full title matches (default: env MIMICRY_VSCODE_GREP). */
  grep?: string;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}

/** Written to a temp name, then renamed: a reader never sees half a file. */
function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export async function run(options: RunOptions = {}): Promise<void> {
  const resultsPath = options.resultsPath ?? process.env.MIMICRY_VSCODE_RESULTS;
  const logPath = options.logPath ?? process.env.MIMICRY_VSCODE_LOG;
  const grep = options.grep ?? process.env.MIMICRY_VSCODE_GREP;
  const log = (line: string): void => {
    if (logPath) appendFileSync(logPath, line + '\n');
  };

  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000, reporter: 'spec' });
  if (grep) mocha.grep(grep);
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .sort();
  for (const f of files) mocha.addFile(join(__dirname, f));
  log(`# loading ${files.length} test files: ${files.join(', ')}`);

  const results: SuiteResults = { passed: 0, failed: 0, skipped: 0, tests: [] };
  try {
    await mocha.loadFilesAsync();
    await new Promise<void>((resolve) => {
      const runner = mocha.run(() => resolve());
      runner.on('pass', (t: Mocha.Test) => {
        results.passed++;
        results.tests.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration });
        log(`PASS ${t.fullTitle()}`);
      });
      runner.on('fail', (t: Mocha.Runnable, err: unknown) => {
        results.failed++;
        results.tests.push({ title: t.fullTitle(), state: 'failed', durationMs: t.duration, error: errorText(err) });
        log(`FAIL ${t.fullTitle()}\n${errorText(err).replace(/^/gm, '     ')}`);
      });
      runner.on('pending', (t: Mocha.Test) => {
        results.skipped++;
        results.tests.push({ title: t.fullTitle(), state: 'skipped' });
        log(`SKIP ${t.fullTitle()}`);
      });
    });
  } catch (err) {
    // A suite that cannot even load is one failure, with its reason, not a silent zero.
    results.failed++;
    results.tests.push({ title: 'loading the extension-host suite', state: 'failed', error: errorText(err) });
    log(`FAIL loading the suite\n${errorText(err)}`);
  }
  log(`# done: ${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
  if (resultsPath) writeAtomic(resultsPath, JSON.stringify(results, null, 2) + '\n');
  // test-electron's convention: a rejected run() makes the VS Code process exit non-zero.
  if (results.failed > 0) throw new Error(`${results.failed} extension-host test(s) failed`);
}
