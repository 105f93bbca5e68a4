// The webgpu backend in the real extension host: a reconstruction run with backend webgpu works in
// the engine's worker thread and the results dashboard's Backend card names the adapter. In CI
// (CI=true, lavapipe installed by .ci/run) a run that could not use the GPU fails this test;
// elsewhere it is skipped with the reason.
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { DashboardReport } from '../../../src/extension/api';
import { api, closeAllEditors, workspaceFile } from './helpers';

const TIMEOUT_MS = 120_000;

suite('webgpu backend', () => {
  let dir: string;
  suiteSetup(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mimicry-gpu-'));
  });
  suiteTeardown(async () => {
    await closeAllEditors();
    await rm(dir, { recursive: true, force: true });
  });

  test('a paper run with backend webgpu in the worker: the Backend card names the adapter', async function () {
    this.timeout(TIMEOUT_MS + 10_000);
    const uri = workspaceFile('real/capp-gpt2-4layer.safetensors');
    const out = path.join(dir, 'gpu.recast.safetensors');
    const mimicry = await api();
    const report = new Promise<DashboardReport>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no results dashboard within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
      const sub = mimicry.onDidReportDashboard((r) => {
        if (r.mode !== 'results' || path.resolve(r.path) !== path.resolve(uri.fsPath)) return;
        clearTimeout(timer);
        sub.dispose();
        resolve(r);
      });
    });
    // Two small banks and a few steps: a software GPU is slow.
    const written = await vscode.commands.executeCommand<string | undefined>('mimicry.exportReparameterized', uri, {
      out,
      options: { method: 'paper', steps: 5, modules: ['mlp.c_fc'], backend: 'webgpu' },
    });
    assert.equal(written, out);
    const backend = (await report).cards?.backend ?? '';
    if (!backend.startsWith('webgpu')) {
      const why = `the run used ${backend}: no GPU adapter here`;
      if (process.env.CI === 'true') assert.fail(`CI=true: ${why} (.ci/run installs lavapipe)`);
      console.log(`# skipped: ${why}`);
      this.skip();
    }
    assert.match(backend, /^webgpu on \S/);
    await closeAllEditors();
  });
});
