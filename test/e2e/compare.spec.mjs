// VS Code's own "Select for Compare" / "Compare with Selected" on two checkpoints: the diff editor
// shows the two inspectors side by side. In code-server every webview shares one origin and so one
// service worker; two webviews that start together race for it, and the loser's page loads before a
// worker controls it (its files fail with ERR_NAME_NOT_RESOLVED: a blank pane). The second test
// shows that code-server's own image preview hits the same race; the first that our webviews recover
// (src/extension/webviewHtml.ts: the page reports the failed load and is set again).
import assert from 'node:assert/strict';
import { test } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import {
  explorerItem,
  contextMenu,
  closeAllEditors,
  cssString,
  frameWith,
  framesText,
  inspectorFrame,
  openInInspector,
  screenshot,
  sleep,
  tensorNames,
  until,
} from './lib.mjs';
import { workbenchSession } from './session.mjs';

const A = 'real/capp-gpt2-4layer.safetensors';
const B = 'real/tinygrad-mnist-cnn.safetensors';
/** The race shows in most tries here (4 of 5 for either editor): this many make a miss unlikely. */
const TRIES = 8;

/** Resources of webviews that failed to load while `fn` ran (their file names). */
async function failedLoads(page, fn) {
  const failed = [];
  const onFailed = (r) => {
    if (/vscode-cdn\.net/.test(r.url())) failed.push(r.url().split('/').pop());
  };
  page.on('requestfailed', onFailed);
  try {
    await fn();
  } finally {
    page.off('requestfailed', onFailed);
  }
  return failed;
}

/**
 * Webview hosts (code-server's index.html) that never made a page frame: the host waits for a service
 * worker to control it before it shows any page, and when the race leaves it waiting (it logs "Waiting
 * for controllerchange"), no page of ours ever runs there, so no reload of ours can help: only a new
 * host (the editor closed and opened again) does. Seen once in about 100 diff editors.
 */
function stuckHosts(page) {
  return webviewHosts(page).filter((f) => f.childFrames().length === 0).length;
}
function webviewHosts(page) {
  return page.frames().filter((f) => !f.isDetached() && /\/index\.html\?/.test(f.url()));
}
/** Tries that may meet a stuck host before the test fails anyway. */
const STUCK_HOSTS_ALLOWED = 2;

async function compare(page, left, right) {
  await contextMenu(page, await explorerItem(page, left), 'Select for Compare');
  await contextMenu(page, await explorerItem(page, right), 'Compare with Selected');
}

/** A solid 64x64 RGB PNG. */
function png(rgb) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const x of buf) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(8 + body.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 4 + body.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(64, 0);
  ihdr.writeUInt32BE(64, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc(64 * (1 + 64 * 3));
  for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) raw.set(rgb, y * (1 + 64 * 3) + 1 + x * 3);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

test.describe.serial('compare', () => {
  const ctx = workbenchSession('compare');

  test('"Compare with Selected" on two checkpoints shows both inspectors side by side, every time', async () => {
    // Eight diff editors, each opened from the explorer's context menu: 1.7-2.3 min in CI, once past
    // the 2.5 min every other test gets. A limit still, not a timing.
    test.setTimeout(TRIES * 40_000);
    const first = { a: tensorNames(join(ctx.workspace, A))[0], b: tensorNames(join(ctx.workspace, B))[0] };
    // The session's first open, alone: right after the workbench loads, code-server may not know our
    // editor yet and would show both sides in its text editor (openInInspector waits that out).
    await closeAllEditors(ctx.page);
    await openInInspector(ctx.page, A, first.a);
    const recovered = [];
    const stuck = [];
    for (let i = 0; i < TRIES; i++) {
      await closeAllEditors(ctx.page);
      let hostStuck = false;
      const failed = await failedLoads(ctx.page, async () => {
        await compare(ctx.page, A, B);
        // Both sides: each pane's table shows its file's first tensor (found afresh each poll: a pane
        // that is set again detaches its old frame). A miss says what every frame showed.
        try {
          for (const name of [first.a, first.b])
            await frameWith(ctx.page, `[data-testid="tensor-row"][data-name="${cssString(name)}"]`, { visible: true });
        } catch (e) {
          const hosts = stuckHosts(ctx.page);
          if (hosts > 0 && stuck.length < STUCK_HOSTS_ALLOWED) {
            stuck.push(`try ${i + 1}: ${hosts} host(s) with no page`);
            hostStuck = true;
            return;
          }
          throw new Error(`try ${i + 1}: ${e.message}; the frames showed: ${await framesText(ctx.page)}`, { cause: e });
        }
      });
      if (hostStuck) {
        i--; // the same try again, in a new editor
        continue;
      }
      if (failed.length > 0) recovered.push(`try ${i + 1}: ${failed.join(', ')}`);
    }
    // The stuck-host probe sees both hosts, each with its page.
    assert.ok(
      webviewHosts(ctx.page).length >= 2 && stuckHosts(ctx.page) === 0,
      `hosts: ${webviewHosts(ctx.page).map((f) => f.url().split('?')[0])}`,
    );
    // One editor, two panes, left and right of each other.
    const tab = ctx.page.locator('.tabs-container .tab').first();
    assert.match((await tab.innerText()).replace(/\s+/g, ' '), /capp-gpt2-4layer\.safetensors ↔ tinygrad-mnist-cnn\.safetensors/);
    const boxes = [];
    for (const name of [first.a, first.b]) {
      const frame = await inspectorFrame(ctx.page, name);
      boxes.push(await (await frame.frameElement()).boundingBox());
    }
    assert.ok(boxes[0] && boxes[1] && boxes[0].x + boxes[0].width <= boxes[1].x + 1, `panes not side by side: ${JSON.stringify(boxes)}`);
    await sleep(500);
    await screenshot(ctx.page, ctx.shots, 'inspector-diff.png');
    console.log(
      `         (${recovered.length} of ${TRIES} diff editors recovered from failed loads${recovered.length ? `: ${recovered.join('; ')}` : ''}` +
        `${stuck.length ? `; code-server's host never showed a page, editor reopened: ${stuck.join('; ')}` : ''})`,
    );
  });

  test("code-server's own image preview loses the same race (a blank pane is code-server's, not the extension's)", async () => {
    writeFileSync(join(ctx.workspace, 'real', 'red.png'), png([255, 0, 0]));
    writeFileSync(join(ctx.workspace, 'real', 'blue.png'), png([0, 0, 255]));
    const seen = [];
    for (let i = 0; i < TRIES && seen.length === 0; i++) {
      await closeAllEditors(ctx.page);
      const failed = await failedLoads(ctx.page, async () => {
        await compare(ctx.page, 'real/red.png', 'real/blue.png');
        await until('the image diff editor', async () => (await ctx.page.locator('.tabs-container .tab').count()) === 1);
        await sleep(3000);
      });
      seen.push(...failed);
      if (failed.length > 0) await screenshot(ctx.page, ctx.shots, 'code-server-image-diff-blank.png');
    }
    // A race: where it does not happen in TRIES tries (another machine's timing) this says so and
    // skips, rather than failing a run over code-server's behaviour.
    if (!seen.some((f) => f.startsWith('imagePreview.')))
      test.skip(
        true,
        `the image preview loaded in all ${TRIES} diff editors here: the race did not show (if code-server fixed it, drop this test and the README's known issue)`,
      );
  });
});
