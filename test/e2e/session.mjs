// One user's session per spec file: a spec's tests run in order (test.describe.serial) on one
// fresh workbench page (and so a fresh extension host), opened in beforeAll on the code-server
// that the global setup started (test/e2e/global-setup.mjs) and closed in afterAll.
import { test } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openWorkbench } from '../../scripts/code-server.mjs';
import { SHOTS } from './lib.mjs';

/**
 * What every test of a spec gets: the page, the test workspace, the folder its screenshots go to,
 * and every alert/confirm/prompt the page raised so far (recorded and dismissed, nothing blocks).
 * @typedef {{ page: import('@playwright/test').Page, workspace: string, shots: string, dialogs: string[] }} Ctx
 */

/**
 * Call inside a test.describe.serial block: opens the workbench before its first test, closes it
 * after the last, and returns the Ctx its tests share (filled in by beforeAll). The dialogs and
 * console errors of the session are kept in test-results/e2e/session-<name>.json.
 * @param {string} name
 * @returns {Ctx}
 */
export function workbenchSession(name) {
  const ctx = /** @type {Ctx} */ ({ page: /** @type {any} */ (undefined), workspace: '', shots: SHOTS, dialogs: [] });
  /** @type {string[]} */
  const consoleErrors = [];
  test.beforeAll(async ({ browser }) => {
    const url = process.env.MIMICRY_E2E_URL;
    const workspace = process.env.MIMICRY_E2E_WORKSPACE;
    if (!url || !workspace) {
      throw new Error('code-server is not running: run the end-to-end tests with playwright.config.mjs, whose global setup starts it');
    }
    ctx.workspace = workspace;
    ctx.page = await openWorkbench(browser, url, workspace);
    ctx.page.on('dialog', (d) => {
      ctx.dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss().catch(() => undefined);
    });
    ctx.page.on('console', (m) => {
      if (m.type() === 'error' && consoleErrors.length < 200) consoleErrors.push(m.text());
    });
  });
  test.afterAll(async () => {
    writeFileSync(join(SHOTS, `session-${name}.json`), JSON.stringify({ dialogs: ctx.dialogs, consoleErrors }, null, 2));
    await ctx.page
      ?.context()
      .close()
      .catch(() => undefined);
  });
  return ctx;
}
