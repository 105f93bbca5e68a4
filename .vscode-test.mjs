// The extension-host suite (test/vscode/suite) in desktop VS Code, through @vscode/test-electron.
// Not part of `npm test`: these machines cannot download VS Code (code-server runs the same suite
// here, see test/vscode/run.mjs). Where a desktop VS Code exists:
//   VSCODE_EXECUTABLE_PATH=/path/to/code node .vscode-test.mjs     (a local installation)
//   node .vscode-test.mjs                                         (downloads the pinned VS Code)
// The default export is also a valid @vscode/test-cli configuration (`npx vscode-test`), should
// the project add that package: `defineConfig` is the identity, so a plain object is enough.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTestWorkspace } from './scripts/make-test-workspace.mjs';
import { buildSuite, suiteIndex, outDir } from './test/vscode/build.mjs';

const root = dirname(fileURLToPath(import.meta.url));
/** The VS Code release code-server 4.100.3 is built on: both layers test against the same API. */
export const VSCODE_VERSION = '1.100.3';
const cache = join(root, '.vscode-test');
const workspace = join(cache, 'workspace');
const executable = process.env.VSCODE_EXECUTABLE_PATH;
const resultsPath = join(root, 'test-results', 'vscode-electron.json');

// Build what the suite loads: the extension (dist/), the bundled suite, the generated workspace.
const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) throw new Error('npm run build failed');
await buildSuite();
makeTestWorkspace(workspace);
mkdirSync(dirname(resultsPath), { recursive: true });

const launchArgs = [
  '--disable-extensions', // only the extension under development
  '--disable-workspace-trust',
  '--skip-welcome',
  '--skip-release-notes',
  '--user-data-dir',
  join(cache, 'user-data'),
];

/** @type {Record<string, unknown>} @vscode/test-cli's TestConfiguration */
const config = {
  label: 'extension-host',
  files: join(outDir, 'suite', '*.test.js'),
  extensionDevelopmentPath: root,
  workspaceFolder: workspace,
  mocha: { ui: 'tdd', timeout: 120_000 },
  launchArgs,
  env: { MIMICRY_VSCODE_RESULTS: resultsPath },
  ...(executable ? { useInstallation: { fromPath: executable } } : { version: VSCODE_VERSION, download: { timeout: 120_000 } }),
};
export default config;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { runTests } = await import('@vscode/test-electron');
  if (executable && !existsSync(executable)) throw new Error(`VSCODE_EXECUTABLE_PATH=${executable} does not exist`);
  try {
    const code = await runTests({
      ...(executable ? { vscodeExecutablePath: executable } : { version: VSCODE_VERSION, cachePath: cache }),
      extensionDevelopmentPath: root,
      extensionTestsPath: suiteIndex, // its run() runs every bundled *.test.js with mocha
      extensionTestsEnv: { MIMICRY_VSCODE_RESULTS: resultsPath },
      launchArgs: [workspace, ...launchArgs],
    });
    console.log(`extension-host suite in VS Code ${executable ?? VSCODE_VERSION}: exit ${code}; counts in ${resultsPath}`);
    process.exit(code);
  } catch (err) {
    console.error(`the suite failed or VS Code could not start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
