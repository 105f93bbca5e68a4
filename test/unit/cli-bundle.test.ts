// The CLI as users run it: the esbuild bundle dist/cli.js in a child process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspectHost } from '../../src/mimicry/worker/inspect/client';
import { REAL, REAL_TENSOR_COUNTS } from './helpers/real-fixtures';

const CLI = 'dist/cli.js';

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.ts')) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...env } });
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

test('bundled CLI: the code cache is written after a run, used by the next, replaced when corrupt, and can be turned off', () => {
  const dir = join(tmp, 'cache');
  const env = { MIMICRY_COMPILE_CACHE: dir };
  const file = join(REAL, 'capp-gpt2-4layer.safetensors');
  const args = ['inspect', file, '--json', '--stats'];
  const plain = run(args, { MIMICRY_COMPILE_CACHE: 'off' });
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(!existsSync(dir), '"off" writes no cache');

  const first = run(args, env);
  assert.equal(first.code, 0, first.stderr);
  const files = readdirSync(dir);
  assert.equal(files.length, 1, `one cache file: ${files.join(', ')}`);
  const cache = join(dir, files[0]);
  const written = readFileSync(cache);
  assert.ok(written.length > 100_000, `the cache holds compiled code (${written.length} bytes)`);
  assert.equal(statSync(dir).mode & 0o777, 0o700, "the folder is the user's alone");

  const second = run(args, env);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(readFileSync(cache), written, 'a cache V8 accepted is not written again');
  // The same report every way (its timing fields aside).
  const report = (out: string): unknown => JSON.parse(out.replace(/"(seconds|elapsed\w*)":[0-9.e+-]+/g, '"$1":0'));
  assert.deepEqual(report(first.stdout), report(plain.stdout));
  assert.deepEqual(report(second.stdout), report(plain.stdout));

  // Garbage where the cache was: V8 rejects it, the run is the same, and a good cache replaces it.
  writeFileSync(cache, Buffer.alloc(written.length, 0x5a));
  const corrupt = run(args, env);
  assert.equal(corrupt.code, 0, corrupt.stderr);
  assert.deepEqual(report(corrupt.stdout), report(plain.stdout));
  const anew = readFileSync(cache);
  assert.ok(
    anew.some((b) => b !== 0x5a),
    'the rejected cache was written anew',
  );
  assert.deepEqual(anew.subarray(0, 4), written.subarray(0, 4), "V8's code cache magic number");

  // A new build of the bundle: its cache replaces the old one's (one file per bundle, not one per build).
  const bundle = 'dist/cliMain.js';
  const stamp = statSync(bundle).mtime;
  utimesSync(bundle, stamp, new Date(stamp.getTime() + 1000));
  try {
    const rebuilt = run(args, env);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    const after = readdirSync(dir).filter((f) => !f.startsWith('.'));
    assert.equal(after.length, 1, `one cache file: ${after.join(', ')}`);
    assert.notEqual(after[0], files[0]);
  } finally {
    utimesSync(bundle, stamp, stamp);
  }

  // A folder others may write to is not used (compiled code would run as this user).
  if (process.getuid?.() !== undefined) {
    const open = join(tmp, 'open-cache');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const r = run(args, { MIMICRY_COMPILE_CACHE: open });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(open), []);
  }
});

test('bundled workers start through the code cache (dist/bundleLoader.js): the first writes it, the next loads it, "off" writes none', async () => {
  const dir = join(tmp, 'worker-cache');
  const fixture = join(REAL, 'capp-gpt2-4layer.safetensors');
  const before = process.env.MIMICRY_COMPILE_CACHE;
  const openOnce = async (): Promise<unknown> => {
    const host = inspectHost(resolve('dist/inspectWorker.js'), resolve(fixture));
    try {
      const opened = await host.open();
      // The loader writes the cache shortly after the first request.
      await until(() => !existsSync(dir) || readdirSync(dir).length > 0 || process.env.MIMICRY_COMPILE_CACHE === 'off');
      return opened;
    } finally {
      host.dispose();
    }
  };
  try {
    process.env.MIMICRY_COMPILE_CACHE = dir;
    const first = await openOnce();
    await until(() => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.v8cache')));
    const files = readdirSync(dir).filter((f) => f.endsWith('.v8cache'));
    assert.equal(files.length, 1, files.join(', '));
    const written = readFileSync(join(dir, files[0]));
    const second = await openOnce();
    assert.deepEqual(second, first, 'the same overview through the cache');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(readFileSync(join(dir, files[0])), written, 'a cache V8 accepted is not written again');
    process.env.MIMICRY_COMPILE_CACHE = 'off';
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(await openOnce(), first);
    assert.ok(!existsSync(dir), '"off": no cache folder');
  } finally {
    if (before === undefined) delete process.env.MIMICRY_COMPILE_CACHE;
    else process.env.MIMICRY_COMPILE_CACHE = before;
  }
});

/** Polls `ok` every 50 ms for up to 10 s. */
async function until(ok: () => boolean): Promise<void> {
  for (let t = 0; t < 200 && !ok(); t++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(ok(), 'timed out');
}
