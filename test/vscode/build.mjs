// Bundles the extension-host suite (one CommonJS file per *.test.ts, plus index.js with run())
// and the code-server harness extension into out/vscode-test/. vscode and mocha stay external:
// the host provides vscode, and mocha resolves from the repository's node_modules.
import * as esbuild from 'esbuild';
import { readdirSync, rmSync, copyFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const outDir = join(repoRoot, 'out', 'vscode-test');
export const suiteIndex = join(outDir, 'suite', 'index.js');
export const harnessDir = join(outDir, 'harness');
export const harnessVsix = join(outDir, 'mimicry-test-harness.vsix');
/** Where code-server installs it: <publisher>.<name>-<version> of test/vscode/harness/package.json. */
export const harnessInstallName = 'mimicry-tests.mimicry-test-harness-0.0.1';

export async function buildSuite() {
  const suiteSrc = join(repoRoot, 'test', 'vscode', 'suite');
  const entries = readdirSync(suiteSrc).filter((f) => f === 'index.ts' || f.endsWith('.test.ts'));
  rmSync(outDir, { recursive: true, force: true });
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'es2022',
    sourcemap: 'inline',
    external: ['vscode', 'mocha'],
    logLevel: 'warning',
  };
  await esbuild.build({
    ...common,
    entryPoints: Object.fromEntries(entries.map((f) => [f.replace(/\.ts$/, ''), join(suiteSrc, f)])),
    outdir: join(outDir, 'suite'),
  });
  await esbuild.build({
    ...common,
    entryPoints: { extension: join(repoRoot, 'test', 'vscode', 'harness', 'extension.ts') },
    outdir: harnessDir,
  });
  mkdirSync(harnessDir, { recursive: true });
  copyFileSync(join(repoRoot, 'test', 'vscode', 'harness', 'package.json'), join(harnessDir, 'package.json'));
  console.log(`[vscode-test] bundled ${entries.length} suite files and the harness into ${outDir}`);
}

/** The harness as a .vsix: code-server loads only extensions it installed (listed in extensions.json). */
export function packageHarness() {
  const vsce = join(repoRoot, 'node_modules', '.bin', 'vsce');
  const args = [
    'package',
    '--no-dependencies',
    '--allow-missing-repository',
    '--skip-license',
    '--allow-star-activation',
    '-o',
    harnessVsix,
  ];
  const r = spawnSync(vsce, args, { cwd: harnessDir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`packaging the test harness failed:\n${r.stdout}${r.stderr}`);
  return harnessVsix;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await buildSuite();
