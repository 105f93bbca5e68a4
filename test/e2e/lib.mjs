// Helpers for driving the code-server workbench like a user: the explorer, context menus, the
// command palette, and webview content (which lives in nested iframes: we search page.frames()).
import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STEP_TIMEOUT_MS = 60_000;
/** Where the screenshots the tests take go (test-results/e2e/<name>.png), with code-server's log. */
export const SHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-results', 'e2e');

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until fn() returns a truthy value; throws `what` when it never does. */
export async function until(what, fn, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastError = e; // frames detach while editors open and close: try again
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? ` (last error: ${lastError.message ?? lastError})` : ''}`,
      );
    }
    await sleep(250);
  }
}

/** The (webview) frame whose document has an element matching selector. */
export async function frameWith(page, selector, { visible = false, timeoutMs } = {}) {
  return until(
    `an element ${selector} in some frame`,
    async () => {
      for (const frame of page.frames()) {
        if (frame.isDetached()) continue;
        const loc = frame.locator(selector);
        if ((await loc.count()) === 0) continue;
        if (visible && !(await loc.first().isVisible())) continue;
        return frame;
      }
      return undefined;
    },
    timeoutMs,
  );
}

/** What each live frame of the page shows (its URL's last part and the start of its text): for failure messages. */
export async function framesText(page) {
  const parts = [];
  for (const frame of page.frames()) {
    if (frame.isDetached() || frame === page.mainFrame()) continue;
    const text = await frame.evaluate(() => document.body?.innerText ?? '(no body)').catch((e) => `(unreadable: ${e.message})`);
    parts.push(`[${frame.url().split('?')[0].split('/').pop() || frame.url()}] ${text.replace(/\s+/g, ' ').slice(0, 160)}`);
  }
  return parts.join(' | ') || '(no frames)';
}

/** The webview frame currently showing tensor rows for a given tensor name (unique per file here). */
export async function inspectorFrame(page, tensorName, timeoutMs) {
  return frameWith(page, `[data-testid="tensor-row"][data-name="${cssString(tensorName)}"]`, { timeoutMs });
}

export function cssString(s) {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/**
 * Opens `rel` from the explorer (a double click) and answers the inspector's frame showing
 * `tensorName`. Right after a workbench loads, code-server may not yet know the extensions' editors
 * and opens the file in its text editor ("not displayed ... binary"): then it is closed and opened
 * again, a few times, before giving up.
 */
export async function openInInspector(page, rel, tensorName) {
  for (let attempt = 1; ; attempt++) {
    await explorerItem(page, rel).then((row) => row.dblclick());
    try {
      return await inspectorFrame(page, tensorName, attempt < 4 ? 15_000 : undefined);
    } catch (e) {
      const textEditor = await page.getByText('The file is not displayed in the text editor').count();
      if (attempt >= 4 || textEditor === 0) throw e;
      await closeAllEditors(page);
      await sleep(2000);
    }
  }
}

/** Natural order of names, as src/mimicry/naming/naturalCompare.ts (h.2 before h.10). */
export const naturalCompare = (a, b) => {
  const c = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' }).compare(a, b);
  return c !== 0 ? c : a < b ? -1 : a > b ? 1 : 0;
};

/** Tensor names straight from a file's header, in the order of their bytes (the table's "#" column). */
export function fileOrderNames(file) {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  return Object.keys(header)
    .filter((k) => k !== '__metadata__')
    .sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0]);
}

/** Tensor names of a file in natural order: the order the table opens in. */
export function tensorNames(file) {
  return fileOrderNames(file).sort(naturalCompare);
}

export function shardedTensorNames(indexFile) {
  const index = JSON.parse(readFileSync(indexFile, 'utf8'));
  return Object.keys(index.weight_map);
}

// ---- workbench ---------------------------------------------------------------------------------

/** The explorer row of a file or folder, by its workspace-relative path (folders expanded as needed). */
export async function explorerItem(page, rel) {
  const parts = rel.split('/');
  for (let i = 0; i < parts.length; i++) {
    // Rows are treeitems labelled with the name, at a level that is their depth.
    const row = page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${cssString(parts[i])}"][aria-level="${i + 1}"]`).first();
    await row.waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    if (i === parts.length - 1) return row;
    // A click can be lost while the tree re-renders (a busy machine): click again until it expands.
    const what = `folder ${parts.slice(0, i + 1).join('/')} to expand`;
    const expanded = async () => (await row.getAttribute('aria-expanded', { timeout: 5_000 }).catch(() => null)) === 'true';
    for (let attempt = 1; !(await expanded()); attempt++) {
      await row.click({ timeout: STEP_TIMEOUT_MS });
      try {
        await until(what, expanded, 15_000);
      } catch (e) {
        if (attempt >= 4) throw e;
      }
    }
  }
  throw new Error('unreachable');
}

/** Right-clicks a row and picks a context-menu entry by its label. */
export async function contextMenu(page, row, label) {
  await row.click({ button: 'right' });
  const menu = page.locator('.monaco-menu').first();
  const item = menu.locator('.action-menu-item', { hasText: label }).first();
  await item.waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  await item.hover();
  await item.click();
  // The workbench's menu acts on a full mouse press and release over the item; where a click
  // got lost (the menu still shows), the highlighted item is chosen with Enter, as a user might.
  if (await menu.isVisible().catch(() => false)) {
    await sleep(500);
    if (await menu.isVisible().catch(() => false)) await page.keyboard.press('Enter');
  }
  await menu.waitFor({ state: 'hidden', timeout: 10_000 });
}

/** Runs a command through the command palette (F1), by its title as users see it. */
export async function runCommand(page, title) {
  // The palette closes when something else takes focus (a toast, a dialog, a webview finishing
  // its load), so opening, typing and choosing are retried together a few times.
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await openPaletteAndRun(page, title);
      return;
    } catch (e) {
      lastError = e;
      await page.keyboard.press('Escape').catch(() => undefined);
      await sleep(500);
    }
  }
  throw lastError;
}

async function openPaletteAndRun(page, title) {
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('F1');
  if (
    !(await input.waitFor({ state: 'visible', timeout: 3000 }).then(
      () => true,
      () => false,
    ))
  ) {
    // Focus was somewhere that keeps F1 (e.g. a webview): give it to a neutral workbench spot.
    await page.locator('.part.sidebar .title-label').first().click();
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  }
  await input.fill(`>${title}`, { timeout: 10_000 });
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  await page.keyboard.press('Enter');
}

/**
 * code-server's file dialog is a quick input holding a path: once it holds one, types `file` and
 * accepts it, then until `done()` answers: Enter again while the dialog stays (a first Enter may
 * only complete the path), the path typed again if the dialog changed it, and now and then its
 * accept button `label` or the file's own row (an Enter that went elsewhere, e.g. focus lost to a
 * refreshing list; once in CI neither Enter nor the button took a file written just before).
 */
export async function acceptFileDialog(page, file, label, what, done, timeoutMs = STEP_TIMEOUT_MS) {
  const input = page.locator('.quick-input-widget input');
  await until('the file dialog', async () => (await input.isVisible()) && (await input.inputValue()).startsWith('/'));
  await input.fill(file);
  await page.keyboard.press('Enter');
  let tries = 0;
  await until(
    what,
    async () => {
      if (await input.isVisible().catch(() => false)) {
        tries++;
        if ((await input.inputValue().catch(() => file)) !== file) await input.fill(file).catch(() => undefined);
        if (tries % 4 === 0) {
          const accept = page.locator('.quick-input-widget .monaco-button', { hasText: label }).first();
          await accept.click({ timeout: 2000 }).catch(() => undefined);
        } else if (tries % 4 === 2) {
          // The dialog lists the file under the typed path: clicking its row accepts it too.
          const row = page
            .locator('.quick-input-widget .monaco-list-row')
            .filter({ has: page.getByText(basename(file), { exact: true }) })
            .first();
          await row.click({ timeout: 2000 }).catch(() => undefined);
        } else {
          await input.focus().catch(() => undefined);
          await page.keyboard.press('Enter');
        }
      }
      return done();
    },
    timeoutMs,
  );
}

export async function closeAllEditors(page) {
  await runCommand(page, 'View: Close All Editors');
  await until('all editors to close', async () => (await page.locator('.tabs-container .tab').count()) === 0, 20_000);
}

export async function screenshot(page, dir, name) {
  const path = join(dir, name);
  await page.screenshot({ path });
  return path;
}

/** Types into the search box, whether it is a plain <input> or a web component wrapping one. */
export async function typeInto(frame, page, selector, text) {
  const host = frame.locator(selector).first();
  const tag = await host.evaluate((el) => el.tagName.toLowerCase());
  const target = tag === 'input' || tag === 'textarea' ? host : host.locator('input, textarea').first();
  await target.click();
  await target.fill(text).catch(async () => {
    await page.keyboard.press('Control+A');
    await page.keyboard.type(text);
  });
}

// ---- console errors ----------------------------------------------------------------------------

/** Where a message comes from our webviews: their frames, our bundles, or their resources. */
export const OUR_WEBVIEW_SOURCE = new RegExp(
  'vscode-webview:|\\/webview\\/browser\\/pre\\/|vscode-resource|vscode-remote-resource|' +
    '\\/dist\\/webview\\/|inspector\\.js|dashboard\\.js|neural-mimicry',
  'i',
);
/**
 * Known noise that is not ours: code-server's own workbench scripts, and the marketplace it cannot
 * reach offline. A message with neither (no source at all, say) counts as ours: strict.
 */
export const WORKBENCH_NOISE_SOURCE =
  /\/static\/out\/vs\/(?!workbench\/contrib\/webview\/)|open-vsx\.org|marketplace\.visualstudio\.com|vscode-cdn\.net\/.*gallery/i;

/**
 * Records every console message of type 'error' and every uncaught exception ('pageerror') of the
 * page and all its frames (Playwright reports the messages of iframes, out-of-process ones too, on
 * the page). Each entry: {kind, text, url, stack, ours}: `ours` unless it comes from known
 * workbench noise (WORKBENCH_NOISE_SOURCE), and always when it names our webviews' sources.
 * stop() removes the listeners.
 */
export function collectConsoleErrors(page) {
  const entries = [];
  const classify = (e) => {
    const where = `${e.url}\n${e.stack}`;
    return { ...e, ours: OUR_WEBVIEW_SOURCE.test(where) || !WORKBENCH_NOISE_SOURCE.test(where) };
  };
  const onConsole = (m) => {
    if (m.type() !== 'error' || entries.length >= 500) return;
    const loc = m.location();
    entries.push(
      classify({ kind: 'console', text: m.text(), url: loc.url ?? '', stack: `${loc.url}:${loc.lineNumber}:${loc.columnNumber}` }),
    );
  };
  const onPageError = (err) => {
    if (entries.length >= 500) return;
    entries.push(classify({ kind: 'pageerror', text: `${err.name}: ${err.message}`, url: '', stack: err.stack ?? '' }));
  };
  page.on('console', onConsole);
  page.on('pageerror', onPageError);
  return {
    entries,
    ours: () => entries.filter((e) => e.ours),
    stop: () => {
      page.off('console', onConsole);
      page.off('pageerror', onPageError);
    },
  };
}

/**
 * Waits until the chart under `host` is drawn: a canvas (or svg) of real size, and for a canvas a
 * picture in it (many distinct colours, not a blank or single-colour box).
 */
export async function waitForChart(host, what, { minWidth = 100, minHeight = 60 } = {}) {
  await host.scrollIntoViewIfNeeded();
  await until(
    `the chart ${what} to be drawn`,
    async () => {
      const chart = host.locator('canvas, svg').first();
      if ((await chart.count()) === 0) return false;
      const box = await chart.boundingBox();
      if (!box || box.width < minWidth || box.height < minHeight) return false;
      if (await chart.evaluate((e) => e.tagName.toLowerCase() === 'svg')) return true;
      const colours = await chart.evaluate((c) => {
        const ctx = /** @type {HTMLCanvasElement} */ (c).getContext('2d');
        if (!ctx) return 0;
        const { data } = ctx.getImageData(0, 0, c.width, c.height);
        const seen = new Set();
        for (let i = 0; i < data.length; i += 4 * 7) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2] | (data[i + 3] << 24));
        return seen.size;
      });
      return colours >= 8;
    },
    30_000,
  );
}

/**
 * Waits until every chart under `scope` (the dashboard's chart boxes, class "chart") is drawn, each
 * as waitForChart checks it, and returns how many there are: what a user sees, counted in the page.
 */
export async function allChartsDrawn(frame, scope, options) {
  const charts = frame.locator(`${scope} .chart`);
  const n = await charts.count();
  for (let i = 0; i < n; i++) await waitForChart(charts.nth(i), `${scope} .chart[${i}]`, options);
  return n;
}

/** A row of the inspector's tensor table (virtualised: only rows near the viewport exist). */
export const TENSOR_ROW = '[data-testid="tensor-row"]';

/** Names of the tensor rows a user can see. */
export async function visibleRowNames(frame) {
  return frame.locator(`${TENSOR_ROW}:visible`).evaluateAll((els) => els.map((e) => e.getAttribute('data-name') ?? ''));
}

/**
 * The names of every tensor row the table draws, from the top to the row `last`: scrolls to the
 * top, then down with the mouse wheel half a table at a time, collecting the rows in the DOM (the
 * table is virtualised: never all at once). Each name once, in the order first seen.
 */
export async function drawnRowNames(page, table, frame, first, last, timeoutMs = STEP_TIMEOUT_MS) {
  await table.hover();
  await until(
    `the row ${first} after scrolling to the top`,
    async () => {
      await page.mouse.wheel(0, -1_000_000);
      return (await visibleRowNames(frame))[0] === first;
    },
    timeoutMs,
  );
  const box = await table.boundingBox();
  const step = Math.max(40, Math.floor((box?.height ?? 400) / 2));
  const seen = [];
  await until(
    `the row ${last} while scrolling down ${step} px at a time`,
    async () => {
      for (const n of await visibleRowNames(frame)) if (!seen.includes(n)) seen.push(n);
      if (seen.includes(last)) return true;
      await page.mouse.wheel(0, step);
      return false;
    },
    timeoutMs,
  );
  return seen;
}

/** Scrolls the table with the mouse wheel (`step` pixels at a time) until the row `name` is shown. */
export async function scrollToRow(page, table, frame, name, step, timeoutMs) {
  await until(
    `the tensor ${name} after scrolling`,
    async () => {
      await table.hover();
      await page.mouse.wheel(0, step);
      return (await visibleRowNames(frame)).includes(name);
    },
    timeoutMs,
  );
}
