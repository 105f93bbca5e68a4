// A user's path through the inspector in a real browser: explorer context menu, tensor table,
// search, tensor detail with its histogram, hostile names, corrupt files, sharded models.
// Each test leaves a screenshot named after what it shows in test-results/e2e/.
import assert from 'node:assert/strict';
import { test } from '@playwright/test';
import { join } from 'node:path';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import {
  explorerItem,
  acceptFileDialog,
  contextMenu,
  closeAllEditors,
  frameWith,
  inspectorFrame,
  screenshot,
  tensorNames,
  fileOrderNames,
  shardedTensorNames,
  typeInto,
  until,
  cssString,
  runCommand,
  TENSOR_ROW as ROW,
  visibleRowNames,
  scrollToRow,
  drawnRowNames,
} from './lib.mjs';
import { workbenchSession } from './session.mjs';
import { WORKSPACE_FILES } from '../../scripts/test-workspace-files.mjs';

const CAPP = 'real/capp-gpt2-4layer.safetensors';

/** @typedef {import('./session.mjs').Ctx} Ctx */

/** Opens a checkpoint the way a user would from the explorer: right-click, "Inspect Checkpoint". */
async function inspectFromExplorer(ctx, rel) {
  const row = await explorerItem(ctx.page, rel);
  await contextMenu(ctx.page, row, 'Inspect Checkpoint');
}

/** Opens a checkpoint with a plain click in the explorer (the inspector is the default editor). */
async function openFromExplorer(ctx, rel) {
  const row = await explorerItem(ctx.page, rel);
  await row.dblclick();
}

/** Names of the rows a user can see. */
/** Chromium's accessibility tree (CDP) of the first frame of the page whose tree has `role`. */
async function accessibilityTreeWith(page, role) {
  const session = await page.context().newCDPSession(page);
  try {
    const { frameTree } = await session.send('Page.getFrameTree');
    const frames = [];
    const walk = (t) => {
      frames.push(t.frame.id);
      for (const c of t.childFrames ?? []) walk(c);
    };
    walk(frameTree);
    for (const frameId of frames) {
      const { nodes } = await session.send('Accessibility.getFullAXTree', { frameId });
      if (nodes.some((n) => n.role?.value === role)) return nodes;
    }
    throw new Error(`no frame has an accessible ${role}`);
  } finally {
    await session.detach();
  }
}

/** A safetensors file of tensors of any dtype: [{ name, dtype, shape, data: Buffer }]. */
function safetensorsOf(tensors) {
  const header = {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json), ...tensors.map((t) => t.data)]);
}

/** Natural order, as the inspector sorts names (h.2 before h.10). */
const natural = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' }).compare;

/** Opens a file by path through "Mimicry: Inspect Checkpoint" (works for files the explorer has not listed yet). */
async function inspectByPath(ctx, path, firstTensor) {
  await runCommand(ctx.page, 'Mimicry: Inspect Checkpoint');
  await acceptFileDialog(
    ctx.page,
    path,
    'Inspect',
    'the inspector of the chosen file',
    async () => (await inspectorFrame(ctx.page, firstTensor, 1000).catch(() => undefined)) !== undefined,
  );
  return inspectorFrame(ctx.page, firstTensor);
}

test.describe.serial('inspector', () => {
  const ctx = workbenchSession('inspector');

  test('the workbench shows the fixtures workspace in the explorer', async () => {
    await explorerItem(ctx.page, 'real');
    await explorerItem(ctx.page, CAPP);
    await screenshot(ctx.page, ctx.shots, 'workbench-explorer.png');
  });

  test('explorer context menu "Inspect Checkpoint" shows the tensor table with every tensor', async () => {
    await closeAllEditors(ctx.page);
    await inspectFromExplorer(ctx, CAPP);
    const names = tensorNames(join(ctx.workspace, CAPP));
    const frame = await inspectorFrame(ctx.page, names[0]);
    const table = frame.locator('[data-testid="tensor-table"]').first();
    await table.waitFor({ state: 'visible' });
    // The table is virtualised: only the rows on screen are in the DOM. Every one is a real tensor,
    // the first screenful starts with the first tensor, and the count says all 52 are there.
    const shown = await visibleRowNames(frame);
    assert.ok(shown.length >= 10, `only ${shown.length} rows on screen`);
    assert.deepEqual(
      shown.filter((n) => !names.includes(n)),
      [],
      'rows that are not tensors of the file',
    );
    assert.equal(shown[0], names[0]);
    await frame.getByText(`${names.length} tensors`, { exact: true }).first().waitFor({ state: 'visible' });
    const text = await table.innerText();
    assert.ok(text.includes(names[0]), 'the tensor names are not shown as text in the table');
    // Screen readers: the header row (outside the scroller) is the grid's first row through
    // aria-owns, so every cell is announced with its column title.
    // Screen readers: the header row sits outside the scroller, and aria-owns makes it part of
    // the grid. Checked in Chromium's own accessibility tree: every column title's row belongs
    // to the grid "Tensors".
    const ax = await accessibilityTreeWith(ctx.page, 'grid');
    const byId = new Map(ax.map((n) => [n.nodeId, n]));
    const gridOf = (n) => {
      for (let p = byId.get(n.parentId); p; p = byId.get(p.parentId)) if (p.role?.value === 'grid') return p.name?.value;
      return undefined;
    };
    const headers = ax.filter((n) => n.role?.value === 'columnheader');
    assert.deepEqual(
      headers.map((n) => n.name?.value.toLowerCase()),
      ['position in file', 'name', 'dtype', 'shape', 'params', 'size', 'std'],
    );
    assert.deepEqual(
      headers.map(gridOf),
      headers.map(() => 'Tensors'),
      'column headers outside the grid',
    );
    await screenshot(ctx.page, ctx.shots, 'inspector-table.png');
    // Scrolling down reaches the last tensor.
    const last = names[names.length - 1];
    await scrollToRow(ctx.page, table, frame, last, 2000);
    await screenshot(ctx.page, ctx.shots, 'inspector-table-scrolled-to-end.png');
    // Every tensor is drawn as a row: counted in the page, top to bottom (the extension-host suite
    // checks the count the webview reports over the message path; this is what a user sees).
    const drawn = await drawnRowNames(ctx.page, table, frame, names[0], last);
    assert.equal(drawn.length, names.length, `${drawn.length} rows drawn for ${names.length} tensors`);
    assert.deepEqual([...drawn].sort(), [...names].sort(), 'the rows drawn are not the tensors of the file');
  });

  test('typing in the search box filters the table to matching tensors', async () => {
    const names = tensorNames(join(ctx.workspace, CAPP));
    const frame = await frameWith(ctx.page, '[data-testid="tensor-table"]');
    const query = 'c_attn';
    const expected = names.filter((n) => n.toLowerCase().includes(query)).sort();
    assert.ok(expected.length > 0 && expected.length < names.length);
    await typeInto(frame, ctx.page, '[data-testid="tensor-search"]', query);
    await until(
      `only the ${expected.length} rows matching "${query}" to be visible`,
      async () => JSON.stringify((await visibleRowNames(frame)).sort()) === JSON.stringify(expected),
    );
    await frame.getByText(`${expected.length} of ${names.length}`, { exact: true }).first().waitFor({ state: 'visible' });
    await screenshot(ctx.page, ctx.shots, 'inspector-search.png');
    // Clearing the search brings every tensor back.
    await typeInto(frame, ctx.page, '[data-testid="tensor-search"]', '');
    await frame.getByText(`${names.length} tensors`, { exact: true }).first().waitFor({ state: 'visible' });
  });

  test('the Tree tab folds the four GPT-2 blocks into one node; opening it lists their roles; back to the Table', async () => {
    const frame = await frameWith(ctx.page, '[data-testid="tensor-table"]');
    await frame.locator('vscode-tab-header', { hasText: 'Tree' }).first().click();
    const tree = frame.locator('[data-testid="tensor-tree"]').first();
    await tree.waitFor({ state: 'visible' });
    const labels = async () => tree.locator('[data-testid="tree-row"] .label').allInnerTexts();
    // The root that holds most of the model starts open: its blocks are one folded row.
    await until('the folded row h.{0..3} under transformer', async () => {
      const shown = await labels();
      return shown.includes('transformer') && shown.includes('h.{0..3}');
    });
    const folded = tree.locator('[data-testid="tree-row"]', { has: frame.locator('.label', { hasText: /^h\.\{0\.\.3\}$/ }) }).first();
    assert.equal(await folded.getAttribute('aria-expanded'), 'false');
    assert.ok((await folded.innerText()).includes('×4'), `the folded row does not say its 4 blocks: ${await folded.innerText()}`);
    await folded.click();
    await until("the blocks' roles under the folded row", async () => {
      const shown = await labels();
      return ['attn', 'ln_1', 'ln_2', 'mlp'].every((r) => shown.includes(r));
    });
    assert.equal(await folded.getAttribute('aria-expanded'), 'true');
    await screenshot(ctx.page, ctx.shots, 'inspector-tree.png');
    await frame.locator('vscode-tab-header', { hasText: 'Table' }).first().click();
    await frame.locator('[data-testid="tensor-table"]').first().waitFor({ state: 'visible' });
  });

  test('clicking a tensor opens its detail with a histogram chart', async () => {
    const names = tensorNames(join(ctx.workspace, CAPP));
    const name = 'transformer.h.0.mlp.c_fc.weight';
    assert.ok(names.includes(name));
    const frame = await frameWith(ctx.page, '[data-testid="tensor-table"]');
    // A user narrows the table to the tensor, then clicks it.
    await typeInto(frame, ctx.page, '[data-testid="tensor-search"]', name);
    // The list re-renders when the filter applies: click only once it shows just this tensor.
    await until('the table to show only this tensor', async () => JSON.stringify(await visibleRowNames(frame)) === JSON.stringify([name]));
    const row = frame.locator(`${ROW}[data-name="${cssString(name)}"]`).first();
    await row.click();
    const detail = frame.locator('[data-testid="tensor-detail"]').first();
    await detail.waitFor({ state: 'visible' });
    await until('the detail to name the tensor', async () => (await detail.innerText()).includes(name));
    const histogram = frame.locator('[data-testid="histogram"]').first();
    await histogram.waitFor({ state: 'visible' });
    // The chart library draws into a canvas (or an svg); wait until it has a real size.
    await until('the histogram chart to be drawn', async () => {
      const chart = histogram.locator('canvas, svg').first();
      if ((await chart.count()) === 0) return false;
      const box = await chart.boundingBox();
      return box !== null && box.width > 50 && box.height > 30;
    });
    await histogram.scrollIntoViewIfNeeded();
    await screenshot(ctx.page, ctx.shots, 'inspector-detail-histogram.png');
  });

  test('a tensor named <img src=x onerror=alert(1)> shows as text; no markup, no dialog', async () => {
    await closeAllEditors(ctx.page);
    const dialogsBefore = ctx.dialogs.length;
    await inspectFromExplorer(ctx, WORKSPACE_FILES.hostile);
    const hostile = WORKSPACE_FILES.hostileName;
    const frame = await inspectorFrame(ctx.page, hostile);
    const row = frame.locator(`${ROW}[data-name="${cssString(hostile)}"]`).first();
    await row.waitFor({ state: 'visible' });
    assert.ok((await row.innerText()).includes(hostile), 'the name is not shown literally');
    await row.click(); // the detail shows the name again
    await frame.locator('[data-testid="tensor-detail"]').first().waitFor({ state: 'visible' });
    await until('the detail to show the name as text', async () =>
      (await frame.locator('[data-testid="tensor-detail"]').first().innerText()).includes(hostile),
    );
    // Escaped text creates no elements: no <img src=x>, no injected <script>, no inline handlers.
    const injected = await frame.evaluate(() => ({
      img: document.querySelectorAll('img[src="x"]').length,
      handlers: document.querySelectorAll('[onerror], [onmouseover], [onload]').length,
      bold: [...document.querySelectorAll('b')].filter((b) => b.textContent === 'metadata').length,
      scripts: [...document.querySelectorAll('script')].filter((s) => (s.textContent ?? '').includes('alert(')).length,
    }));
    assert.deepEqual(injected, { img: 0, handlers: 0, bold: 0, scripts: 0 });
    await screenshot(ctx.page, ctx.shots, 'inspector-hostile-name.png');
    assert.deepEqual(ctx.dialogs.slice(dialogsBefore), [], 'a dialog opened');
  });

  test('a non-JSON header shows a clear error, and the other inspector keeps working', async () => {
    await closeAllEditors(ctx.page);
    await openFromExplorer(ctx, 'real/tinygrad-mnist-cnn.safetensors');
    const goodNames = tensorNames(join(ctx.workspace, 'real/tinygrad-mnist-cnn.safetensors'));
    await inspectorFrame(ctx.page, goodNames[0]);
    await inspectFromExplorer(ctx, WORKSPACE_FILES.corruptNotJson);
    const errFrame = await frameWith(ctx.page, '[data-testid="error"]', { visible: true });
    const message = (await errFrame.locator('[data-testid="error"]').first().innerText()).trim();
    assert.ok(message.length > 10, `the error says too little: "${message}"`);
    assert.match(message, /header|JSON|corrupt|invalid/i, `the error does not say what is wrong: "${message}"`);
    await screenshot(ctx.page, ctx.shots, 'inspector-corrupt-error.png');
    // Back to the good file's tab: its table and search still work.
    await ctx.page.locator('.tabs-container .tab', { hasText: 'tinygrad-mnist-cnn.safetensors' }).first().click();
    const frame = await inspectorFrame(ctx.page, goodNames[0]);
    await typeInto(frame, ctx.page, '[data-testid="tensor-search"]', 'running');
    const expected = goodNames.filter((n) => n.includes('running')).sort(); // BatchNorm's running_mean/var
    assert.ok(expected.length > 0);
    await until(
      `the ${expected.length} running_* rows`,
      async () => JSON.stringify((await visibleRowNames(frame)).sort()) === JSON.stringify(expected),
    );
    await screenshot(ctx.page, ctx.shots, 'inspector-after-error-still-works.png');
  });

  test('a file claiming a 1 TiB header shows a clear error', async () => {
    await closeAllEditors(ctx.page);
    await inspectFromExplorer(ctx, WORKSPACE_FILES.corruptHugeHeader);
    const errFrame = await frameWith(ctx.page, '[data-testid="error"]', { visible: true });
    const message = (await errFrame.locator('[data-testid="error"]').first().innerText()).trim();
    assert.ok(message.length > 10, `the error says too little: "${message}"`);
    await screenshot(ctx.page, ctx.shots, 'inspector-corrupt-huge-header.png');
  });

  test('a sharded model opens from its index.json with the tensors of both shards', async () => {
    await closeAllEditors(ctx.page);
    await openFromExplorer(ctx, WORKSPACE_FILES.shardedIndex);
    const names = shardedTensorNames(join(ctx.workspace, WORKSPACE_FILES.shardedIndex));
    const frame = await inspectorFrame(ctx.page, names[0]);
    await until(`${names.length} rows`, async () => (await frame.locator(ROW).count()) === names.length);
    const shown = await frame.locator(ROW).evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
    assert.deepEqual([...shown].sort(), [...names].sort());
    await screenshot(ctx.page, ctx.shots, 'inspector-sharded-index.png');
  });

  test('"Open With..." offers the inspector, which opens the file', async () => {
    await closeAllEditors(ctx.page);
    const rel = 'real/mlx-qwen05b-lora-4layer.safetensors';
    const row = await explorerItem(ctx.page, rel);
    await contextMenu(ctx.page, row, 'Open With...');
    const pick = ctx.page
      .locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'Neural Mimicry Inspector' })
      .first();
    await pick.waitFor({ state: 'visible' });
    await screenshot(ctx.page, ctx.shots, 'open-with-picker.png');
    await pick.click();
    const names = tensorNames(join(ctx.workspace, rel));
    const frame = await inspectorFrame(ctx.page, names[0]);
    await frame.getByText(`${names.length} tensors`, { exact: true }).first().waitFor({ state: 'visible' });
    await screenshot(ctx.page, ctx.shots, 'inspector-open-with.png');
  });

  test('command palette "Mimicry: Inspect Checkpoint" asks for a file and opens it', async () => {
    await closeAllEditors(ctx.page);
    const rel = 'real/peft-gpt2-lora-12layer.safetensors';
    await runCommand(ctx.page, 'Mimicry: Inspect Checkpoint');
    // code-server's file dialog is a quick input holding a path: type the file's, accept it.
    const input = ctx.page.locator('.quick-input-widget input');
    await until('the file dialog', async () => (await input.inputValue()).startsWith('/'));
    await screenshot(ctx.page, ctx.shots, 'palette-inspect-file-dialog.png');
    const names = tensorNames(join(ctx.workspace, rel));
    await acceptFileDialog(
      ctx.page,
      join(ctx.workspace, rel),
      'Inspect',
      'the inspector of the chosen file',
      async () => (await inspectorFrame(ctx.page, names[0], 1000).catch(() => undefined)) !== undefined,
    );
    const frame = await inspectorFrame(ctx.page, names[0]);
    await frame.getByText(`${names.length} tensors`, { exact: true }).first().waitFor({ state: 'visible' });
    await screenshot(ctx.page, ctx.shots, 'inspector-from-command-palette.png');
  });

  test('adapters: the table opens in natural name order (h.2 before h.10), "#" gives file order, names keep lora_A / lora_B in view, Compute all is primary until done', async () => {
    await closeAllEditors(ctx.page);
    const rel = 'real/peft-gpt2-lora-12layer.safetensors';
    await openFromExplorer(ctx, rel);
    const names = tensorNames(join(ctx.workspace, rel));
    const frame = await inspectorFrame(ctx.page, names[0]);
    await frame.getByText(`${names.length} tensors`, { exact: true }).first().waitFor({ state: 'visible' });
    const sortOf = (col) => frame.locator(`[role="columnheader"].col-${col}`).first().getAttribute('aria-sort');
    const rowsAre = async (what, expected) =>
      until(what, async () => {
        const shown = await visibleRowNames(frame);
        return shown.length > 5 && JSON.stringify(shown) === JSON.stringify(expected.slice(0, shown.length));
      });
    // File order (safetensors writes names as plain text: h.10 before h.2) is one click on "#" away.
    const inFile = fileOrderNames(join(ctx.workspace, rel));
    assert.ok(
      inFile.indexOf('base_model.model.transformer.h.10.attn.c_attn.lora_A.weight') <
        inFile.indexOf('base_model.model.transformer.h.2.attn.c_attn.lora_A.weight'),
    );
    await frame.locator('[role="columnheader"].col-order button').first().click();
    await until('the "#" column sorted ascending', async () => (await sortOf('order')) === 'ascending');
    await rowsAre('rows in file order', inFile);
    const positions = await frame.locator(`${ROW} .col-order`).evaluateAll((els) => els.map((el) => el.textContent));
    assert.deepEqual(positions.slice(0, 5), ['1', '2', '3', '4', '5']);
    await screenshot(ctx.page, ctx.shots, 'inspector-file-order.png');
    // Name again: natural order, as the table opened.
    await frame.locator('[role="columnheader"].col-name button').first().click();
    await until(
      'the name column sorted ascending',
      async () => (await sortOf('name')) === 'ascending' && (await sortOf('order')) === 'none',
    );
    const expected = [...names].sort(natural);
    assert.deepEqual(names, expected);
    await rowsAre('rows in natural order', expected);
    const shown = await visibleRowNames(frame);
    const h2 = shown.indexOf('base_model.model.transformer.h.2.attn.c_attn.lora_A.weight');
    const h10 = shown.indexOf('base_model.model.transformer.h.10.attn.c_attn.lora_A.weight');
    assert.ok(h2 >= 0 && (h10 < 0 || h2 < h10), `h.2 at ${h2}, h.10 at ${h10}`);
    // The end of each long name stays whole (ellipsis in the middle) and the full name is the tooltip.
    const cells = await frame.locator(`${ROW} .col-name`).evaluateAll((els) =>
      els.map((el) => {
        const tail = el.querySelector('.name-tail');
        return {
          title: el.getAttribute('title'),
          text: el.textContent,
          tail: tail?.textContent ?? '',
          tailWhole:
            tail !== null &&
            tail.getBoundingClientRect().width > 0 &&
            tail.getBoundingClientRect().right <= el.getBoundingClientRect().right + 1,
        };
      }),
    );
    assert.ok(cells.length > 5);
    for (const c of cells) {
      assert.equal(c.title, c.text, 'the tooltip is the full name');
      if (c.title?.includes('lora_')) {
        assert.match(c.tail, /lora_[AB]\.weight$/, c.title ?? '');
        assert.ok(c.tailWhole, `the end of ${c.title} is cut`);
      }
    }
    await screenshot(ctx.page, ctx.shots, 'inspector-natural-order-adapters.png');
    // "Compute all statistics" is the primary button while statistics are missing, and secondary once all are in.
    const computeAll = frame.locator('[data-testid="compute-all"]').first();
    const ready = frame.getByText('Statistics ready').first();
    if (!(await ready.isVisible())) {
      assert.equal(await computeAll.getAttribute('secondary'), null, 'Compute all is not primary before the statistics are in');
      await screenshot(ctx.page, ctx.shots, 'inspector-compute-all-primary.png');
      await computeAll.click();
    }
    await ready.waitFor({ state: 'visible' });
    await until('Compute all to turn secondary', async () => (await computeAll.getAttribute('secondary')) !== null);
    await screenshot(ctx.page, ctx.shots, 'inspector-statistics-ready.png');
  });

  test('a 0-d tensor shows its value, not a histogram; histograms have round ticks; each dtype has its own colour; "1 tensor"', async () => {
    await closeAllEditors(ctx.page);
    const dir = join(ctx.workspace, 'polish');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'scalar-and-dtypes.safetensors');
    const f32 = (values) => Buffer.from(new Float32Array(values).buffer);
    const w = Array.from({ length: 512 }, (_, i) => Math.sin(i * 0.37) * 19.83 - 3.26 * Math.cos(i));
    writeFileSync(
      file,
      safetensorsOf([
        { name: 'scale', dtype: 'F32', shape: [], data: f32([0.125]) },
        { name: 'w', dtype: 'F32', shape: [64, 8], data: f32(w) },
        { name: 'f64', dtype: 'F64', shape: [2], data: Buffer.from(new Float64Array([1, 2]).buffer) },
        { name: 'i16', dtype: 'I16', shape: [4], data: Buffer.from(new Int16Array([1, -2, 3, -4]).buffer) },
        { name: 'u8', dtype: 'U8', shape: [8], data: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]) },
        { name: 'u16', dtype: 'U16', shape: [4], data: Buffer.from(new Uint16Array([1, 2, 3, 4]).buffer) },
        { name: 'u32', dtype: 'U32', shape: [2], data: Buffer.from(new Uint32Array([1, 2]).buffer) },
        { name: 'bf16', dtype: 'BF16', shape: [4], data: Buffer.from(new Uint16Array([0x3f80, 0x4000, 0xbf80, 0]).buffer) },
      ]),
    );
    const frame = await inspectByPath(ctx, file, 'scale');
    // The dtype breakdown: one colour per dtype present, and singular counts.
    const legend = await frame.locator('.dtype-legend li').evaluateAll((els) =>
      els.map((li) => ({
        dtype: li.getAttribute('data-dtype'),
        colour: getComputedStyle(li.querySelector('.swatch')).backgroundColor,
        text: li.textContent,
      })),
    );
    assert.equal(legend.length, 7);
    assert.equal(new Set(legend.map((l) => l.colour)).size, 7, `shared colours: ${JSON.stringify(legend)}`);
    const f64 = legend.find((l) => l.dtype === 'F64');
    assert.match(f64?.text ?? '', /1 tensor · 2 params/);
    assert.match(legend.find((l) => l.dtype === 'F32')?.text ?? '', /2 tensors/);
    // Clearly apart, not merely different (F64 and U16 were two close oranges on the light theme).
    const rgb = (c) => (c.match(/\d+/g) ?? []).slice(0, 3).map(Number);
    for (const a of legend)
      for (const b of legend) {
        if (a.dtype >= b.dtype) continue;
        const [x, y] = [rgb(a.colour), rgb(b.colour)];
        const d = Math.hypot(x[0] - y[0], x[1] - y[1], x[2] - y[2]);
        assert.ok(d > 40, `${a.dtype} ${a.colour} and ${b.dtype} ${b.colour} are close (RGB distance ${d.toFixed(1)})`);
      }
    // The table's dtype pills wear the breakdown's colours: each row's pill as its dtype's pill in the legend.
    const pillColours = await frame
      .locator('.dtype-legend li')
      .evaluateAll((els) =>
        Object.fromEntries(els.map((li) => [li.getAttribute('data-dtype'), getComputedStyle(li.querySelector('.dtype')).backgroundColor])),
      );
    const rowPills = await frame.locator(`${ROW}`).evaluateAll((rows) =>
      rows.map((r) => {
        const pill = r.querySelector('.dtype');
        return { dtype: pill.textContent, colour: getComputedStyle(pill).backgroundColor };
      }),
    );
    assert.equal(rowPills.length, 8);
    for (const p of rowPills) assert.equal(p.colour, pillColours[p.dtype], `${p.dtype}'s pill in the table`);
    assert.equal(new Set(Object.values(pillColours)).size, 7, `pills share colours: ${JSON.stringify(pillColours)}`);
    await screenshot(ctx.page, ctx.shots, 'inspector-dtype-colours.png');
    // The 0-d tensor: its value, no histogram.
    await frame.locator(`${ROW}[data-name="scale"]`).first().click();
    const value = frame.locator('[data-testid="scalar-value"]').first();
    await value.waitFor({ state: 'visible' });
    assert.match(await value.innerText(), /0\.125/);
    assert.equal(await frame.locator('[data-testid="histogram"]').first().isVisible(), false, 'a histogram for one value');
    // The copy button has an accessible name.
    await frame.getByRole('button', { name: 'Copy tensor name' }).first().waitFor({ state: 'visible' });
    await screenshot(ctx.page, ctx.shots, 'inspector-scalar-value.png');
    // A matrix: its histogram's axis has round bounds and a 1-2-5 step.
    await frame.locator(`${ROW}[data-name="w"]`).first().click();
    const histogram = frame.locator('[data-testid="histogram"]').first();
    await histogram.waitFor({ state: 'visible' });
    const axis = await until('the histogram axis', async () => await histogram.getAttribute('data-axis'));
    const [min, max, step] = axis.split(' ').map(Number);
    const mantissa = step / 10 ** Math.floor(Math.log10(step));
    assert.ok(
      [1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-9),
      `step ${step}`,
    );
    for (const bound of [min, max])
      assert.ok(Math.abs(bound / step - Math.round(bound / step)) < 1e-9, `${bound} is not a multiple of ${step}`);
    assert.ok(min <= Math.min(...w) && max >= Math.max(...w), `${min}..${max}`);
    await until('the histogram chart to be drawn', async () => {
      const box = await histogram
        .locator('canvas')
        .first()
        .boundingBox()
        .catch(() => null);
      return box !== null && box.width > 50;
    });
    await histogram.scrollIntoViewIfNeeded();
    await runCommand(ctx.page, 'Notifications: Clear All Notifications'); // earlier tests' toasts would cover it
    await histogram.screenshot({ path: join(ctx.shots, 'inspector-histogram-round-ticks.png') });
  });

  test('the values view: a paged grid of a 2-D slice in BF16 precision, leading index and page keys, a clear error for a bad index', async () => {
    await closeAllEditors(ctx.page);
    const dir = join(ctx.workspace, 'polish');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'values.safetensors');
    // x[d, r, c] = (d + 1) * (r - c) / 2, exact in BF16 (its top 16 bits of float32); x[0, 0, 1] is NaN.
    const shape = [3, 40, 20];
    const value = (d, r, c) => (d === 0 && r === 0 && c === 1 ? NaN : ((d + 1) * (r - c)) / 2);
    const f32 = new Float32Array(3 * 40 * 20);
    for (let d = 0; d < 3; d++) for (let r = 0; r < 40; r++) for (let c = 0; c < 20; c++) f32[(d * 40 + r) * 20 + c] = value(d, r, c);
    const bits = new Uint32Array(f32.buffer);
    const bf16 = Uint16Array.from(bits, (b) => b >>> 16);
    writeFileSync(file, safetensorsOf([{ name: 'x', dtype: 'BF16', shape, data: Buffer.from(bf16.buffer) }]));
    const frame = await inspectByPath(ctx, file, 'x');
    await frame.locator(`${ROW}[data-name="x"]`).first().click();
    const grid = frame.locator('[data-testid="values-grid"]').first();
    const position = frame.locator('[data-testid="values-position"]').first();
    const firstRow = async () => grid.locator('tbody tr').first().locator('td').allInnerTexts();
    const text = (v) => (Number.isNaN(v) ? 'nan' : String(v));
    const expectRow = async (what, d, r, c0) => {
      const want = Array.from({ length: 8 }, (_, k) => text(value(d, r, c0 + k)));
      await until(what, async () => JSON.stringify(await firstRow().catch(() => [])) === JSON.stringify(want));
    };
    await expectRow('the first page', 0, 0, 0);
    assert.equal(await position.innerText(), 'Rows 0–15 of 40 · columns 0–7 of 20 · at [0, :, :]');
    // Page Down on the grid: the next 16 rows.
    await grid.focus();
    await ctx.page.keyboard.press('PageDown');
    await expectRow('rows 16 to 31', 0, 16, 0);
    // The leading index, typed: the slice x[2, :, :].
    await typeInto(frame, ctx.page, '[data-testid="values-lead-0"]', '2');
    await ctx.page.keyboard.press('Enter');
    await expectRow('the slice at index 2', 2, 16, 0);
    // The next columns, by the button's accessible name.
    await frame.getByRole('button', { name: 'Next columns (Shift+Page Down)' }).first().click();
    await expectRow('columns 8 to 15', 2, 16, 8);
    assert.equal(await position.innerText(), 'Rows 16–31 of 40 · columns 8–15 of 20 · at [2, :, :]');
    for (const name of ['Previous rows (Page Up)', 'Next rows (Page Down)', 'Copy as CSV', 'Copy as numpy'])
      await frame.getByRole('button', { name }).first().waitFor({ state: 'visible' });
    // The percentiles next to the statistics: numpy's linear rule over the finite values (the NaN left out).
    const finite = [];
    for (let d = 0; d < 3; d++)
      for (let r = 0; r < 40; r++) for (let c = 0; c < 20; c++) if (!Number.isNaN(value(d, r, c))) finite.push(value(d, r, c));
    finite.sort((a, b) => a - b);
    const h = (finite.length - 1) * 0.5;
    const median = finite[Math.floor(h)] + (finite[Math.floor(h) + 1] - finite[Math.floor(h)]) * (h - Math.floor(h));
    const p50 = frame.locator('[data-testid="quantile-p50"]').first();
    await p50.waitFor({ state: 'visible' });
    assert.equal(Number(await p50.innerText()), median);
    await runCommand(ctx.page, 'Notifications: Clear All Notifications');
    await frame.locator('[data-testid="stats"]').first().scrollIntoViewIfNeeded();
    await screenshot(ctx.page, ctx.shots, 'inspector-percentiles.png');
    await runCommand(ctx.page, 'Notifications: Clear All Notifications');
    await frame.locator('[data-testid="values"]').first().scrollIntoViewIfNeeded();
    await screenshot(ctx.page, ctx.shots, 'inspector-values-grid.png');
    // An index past the shape: the engine's error, with its rule, and no crash.
    await typeInto(frame, ctx.page, '[data-testid="values-lead-0"]', '7');
    await ctx.page.keyboard.press('Enter');
    const status = frame.locator('[data-testid="values-status"] [role="alert"]').first();
    await status.waitFor({ state: 'visible' });
    assert.match(
      await status.innerText(),
      /slice index is outside the tensor's shape \(index 7 of dimension 0 \(size 3\).*\[index-out-of-range\]/,
    );
    await screenshot(ctx.page, ctx.shots, 'inspector-values-bad-index.png');
  });

  test('a file over the automatic-statistics size shows "Compute all statistics" as the primary button', async () => {
    await closeAllEditors(ctx.page);
    const dir = join(ctx.workspace, 'polish');
    mkdirSync(dir, { recursive: true });
    // 320 MiB of F32 zeros, over mimicry.inspector.autoStatsMaxBytes (256 MiB): a sparse file, no disk used.
    const file = join(dir, 'over-auto-stats.safetensors');
    const shape = [8192, 10240];
    const bytes = shape[0] * shape[1] * 4;
    // The header and nothing else, then the file extended to its full size (a hole reads as zeros).
    const header = JSON.stringify({ 'big.weight': { dtype: 'F32', shape, data_offsets: [0, bytes] } });
    const padded = header + ' '.repeat((8 - (header.length % 8)) % 8);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(padded.length));
    writeFileSync(file, Buffer.concat([len, Buffer.from(padded)]));
    truncateSync(file, 8 + padded.length + bytes);
    const frame = await inspectByPath(ctx, file, 'big.weight');
    await frame.getByText('Large file: statistics on request').first().waitFor({ state: 'visible' });
    const computeAll = frame.locator('[data-testid="compute-all"]').first();
    assert.equal(await computeAll.getAttribute('secondary'), null, 'Compute all is not the primary button');
    assert.equal(await computeAll.evaluate((el) => el.hasAttribute('disabled')), false);
    await screenshot(ctx.page, ctx.shots, 'inspector-compute-all-primary.png');
    // Its values without statistics: a page read by itself from the 320 MiB tensor.
    await frame.locator(`${ROW}[data-name="big.weight"]`).first().click();
    const position = frame.locator('[data-testid="values-position"]').first();
    await until('the first page of the big tensor', async () => (await position.innerText()).startsWith('Rows 0–15 of 8,192'));
    assert.deepEqual(await frame.locator('[data-testid="values-grid"] tbody tr').first().locator('td').allInnerTexts(), Array(8).fill('0'));
    await closeAllEditors(ctx.page);
  });

  test("a LoRA adapter with its config: a factor's spectrum is its layer update's, labelled so", async () => {
    await closeAllEditors(ctx.page);
    const rel = WORKSPACE_FILES.adapter;
    await openFromExplorer(ctx, rel);
    const names = tensorNames(join(ctx.workspace, rel));
    assert.equal(names.length, WORKSPACE_FILES.adapterTensors);
    const name = 'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight';
    const frame = await inspectorFrame(ctx.page, names[0]);
    await typeInto(frame, ctx.page, '[data-testid="tensor-search"]', name);
    await until('the table to show only this tensor', async () => JSON.stringify(await visibleRowNames(frame)) === JSON.stringify([name]));
    await frame
      .locator(`${ROW}[data-name="${cssString(name)}"]`)
      .first()
      .click();
    const of = frame.locator('[data-testid="spectrum-update"]').first();
    await of.waitFor({ state: 'visible' });
    assert.equal((await of.innerText()).trim(), 'update of transformer.h.0.attn.c_attn');
    // The update's 768 x 2304 matrix view, not the factor's 2304 x 8.
    const detail = frame.locator('[data-testid="tensor-detail"]').first();
    await until('the matrix of the update', async () => (await detail.innerText()).includes('768 × 2304'));
    const spectrum = frame.locator('[data-testid="spectrum"]').first();
    await until('the spectrum chart to be drawn', async () => {
      const chart = spectrum.locator('canvas, svg').first();
      if ((await chart.count()) === 0) return false;
      const box = await chart.boundingBox();
      return box !== null && box.width > 50 && box.height > 30;
    });
    await spectrum.scrollIntoViewIfNeeded();
    await screenshot(ctx.page, ctx.shots, 'inspector-adapter-update-spectrum.png');
  });

  test('no alert, confirm or prompt dialog opened during the whole session', async () => {
    assert.deepEqual(ctx.dialogs, []);
  });
});
