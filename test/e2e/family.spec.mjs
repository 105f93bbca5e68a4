// A user compares the fine-tunes of one base in a real browser: select four GPT-2 LoRA adapter
// folders in the explorer, "Compare as Task Family...", watch the Family dashboard draw the members
// table, the update norms, the cosine heat map, the fidelity-vs-n curves, the specialisation heat
// map and the map; export the task bank from the keyboard through the save dialog; and see the
// dashboard follow the light and high-contrast themes.
// Each step leaves a screenshot named family-*.png in test-results/e2e/.
import assert from 'node:assert/strict';
import { test } from '@playwright/test';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  acceptFileDialog,
  explorerItem,
  contextMenu,
  closeAllEditors,
  frameWith,
  screenshot,
  until,
  allChartsDrawn,
  waitForChart,
} from './lib.mjs';
import { workbenchSession } from './session.mjs';
import { canvasSignature, expectBodyClass, setColorTheme } from './themes.mjs';
import { WORKSPACE_FILES } from '../../scripts/test-workspace-files.mjs';

const tid = (id) => `[data-testid="${id}"]`;
const CHARTS = ['family-norms-chart', 'family-cosine-chart', 'family-fidelity-chart', 'family-specialisation-chart', 'family-map-chart'];
const BANK = 'family/family.taskbank.safetensors'; // the save dialog's default: beside the first member's folder

/** The Family dashboard's frame, its report shown. */
function familyView(page, timeoutMs = 120_000) {
  return frameWith(page, tid('family-view'), { visible: true, timeoutMs });
}

/** Picks an option of a @vscode-elements single select as a user does: open it, click the option. */
async function choose(frame, testId, value, label) {
  const select = frame.locator(tid(testId)).first();
  await select.click();
  const option = select.locator('li[role="option"]', { hasText: label }).first();
  await option.waitFor({ state: 'visible', timeout: 10_000 });
  await option.click();
  await until(`${testId} to show ${value}`, async () => (await select.getAttribute('data-value')) === value, 10_000);
}

/** Scrolls the dashboard to its top (header, toolbar, members table and the first chart in view). */
async function toTop(frame) {
  await frame.evaluate(() => window.scrollTo(0, 0));
}

test.describe.serial('family', () => {
  const ctx = workbenchSession('family');

  test('family: four adapter folders selected in the explorer, "Compare as Task Family...": the members table and every chart', async () => {
    await closeAllEditors(ctx.page);
    const rows = [];
    for (const rel of WORKSPACE_FILES.family) rows.push(await explorerItem(ctx.page, rel));
    await rows[0].click();
    for (const row of rows.slice(1)) await row.click({ modifiers: ['Control'] });
    await until('four explorer rows selected', async () => {
      let n = 0;
      for (const row of rows) if ((await row.getAttribute('aria-selected')) === 'true') n++;
      return n === 4;
    });
    await contextMenu(ctx.page, rows[3], 'Compare as Task Family...');
    const frame = await familyView(ctx.page);
    assert.equal(
      (await frame.locator(tid('family-summary')).first().innerText()).trim(),
      "4 members, 12 shared layers in 1 bank; 192 coefficients over the shared templates for 2.2M parameters of the members' files",
    );
    const members = await frame
      .locator(`${tid('family-members')} tbody tr`)
      .evaluateAll((trs) => trs.map((tr) => [...tr.children].slice(0, 6).map((c) => (c.textContent ?? '').trim())));
    assert.deepEqual(members, [
      ['math', 'peft-lora', '—', '811,008', '48', '24'],
      ['medical', 'peft-lora', '—', '811,008', '48', '24'],
      ['checkpoint-1000', 'peft-lora', '1,000', '294,912', '48', '0'],
      ['checkpoint-7500', 'peft-lora', '7,500', '294,912', '48', '0'],
    ]);
    assert.equal(await allChartsDrawn(frame, tid('family-view')), CHARTS.length);
    for (const id of CHARTS) assert.equal(await frame.locator(tid(id)).count(), 1, id);
    await toTop(frame);
    await screenshot(ctx.page, ctx.shots, 'family-dashboard.png');
    await frame
      .locator(tid('family-fidelity-chart'))
      .first()
      .evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await screenshot(ctx.page, ctx.shots, 'family-fidelity.png');
    await frame
      .locator(tid('family-map-chart'))
      .first()
      .evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await screenshot(ctx.page, ctx.shots, 'family-map.png');
  });

  test('family: keyboard: every chart is focusable with a name, and Enter on "Export Task Bank…" writes the bank through the save dialog', async () => {
    const frame = await familyView(ctx.page);
    const charts = await frame
      .locator(`${tid('family-view')} .chart`)
      .evaluateAll((els) =>
        els.map((e) => [e.getAttribute('tabindex'), e.getAttribute('role'), (e.getAttribute('aria-label') ?? '').length > 0]),
      );
    assert.deepEqual(
      charts,
      CHARTS.map(() => ['0', 'img', true]),
    );
    const file = join(ctx.workspace, BANK);
    assert.ok(!existsSync(file));
    const button = frame.locator(tid('export-bank-button')).first();
    await button.focus();
    await ctx.page.keyboard.press('Enter');
    const input = ctx.page.locator('.quick-input-widget input');
    await until(
      'the save dialog suggesting the task bank beside the members',
      async () => (await input.isVisible()) && (await input.inputValue()) === file,
      30_000,
    );
    await ctx.page.keyboard.press('Enter');
    const done = ctx.page.locator('.notifications-toasts .notification-toast', { hasText: 'Exported the task bank' }).first();
    await until(
      'a notification "Exported the task bank"',
      async () => {
        if (await done.isVisible()) return true;
        if ((await input.isVisible()) && (await input.inputValue()) === file) await ctx.page.keyboard.press('Enter');
        return false;
      },
      60_000,
    );
    assert.ok(statSync(file).size > 0);
    const line = frame.locator(tid('family-bank-line')).first();
    await line.waitFor({ state: 'visible', timeout: 20_000 });
    assert.match(await line.innerText(), /^Task bank family\/family\.taskbank\.safetensors: /);
    await toTop(frame);
    await screenshot(ctx.page, ctx.shots, 'family-export.png');
  });

  test('family: the dashboard follows the light and high-contrast themes', async () => {
    const frame = await familyView(ctx.page);
    const norms = frame.locator(tid('family-norms-chart')).first();
    // The workbench starts light: dark first, then light and high contrast, each redrawing the charts.
    await setColorTheme(ctx.page, 'Dark Modern', 'vs-dark');
    await expectBodyClass(frame, 'vscode-dark');
    for (const id of CHARTS) await waitForChart(frame.locator(tid(id)).first(), id);
    await toTop(frame);
    await screenshot(ctx.page, ctx.shots, 'family-theme-dark.png');
    for (const [label, workbench, body, shot] of [
      ['Light Modern', 'vs', 'vscode-light', 'family-theme-light.png'],
      ['Dark High Contrast', 'hc-black', 'vscode-high-contrast', 'family-theme-high-contrast.png'],
    ]) {
      const before = await canvasSignature(norms);
      await setColorTheme(ctx.page, label, workbench);
      await expectBodyClass(frame, body);
      await until(`the norms chart to be redrawn for ${label}`, async () => (await canvasSignature(norms)) !== before, 20_000);
      for (const id of CHARTS) await waitForChart(frame.locator(tid(id)).first(), id);
      await toTop(frame);
      await screenshot(ctx.page, ctx.shots, shot);
    }
    await setColorTheme(ctx.page, 'Light Modern', 'vs');
  });

  test('family: UMAP from the toolbar: "Compare Again" redraws the map with the seeded UMAP', async () => {
    const frame = await familyView(ctx.page);
    await choose(frame, 'map-select', 'umap', 'UMAP (seeded)');
    await frame.locator(tid('rerun-button')).first().click();
    const umap = await frameWith(ctx.page, `${tid('family-view')}[data-map="umap"]`, { visible: true, timeoutMs: 120_000 });
    const map = umap.locator(tid('family-map-chart')).first();
    await waitForChart(map, 'family-map-chart');
    await map.evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await screenshot(ctx.page, ctx.shots, 'family-map-umap.png');
  });

  test('family: "Choose Base…" picks a base: the full-weights chart (base templates frozen vs fitted) joins the dashboard', async () => {
    const frame = await familyView(ctx.page);
    await frame.locator(tid('pick-base-button')).first().click();
    const file = join(ctx.workspace, WORKSPACE_FILES.familyBase);
    const input = ctx.page.locator('.quick-input-widget input');
    await acceptFileDialog(ctx.page, file, 'Use as Base', 'the dialog to accept the base', async () => !(await input.isVisible()));
    const withBase = await frameWith(ctx.page, tid('family-weights-chart'), { visible: true, timeoutMs: 120_000 });
    const chart = withBase.locator(tid('family-weights-chart')).first();
    await waitForChart(chart, 'family-weights-chart');
    assert.equal(await allChartsDrawn(withBase, tid('family-view')), CHARTS.length + 1);
    await chart.evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await screenshot(ctx.page, ctx.shots, 'family-weights.png');
    // Back to the plain family for the tests after this one.
    await withBase.locator(tid('clear-base-button')).first().click();
    await until('the dashboard without the base', async () => (await withBase.locator(tid('family-weights-chart')).count()) === 0, 120_000);
  });

  test('family: a DoRA member: the dashboard shows the refusal with the file and rule instead of the report', async () => {
    // A copy of math's adapter whose config asks for DoRA, beside the family (removed afterwards).
    const dora = join(ctx.workspace, 'family', 'dora');
    mkdirSync(dora, { recursive: true });
    const math = join(ctx.workspace, WORKSPACE_FILES.family[0]);
    copyFileSync(join(math, 'adapter_model.safetensors'), join(dora, 'adapter_model.safetensors'));
    const config = { ...JSON.parse(readFileSync(join(math, 'adapter_config.json'), 'utf8')), use_dora: true };
    writeFileSync(join(dora, 'adapter_config.json'), JSON.stringify(config));
    try {
      await closeAllEditors(ctx.page);
      const first = await explorerItem(ctx.page, WORKSPACE_FILES.family[0]);
      const second = await explorerItem(ctx.page, 'family/dora');
      await first.click();
      await second.click({ modifiers: ['Control'] });
      await contextMenu(ctx.page, second, 'Compare as Task Family...');
      const frame = await frameWith(ctx.page, tid('family-error'), { visible: true, timeoutMs: 60_000 });
      const text = await frame.locator(tid('family-error')).first().innerText();
      assert.match(text, /DoRA adapters are not supported/);
      assert.match(text, /rule: dora-unsupported/);
      assert.equal(
        (await frame.locator(tid('family-error-file')).first().innerText()).trim(),
        `file: ${join(dora, 'adapter_config.json')}`,
      );
      await screenshot(ctx.page, ctx.shots, 'family-error.png');
    } finally {
      await closeAllEditors(ctx.page);
      rmSync(dora, { recursive: true, force: true });
    }
  });
});
