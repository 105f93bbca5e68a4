// The webview protocol's guards: every message type checked, errors in the one wire shape, versions compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DASHBOARD_DATA_VERSION,
  isResourcesFailed,
  isWebviewToExtension,
  protocolMismatch,
  PROTOCOL_VERSION,
  restorableState,
} from '../../src/webview/protocol';

test('well-formed webview messages pass the guard', () => {
  assert.ok(isWebviewToExtension({ type: 'ready', version: PROTOCOL_VERSION }));
  assert.ok(isWebviewToExtension({ type: 'rendered', tensorCount: 10 }));
  assert.ok(isWebviewToExtension({ type: 'requestStats', name: '<img src=x>' }));
  assert.ok(isWebviewToExtension({ type: 'computeAll' }));
  assert.ok(isWebviewToExtension({ type: 'cancelAll' }));
  assert.ok(isWebviewToExtension({ type: 'requestValues', name: 'w', lead: [1, 0], row: 0, col: 32, rows: 32, cols: 12 }));
});

test('malformed or unknown messages are refused', () => {
  for (const m of [
    null,
    1,
    'ready',
    {},
    { type: 'nope' },
    { type: 'ready' },
    { type: 'rendered', tensorCount: '3' },
    { type: 'rendered', tensorCount: Infinity },
    { type: 'requestStats' },
    { type: 'cancelTensor', name: 4 },
    { type: 'requestValues', name: 'w', lead: [-1], row: 0, col: 0, rows: 1, cols: 1 },
    { type: 'requestValues', name: 'w', lead: [], row: 0.5, col: 0, rows: 1, cols: 1 },
    { type: 'requestValues', name: 'w', lead: 'x', row: 0, col: 0, rows: 1, cols: 1 },
    { type: 'requestValues', name: 'w', lead: [], row: 0, col: 0, rows: 1 },
  ]) {
    assert.ok(!isWebviewToExtension(m), JSON.stringify(m));
  }
});

test('inherited keys are not message types; errors travel as WireError', () => {
  for (const type of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) assert.ok(!isWebviewToExtension({ type }), type);
  assert.ok(isWebviewToExtension({ type: 'renderError', error: { message: 'x', cancelled: false } }));
  assert.ok(isWebviewToExtension({ type: 'renderError', error: { message: 'x', file: '/a', rule: 'header-not-json', cancelled: false } }));
  assert.ok(!isWebviewToExtension({ type: 'renderError', message: 'x' }));
  assert.ok(!isWebviewToExtension({ type: 'renderError', error: { message: 'x' } }));
  assert.ok(!isWebviewToExtension({ type: 'renderError', error: { message: 'x', cancelled: false, rule: 3 } }));
});

test('a view of another protocol version gets an error that says to reload', () => {
  assert.equal(protocolMismatch(PROTOCOL_VERSION), undefined);
  const e = protocolMismatch(PROTOCOL_VERSION + 1);
  assert.ok(e);
  assert.equal(e.cancelled, false);
  assert.match(e.message, /reload the window/i);
});

test('a restored dashboard state keeps its data only when the data version is current', () => {
  const data = { version: DASHBOARD_DATA_VERSION, origin: 'run' };
  assert.equal(restorableState(null), undefined);
  assert.equal(restorableState({ path: 3, mode: 'results' }), undefined);
  assert.equal(restorableState({ path: '/m.safetensors', mode: 'elsewhere' }), undefined);
  assert.deepEqual(restorableState({ path: '/m.safetensors', mode: 'configure', form: { steps: 3 } }), {
    path: '/m.safetensors',
    mode: 'configure',
  });
  assert.deepEqual(restorableState({ path: '/m.safetensors', mode: 'results', data }), { path: '/m.safetensors', mode: 'results', data });
  // Results stored by another version fall back to the form; compare needs its first run.
  assert.deepEqual(restorableState({ path: '/m.safetensors', mode: 'results', data: { ...data, version: 0 } }), {
    path: '/m.safetensors',
    mode: 'configure',
  });
  assert.deepEqual(restorableState({ path: '/m.safetensors', mode: 'compare', data, compare: { version: 99 } }), {
    path: '/m.safetensors',
    mode: 'compare',
    data,
  });
});

test("the page shell's resourcesFailed message (every webview): a url string, nothing else passes", () => {
  const url = 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/inspector.js';
  assert.ok(isResourcesFailed({ type: 'resourcesFailed', url }));
  for (const m of [null, { type: 'resourcesFailed' }, { type: 'resourcesFailed', url: 3 }, { type: 'ready', version: 1 }, url])
    assert.equal(isResourcesFailed(m), false, JSON.stringify(m));
  // Not one of the inspector's own messages: its handler never sees it.
  assert.equal(isWebviewToExtension({ type: 'resourcesFailed', url }), false);
});
