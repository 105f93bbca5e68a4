// Colour themes in the browser end-to-end tests: pick one as a user does (the command palette),
// wait for a webview to follow it, and tell whether a chart was redrawn (its canvas' signature).
import { until } from './lib.mjs';

/** The webview document's body classes (VS Code puts vscode-light / vscode-dark / vscode-high-contrast there). */
export function bodyClasses(frame) {
  return frame.evaluate(() => [...document.body.classList]);
}

export async function expectBodyClass(frame, cls) {
  await until(`the webview body to carry class ${cls}`, async () => (await bodyClasses(frame)).includes(cls), 20_000);
}

/** The quick input's row whose label is exactly `label` (not a longer one that contains it). */
export function quickPickRow(page, label) {
  const exact = new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
  return page
    .locator('.quick-input-widget .quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: exact }) })
    .first();
}

/**
 * Picks a colour theme as a user does: the command palette's "Preferences: Color Theme" (clicked
 * by its exact title: ">Preferences: Color Theme" also matches "Browse Color Themes in
 * Marketplace", which would go online), then the theme by its name. Waits until the workbench has
 * switched (its root carries vs / vs-dark / hc-black / hc-light).
 */
export async function setColorTheme(page, label, workbenchClass) {
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('Escape'); // nothing half-open
  await page.keyboard.press('F1');
  if (
    !(await input.waitFor({ state: 'visible', timeout: 3000 }).then(
      () => true,
      () => false,
    ))
  ) {
    await page.locator('.part.sidebar .title-label').first().click(); // focus out of a webview
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout: 20_000 });
  }
  await input.fill('>Preferences: Color Theme');
  const command = quickPickRow(page, 'Preferences: Color Theme');
  await command.waitFor({ state: 'visible', timeout: 20_000 });
  await command.click();
  // The theme picker replaces the command list: wait for it before typing.
  await quickPickRow(page, 'Dark Modern').waitFor({ state: 'visible', timeout: 20_000 });
  await input.fill(label);
  const theme = quickPickRow(page, label);
  await theme.waitFor({ state: 'visible', timeout: 20_000 });
  await theme.click();
  await input.waitFor({ state: 'hidden', timeout: 20_000 });
  await until(
    `the workbench to switch to ${label}`,
    () => page.evaluate((c) => document.querySelector('.monaco-workbench')?.classList.contains(c) ?? false, workbenchClass),
    30_000,
  );
}

/** A cheap signature of a canvas's pixels (changes when the chart is redrawn in other colours). */
export function canvasSignature(host) {
  return host
    .locator('canvas')
    .first()
    .evaluate((c) => {
      const ctx = /** @type {HTMLCanvasElement} */ (c).getContext('2d');
      if (!ctx) return '';
      const { data } = ctx.getImageData(0, 0, c.width, c.height);
      let h = 2166136261;
      for (let i = 0; i < data.length; i += 4 * 3)
        h = Math.imul(h ^ data[i] ^ (data[i + 1] << 8) ^ (data[i + 2] << 16) ^ (data[i + 3] << 24), 16777619) >>> 0;
      return `${c.width}x${c.height}:${h}`;
    });
}
