// Counts for scripts/test-all.mjs: every layer leaves {passed, failed, skipped} in the JSON file
// named by env MIMICRY_RESULTS. Taken from Playwright's own results, each test counted once: a
// test that passed (or passed on a retry) is passed; one that failed, timed out or was interrupted
// is failed; one that did not run (skipped, or left out of a serial group after an earlier test of
// it failed) is skipped. A run that failed outside any test (global setup, say) counts as one
// failure more when no test failed. Also writes test-results/e2e/results.json with every test.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SHOTS } from './lib.mjs';

/** @implements {import('@playwright/test/reporter').Reporter} */
export default class CountsReporter {
  /** @type {import('@playwright/test/reporter').Suite | undefined} */
  suite;
  /** @type {string[]} */
  errors = [];

  onBegin(_config, suite) {
    this.suite = suite;
  }

  onError(error) {
    this.errors.push(error.stack ?? error.message ?? String(error.value));
  }

  onEnd(result) {
    if (process.argv.includes('--list')) return; // nothing ran: leave the last results alone
    const tests = (this.suite?.allTests() ?? []).map((t) => {
      const outcome = t.outcome();
      const last = t.results[t.results.length - 1];
      const state =
        outcome === 'expected' || outcome === 'flaky'
          ? 'passed'
          : outcome === 'unexpected' || last?.status === 'interrupted'
            ? 'failed'
            : 'skipped';
      return { title: t.titlePath().filter(Boolean).join(' › '), state, status: last?.status ?? 'not run', error: last?.error?.message };
    });
    const count = (state) => tests.filter((t) => t.state === state).length;
    const counts = { passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
    if (result.status !== 'passed' && counts.failed === 0) counts.failed = 1;
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(
      join(SHOTS, 'results.json'),
      JSON.stringify(
        {
          ...counts,
          status: result.status,
          installedFrom: process.env.MIMICRY_E2E_INSTALLED_FROM,
          errors: this.errors,
          tests,
        },
        null,
        2,
      ),
    );
    const file = process.env.MIMICRY_RESULTS;
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(counts) + '\n');
    }
    if (process.env.MIMICRY_E2E_INSTALLED_FROM && process.env.MIMICRY_E2E_INSTALLED_FROM !== 'vsix') {
      console.log('  (warning: the built folder was tested, not the packaged .vsix)');
    }
    console.log(
      `[e2e] ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${result.status}; screenshots: ${SHOTS})`,
    );
  }
}
