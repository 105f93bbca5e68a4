// `npm test`: every layer of tests, each counted; the last line is "N passed, N failed".
// Layers: engine unit tests (node:test), extension-host suite (mocha in code-server's real
// extension host), browser end-to-end (Playwright Test + Chromium against code-server).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const only = process.argv.slice(2);
const resultsDir = 'test-results';
mkdirSync(resultsDir, { recursive: true });

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

function listTests(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
}

/** Each layer runs a command and leaves {passed, failed, skipped} in test-results/<name>.json. */
const layers = [
  {
    name: 'unit',
    run() {
      const tap = `${resultsDir}/unit.tap`;
      rmSync(tap, { force: true });
      const files = listTests('test/unit');
      const status = run(process.execPath, [
        '--import',
        'tsx',
        '--test',
        '--test-concurrency=2',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tap}`,
        ...files,
      ]);
      const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
      const count = (k) => Number((text.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
      return {
        status,
        passed: count('pass'),
        failed: count('fail') + (status !== 0 && count('fail') === 0 ? 1 : 0),
        skipped: count('skipped') + count('todo'),
      };
    },
  },
  {
    name: 'vscode',
    needs: 'test/vscode/run.mjs',
    args: ['test/vscode/run.mjs'],
  },
  {
    // Playwright Test with playwright.config.mjs; its reporter (test/e2e/reporter.mjs) leaves the counts.
    name: 'e2e',
    needs: 'playwright.config.mjs',
    args: ['node_modules/@playwright/test/cli.js', 'test', '--config', 'playwright.config.mjs'],
  },
];

let passed = 0,
  failed = 0,
  skipped = 0;
const summary = [];
for (const layer of layers) {
  if (only.length && !only.includes(layer.name)) continue;
  console.log(`\n=== ${layer.name} tests ===`);
  let r;
  if (layer.run) r = layer.run();
  else if (existsSync(layer.needs)) {
    const out = `${resultsDir}/${layer.name}.json`;
    rmSync(out, { force: true });
    const status = run(process.execPath, layer.args, { MIMICRY_RESULTS: out });
    const counts = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : { passed: 0, failed: 1, skipped: 0 };
    r = { status, ...counts };
    if (status !== 0 && r.failed === 0) r.failed = 1; // a runner that crashed counts as a failure
  } else {
    console.log(`(${layer.needs} not present)`);
    continue;
  }
  summary.push(`${layer.name}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
}
console.log('\n=== summary ===');
for (const s of summary) console.log(s);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
