// Builds the .vsix for one platform: the production bundles plus that platform's dawn.node (the
// WebGPU binding, from the npm package `webgpu`) in dist/dawn/<folder>/, and no other platform's.
//   node scripts/package.mjs                     this machine's platform -> neural-mimicry.vsix
//   node scripts/package.mjs --target win32-x64  -> neural-mimicry-win32-x64.vsix
//   node scripts/package.mjs --all               every target below, one .vsix each
// A target without a dawn.node (none here) would still package and run on wasm.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** vsce target -> the folder of node_modules/webgpu/dist that holds its dawn.node. */
export const TARGETS = {
  'linux-x64': 'linux-x64',
  'linux-arm64': 'linux-arm64',
  'darwin-x64': 'darwin-universal',
  'darwin-arm64': 'darwin-universal',
  'win32-x64': 'win32-x64',
  'win32-arm64': 'win32-arm64',
};

const DAWN = 'node_modules/webgpu/dist';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error(`package: ${cmd} ${args.join(' ')} failed (status ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

/** dist/dawn holds exactly `folder` (dawn.node and, on Windows, the DLLs beside it). */
function placeDawn(folder) {
  rmSync('dist/dawn', { recursive: true, force: true });
  const from = join(DAWN, folder);
  if (!existsSync(join(from, 'dawn.node'))) {
    console.warn(`package: no ${join(from, 'dawn.node')}: this .vsix runs the optimizer on wasm only`);
    return;
  }
  mkdirSync('dist/dawn', { recursive: true });
  cpSync(from, join('dist/dawn', folder), { recursive: true });
}

function packageTarget(target, out) {
  placeDawn(TARGETS[target]);
  run('npx', [
    'vsce',
    'package',
    '--no-dependencies',
    '--no-rewrite-relative-links',
    '--allow-missing-repository',
    '--target',
    target,
    '--out',
    out,
  ]);
}

/** Run as a script (npm run package), not when a test imports TARGETS. */
function main() {
  const argv = process.argv.slice(2);
  const here = `${process.platform}-${process.arch}`;
  const all = argv.includes('--all');
  const i = argv.indexOf('--target');
  const target = i >= 0 ? argv[i + 1] : here;
  if (!all && !(target in TARGETS)) {
    console.error(`package: unknown target "${target}"; one of ${Object.keys(TARGETS).join(', ')}`);
    process.exit(2);
  }

  run('npm', ['run', 'build:production', '--silent']);
  if (all) for (const t of Object.keys(TARGETS)) packageTarget(t, `neural-mimicry-${t}.vsix`);
  else packageTarget(target, i >= 0 ? `neural-mimicry-${target}.vsix` : 'neural-mimicry.vsix');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
