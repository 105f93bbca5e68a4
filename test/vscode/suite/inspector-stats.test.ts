// "Compute all statistics" in the real extension host, on the 10,241-tensor file (copied to a fresh
// path per test, so this window's cache of earlier opens plays no part): a cancelled batch resumes
// counting from where it stopped; a tensor the user selects during the batch goes before the rest;
// a batch big enough also runs on the other cores; statistics computed survive closing and reopening
// the file. What is checked is what the open document says it computed (the extension's test API),
// in order, never how long it took.
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { api, closeAllEditors, openInInspector, workspaceFile, WORKSPACE_FILES, type MimicryApi } from './helpers';

const TOTAL = WORKSPACE_FILES.manyTensors;
const LAST = 'lm_head.weight';

let dir: string;
let copies = 0;

/** The many-tensor file (or `from`) at a path this window has never opened. */
async function freshCopy(from: string = WORKSPACE_FILES.many): Promise<vscode.Uri> {
  const file = path.join(dir, `copy-${++copies}.safetensors`);
  await copyFile(workspaceFile(from).fsPath, file);
  return vscode.Uri.file(file);
}

/** Polls the document's report until `cond` holds (bounded; a broken batch fails, never hangs). */
async function until(mimicry: MimicryApi, uri: vscode.Uri, cond: (r: NonNullable<ReturnType<MimicryApi['inspectorStats']>>) => boolean) {
  for (let i = 0; i < 3000; i++) {
    const r = mimicry.inspectorStats(uri);
    if (r && cond(r)) return r;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`condition not met; report: ${JSON.stringify({ ...mimicry.inspectorStats(uri), arrived: undefined })}`);
}

suite('inspector: compute all statistics', () => {
  suiteSetup(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mimicry-stats-'));
    // No statistics on open: each test starts the batch itself.
    await vscode.workspace.getConfiguration('mimicry.inspector').update('autoStatsMaxBytes', 0, vscode.ConfigurationTarget.Global);
  });
  suiteTeardown(async () => {
    await vscode.workspace.getConfiguration('mimicry.inspector').update('autoStatsMaxBytes', undefined, vscode.ConfigurationTarget.Global);
    await closeAllEditors();
    await rm(dir, { recursive: true, force: true });
  });
  setup(closeAllEditors);

  test('a cancelled batch resumes counting from where it stopped (done of all tensors, not 1 of the rest)', async () => {
    const mimicry = await api();
    const uri = await freshCopy();
    assert.equal((await openInInspector(uri)).tensorCount, TOTAL);
    const first = vscode.commands.executeCommand('mimicry.inspector.computeAllStats');
    await until(mimicry, uri, (r) => r.arrived.length >= 1);
    await vscode.commands.executeCommand('mimicry.inspector.cancelStats');
    await first;
    const stopped = await until(mimicry, uri, (r) => r.batches.some((b) => b.state === 'cancelled'));
    const cancelled = stopped.batches.find((b) => b.state === 'cancelled');
    assert.ok(cancelled && cancelled.done > 0 && cancelled.done < TOTAL, JSON.stringify(stopped.batches));
    assert.equal(cancelled.total, TOTAL);

    await vscode.commands.executeCommand('mimicry.inspector.computeAllStats');
    const r = await until(mimicry, uri, (x) => x.batches.at(-1)?.state === 'done');
    const resumed = r.batches.slice(r.batches.findIndex((b) => b.state === 'cancelled') + 1);
    assert.deepEqual(resumed[0], { state: 'running', done: stopped.arrived.length, total: TOTAL }, JSON.stringify(r.batches));
    assert.deepEqual(resumed.at(-1), { state: 'done', done: TOTAL, total: TOTAL });
    assert.equal(new Set(r.arrived).size, TOTAL, 'every tensor once');
  });

  test('a tensor selected during the batch jumps the queue', async () => {
    const mimicry = await api();
    const uri = await freshCopy();
    assert.equal((await openInInspector(uri)).tensorCount, TOTAL);
    const all = vscode.commands.executeCommand('mimicry.inspector.computeAllStats');
    await until(mimicry, uri, (r) => r.arrived.length >= 1);
    // The last tensor in the batch's order, selected as a click in the table does.
    assert.equal(mimicry.selectTensor(uri, LAST), true);
    await all;
    const r = await until(mimicry, uri, (x) => x.batches.at(-1)?.state === 'done');
    const at = r.arrived.indexOf(LAST);
    assert.ok(at >= 0 && at < TOTAL / 2, `${LAST} arrived as number ${at + 1} of ${TOTAL}; in batch order it is the last`);
    assert.equal(new Set(r.arrived).size, TOTAL, 'every tensor once');
    assert.deepEqual(r.batches.at(-1), { state: 'done', done: TOTAL, total: TOTAL });
  });

  test('with mimicry.inspector.statsThreads 2, a batch of more than 64 MiB (the 85 MB base) also runs on a stats pool worker: every tensor once', async () => {
    const mimicry = await api();
    const config = vscode.workspace.getConfiguration('mimicry.inspector');
    await config.update('statsThreads', 2, vscode.ConfigurationTarget.Global);
    try {
      const uri = await freshCopy(WORKSPACE_FILES.familyBase);
      const opened = await openInInspector(uri);
      await vscode.commands.executeCommand('mimicry.inspector.computeAllStats');
      const r = await until(mimicry, uri, (x) => x.batches.at(-1)?.state === 'done');
      assert.equal(r.arrived.length, opened.tensorCount);
      assert.equal(new Set(r.arrived).size, opened.tensorCount, 'every tensor once');
      assert.deepEqual(r.batches.at(-1), { state: 'done', done: opened.tensorCount, total: opened.tensorCount });
      // The stats pool worker beside the inspector's took a share, and the inspector's worker too.
      assert.ok(r.helped > 0 && r.helped < opened.tensorCount, `helped ${r.helped} of ${opened.tensorCount}`);
    } finally {
      await config.update('statsThreads', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('statistics computed survive closing and reopening the file in the same window', async () => {
    const mimicry = await api();
    const uri = await freshCopy();
    await openInInspector(uri);
    await vscode.commands.executeCommand('mimicry.inspector.computeAllStats');
    const before = await until(mimicry, uri, (x) => x.batches.at(-1)?.state === 'done');
    assert.equal(before.arrived.length, TOTAL);
    await closeAllEditors();
    assert.equal(mimicry.inspectorStats(uri), undefined, 'the document is closed');

    assert.equal((await openInInspector(uri)).tensorCount, TOTAL);
    const again = await until(mimicry, uri, (x) => x.restored > 0);
    assert.equal(again.restored, TOTAL);
    // Nothing is left to compute: the batch is done as it starts.
    await vscode.commands.executeCommand('mimicry.inspector.computeAllStats');
    const r = await until(mimicry, uri, (x) => x.batches.at(-1)?.state === 'done');
    assert.deepEqual(r.batches, [
      { state: 'running', done: TOTAL, total: TOTAL },
      { state: 'done', done: TOTAL, total: TOTAL },
    ]);
  });
});
