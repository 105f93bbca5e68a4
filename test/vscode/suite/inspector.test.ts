// The read-only custom editor: opens each real checkpoint, a sharded model through its index,
// hostile and corrupt files. The status and tensor counts checked here are what the webview says
// about itself (its 'rendered' / 'renderError' message, through the extension's API): these tests
// check the message path between the webview and the extension host, not the drawn table. The
// rows a user sees are checked in a real browser by test/e2e/inspector.spec.mjs.
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import {
  WORKSPACE_FILES,
  INSPECTOR_VIEW_TYPE,
  activeCustomEditor,
  closeAllEditors,
  openAndWaitForReport,
  openInInspector,
  workspaceFile,
  type InspectorReport,
} from './helpers';

/** The webview reported (over the message path) a rendered table of `tensors` tensors. */
function assertRendered(report: InspectorReport, tensors: number): void {
  assert.equal(report.status, 'rendered', `expected a rendered table, got an error: ${report.error ?? '(no message)'}`);
  assert.equal(report.tensorCount, tensors);
}

/** The webview reported (over the message path) an error, with a message. */
function assertError(report: InspectorReport): void {
  assert.equal(report.status, 'error', `a corrupt file must give an error report, got ${report.status} with ${report.tensorCount} tensors`);
  assert.equal(report.tensorCount, 0);
  assert.ok(report.error && report.error.trim().length > 0, 'the error report must say what is wrong');
}

suite('inspector (custom editor)', () => {
  setup(closeAllEditors);
  suiteTeardown(closeAllEditors);

  for (const [rel, tensors] of Object.entries(WORKSPACE_FILES.real)) {
    test(`opens ${rel}: the webview reports ${tensors} tensors over the message path`, async () => {
      const uri = workspaceFile(rel);
      assertRendered(await openInInspector(uri), tensors);
      assert.equal(activeCustomEditor()?.viewType, INSPECTOR_VIEW_TYPE);
      assert.equal(activeCustomEditor()?.uri.path, uri.path);
    });
  }

  test('is the default editor: vscode.open on a .safetensors file opens the inspector', async () => {
    const uri = workspaceFile('real/tinygrad-mnist-cnn.safetensors');
    assertRendered(await openAndWaitForReport(uri, () => vscode.commands.executeCommand('vscode.open', uri)), 20);
    assert.equal(activeCustomEditor()?.viewType, INSPECTOR_VIEW_TYPE);
  });

  test('mimicry.inspect with a file (as from the explorer context menu) opens the inspector', async () => {
    const uri = workspaceFile('real/peft-gpt2-lora-12layer.safetensors');
    assertRendered(await openAndWaitForReport(uri, () => vscode.commands.executeCommand('mimicry.inspect', uri)), 25);
    assert.equal(activeCustomEditor()?.viewType, INSPECTOR_VIEW_TYPE);
  });

  test(
    `opens a 2-shard model through its index.json: ` +
      `the webview reports both shards' tensors (${WORKSPACE_FILES.shardedTensors}) over the message path`,
    async () => {
      const uri = workspaceFile(WORKSPACE_FILES.shardedIndex);
      assertRendered(await openInInspector(uri), WORKSPACE_FILES.shardedTensors);
      assert.equal(activeCustomEditor()?.viewType, INSPECTOR_VIEW_TYPE);
    },
  );

  test('a file whose tensor names and metadata are markup: the webview reports its table rendered over the message path', async () => {
    assertRendered(await openInInspector(workspaceFile(WORKSPACE_FILES.hostile)), WORKSPACE_FILES.hostileTensors);
  });

  test('never writes to the checkpoint it shows', async () => {
    const uri = workspaceFile('real/mlx-qwen05b-lora-4layer.safetensors');
    const before = await vscode.workspace.fs.readFile(uri);
    const statBefore = await vscode.workspace.fs.stat(uri);
    assertRendered(await openInInspector(uri), 16);
    await closeAllEditors();
    const after = await vscode.workspace.fs.readFile(uri);
    assert.equal(Buffer.compare(Buffer.from(before), Buffer.from(after)), 0, 'the file changed');
    assert.equal((await vscode.workspace.fs.stat(uri)).mtime, statBefore.mtime);
  });

  test('"Compute Statistics for All Tensors" runs to completion on the active inspector; "Cancel" after it is harmless', async () => {
    const uri = workspaceFile('real/tinygrad-mnist-cnn.safetensors');
    assertRendered(await openInInspector(uri), 20);
    // Resolves when every tensor's statistics are computed (the command awaits the job).
    await vscode.commands.executeCommand('mimicry.inspector.computeAllStats');
    await vscode.commands.executeCommand('mimicry.inspector.cancelStats');
    assert.equal(activeCustomEditor()?.viewType, INSPECTOR_VIEW_TYPE, 'the inspector is still the active editor');
  });

  for (const [what, rel] of [
    ['8 bytes claiming a 1 TiB header', WORKSPACE_FILES.corruptHugeHeader],
    ['a header that is not JSON', WORKSPACE_FILES.corruptNotJson],
  ] as const) {
    test(`${what}: an error report, then a good file still opens`, async () => {
      assertError(await openInInspector(workspaceFile(rel)));
      // The host and the editor stay usable: the next open works as if nothing happened.
      await closeAllEditors();
      assertRendered(await openInInspector(workspaceFile('real/capp-gpt2-4layer.safetensors')), 52);
    });
  }

  test('a corrupt file next to a good one: both editors report independently', async () => {
    const bad = openInInspector(workspaceFile(WORKSPACE_FILES.corruptNotJson));
    assertError(await bad);
    // Opened beside the broken one, in a second group: the broken editor does not poison it.
    const good = workspaceFile('real/tinygrad-mnist-cnn.safetensors');
    const report = await openAndWaitForReport(good, () =>
      vscode.commands.executeCommand('vscode.openWith', good, INSPECTOR_VIEW_TYPE, vscode.ViewColumn.Beside),
    );
    assertRendered(report, 20);
  });
});
