// A test-only extension installed next to the real one in code-server: on startup it loads the
// bundled suite (out/vscode-test/suite/index.js, which finds mocha in the repository's
// node_modules) and runs it in this, the real, extension host. harness.json beside this file,
// written by test/vscode/run.mjs, says where the suite is and where results go.
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunOptions } from '../suite/index';

interface HarnessConfig extends RunOptions {
  suiteIndex: string;
  resultsPath: string;
}

interface SuiteModule {
  run(options?: RunOptions): Promise<void>;
}

export function activate(): void {
  const config = JSON.parse(readFileSync(join(__dirname, 'harness.json'), 'utf8')) as HarnessConfig;
  // A reloaded window restarts the extension host: run the suite once per code-server start.
  if (existsSync(config.resultsPath)) return;
  // Not awaited: activate() must return for the workbench (and the extension under test) to go on.
  setTimeout(() => {
    void (async () => {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known only at run time
        const suite = require(config.suiteIndex) as SuiteModule;
        await suite.run(config);
      } catch (err) {
        // run() writes its own results; only a suite that could not load leaves none.
        if (!existsSync(config.resultsPath)) {
          const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
          writeFileSync(
            config.resultsPath,
            JSON.stringify({ passed: 0, failed: 1, skipped: 0, tests: [{ title: 'loading the suite', state: 'failed', error }] }),
          );
        }
      }
    })();
  }, 0);
}

export function deactivate(): void {}
