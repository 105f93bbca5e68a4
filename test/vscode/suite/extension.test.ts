// The installed extension activates, returns its API, and every command its manifest contributes
// is really registered in the extension host.
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import { api, extension, manifest, EXTENSION_ID, INSPECTOR_VIEW_TYPE } from './helpers';

suite('extension', () => {
  test(`${EXTENSION_ID} is installed and activates with its API`, async () => {
    assert.ok(extension(), `${EXTENSION_ID} is not among the installed extensions`);
    const mimicry = await api();
    assert.ok(Array.isArray(mimicry.inspectorReports()));
    assert.equal(extension()?.isActive, true);
  });

  test('contributes "Mimicry: Inspect Checkpoint" (mimicry.inspect)', () => {
    const cmd = manifest()?.contributes?.commands?.find((c) => c.command === 'mimicry.inspect');
    assert.ok(cmd, 'mimicry.inspect is not in contributes.commands');
    assert.equal(cmd.category ? `${cmd.category}: ${cmd.title}` : cmd.title, 'Mimicry: Inspect Checkpoint');
  });

  test(`contributes the ${INSPECTOR_VIEW_TYPE} custom editor for *.safetensors and *.safetensors.index.json`, () => {
    const editor = manifest()?.contributes?.customEditors?.find((e) => e.viewType === INSPECTOR_VIEW_TYPE);
    assert.ok(editor, `${INSPECTOR_VIEW_TYPE} is not in contributes.customEditors`);
    const patterns = (editor.selector ?? []).map((s) => s.filenamePattern);
    assert.ok(patterns.includes('*.safetensors'), `selectors: ${patterns.join(', ')}`);
    assert.ok(patterns.includes('*.safetensors.index.json'), `selectors: ${patterns.join(', ')}`);
    assert.notEqual(editor.priority, 'option', 'the inspector should be the default editor for checkpoints');
  });

  test('the explorer context menu offers mimicry.inspect', () => {
    const items = manifest()?.contributes?.menus?.['explorer/context'] ?? [];
    assert.ok(
      items.some((i) => i.command === 'mimicry.inspect'),
      'no explorer/context entry for mimicry.inspect',
    );
  });
});

// One test per contributed command, read from the manifest of the installed extension, so that a
// command added later is checked without editing this file.
suite('commands', () => {
  const commands = manifest()?.contributes?.commands ?? [];
  if (commands.length === 0) {
    test('the manifest contributes commands', () => assert.fail('contributes.commands is empty or the extension is missing'));
  }
  for (const c of commands) {
    test(`${c.command} ("${c.category ? `${c.category}: ` : ''}${c.title}") is registered`, async () => {
      await api(); // commands are registered by activate()
      const registered = await vscode.commands.getCommands(true);
      assert.ok(registered.includes(c.command), `${c.command} is contributed but not registered by activate()`);
    });
  }
});
