// Browser end-to-end tests (test/e2e/*.spec.mjs): Playwright Test drives the system Chromium (no
// browser download) through a real code-server workbench with the packaged extension installed,
// along a user's path. The global setup starts code-server, the global teardown stops it. Each
// spec file is one user's session: its tests run in order on one workbench page
// (test.describe.serial, test/e2e/session.mjs), one worker, one test at a time.
//
//   node scripts/test-all.mjs e2e                               (what `npm test` runs; counts in the summary)
//   npx playwright test                                         (the same, straight)
//   npx playwright test test/e2e/dashboard.spec.mjs             (one spec file)
//   npx playwright test -g "search box"                         (tests whose title matches)
//
// env MIMICRY_E2E_GREP: only tests whose title matches (a regular expression, case-insensitive);
// MIMICRY_E2E_SPECS: only spec files whose name matches; MIMICRY_KEEP_TMP=1 keeps the temporary
// workspace; MIMICRY_VSIX tests a given .vsix; MIMICRY_CHROMIUM is the browser (default
// /usr/bin/chromium). Screenshots the tests take go to test-results/e2e/<name>.png, with
// code-server's log and results.json; Playwright's own output (a screenshot of every failed test)
// to test-results/e2e/playwright/.
import { defineConfig } from '@playwright/test';
import { readdirSync } from 'node:fs';
import { CHROMIUM, CHROMIUM_ARGS } from './scripts/code-server.mjs';

const TEST_DIR = 'test/e2e';
/** The inspector's spec runs first: it is the core path. */
const CORE = 'inspector.spec.mjs';

const specsFilter = process.env.MIMICRY_E2E_SPECS ? new RegExp(process.env.MIMICRY_E2E_SPECS, 'i') : undefined;
const specs = readdirSync(new URL(`./${TEST_DIR}/`, import.meta.url)).filter(
  (f) => f.endsWith('.spec.mjs') && (!specsFilter || specsFilter.test(f)),
);
const exactly = (file) => new RegExp(`[\\\\/]${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

export default defineConfig({
  testDir: TEST_DIR,
  outputDir: 'test-results/e2e/playwright',
  globalSetup: `./${TEST_DIR}/global-setup.mjs`,
  globalTeardown: `./${TEST_DIR}/global-teardown.mjs`,
  timeout: 150_000, // per test
  globalTimeout: 25 * 60_000, // the whole layer, code-server's start included
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  ...(process.env.MIMICRY_E2E_GREP ? { grep: new RegExp(process.env.MIMICRY_E2E_GREP, 'i') } : {}),
  reporter: [['list'], [`./${TEST_DIR}/reporter.mjs`]],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 },
    viewport: { width: 1400, height: 900 },
    // playwright-core's own defaults, which these tests were written against (Playwright Test's are none).
    actionTimeout: 30_000,
    navigationTimeout: 30_000,
    screenshot: 'only-on-failure',
    trace: 'off',
    video: 'off',
  },
  projects: [
    { name: 'inspector', testMatch: specs.filter((f) => f === CORE).map(exactly) },
    { name: 'workbench', testMatch: specs.filter((f) => f !== CORE).map(exactly) },
  ],
});
