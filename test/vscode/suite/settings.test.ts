// Every setting the manifest contributes lives under `mimicry.` and reads back its declared
// default through the real configuration service (the test workspace overrides none of them).
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import { closeAllEditors, contributedSettings, manifest, openInInspector, workspaceFile } from './helpers';

suite('settings', () => {
  const settings = contributedSettings(manifest());

  test('every contributed setting is under mimicry.', function () {
    if (settings.length === 0) this.skip(); // nothing contributed yet: reported as skipped, not passed
    const outside = settings.map(([k]) => k).filter((k) => !k.startsWith('mimicry.'));
    assert.deepEqual(outside, []);
  });

  for (const [key, decl] of settings) {
    test(`${key} reads its default (${JSON.stringify(decl.default)})`, () => {
      const section = key.slice(0, key.lastIndexOf('.'));
      const leaf = key.slice(key.lastIndexOf('.') + 1);
      const config = vscode.workspace.getConfiguration(section);
      const inspected = config.inspect(leaf);
      assert.ok(inspected, `${key} is contributed but unknown to the configuration service`);
      assert.deepEqual(inspected.defaultValue, decl.default);
      assert.deepEqual(config.get(leaf), decl.default);
      assert.deepEqual(vscode.workspace.getConfiguration().get(key), decl.default);
      assert.ok(decl.description || decl.markdownDescription, `${key} has no description for the Settings UI`);
    });
  }

  test('the inspector computes with the settings in force (histogram bins, spectrum cap)', async () => {
    const config = vscode.workspace.getConfiguration('mimicry.inspector');
    await config.update('histogramBins', 16, vscode.ConfigurationTarget.Global);
    await config.update('spectrumMaxDim', 32, vscode.ConfigurationTarget.Global);
    try {
      await closeAllEditors();
      const report = await openInInspector(workspaceFile('real/capp-gpt2-4layer.safetensors'));
      assert.equal(report.status, 'rendered');
      assert.equal(report.settings.histogramBins, 16);
      assert.equal(report.settings.spectrumMaxSide, 32);
    } finally {
      await config.update('histogramBins', undefined, vscode.ConfigurationTarget.Global);
      await config.update('spectrumMaxDim', undefined, vscode.ConfigurationTarget.Global);
      await closeAllEditors();
    }
  });
});
