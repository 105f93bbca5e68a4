// When the extension sets a webview's page again (src/extension/pageReloads.ts): a page that reports
// failed files is set again, a little later each time, then replaced by a message naming the file;
// a page that says nothing (its document lost the service-worker race, so no script of ours runs)
// is set again after SILENT_PAGE_MS, a bounded number of times; a page that speaks is left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_RELOADS, reloadDelay, SILENT_PAGE_MS, watchPage, type PageToSet } from '../../src/extension/pageReloads';

const failed = (url: string): unknown => ({ type: 'resourcesFailed', url });
const ready = { type: 'ready', version: 1 };

test('a page that posts ready is set once, and never again', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sets: PageToSet[] = [];
  const watch = watchPage((w) => sets.push(w));
  watch.onMessage(ready);
  for (let i = 0; i < 10; i++) t.mock.timers.tick(SILENT_PAGE_MS);
  assert.deepEqual(sets, [{ kind: 'page', attempt: 0 }]);
  watch.dispose();
});

test('a silent page is set again after SILENT_PAGE_MS, at most MAX_RELOADS times, and stays once it speaks', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sets: PageToSet[] = [];
  const watch = watchPage((w) => sets.push(w));
  t.mock.timers.tick(SILENT_PAGE_MS - 1);
  assert.equal(sets.length, 1, 'not before its time');
  t.mock.timers.tick(1);
  assert.deepEqual(sets.at(-1), { kind: 'page', attempt: 1 });
  watch.onMessage(ready); // the second document runs
  for (let i = 0; i < 10; i++) t.mock.timers.tick(SILENT_PAGE_MS);
  assert.equal(sets.length, 2);
  watch.dispose();

  const silent: PageToSet[] = [];
  const never = watchPage((w) => silent.push(w));
  for (let i = 0; i < 20; i++) t.mock.timers.tick(SILENT_PAGE_MS);
  // Silence never ends in the failure message: there is no file to name, and the page may yet load.
  assert.deepEqual(
    silent,
    Array.from({ length: MAX_RELOADS + 1 }, (_, attempt) => ({ kind: 'page', attempt })),
  );
  never.dispose();
});

test('failed files: set again after a doubling delay, then the message naming the file', (t) => {
  assert.deepEqual([1, 2, 3].map(reloadDelay), [250, 500, 1000]);
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sets: PageToSet[] = [];
  const watch = watchPage((w) => sets.push(w));
  for (let r = 1; r <= MAX_RELOADS; r++) {
    watch.onMessage(failed('https://x.vscode-cdn.net/dist/webview/inspector.js'));
    watch.onMessage(failed('https://x.vscode-cdn.net/media/inspector.css')); // the same load: one reload
    t.mock.timers.tick(reloadDelay(r) - 1);
    assert.equal(sets.length, r, `reload ${r} waits ${reloadDelay(r)} ms`);
    t.mock.timers.tick(1);
    assert.deepEqual(sets.at(-1), { kind: 'page', attempt: r });
  }
  watch.onMessage(failed('https://x.vscode-cdn.net/dist/webview/inspector.js'));
  t.mock.timers.tick(reloadDelay(MAX_RELOADS + 1));
  assert.deepEqual(sets.at(-1), { kind: 'failed', url: 'https://x.vscode-cdn.net/dist/webview/inspector.js' });
  for (let i = 0; i < 10; i++) t.mock.timers.tick(SILENT_PAGE_MS);
  assert.equal(sets.length, MAX_RELOADS + 2, 'the message page is left alone');
  watch.dispose();
});

test('dispose stops every pending reload', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sets: PageToSet[] = [];
  const watch = watchPage((w) => sets.push(w));
  watch.onMessage(failed('https://x.vscode-cdn.net/media/inspector.css'));
  watch.dispose();
  for (let i = 0; i < 10; i++) t.mock.timers.tick(SILENT_PAGE_MS);
  assert.equal(sets.length, 1);
});
