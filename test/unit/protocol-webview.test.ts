import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWebviewToExtension, PROTOCOL_VERSION } from '../../src/webview/protocol';

test('well-formed webview messages pass the guard', () => {
  assert.ok(isWebviewToExtension({ type: 'ready', version: PROTOCOL_VERSION }));
  assert.ok(isWebviewToExtension({ type: 'rendered', tensorCount: 10 }));
  assert.ok(isWebviewToExtension({ type: 'requestStats', name: '<img src=x>' }));
  assert.ok(isWebviewToExtension({ type: 'computeAll' }));
  assert.ok(isWebviewToExtension({ type: 'cancelAll' }));
});

test('malformed or unknown messages are refused', () => {
  for (const m of [null, 1, 'ready', {}, { type: 'nope' }, { type: 'ready' }, { type: 'rendered', tensorCount: '3' }, { type: 'rendered', tensorCount: Infinity }, { type: 'requestStats' }, { type: 'cancelTensor', name: 4 }]) {
    assert.ok(!isWebviewToExtension(m), JSON.stringify(m));
  }
});
