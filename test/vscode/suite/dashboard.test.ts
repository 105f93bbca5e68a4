// The reconstruction dashboards in the real extension host: commands registered, the configuration
// view for a checkpoint, and the results view of a reparameterized file read back from its metrics.
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { DashboardReport } from '../../../src/extension/api';
import { openCheckpoint } from '../../../src/mimicry/safetensors/reader';
import { exportRecast } from '../../../src/mimicry/recast/export';
import { api, closeAllEditors, workspaceFile } from './helpers';

const COMMANDS = ['mimicry.reconstruct', 'mimicry.openDashboard', 'mimicry.exportReparameterized', 'mimicry.compareRuns'];
const TIMEOUT_MS = 60_000;

/** Runs `open` and resolves with the first dashboard report about `file` in `mode`. */
async function waitForDashboard(file: string, mode: DashboardReport['mode'], open: () => Thenable<unknown>): Promise<DashboardReport> {
  const mimicry = await api();
  return new Promise<DashboardReport>((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no ${mode} dashboard for ${file} within ${TIMEOUT_MS / 1000} s`));
    }, TIMEOUT_MS);
    const sub = mimicry.onDidReportDashboard((r) => {
      if (r.mode !== mode || path.resolve(r.path) !== path.resolve(file)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(r);
    });
    open().then(undefined, (e: unknown) => {
      clearTimeout(timer);
      sub.dispose();
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
}

suite('reconstruction dashboards', () => {
  let dir: string;
  suiteSetup(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mimicry-dashboard-'));
  });
  suiteTeardown(async () => {
    await closeAllEditors();
    await rm(dir, { recursive: true, force: true });
  });

  test('every dashboard command is registered', async () => {
    await api();
    const all = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(COMMANDS.filter((c) => !all.has(c)), []);
  });

  test('mimicry.reconstruct with a checkpoint (as from the explorer) shows the configuration view', async () => {
    const uri = workspaceFile('real/capp-gpt2-4layer.safetensors');
    const r = await waitForDashboard(uri.fsPath, 'configure', () => vscode.commands.executeCommand('mimicry.reconstruct', uri));
    assert.equal(r.charts, 0);
  });

  test('mimicry.openDashboard on a reparameterized file shows its results from the stored metrics', async () => {
    const source = await openCheckpoint(workspaceFile('real/capp-gpt2-4layer.safetensors').fsPath);
    const out = path.join(dir, 'capp.recast.safetensors');
    try {
      await exportRecast(source, { preset: 'paper' }, { out });
    } finally {
      await source.close();
    }
    const r = await waitForDashboard(out, 'results', () => vscode.commands.executeCommand('mimicry.openDashboard', vscode.Uri.file(out)));
    // fidelity, relative error, diversity, entropy, spectra + one heat map per bank (8)
    assert.equal(r.charts, 13);
  });
});
