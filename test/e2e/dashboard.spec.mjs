// A new user's path through the Mimicry dashboards in a real browser: open the configuration form
// (explorer, inspector button, command palette), change a preset (the budget follows), run the
// authors' optimizer with its progress notification and live loss curve, cancel (the form comes
// back, nothing written), run from the keyboard, read every results chart, export the
// reparameterized model through the save dialog, and open the exported file's own dashboard.
// Each step leaves a screenshot named after what it shows in test-results/e2e/.
import assert from 'node:assert/strict';
import { test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  explorerItem,
  contextMenu,
  closeAllEditors,
  frameWith,
  inspectorFrame,
  openInInspector,
  screenshot,
  tensorNames,
  until,
  runCommand,
  sleep,
  waitForChart,
  allChartsDrawn,
} from './lib.mjs';
import { workbenchSession } from './session.mjs';
import { repoRoot } from '../../scripts/code-server.mjs';
import { WORKSPACE_FILES } from '../../scripts/test-workspace-files.mjs';

const CAPP = 'real/capp-gpt2-4layer.safetensors';
const EXPORTED = 'real/capp-gpt2-4layer.recast.safetensors'; // the save dialog's default: next to the source
const tid = (id) => `[data-testid="${id}"]`;

/** @typedef {import('./session.mjs').Ctx} Ctx */

/** What one test hands the next (they run in order on one page, as one user's session). */
const session = { summary: /** @type {Record<string, string> | undefined} */ (undefined), filesBeforeRun: /** @type {string[]} */ ([]) };

/** Every file under dir (dot files too), relative, sorted: to prove that nothing was written. */
function listFiles(dir) {
  const out = [];
  const visit = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else out.push(relative(dir, p));
    }
  };
  visit(dir);
  return out.sort();
}

/** The frame showing the dashboard's `testId` element, visible. */
function dashboard(page, testId, timeoutMs) {
  return frameWith(page, tid(testId), { visible: true, timeoutMs });
}

/** Picks an option of a @vscode-elements single select as a user does: open it, click the option. */
async function choose(frame, testId, value, label) {
  const select = frame.locator(tid(testId)).first();
  const option = select.locator('li[role="option"]', { hasText: label }).first();
  // A click on the select can be lost while the form re-renders (a busy machine): open it again.
  for (let attempt = 1; ; attempt++) {
    await select.click();
    try {
      await option.waitFor({ state: 'visible', timeout: 5_000 });
      break;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
  await option.click();
  await until(`${testId} to show ${value}`, async () => (await select.getAttribute('data-value')) === value, 10_000);
}

/** Types into a @vscode-elements text field (its input lives in the shadow root). */
async function typeField(frame, testId, text) {
  const input = frame.locator(`${tid(testId)} input`).first();
  await input.click();
  await input.fill(text);
}

/** The budget cards' text once the engine's plan is shown (never empty). */
async function budgetText(frame) {
  return until('the parameter budget', async () => {
    const t = (await frame.locator(tid('budget')).first().innerText()).trim();
    return t.includes('Compression') ? t : undefined;
  });
}

/** Waits until the nth chart under `testId` is drawn (see lib.mjs waitForChart); returns its host. */
async function chartDrawn(frame, testId, nth = 0) {
  const host = frame.locator(tid(testId)).nth(nth);
  await waitForChart(host, `${testId}[${nth}]`, { minHeight: 80 });
  return host;
}

/** A notification toast of the workbench that contains `text`. */
function toast(page, text) {
  return page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
}

/**
 * Clicks an export button, checks the save dialog's suggested path, accepts it (or types `typed`
 * instead), and waits for `doneText` in a notification. Returns the file the dialog held.
 */
async function exportThroughDialog(ctx, button, suggested, doneText, typed) {
  await button.scrollIntoViewIfNeeded();
  await button.click();
  const input = ctx.page.locator('.quick-input-widget input');
  await until(
    `the save dialog suggesting ${suggested}`,
    async () => (await input.isVisible()) && (await input.inputValue()) === suggested,
    30_000,
  );
  const file = typed ?? suggested;
  if (typed) await input.fill(typed);
  await ctx.page.keyboard.press('Enter');
  const done = toast(ctx.page, doneText);
  await until(
    `a notification "${doneText}"`,
    async () => {
      if (await done.isVisible()) return true;
      // A first Enter may only complete the path in the simple dialog: accept it again.
      if ((await input.isVisible()) && (await input.inputValue()) === file) await ctx.page.keyboard.press('Enter');
      return false;
    },
    60_000,
  );
  return { file, done };
}

/** Closes every notification toast (they would cover the charts in the next pictures). */
async function clearNotifications(page) {
  await runCommand(page, 'Notifications: Clear All Notifications');
  await until(
    'the notifications to close',
    async () => (await page.locator('.notifications-toasts .notification-toast').count()) === 0,
    10_000,
  );
}

/** Summary card values by data-card id. */
async function cardValues(frame) {
  return frame
    .locator(`${tid('summary-cards')} .card`)
    .evaluateAll((els) =>
      Object.fromEntries(els.map((e) => [e.getAttribute('data-card') ?? '', (e.querySelector('.card-value')?.textContent ?? '').trim()])),
    );
}

/** The stored metrics of a recast file, through the project's CLI (`mimicry metrics FILE --json`). */
function cliMetrics(file) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli.js'), 'metrics', file, '--json'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `mimicry metrics failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout).metrics;
}

/** The header of a safetensors file (u64 LE length, then JSON). */
function safetensorsHeader(file) {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  assert.ok(n > 0 && 8 + n <= buf.length, `header length ${n} does not fit the file (${buf.length} bytes)`);
  return JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
}

/**
 * Declares a test (of the session `ctx`) that the results view draws each of `charts`; the last is
 * scrolled to `block` for the screenshot `shot`.
 * @param {Ctx} ctx
 */
function chartsDrawn(ctx, name, charts, block, shot) {
  test(name, async () => {
    const frame = await dashboard(ctx.page, 'results-view');
    let last;
    for (const chart of charts) last = await chartDrawn(frame, chart);
    await last.evaluate((e, b) => e.scrollIntoView({ block: b }), block);
    await screenshot(ctx.page, ctx.shots, shot);
  });
}

test.describe.serial('dashboard', () => {
  const ctx = workbenchSession('dashboard');

  test('dashboard: the inspector\'s "Reconstruct…" button and the command palette open the configuration form', async () => {
    await closeAllEditors(ctx.page);
    const names = tensorNames(join(ctx.workspace, CAPP));
    // The session's first open: it may come before code-server knows our editor (openInInspector).
    const inspector = await openInInspector(ctx.page, CAPP, names[0]);
    await inspector.locator(tid('inspector-reconstruct')).first().click();
    let form = await dashboard(ctx.page, 'configure-view');
    assert.match(
      await form
        .locator(`${tid('configure-view')} h2`)
        .first()
        .innerText(),
      /capp-gpt2-4layer\.safetensors/,
    );
    await budgetText(form);
    // The palette command acts on the checkpoint in front (the inspector tab), without asking.
    await closeAllEditors(ctx.page);
    await explorerItem(ctx.page, CAPP).then((row) => row.dblclick());
    await inspectorFrame(ctx.page, names[0]);
    await runCommand(ctx.page, 'Mimicry: Reconstruct Checkpoint...');
    form = await dashboard(ctx.page, 'configure-view');
    assert.match(
      await form
        .locator(`${tid('configure-view')} h2`)
        .first()
        .innerText(),
      /capp-gpt2-4layer\.safetensors/,
    );
    await budgetText(form);
  });

  test('dashboard: explorer "Reconstruct Checkpoint..." shows the form with roles, banks and budget', async () => {
    await closeAllEditors(ctx.page);
    const row = await explorerItem(ctx.page, CAPP);
    await contextMenu(ctx.page, row, 'Reconstruct Checkpoint...');
    const frame = await dashboard(ctx.page, 'configure-view');
    for (const id of ['preset-select', 'method-select', 'templates-input', 'template-dtype-select', 'run-button']) {
      await frame.locator(tid(id)).first().waitFor({ state: 'visible' });
    }
    // Templates in the source's dtype unless the user asks for F32 (mimicry.reconstruct.templateDtype).
    assert.equal(await frame.locator(tid('template-dtype-select')).first().getAttribute('data-value'), 'source');
    await budgetText(frame);
    // GPT-2's four weight roles (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj), all checked.
    const roles = frame.locator(tid('role-checkbox'));
    await until('the module roles', async () => (await roles.count()) === 4);
    const checked = await roles.evaluateAll((els) => els.map((e) => /** @type {any} */ (e).checked));
    assert.deepEqual(checked, [true, true, true, true]);
    // The authors' preset on 4 blocks: 2 groups per role, 8 banks.
    await until('8 planned banks', async () => (await frame.locator(`${tid('bank-list')} tr[data-bank]`).count()) === 8);
    assert.equal(await frame.locator(tid('preset-select')).first().getAttribute('data-value'), 'paper');
    assert.equal(
      await frame
        .locator(tid('run-button'))
        .first()
        .evaluate((b) => /** @type {any} */ (b).disabled),
      false,
    );
    await screenshot(ctx.page, ctx.shots, 'reconstruct-configure.png');
  });

  test("dashboard: the form's first view shows the compression-vs-fidelity curve with the chosen point, and says the authors' preset is exact", async () => {
    const frame = await dashboard(ctx.page, 'configure-view');
    assert.match(
      await frame.locator(tid('preset-note')).first().innerText(),
      /Exact: no compression; the authors’ setting for fine-tuning coefficients/,
    );
    // One row per role with the chosen point: the authors' n = 2 on 2-member groups, exact and 1×.
    const rows = frame.locator(`${tid('curve-table')} tr[data-role]`);
    await until('the curve of the four roles', async () => (await rows.count()) === 4, 60_000);
    const cells = await rows.evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())),
    );
    for (const c of cells) {
      assert.equal(c[1], '2', `chosen n of ${c[0]}`);
      assert.match(c[2], /^(1|0\.99\d*)×$/, `chosen compression of ${c[0]}`);
      assert.match(c[3], /^1(\.0+)?$/, `chosen mean cosine of ${c[0]}`);
      assert.match(c[6], /^1: [\d.]+× \/ 0\.\d+ · 2: [\d.]+× \/ 1$/, `the curve of ${c[0]}`);
    }
    // In the first view: the chart starts within the panel without scrolling.
    const chart = frame.locator(tid('curve-chart')).first();
    const top = await chart.evaluate((e) => e.getBoundingClientRect().top);
    const height = await frame.evaluate(() => window.innerHeight);
    assert.ok(top < height, `the curve starts at ${top}px, below the first view (${height}px)`);
    await chartDrawn(frame, 'curve-chart');
    assert.equal((await frame.locator(tid('dashboard-error')).first().innerText()).trim(), '', 'an error shows with the curve');
    await screenshot(ctx.page, ctx.shots, 'reconstruct-curve.png');
  });

  test('dashboard: choosing another preset updates the parameter budget', async () => {
    const frame = await dashboard(ctx.page, 'configure-view');
    const before = await budgetText(frame);
    const ratio = async () =>
      (
        await frame
          .locator(`${tid('budget')} [data-card="ratio"] .card-value`)
          .first()
          .innerText()
      ).trim();
    const ratioBefore = await ratio();
    await choose(frame, 'preset-select', '4x', '4× compression');
    const after = await until(
      'the budget to change',
      async () => {
        const t = await budgetText(frame);
        return t !== before ? t : undefined;
      },
      20_000,
    );
    const ratioAfter = await ratio();
    assert.notEqual(ratioAfter, ratioBefore, `the compression card did not change (${ratioBefore})`);
    assert.ok(after.length > 0);
    // Back to the authors' setting: the budget comes back too.
    await choose(frame, 'preset-select', 'paper', "Authors' setting");
    await until('the budget to come back', async () => (await budgetText(frame)) === before, 20_000);
  });

  test('dashboard: with every role unchecked the budget follows: no bank, nothing compressed, and the curve asks for a role', async () => {
    const frame = await dashboard(ctx.page, 'configure-view');
    await budgetText(frame);
    const roles = frame.locator(tid('role-checkbox'));
    // Each change re-plans and the form's layout moves under the pointer, so a click can land on
    // another box (a CI run saw one checked again): one click per poll, on the first box that is not
    // as wanted, until every box is.
    const setRoles = (on) =>
      until(
        `every role ${on ? 'checked' : 'unchecked'}`,
        async () => {
          const states = await roles.evaluateAll((els) => els.map((e) => /** @type {any} */ (e).checked));
          const i = states.findIndex((checked) => checked !== on);
          if (i < 0) return true;
          await roles.nth(i).click();
          return false;
        },
        20_000,
      );
    await setRoles(false);
    await until(
      'the no-role message',
      async () => (await frame.locator(tid('config-error')).first().innerText()).includes('Select at least one module role.'),
      10_000,
    );
    const card = async (id) =>
      (
        await frame
          .locator(`${tid('budget')} [data-card="${id}"] .card-value`)
          .first()
          .innerText()
      ).trim();
    await until('the budget to follow the selection', async () => (await card('templates')) === '0', 10_000);
    assert.match(await card('ratio'), /^1(\.0+)?×$/);
    assert.equal(await card('coefficients'), '0');
    assert.equal(await frame.locator(`${tid('bank-list')} tr[data-bank]`).count(), 0);
    await frame.locator(tid('no-banks')).first().waitFor({ state: 'visible' });
    assert.match(await frame.locator(tid('curve-status')).first().innerText(), /Select a module role/);
    assert.ok(await frame.locator(tid('curve-chart')).first().isHidden());
    await screenshot(ctx.page, ctx.shots, 'reconstruct-no-role.png');
    await setRoles(true);
    await until('8 planned banks again', async () => (await frame.locator(`${tid('bank-list')} tr[data-bank]`).count()) === 8, 20_000);
    await until('the curve again', async () => (await frame.locator(`${tid('curve-table')} tr[data-role]`).count()) === 4, 20_000);
  });

  test('dashboard: running the paper method shows a notification with Cancel and a live loss curve', async () => {
    const frame = await dashboard(ctx.page, 'configure-view');
    await choose(frame, 'method-select', 'paper', "paper (the authors' optimizer loop)");
    // 3000 steps a group, 8 groups: long enough to watch two groups' curves, and to cancel.
    await typeField(frame, 'steps-input', '3000');
    await until(
      'the run button to be enabled',
      async () =>
        !(await frame
          .locator(tid('run-button'))
          .first()
          .evaluate((b) => /** @type {any} */ (b).disabled)),
      20_000,
    );
    session.filesBeforeRun = listFiles(ctx.workspace);
    await frame.locator(tid('run-button')).first().click();
    const run = await dashboard(ctx.page, 'run-view');
    const note = toast(ctx.page, 'Mimicry: reconstructing capp-gpt2-4layer.safetensors');
    await note.waitFor({ state: 'visible', timeout: 30_000 });
    await note.locator('.monaco-button', { hasText: 'Cancel' }).first().waitFor({ state: 'visible' });
    // The first group is done and the second one is being fitted, some hundred steps in: the
    // loss curve has a line per group so far.
    const rows = run.locator(`${tid('group-status')} tr[data-group]`);
    await until(
      'the second group to be fitting, 600+ steps in',
      async () => {
        if ((await rows.count()) !== 8) return false;
        if ((await rows.nth(0).getAttribute('data-state')) !== 'done') return false;
        if ((await rows.nth(1).getAttribute('data-state')) !== 'fitting') return false;
        const step = Number(((await rows.nth(1).locator('td').nth(2).innerText()).split('/')[0] ?? '').trim());
        return step >= 600;
      },
      90_000,
    );
    assert.equal(await rows.nth(2).getAttribute('data-state'), 'waiting');
    await chartDrawn(run, 'loss-chart');
    await run
      .locator(tid('run-view'))
      .first()
      .evaluate((e) => e.scrollIntoView({ block: 'start' }));
    assert.ok(await note.isVisible(), 'the progress notification went away while running');
    await screenshot(ctx.page, ctx.shots, 'reconstruct-progress.png');
  });

  test('dashboard: Cancel stops the run, brings the form back and writes no file', async () => {
    const run = await dashboard(ctx.page, 'run-view');
    await run.locator(tid('cancel-button')).first().click();
    const form = await dashboard(ctx.page, 'configure-view', 30_000);
    await until('the run view to go', async () => (await form.locator(tid('run-view')).count()) === 0, 10_000);
    await toast(ctx.page, 'cancelled; nothing was written').waitFor({ state: 'visible', timeout: 30_000 });
    await toast(ctx.page, 'Mimicry: reconstructing').waitFor({ state: 'hidden', timeout: 30_000 });
    // The form is as the user left it: the paper method, 3000 steps.
    assert.equal(await form.locator(tid('method-select')).first().getAttribute('data-value'), 'paper');
    assert.equal(
      await form
        .locator(`${tid('steps-input')} input`)
        .first()
        .inputValue(),
      '3000',
    );
    assert.equal((await form.locator(tid('dashboard-error')).first().innerText()).trim(), '', 'an error shows after a cancel');
    await sleep(500); // the toasts' slide animation
    await screenshot(ctx.page, ctx.shots, 'reconstruct-cancelled.png');
    await sleep(1000); // a late write would show up by now
    assert.deepEqual(listFiles(ctx.workspace), session.filesBeforeRun, 'the cancelled run left files in the workspace');
    await clearNotifications(ctx.page); // the next pictures are of the dashboard
  });

  test('dashboard: Cancel in the progress notification stops the run as well', async () => {
    const form = await dashboard(ctx.page, 'configure-view');
    const before = listFiles(ctx.workspace);
    await until(
      'the run button to be enabled',
      async () =>
        !(await form
          .locator(tid('run-button'))
          .first()
          .evaluate((b) => /** @type {any} */ (b).disabled)),
      20_000,
    );
    await form.locator(tid('run-button')).first().click();
    const run = await dashboard(ctx.page, 'run-view', 20_000);
    await until(
      'the first loss values',
      async () => (await run.locator(`${tid('group-status')} tr[data-state="fitting"]`).count()) === 1,
      30_000,
    );
    const note = toast(ctx.page, 'Mimicry: reconstructing capp-gpt2-4layer.safetensors');
    await note.waitFor({ state: 'visible', timeout: 30_000 });
    await note.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
    const back = await dashboard(ctx.page, 'configure-view', 30_000);
    await toast(ctx.page, 'cancelled; nothing was written').waitFor({ state: 'visible', timeout: 30_000 });
    assert.equal((await back.locator(tid('dashboard-error')).first().innerText()).trim(), '', 'an error shows after a cancel');
    await sleep(1000);
    assert.deepEqual(listFiles(ctx.workspace), before, 'the cancelled run left files in the workspace');
    await clearNotifications(ctx.page);
  });

  test('dashboard: keyboard: Tab reaches the Reconstruct button and Enter starts the run', async () => {
    const form = await dashboard(ctx.page, 'configure-view');
    if ((await form.locator(tid('method-select')).first().getAttribute('data-value')) !== 'paper') {
      await choose(form, 'method-select', 'paper', "paper (the authors' optimizer loop)");
    }
    await typeField(form, 'steps-input', '500'); // focus is in the steps field now
    await until(
      'the run button to be enabled',
      async () =>
        !(await form
          .locator(tid('run-button'))
          .first()
          .evaluate((b) => /** @type {any} */ (b).disabled)),
      20_000,
    );
    const focused = () => form.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName ?? '');
    const path = [];
    for (let i = 0; i < 30 && (await focused()) !== 'run-button'; i++) {
      await ctx.page.keyboard.press('Tab');
      path.push(await focused());
    }
    assert.equal(await focused(), 'run-button', `Tab never reached the run button (focus went: ${path.join(' > ')})`);
    await ctx.page.keyboard.press('Enter');
    await dashboard(ctx.page, 'run-view', 20_000);
    const results = await dashboard(ctx.page, 'results-view', 120_000);
    assert.match(
      await results
        .locator(`${tid('results-view')} .results-head`)
        .first()
        .innerText(),
      /paper/,
    );
  });

  test('dashboard: results show summary cards of the run', async () => {
    const frame = await dashboard(ctx.page, 'results-view');
    const cards = await cardValues(frame);
    for (const id of [
      'params-before',
      'params-after',
      'ratio',
      'coefficients',
      'mean-cosine',
      'mean-rel-error',
      'method',
      'backend',
      'time',
      'size-on-disk',
      'template-dtype',
    ]) {
      assert.ok(cards[id] && cards[id] !== '—', `summary card ${id} is empty: ${JSON.stringify(cards)}`);
    }
    assert.equal(cards.method, 'paper');
    const mean = Number(cards['mean-cosine']);
    assert.ok(mean > 0.5 && mean <= 1, `mean cosine ${cards['mean-cosine']}`);
    assert.match(cards.time, /s$/);
    // Nothing exported yet: the source's size; GPT-2 is F32, so are its templates.
    assert.match(cards['size-on-disk'], /^source [\d.]+ (KiB|MiB)$/);
    assert.equal(cards['template-dtype'], 'F32');
    session.summary = cards;
    await frame
      .locator(tid('results-view'))
      .first()
      .evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await screenshot(ctx.page, ctx.shots, 'dashboard-summary.png');
  });

  chartsDrawn(
    ctx,
    'dashboard: fidelity and relative-error charts are drawn',
    ['relerror-chart', 'fidelity-chart'],
    'start',
    'dashboard-fidelity.png',
  );
  chartsDrawn(
    ctx,
    'dashboard: template diversity and entropy charts are drawn',
    ['entropy-chart', 'diversity-chart'],
    'center',
    'dashboard-diversity-entropy.png',
  );

  test('dashboard: one coefficient-similarity heat map per group is drawn', async () => {
    const frame = await dashboard(ctx.page, 'results-view');
    const maps = frame.locator(tid('similarity-heatmap'));
    const n = await maps.count();
    assert.equal(n, 8, `expected a heat map per bank (8), got ${n}`);
    for (let i = n - 1; i >= 0; i--) await chartDrawn(frame, 'similarity-heatmap', i);
    await maps.first().evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await screenshot(ctx.page, ctx.shots, 'dashboard-similarity.png');
  });

  test('dashboard: singular-value spectra chart is drawn', async () => {
    const frame = await dashboard(ctx.page, 'results-view');
    const spectra = await chartDrawn(frame, 'spectra-chart');
    await spectra.evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await screenshot(ctx.page, ctx.shots, 'dashboard-spectra.png');
  });

  test('dashboard: export opens the save dialog next to the source, then offers "Reveal in Explorer Side Bar"', async () => {
    const target = join(ctx.workspace, EXPORTED);
    assert.ok(!existsSync(target), `${EXPORTED} exists before the export`);
    const frame = await dashboard(ctx.page, 'results-view');
    const button = frame.locator(tid('export-button')).first();
    await until('the export button to be enabled', async () => !(await button.evaluate((b) => /** @type {any} */ (b).disabled)), 20_000);
    await button.scrollIntoViewIfNeeded();
    await button.click();
    // code-server's save dialog: a quick input holding the suggested path.
    const input = ctx.page.locator('.quick-input-widget input');
    await until(
      `the save dialog suggesting ${target}`,
      async () => (await input.isVisible()) && (await input.inputValue()) === target,
      30_000,
    );
    await screenshot(ctx.page, ctx.shots, 'export-dialog.png');
    await ctx.page.keyboard.press('Enter');
    const done = toast(ctx.page, 'Exported the reparameterized model to capp-gpt2-4layer.recast.safetensors');
    await until(
      'the export to finish',
      async () => {
        if (await done.isVisible()) return true;
        // A first Enter may only complete the path in the simple dialog: accept it again.
        if ((await input.isVisible()) && (await input.inputValue()) === target) await ctx.page.keyboard.press('Enter');
        return false;
      },
      60_000,
    );
    const reveal = done.locator('.monaco-button', { hasText: 'Reveal in Explorer Side Bar' }).first();
    await reveal.waitFor({ state: 'visible' });
    // The "writing" progress notification closes once the file is there.
    await toast(ctx.page, 'Mimicry: writing').waitFor({ state: 'hidden', timeout: 30_000 });
    await sleep(500); // the toasts' slide animation
    await screenshot(ctx.page, ctx.shots, 'export-done.png');

    // The notification and the Size on disk card give the file's size next to the source's.
    const ratio = (statSync(target).size / statSync(join(ctx.workspace, CAPP)).size).toFixed(2);
    const sized = new RegExp(`capp-gpt2-4layer\\.recast\\.safetensors [\\d.]+ (KiB|MiB) \\(${ratio}x of source [\\d.]+ (KiB|MiB)\\)`);
    assert.match((await done.textContent()) ?? '', sized);
    await until(
      'the Size on disk card to show the export',
      async () => (await cardValues(frame))['size-on-disk'].includes(`(${ratio}× of source)`),
      20_000,
    );
    const card = frame.locator(`${tid('summary-cards')} .card[data-card="size-on-disk"]`).first();
    assert.match((await card.locator('.card-hint').textContent()) ?? '', sized);
    await card.evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await screenshot(ctx.page, ctx.shots, 'export-size-on-disk.png');

    // The file is in the workspace, and it is a recast file the project's reader accepts.
    assert.ok(existsSync(target), `${EXPORTED} was not written`);
    const header = safetensorsHeader(target);
    assert.equal(header.__metadata__?.format, 'recast');
    assert.ok(
      Object.keys(header).some((k) => k.startsWith('recast.')),
      'no recast.* tensors in the header',
    );
    const metrics = cliMetrics(target);
    assert.equal(metrics.banks.length, 8);
    assert.equal(metrics.layers.length, 16);
    assert.equal(metrics.summary.banks, 8);
    for (const l of metrics.layers)
      assert.ok(Number.isFinite(l.cosine) && l.cosine > 0 && l.cosine <= 1 + 1e-9, `${l.name}: cosine ${l.cosine}`);
    // No temporary file left beside it.
    const leftovers = listFiles(join(ctx.workspace, 'real')).filter((f) => f.endsWith('.tmp') || f.startsWith('.'));
    assert.deepEqual(leftovers, []);

    // "Reveal in Explorer Side Bar" selects the new file in the explorer.
    await reveal.click();
    const row = ctx.page.locator('.explorer-folders-view .monaco-list-row[aria-label="capp-gpt2-4layer.recast.safetensors"]').first();
    await row.waitFor({ state: 'visible', timeout: 20_000 });
    await until(
      'the exported file to be selected in the explorer',
      async () => (await row.getAttribute('aria-selected')) === 'true',
      20_000,
    );
  });

  test('dashboard: the report (JSON, CSV) and a chart (PNG, SVG) export next to the source', async () => {
    const frame = await dashboard(ctx.page, 'results-view');
    const real = join(ctx.workspace, 'real');
    const json = await exportThroughDialog(
      ctx,
      frame.locator(tid('export-report-json')).first(),
      join(real, 'capp-gpt2-4layer.recast-report.json'),
      'Exported the report (JSON)',
    );
    const report = JSON.parse(readFileSync(json.file, 'utf8'));
    assert.equal(report.format, 'recast-report');
    assert.equal(report.outputs?.out, join(ctx.workspace, EXPORTED), 'the report does not name the exported model');
    assert.equal(report.metrics?.banks?.length, 8);
    await clearNotifications(ctx.page);
    const csv = await exportThroughDialog(
      ctx,
      frame.locator(tid('export-report-csv')).first(),
      join(real, 'capp-gpt2-4layer.recast-report.csv'),
      'Exported the report (CSV)',
    );
    const lines = readFileSync(csv.file, 'utf8').trim().split(/\r?\n/);
    assert.ok(lines.length >= 1 + 16 + 8, `the CSV has ${lines.length} lines`);
    assert.ok(
      lines.some((l) => l.includes('transformer.h.0.attn.c_attn.weight')),
      'the CSV has no layer rows',
    );
    await clearNotifications(ctx.page);
    const figure = frame.locator(`figure:has(${tid('fidelity-chart')})`).first();
    const png = await exportThroughDialog(
      ctx,
      figure.locator(tid('export-chart-png')).first(),
      join(real, 'capp-gpt2-4layer.fidelity.png'),
      'Exported the chart fidelity',
    );
    const bytes = readFileSync(png.file);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'not a PNG');
    assert.ok(bytes.length > 5000, `the PNG is only ${bytes.length} bytes`);
    await clearNotifications(ctx.page);
    const svg = await exportThroughDialog(
      ctx,
      figure.locator(tid('export-chart-svg')).first(),
      join(real, 'capp-gpt2-4layer.fidelity.svg'),
      'Exported the chart fidelity',
    );
    const text = readFileSync(svg.file, 'utf8');
    assert.match(text, /^(<\?xml[^>]*>\s*)?<svg/);
    assert.ok(text.includes('block 0') && text.includes('attn.c_attn'), "the SVG lacks the chart's labels");
    await clearNotifications(ctx.page);
  });

  test('dashboard: an export aimed at the source checkpoint is refused and the source is untouched', async () => {
    const frame = await dashboard(ctx.page, 'results-view');
    const source = join(ctx.workspace, CAPP);
    const before = readFileSync(source);
    const button = frame.locator(tid('export-dense')).first();
    await until(
      'the dense export button to be enabled',
      async () => !(await button.evaluate((b) => /** @type {any} */ (b).disabled)),
      20_000,
    );
    await button.scrollIntoViewIfNeeded();
    await button.click();
    const input = ctx.page.locator('.quick-input-widget input');
    await until(
      'the save dialog',
      async () =>
        (await input.isVisible()) && (await input.inputValue()) === join(ctx.workspace, 'real', 'capp-gpt2-4layer.dense.safetensors'),
      30_000,
    );
    await input.fill(source);
    await ctx.page.keyboard.press('Enter');
    const refused = toast(ctx.page, 'never overwrites the source');
    await until(
      'the refusal',
      async () => {
        if (await refused.isVisible()) return true;
        // The simple dialog asks before replacing an existing file: say yes, as a hurried user would.
        const yes = ctx.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: /^\s*Yes/ }).first();
        if (await yes.isVisible().catch(() => false)) await yes.click();
        else if ((await input.isVisible()) && (await input.inputValue()) === source) await ctx.page.keyboard.press('Enter');
        return false;
      },
      30_000,
    );
    await screenshot(ctx.page, ctx.shots, 'export-refuses-source.png');
    assert.ok(readFileSync(source).equals(before), 'the source checkpoint changed');
    await clearNotifications(ctx.page);
  });

  test('dashboard: "Compare with…" the exported file shows both runs side by side, and back', async () => {
    const frame = await dashboard(ctx.page, 'results-view');
    const target = join(ctx.workspace, EXPORTED);
    const button = frame.locator(tid('compare-button')).first();
    await button.scrollIntoViewIfNeeded();
    await button.click();
    const input = ctx.page.locator('.quick-input-widget input');
    await until('the open dialog', async () => (await input.isVisible()) && (await input.inputValue()).startsWith('/'), 30_000);
    await input.fill(target);
    await ctx.page.keyboard.press('Enter');
    const compare = await until(
      'the compare view',
      async () => {
        // a first Enter may only complete the path
        if ((await input.isVisible()) && (await input.inputValue()) === target) await ctx.page.keyboard.press('Enter');
        return frameWith(ctx.page, tid('compare-view'), { visible: true, timeoutMs: 1000 }).catch(() => undefined);
      },
      60_000,
    );
    await chartDrawn(compare, 'compare-chart');
    await chartDrawn(compare, 'diversity-chart', 1);
    // Run A is this run, run B the file written from it: the same numbers.
    const a = await compare
      .locator(`${tid('summary-cards')} .card[data-card="mean-cosine"] .card-value`)
      .first()
      .innerText();
    const b = await compare
      .locator(`${tid('summary-cards-b')} .card[data-card="mean-cosine"] .card-value`)
      .first()
      .innerText();
    assert.equal(b, a);
    // The "reading" progress notification closes once the file is read.
    await toast(ctx.page, 'Mimicry: reading').waitFor({ state: 'hidden', timeout: 20_000 });
    await sleep(500); // the toasts' slide animation
    await compare
      .locator(tid('compare-view'))
      .first()
      .evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await screenshot(ctx.page, ctx.shots, 'dashboard-compare.png');
    await compare.locator(tid('back-button')).first().click();
    await dashboard(ctx.page, 'results-view', 20_000);
  });

  test('dashboard: the exported file opens its dashboard from the stored metrics, with all 13 charts drawn', async () => {
    assert.ok(session.summary, 'no run results to compare with (an earlier test failed)');
    await closeAllEditors(ctx.page);
    await explorerItem(ctx.page, EXPORTED).then((row) => row.dblclick());
    const inspector = await frameWith(ctx.page, tid('inspector-open-dashboard'), { visible: true });
    await inspector.locator(tid('inspector-open-dashboard')).first().click();
    const frame = await dashboard(ctx.page, 'results-view', 60_000);
    assert.match(
      await frame
        .locator(`${tid('results-view')} .results-head`)
        .first()
        .innerText(),
      /read from the reparameterized file/,
    );
    // The model export is gone (it is one already), the dense one is offered.
    assert.equal(await frame.locator(tid('export-button')).count(), 0);
    await frame.locator(tid('export-dense')).first().waitFor({ state: 'visible' });
    // The stored metrics are the run's.
    const cards = await cardValues(frame);
    for (const id of ['params-before', 'params-after', 'ratio', 'coefficients', 'mean-cosine', 'mean-rel-error', 'method']) {
      assert.equal(cards[id], session.summary[id], `card ${id}: file ${cards[id]}, run ${session.summary[id]}`);
    }
    await chartDrawn(frame, 'fidelity-chart');
    await chartDrawn(frame, 'diversity-chart');
    // Every chart is drawn, counted in the page: fidelity, relative error, diversity, entropy,
    // spectra and a heat map per bank (8). The extension-host suite checks the same 13 as the
    // webview reports them over the message path; this is what a user sees.
    const drawn = await allChartsDrawn(frame, tid('results-view'), { minHeight: 80 });
    assert.equal(drawn, 13, `${drawn} charts drawn in the results view`);
    await frame
      .locator(tid('results-view'))
      .first()
      .evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await screenshot(ctx.page, ctx.shots, 'dashboard-from-file.png');
  });

  test('dashboard: a closed-form run at 4× says why relative diversity is √2 and draws each template’s energy share', async () => {
    await closeAllEditors(ctx.page);
    await contextMenu(ctx.page, await explorerItem(ctx.page, CAPP), 'Reconstruct Checkpoint...');
    const form = await dashboard(ctx.page, 'configure-view');
    await choose(form, 'method-select', 'spectral', 'spectral (closed form, seconds)');
    await choose(form, 'preset-select', '4x', '4× compression');
    await until(
      'the 4× curve (4-member groups: n = 1..4)',
      async () =>
        (
          await form
            .locator(`${tid('curve-table')} tr[data-role] td`)
            .nth(6)
            .innerText()
        ).includes(' · 4: '),
      60_000,
    );
    await until(
      'the run button to be enabled',
      async () =>
        !(await form
          .locator(tid('run-button'))
          .first()
          .evaluate((b) => /** @type {any} */ (b).disabled)),
      20_000,
    );
    await form.locator(tid('run-button')).first().click();
    const frame = await dashboard(ctx.page, 'results-view', 120_000);
    const note = frame.locator(tid('diversity-note')).first();
    await note.waitFor({ state: 'visible' });
    assert.match(await note.innerText(), /always √2/);
    const energy = await chartDrawn(frame, 'energy-chart');
    await chartDrawn(frame, 'diversity-chart');
    await toast(ctx.page, 'Mimicry: reconstructing').waitFor({ state: 'hidden', timeout: 30_000 });
    await sleep(500); // the toasts' slide animation
    await energy.evaluate((e) => e.scrollIntoView({ block: 'end' }));
    await screenshot(ctx.page, ctx.shots, 'dashboard-energy.png');
  });
  test("dashboard: a LoRA adapter's form fits its layer updates (its 3 roles, no lora_A / lora_B) and says so", async () => {
    await closeAllEditors(ctx.page);
    const row = await explorerItem(ctx.page, WORKSPACE_FILES.adapter);
    await contextMenu(ctx.page, row, 'Reconstruct Checkpoint...');
    const frame = await dashboard(ctx.page, 'source-note', 60_000);
    const note = frame.locator(tid('source-note')).first();
    assert.equal(
      (await note.innerText()).trim(),
      'LoRA adapter: its 36 layer updates scale * (lora_B @ lora_A), transposed for fan_in_fan_out are reconstructed, not its factors',
    );
    // The roles are the layers' (attn.c_attn, attn.c_proj, mlp.c_proj), not the factors'.
    const roles = frame.locator(tid('role-checkbox'));
    await until('the module roles', async () => (await roles.count()) === 3);
    const banks = frame.locator(`${tid('bank-list')} tr[data-bank]`);
    await until('the planned banks', async () => (await banks.count()) > 0);
    const names = await banks.evaluateAll((els) => els.map((e) => e.getAttribute('data-bank') ?? ''));
    assert.ok(
      names.every((b) => !b.includes('lora')),
      `factor banks: ${names.join(', ')}`,
    );
    await screenshot(ctx.page, ctx.shots, 'reconstruct-adapter-updates.png');
  });
});
