// Ctrl-C stops `mimicry family --out` (the bundled CLI in a child process) while it writes the task
// bank: status 130, "cancelled", and neither the bank nor its temporary file is left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTempName } from '../../src/mimicry/io/atomicFile';
import { bundleCli } from './helpers/cli-bundle';

const FAMILY = 'test/fixtures/real/gpt2-lora-family';
const REAL = ['math', 'medical', 'shakespeare-cattn/checkpoint-1000', 'shakespeare-cattn/checkpoint-7500'].map((m) => join(FAMILY, m));

let root = '';
let cli = '';
before(async () => {
  root = mkdtempSync(join(tmpdir(), 'mimicry-family-kill-'));
  cli = await bundleCli(root);
});
after(() => rmSync(root, { recursive: true, force: true }));

test('SIGINT while the task bank is written: status 130, "cancelled", no bank and no temporary file', { timeout: 120_000 }, async () => {
  const out = join(root, 'out');
  mkdirSync(out);
  const r = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; killed: boolean }>(
    (resolve, reject) => {
      // n = 48 templates: a 340 MB bank, written long enough to be stopped.
      const child = spawn(process.execPath, [cli, 'family', ...REAL, '--templates', '48', '--out', join(out, 'bank.safetensors')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      let killed = false;
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const poll = setInterval(() => {
        if (killed || !readdirSync(out).some((f) => parseTempName(f)?.pid === child.pid)) return;
        killed = child.kill('SIGINT');
      }, 1);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearInterval(poll);
        resolve({ code, signal, stderr, killed });
      });
    },
  );
  assert.ok(r.killed, `the run ended before its temporary file was seen (status ${r.code}):\n${r.stderr}`);
  assert.ok(r.code === 130 || r.signal === 'SIGINT', `status ${r.code}, signal ${r.signal}:\n${r.stderr}`);
  if (r.code === 130) assert.match(r.stderr, /^mimicry: cancelled$/m);
  assert.deepEqual(readdirSync(out), []);
});
