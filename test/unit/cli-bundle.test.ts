// The CLI as users run it: the esbuild bundle dist/cli.js in a child process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REAL, REAL_TENSOR_COUNTS } from './helpers/real-fixtures';

const CLI = 'dist/cli.js';

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.ts')) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mimicry-bundle-'));
  // Build when the bundle is missing or older than the sources it is made from. The check is on
  // the bundle itself, not on the build's status: another entry point being mid-edit must not
  // fail the CLI's test.
  const newest = Math.max(newestSource('src/cli'), newestSource('src/mimicry'));
  const fresh = (): boolean => existsSync(CLI) && statSync(CLI).mtimeMs >= newest;
  if (!fresh()) {
    const b = spawnSync('npm', ['run', 'build'], { encoding: 'utf8' });
    assert.ok(fresh(), `npm run build did not produce a fresh ${CLI} (status ${b.status}):\n${b.stdout}\n${b.stderr}`);
  }
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('bundled CLI: inspect --json --stats on every real fixture', () => {
  for (const [file, count] of Object.entries(REAL_TENSOR_COUNTS)) {
    const r = run(['inspect', join(REAL, file), '--json', '--stats']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no progress on a pipe');
    const report = JSON.parse(r.stdout) as { tensors: { name: string; stats: { histogram: { counts: number[] } } | null }[] };
    assert.equal(report.tensors.length, count, file);
    for (const t of report.tensors) assert.equal(t.stats?.histogram.counts.length, 64, t.name);
  }
});

test('bundled CLI: an invalid file exits 2 with one line on stderr and no stack trace', () => {
  const bad = join(tmp, 'bad.safetensors');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(10n);
  writeFileSync(bad, Buffer.concat([prefix, Buffer.from('not json!!')]));
  const r = run(['inspect', bad, '--json']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^mimicry: .*bad\.safetensors: header is not valid JSON.*\(rule: header-not-json\)\n$/);

  const missing = run(['inspect', join(tmp, 'missing.safetensors')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^mimicry: .*missing\.safetensors: no such file \(rule: file-not-found\)\n$/);

  const usage = run(['inspect', '--bogus']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^mimicry: [^\n]+\n$/);
});
