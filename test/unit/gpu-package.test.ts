// Per-platform packaging: every .vsix target has its dawn.node in the npm package `webgpu`, and the
// folder the packager copies is the one the engine looks for on that platform.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TARGETS } from '../../scripts/package.mjs';
import { dawnPlatform } from '../../src/mimicry/gpu/dawn';

test('every packaging target has a dawn.node, in the folder the engine loads on that platform', () => {
  assert.deepEqual(Object.keys(TARGETS).sort(), ['darwin-arm64', 'darwin-x64', 'linux-arm64', 'linux-x64', 'win32-arm64', 'win32-x64']);
  for (const [target, folder] of Object.entries(TARGETS)) {
    const [platform, arch] = target.split('-');
    assert.equal(dawnPlatform(platform, arch), folder, target);
    assert.ok(existsSync(join('node_modules/webgpu/dist', folder, 'dawn.node')), `${target}: no dawn.node in ${folder}`);
  }
  // Windows' dawn.node needs its shader compilers beside it: the packager copies the whole folder.
  for (const dll of ['d3dcompiler_47.dll', 'dxcompiler.dll']) assert.ok(existsSync(join('node_modules/webgpu/dist/win32-x64', dll)), dll);
});
