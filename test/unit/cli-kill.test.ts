// Killing a real export (the bundled CLI in a child process) leaves nothing behind: SIGTERM and
// SIGINT stop it, its writers remove their temporary files and it exits 143 / 130; kill -9 cannot be
// caught, so the next run removes what the killed one left (output temp beside the output, template
// scratch in the temp folder) and says so on stderr. Each child gets a private TMPDIR.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTempName, processAlive, removeStaleTemps, tempName } from '../../src/mimicry/io/atomicFile';
import { removeStaleScratch, SCRATCH_NAME } from '../../src/mimicry/recast/store';
import { writeSafetensorsStreaming, type StreamingTensor } from '../../src/mimicry/safetensors/writer';
import { bundleCli } from './helpers/cli-bundle';

const TIMEOUT = 120_000;

let root = '';
let source = '';
let cli = '';

/**
 * A checkpoint big enough to stop mid-way: 12 blocks of two 256x1024 F32 roles (the fit, while
 * the scratch file exists) and a 128 MiB passthrough tensor (the digest and the write).
 */
async function writeSource(file: string): Promise<void> {
  const rows = 256,
    cols = 1024;
  let seed = 1;
  const random = (): Uint8Array => {
    const a = new Float32Array(rows * cols);
    for (let i = 0; i < a.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      a[i] = seed / 2 ** 32 - 0.5;
    }
    return new Uint8Array(a.buffer);
  };
  const entries: StreamingTensor[] = [];
  for (let b = 0; b < 12; b++) {
    for (const role of ['mlp.c_fc', 'attn.c_proj']) {
      entries.push({
        name: `transformer.h.${b}.${role}.weight`,
        dtype: 'F32',
        shape: [rows, cols],
        byteLength: 4 * rows * cols,
        bytes: () => Promise.resolve(random()),
      });
    }
  }
  const big = 32768 * 1024;
  entries.push({
    name: 'transformer.wte.weight',
    dtype: 'F32',
    shape: [32768, 1024],
    byteLength: 4 * big,
    bytes: () => Promise.resolve(new Uint8Array(4 * big).fill(7)),
  });
  await writeSafetensorsStreaming(file, entries);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'mimicry-kill-'));
  cli = await bundleCli(root);
  source = join(root, 'source.safetensors');
  await writeSource(source);
});
after(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  /** Whether the kill was sent (the awaited file appeared while the run was alive). */
  readonly killed: boolean;
}

/** Our temporary files of `pid` in `dir`. */
function tempsOf(dir: string, pid: number): string[] {
  return readdirSync(dir).filter((f) => parseTempName(f)?.pid === pid);
}

/**
 * Runs `reconstruct SOURCE --out OUT` with TMPDIR=`tmp`; with `kill`, sends `kill.signal` as soon as
 * the run's first temporary file appears in `kill.watch` (the scratch in tmp, or the output's temp).
 */
function reconstruct(out: string, tmp: string, kill?: { signal: NodeJS.Signals; watch: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'reconstruct', source, '--out', out], {
      env: { ...process.env, TMPDIR: tmp, TMP: tmp, TEMP: tmp },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const pid = child.pid ?? -1;
    let stderr = '';
    let killed = false;
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const poll = kill
      ? setInterval(() => {
          if (killed || tempsOf(kill.watch, pid).length === 0) return;
          killed = child.kill(kill.signal);
        }, 1)
      : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(poll);
      resolve({ pid, code, signal, stderr, killed });
    });
  });
}

function freshDirs(name: string): { out: string; tmp: string; file: string } {
  const out = join(root, name, 'out');
  const tmp = join(root, name, 'tmp');
  mkdirSync(out, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  return { out, tmp, file: join(out, 'model.recast.safetensors') };
}

for (const [signal, status] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const) {
  for (const point of ['fit', 'write'] as const) {
    test(`${signal} during the ${point}: status ${status}, no output, no temporary file anywhere`, { timeout: TIMEOUT }, async () => {
      const d = freshDirs(`${signal}-${point}`);
      const r = await reconstruct(d.file, d.tmp, { signal, watch: point === 'fit' ? d.tmp : d.out });
      assert.ok(r.killed, `the run ended before its temporary file was seen (status ${r.code}):\n${r.stderr}`);
      assert.ok(r.code === status || r.signal === signal, `status ${r.code}, signal ${r.signal}:\n${r.stderr}`);
      if (r.code === status) assert.match(r.stderr, signal === 'SIGINT' ? /^mimicry: cancelled$/m : /^mimicry: stopped by SIGTERM$/m);
      assert.deepEqual(readdirSync(d.out), [], 'no output and no temporary file in the output folder');
      assert.deepEqual(tempsOf(d.tmp, r.pid), [], 'no scratch of the stopped run in the temp folder');
    });
  }
}

for (const point of ['fit', 'write'] as const) {
  test(`kill -9 during the ${point}: no output; the next run removes the leftovers and says so`, { timeout: TIMEOUT }, async () => {
    const d = freshDirs(`SIGKILL-${point}`);
    const r = await reconstruct(d.file, d.tmp, { signal: 'SIGKILL', watch: point === 'fit' ? d.tmp : d.out });
    assert.ok(r.killed, `the run ended before its temporary file was seen (status ${r.code}):\n${r.stderr}`);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(!existsSync(d.file), 'no final output');
    const left = [...tempsOf(d.out, r.pid), ...tempsOf(d.tmp, r.pid)];
    assert.ok(left.length > 0, 'kill -9 leaves temporary files (the case this is about)');
    if (point === 'write') assert.ok(tempsOf(d.out, r.pid).length > 0, "the output's temporary file is beside it");

    // Someone else's files that only look alike are never touched.
    const decoys = [
      '.model.recast.safetensors.tmp',
      `model.recast.safetensors.${r.pid}.0123456789ab.tmp`,
      `.recast-templates.${r.pid}.xyz.tmp`,
    ];
    for (const f of decoys) writeFileSync(join(d.out, f), 'not ours');

    const next = await reconstruct(d.file, d.tmp);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, new RegExp(`^mimicry: removed ${left.length} stale temporary files? of stopped runs$`, 'm'));
    assert.deepEqual(tempsOf(d.out, r.pid), []);
    assert.deepEqual(tempsOf(d.tmp, r.pid), []);
    assert.deepEqual(readdirSync(d.out).sort(), [...decoys, 'model.recast.safetensors'].sort(), 'the output and the decoys, nothing else');
    assert.deepEqual(tempsOf(d.tmp, next.pid), [], "the next run's own scratch is gone too");
    assert.deepEqual(readdirSync(d.tmp), []);
  });
}

/** The id of a process that has ended (a child that exited at once). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  assert.ok(Number.isSafeInteger(pid) && pid > 0 && !processAlive(pid));
  return pid;
}

test('removeStaleTemps removes only our temporary files of processes that are gone', async () => {
  const dir = mkdtempSync(join(root, 'stale-'));
  const dead = deadPid();
  const own = tempName('model.safetensors');
  assert.equal(parseTempName(own)?.pid, process.pid);
  assert.equal(parseTempName(own)?.name, 'model.safetensors');
  const stale = [`.model.safetensors.${dead}.0123456789ab.tmp`, `.${SCRATCH_NAME}.${dead}.ba9876543210.tmp`];
  const kept = [
    own, // alive: this process
    `.model.safetensors.${process.ppid}.0123456789ab.tmp`, // alive
    `model.safetensors.${dead}.0123456789ab.tmp`, // no leading dot
    `.model.safetensors.${dead}.0123456789AB.tmp`, // not our hex
    `.model.safetensors.${dead}.0123456789ab.tmp.bak`,
    `.model.safetensors.${dead}.tmp`,
    `.model.safetensors.0${dead}.0123456789ab.tmp`,
    'model.safetensors',
  ];
  for (const f of [...stale, ...kept]) writeFileSync(join(dir, f), 'x');
  mkdirSync(join(dir, `.folder.${dead}.0123456789ab.tmp`)); // a folder, not a file
  symlinkSync(join(dir, 'model.safetensors'), join(dir, `.link.${dead}.0123456789ab.tmp`)); // a link, not a file
  assert.deepEqual((await removeStaleTemps(dir)).sort(), stale.map((f) => join(dir, f)).sort());
  assert.deepEqual(readdirSync(dir).sort(), [...kept, `.folder.${dead}.0123456789ab.tmp`, `.link.${dead}.0123456789ab.tmp`].sort());
  // The scratch cleanup takes the scratch name only.
  writeFileSync(join(dir, stale[0]), 'x');
  writeFileSync(join(dir, stale[1]), 'x');
  assert.deepEqual(await removeStaleScratch([dir]), [join(dir, stale[1])]);
  assert.ok(existsSync(join(dir, stale[0])));
  assert.deepEqual(await removeStaleTemps(join(dir, 'missing')), [], 'a missing folder is nothing to clean');
});
