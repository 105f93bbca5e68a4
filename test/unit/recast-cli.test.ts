import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { CliError, type CliIO } from '../../src/cli/io';
import { registerReconstruct } from '../../src/cli/reconstruct';
import { registerMetrics } from '../../src/cli/metrics';
import { registerRebuild } from '../../src/cli/rebuild';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import { rng } from './helpers/rng';

const GPT2 = 'test/fixtures/real/capp-gpt2-4layer.safetensors';

/** Runs the three commands as src/cli/main.ts's runCli does (same status rules), capturing output. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '',
    err = '';
  const io: CliIO = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
  const program = new Command('mimicry').exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  registerReconstruct(program, io);
  registerMetrics(program, io);
  registerRebuild(program, io);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out, err };
  } catch (e) {
    if (e instanceof CommanderError) return { code: e.exitCode === 0 ? 0 : 2, out, err };
    if (e instanceof CliError) return { code: e.exitCode, out, err: err + e.message };
    throw e;
  }
}

test('reconstruct writes the export, dense and report; table at the end; rebuild and metrics read it back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recast-cli-'));
  try {
    const out = join(dir, 'r.safetensors'),
      dense = join(dir, 'd.safetensors'),
      report = join(dir, 'rep.json');
    const r = await cli([
      'reconstruct',
      GPT2,
      '--out',
      out,
      '--dense',
      dense,
      '--report',
      report,
      '--modules',
      'mlp.c_fc,attn.c_proj',
      '--blocks-per-group',
      '4',
      '--templates',
      '2',
      '--probes',
      '2',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /reconstructed 8 layers in 2 banks: spectral \(per-layer objective\), K = 2/);
    assert.match(r.out, /random N\(0, I\) probes/);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[lines.length - 9], /^layer\s+bank\s+n\s+cosine\s+rel\. error\s+probe cosine$/);
    assert.match(lines[lines.length - 1], /^transformer\.h\.3\.mlp\.c_fc\.weight\s+mlp\.c_fc\.g0\s+2\s+0\.\d{5}/);
    assert.ok(existsSync(out) && existsSync(dense) && existsSync(report));

    const rebuilt = join(dir, 'rb.safetensors');
    const rb = await cli(['rebuild', out, '--out', rebuilt]);
    assert.equal(rb.code, 0, rb.err);
    assert.match(rb.out, /8 tensors rebuilt from templates, 44 copied/);
    assert.ok(readFileSync(rebuilt).equals(readFileSync(dense)));

    const m = await cli(['metrics', out, '--source', GPT2, '--json']);
    assert.equal(m.code, 0, m.err);
    const doc = JSON.parse(m.out) as {
      metrics: { layers: { name: string; cosine: number }[] };
      recomputed: { name: string; cosine: number }[];
    };
    for (const l of doc.metrics.layers) {
      const again = doc.recomputed.find((x) => x.name === l.name);
      assert.ok(again && Math.abs(again.cosine - l.cosine) < 1e-12);
    }
    const mt = await cli(['metrics', out]);
    assert.match(mt.out, /^bank\s+members\s+n\s+diversity\s+relative\s+entropy\s+normalized/);

    // Over --entropy-max-side: estimated, stored in the file as such, and marked ~ and ± in the table;
    // --no-entropy-estimate: null with the reason.
    const est = join(dir, 'est.safetensors');
    const e = await cli(['reconstruct', GPT2, '--out', est, '--modules', 'attn.c_proj', '--entropy-max-side', '32']);
    assert.equal(e.code, 0, e.err);
    const em = await cli(['metrics', est, '--json']);
    const banks = (
      JSON.parse(em.out) as { metrics: { banks: { entropy: number; entropyEstimated?: { probes: number; error: number } }[] } }
    ).metrics.banks;
    assert.ok(banks.length > 0 && banks.every((b) => b.entropyEstimated?.probes === 4 && b.entropyEstimated.error > 0));
    assert.match((await cli(['metrics', est])).out, /\n\S*attn\.c_proj\S*\s+\d+\s+\d+\s+\S+\s+\S+\s+~\d\.\d+ ±\d/);
    const none = join(dir, 'none.safetensors');
    const n = await cli([
      'reconstruct',
      GPT2,
      '--out',
      none,
      '--modules',
      'attn.c_proj',
      '--entropy-max-side',
      '32',
      '--no-entropy-estimate',
    ]);
    assert.equal(n.code, 0, n.err);
    const nb = (
      JSON.parse((await cli(['metrics', none, '--json'])).out) as { metrics: { banks: { entropy: null; entropySkipped: string }[] } }
    ).metrics.banks;
    assert.ok(nb.every((b) => b.entropy === null && /64 > 32/.test(b.entropySkipped)));

    const j = await cli(['reconstruct', GPT2, '--out', join(dir, 'j.safetensors'), '--json', '--preset', 'exact']);
    assert.equal(j.code, 0, j.err);
    const rep = JSON.parse(j.out) as { method: { method: string; n: string }; metrics: { summary: { minCosine: number } } };
    assert.equal(rep.method.n, 'exact');
    assert.ok(rep.metrics.summary.minCosine > 0.99999);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad options exit 2 with a clear message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recast-cli-'));
  try {
    const out = join(dir, 'x.safetensors');
    const cases: [string[], RegExp][] = [
      [['reconstruct', GPT2], /--out/],
      [['reconstruct', GPT2, '--out', out, '--templates', 'zero'], /positive integer/],
      [['reconstruct', GPT2, '--out', out, '--method', 'magic'], /spectral/],
      [['reconstruct', GPT2, '--out', out, '--backend', 'gpu'], /wasm/],
      [['reconstruct', GPT2, '--out', out, '--lr', '-1'], /number > 0/],
      [['reconstruct', GPT2, '--out', out, '--modules', 'mlp.fc1'], /mlp\.fc1.*roles in this checkpoint: .*mlp\.c_fc/],
      [['reconstruct', GPT2, '--out', out, '--loss', 'smoothl1'], /spectral method minimises squared error/],
      [['reconstruct', GPT2, '--out', GPT2], /overwrite the source/],
      [['reconstruct', 'test/fixtures/real/tinygrad-mnist-cnn.safetensors', '--out', out], /nothing to reconstruct/],
      [['reconstruct', join(dir, 'missing.safetensors'), '--out', out], /no such file/],
      [['rebuild', GPT2, '--out', out], /not a recast file/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, message, args.join(' '));
    }
    assert.equal(existsSync(out), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('output folders that do not exist yet are created (as `npm start` needs on a fresh clone)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recast-cli-'));
  try {
    const out = join(dir, 'new', 'deeper', 'r.safetensors'),
      report = join(dir, 'reports', 'rep.json');
    const r = await cli(['reconstruct', GPT2, '--out', out, '--report', report]);
    assert.equal(r.code, 0, r.err);
    assert.ok(existsSync(out) && existsSync(report));
    const dense = join(dir, 'rebuilt', 'd.safetensors');
    const b = await cli(['rebuild', out, '--out', dense]);
    assert.equal(b.code, 0, b.err);
    assert.ok(existsSync(dense));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an output folder that cannot be created is one clear line, exit 2', async () => {
  // A file where a folder should be.
  const r = await cli(['reconstruct', GPT2, '--out', join(GPT2, 'r.safetensors')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /cannot create the output folder/);
});

test('a group over the memory limit is refused before anything is read: the file, the bank, the estimate, what to change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recast-cli-'));
  try {
    // Four blocks of one 512 x 512 F32 matrix (1 MiB each): groups of 2, n = 2.
    const src = join(dir, 'mlp.safetensors');
    const random = rng(3);
    const block = () => new Uint8Array(Float32Array.from({ length: 512 * 512 }, () => random() - 0.5).buffer);
    await writeSafetensors(
      src,
      [0, 1, 2, 3].map((b) => ({ name: `h.${b}.mlp.weight`, dtype: 'F32' as const, shape: [512, 512], data: block() })),
    );
    const out = join(dir, 'x.safetensors');
    const r = await cli(['reconstruct', src, '--out', out, '--memory-limit-mb', '1']);
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.err,
      /mlp\.safetensors: a group needs more memory than the limit allows \(bank .* needs about 4\.00 MiB, the limit is 1\.00 MiB: use fewer templates.*--memory-limit-mb\) \(rule: group-too-large\)$/,
    );
    assert.deepEqual(readdirSync(dir), ['mlp.safetensors']);
    // Held whole, a group needs members + templates (4 MiB), and with probes the rebuilt one (5 MiB);
    // streamed, one member at a time (3 MiB).
    const held = await cli(['reconstruct', src, '--out', out, '--memory-limit-mb', '3']);
    assert.equal(held.code, 2, held.err);
    const probed = await cli(['reconstruct', src, '--out', out, '--probes', '2', '--memory-limit-mb', '4']);
    assert.equal(probed.code, 2, probed.err);
    assert.match(probed.err, /needs about 5\.00 MiB/);
    assert.deepEqual(readdirSync(dir), ['mlp.safetensors']);
    const streamed = await cli(['reconstruct', src, '--out', out, '--group-memory-mb', '1', '--memory-limit-mb', '3']);
    assert.equal(streamed.code, 0, streamed.err);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--block-index outer groups a block slot across stages, and the file records it (absent: inner)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recast-cli-'));
  try {
    // Swin-style: 2 stages of 2 blocks; inner (default) groups the blocks of a stage, outer one block slot across stages.
    const src = join(dir, 'swin.safetensors');
    const random = rng(5);
    const tensor = (s: number, b: number) => ({
      name: `stages.${s}.blocks.${b}.mlp.fc1.weight`,
      dtype: 'F32' as const,
      shape: [8, 16],
      data: new Uint8Array(Float32Array.from({ length: 128 }, () => random() - 0.5).buffer),
    });
    await writeSafetensors(src, [tensor(0, 0), tensor(0, 1), tensor(1, 0), tensor(1, 1)]);
    const membersOf = async (file: string) => {
      const m = await cli(['metrics', file, '--json']);
      assert.equal(m.code, 0, m.err);
      return (JSON.parse(m.out) as { metrics: { banks: { members: string[] }[] } }).metrics.banks.map((b) => b.members.join(' '));
    };
    const methodOf = async (file: string) => {
      const { openCheckpoint } = await import('../../src/mimicry/safetensors/reader');
      const ck = await openCheckpoint(file);
      try {
        return JSON.parse(ck.metadata['recast.method']) as { grouping: { blockIndex?: string } };
      } finally {
        await ck.close();
      }
    };
    const inner = join(dir, 'inner.safetensors');
    assert.equal((await cli(['reconstruct', src, '--out', inner, '--blocks-per-group', '2'])).code, 0);
    const outer = join(dir, 'outer.safetensors');
    const r = await cli(['reconstruct', src, '--out', outer, '--blocks-per-group', '2', '--block-index', 'outer']);
    assert.equal(r.code, 0, r.err);
    assert.notDeepEqual(await membersOf(inner), await membersOf(outer));
    assert.ok(
      (await membersOf(outer)).every((m) => /stages\.0\.blocks\.(\d)\..* stages\.1\.blocks\.\1\./.test(m)),
      'one slot across stages',
    );
    assert.equal((await methodOf(inner)).grouping.blockIndex, undefined);
    assert.equal((await methodOf(outer)).grouping.blockIndex, 'outer');
    const bad = await cli(['reconstruct', src, '--out', join(dir, 'x.safetensors'), '--block-index', 'middle']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--block-index.*middle|middle.*choices/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
