// The extension trusts nothing from the dashboard webview: message shapes and options are checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFromDashboard } from '../../src/webview/protocol';
import { sanitizeOptions } from '../../src/extension/dashboard/options';
import { pngFromDataUrl } from '../../src/extension/dashboard/atomicWrite';

test('well-formed messages pass', () => {
  for (const m of [
    { type: 'ready', version: 1 },
    { type: 'plan', requestId: 3, options: { preset: 'paper' } },
    { type: 'run', options: {} },
    { type: 'cancel' },
    { type: 'export', kind: 'report-csv' },
    { type: 'exportChart', chart: 'similarity-3', format: 'svg', payload: '<svg/>' },
    { type: 'rendered', mode: 'results', charts: 13 },
  ])
    assert.ok(isFromDashboard(m), JSON.stringify(m));
});

test('malformed or unknown messages are refused', () => {
  for (const m of [
    null,
    'ready',
    [],
    { type: 'nope' },
    { type: 'ready' },
    { type: 'plan', requestId: '1', options: {} },
    { type: 'run', options: [] },
    { type: 'export', kind: 'source' },
    { type: 'exportChart', chart: '../../etc/passwd', format: 'svg', payload: '' },
    { type: 'exportChart', chart: 'x', format: 'exe', payload: '' },
    { type: 'rendered', mode: 'anything', charts: 1 },
    { type: 'toString' },
    { type: '__proto__' },
  ])
    assert.equal(isFromDashboard(m), false, JSON.stringify(m));
});

test('options keep only known keys of the right type; the engine judges the values', () => {
  const o = sanitizeOptions({
    method: 'paper',
    steps: 10,
    lr: '0.1',
    templates: 'exact',
    modules: ['a', 3, 'b'],
    shareRoles: 'yes',
    evil: 1,
    __proto__: { x: 1 },
  } as Record<string, unknown>);
  assert.deepEqual(o, { method: 'paper', steps: 10, templates: 'exact', modules: ['a', 'b'] });
  assert.deepEqual(sanitizeOptions({ templates: 'many' }), {});
  // Words must be the engine's own; untyped input is no options at all.
  assert.deepEqual(sanitizeOptions({ method: 'bogus', backend: 'cuda', preset: '2x', objective: 'total', loss: 'mse' }), {
    preset: '2x',
    objective: 'total',
    loss: 'mse',
  });
  assert.deepEqual(sanitizeOptions({ templateDtype: 'F32' }), { templateDtype: 'F32' });
  assert.deepEqual(sanitizeOptions({ templateDtype: 'source' }), { templateDtype: 'source' });
  assert.deepEqual(sanitizeOptions({ templateDtype: 'F16' }), {});
  for (const raw of [null, 'paper', 3, ['method']]) assert.deepEqual(sanitizeOptions(raw), {});
});

test('PNG data URLs decode; anything else is refused', () => {
  const png = pngFromDataUrl('data:image/png;base64,iVBORw0KGgo=');
  assert.ok(png);
  assert.deepEqual([...png.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.equal(pngFromDataUrl('data:text/html;base64,PGgxPg=='), null);
  assert.equal(pngFromDataUrl('javascript:alert(1)'), null);
});
