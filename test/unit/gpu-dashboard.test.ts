// The dashboard's Backend card: the backend, and the GPU adapter (recast.method.device) when webgpu ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summaryCards } from '../../src/webview/dashboard/model';
import { gpt2DashboardData } from './helpers/gpt2-dashboard';

const data = gpt2DashboardData();
const f = { count: (n: number) => String(n), number: (x: number) => String(x) };

test('Backend card: the backend alone, or the adapter that ran the fits with vendor and architecture', () => {
  const d = data();
  assert.deepEqual(
    summaryCards(d, f).find((c) => c.id === 'backend'),
    { id: 'backend', label: 'Backend', value: d.method.backend },
  );
  const device = { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' };
  const gpu = { ...d, method: { ...d.method, backend: 'webgpu', device } };
  assert.deepEqual(
    summaryCards(gpu, f).find((c) => c.id === 'backend'),
    { id: 'backend', label: 'Backend', value: 'webgpu on NVIDIA H200', hint: 'nvidia · hopper' },
  );
  const bare = { ...d, method: { ...d.method, backend: 'webgpu', device: { vendor: '', architecture: '', description: '' } } };
  assert.equal(summaryCards(bare, f).find((c) => c.id === 'backend')?.value, 'webgpu on an unnamed adapter');
});
