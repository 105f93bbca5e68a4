// The reconstruction dashboards in the real extension host: commands registered, the configuration
// view for a checkpoint, and the results view of a reparameterized file read back from its metrics.
// The views and chart counts checked here are what the webview says about itself (its 'rendered'
// message, through the extension's API): these tests check the message path, not the drawing.
// That the charts are drawn (a canvas or svg of real size with a picture in it) is checked in a
// real browser by test/e2e/dashboard.spec.mjs.
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { DashboardReport } from '../../../src/extension/api';
import { openCheckpoint } from '../../../src/mimicry/safetensors/reader';
import { exportRecast } from '../../../src/mimicry/recast/export';
import { writeSafetensors } from '../../../src/mimicry/safetensors/writer';
import { encodeF32 } from '../../../src/mimicry/safetensors/dtypes';
import { mkdir, writeFile } from 'node:fs/promises';
import { api, closeAllEditors, firstReport, workspaceFile } from './helpers';

const COMMANDS = [
  'mimicry.reconstruct',
  'mimicry.openDashboard',
  'mimicry.exportReparameterized',
  'mimicry.compareRuns',
  'mimicry.cancelReconstruction',
];
const TIMEOUT_MS = 60_000;

/**
 * Runs `open` and resolves with the first dashboard report about `file` in `mode`: the webview's
 * 'rendered' message ({mode, charts}) as the extension host received it.
 */
async function waitForDashboard(
  file: string,
  mode: DashboardReport['mode'],
  open: () => Thenable<unknown>,
  also: (r: DashboardReport) => boolean = () => true,
): Promise<DashboardReport> {
  const mimicry = await api();
  return firstReport(
    mimicry.onDidReportDashboard,
    (r) => r.mode === mode && path.resolve(r.path) === path.resolve(file) && also(r),
    open,
    `no ${mode} dashboard for ${file}`,
    TIMEOUT_MS,
  );
}

suite('reconstruction dashboards', () => {
  let dir: string;
  suiteSetup(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mimicry-dashboard-'));
  });
  suiteTeardown(async () => {
    await closeAllEditors();
    await rm(dir, { recursive: true, force: true });
  });

  test('every dashboard command is registered', async () => {
    await api();
    const all = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(
      COMMANDS.filter((c) => !all.has(c)),
      [],
    );
  });

  test(
    'mimicry.reconstruct with a checkpoint (as from the explorer): ' + 'the configuration view reports 0 charts over the message path',
    async () => {
      const uri = workspaceFile('real/capp-gpt2-4layer.safetensors');
      const r = await waitForDashboard(uri.fsPath, 'configure', () => vscode.commands.executeCommand('mimicry.reconstruct', uri));
      assert.equal(r.charts, 0);
    },
  );

  test('mimicry.reconstruct on a LoRA adapter: the form says its layer updates are fitted; with mimicry.adapters.useFactors, its factors', async () => {
    // A PEFT adapter folder: 2 blocks of q_proj factors (r = 2) and adapter_config.json beside them.
    const adapter = async (name: string): Promise<string> => {
      const folder = path.join(dir, name);
      await mkdir(folder, { recursive: true });
      const values = (n: number, seed: number) => encodeF32(Array.from({ length: n }, (_, i) => Math.sin(seed * 31 + i)));
      const tensors = [0, 1].flatMap((i) => [
        {
          name: `base_model.model.model.layers.${i}.self_attn.q_proj.lora_A.weight`,
          dtype: 'F32' as const,
          shape: [2, 8],
          data: values(16, i),
        },
        {
          name: `base_model.model.model.layers.${i}.self_attn.q_proj.lora_B.weight`,
          dtype: 'F32' as const,
          shape: [6, 2],
          data: values(12, i + 5),
        },
      ]);
      const file = path.join(folder, 'adapter_model.safetensors');
      await writeSafetensors(file, tensors);
      await writeFile(path.join(folder, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4 }));
      return file;
    };
    const updates = await adapter('lora-updates');
    const r = await waitForDashboard(updates, 'configure', () =>
      vscode.commands.executeCommand('mimicry.reconstruct', vscode.Uri.file(updates)),
    );
    assert.equal(
      r.note,
      'LoRA adapter: its 2 layer updates scale * (lora_B @ lora_A), transposed for fan_in_fan_out are reconstructed, not its factors',
    );

    const config = vscode.workspace.getConfiguration('mimicry.adapters');
    await config.update('useFactors', true, vscode.ConfigurationTarget.Global);
    try {
      const factors = await adapter('lora-factors');
      const f = await waitForDashboard(factors, 'configure', () =>
        vscode.commands.executeCommand('mimicry.reconstruct', vscode.Uri.file(factors)),
      );
      assert.match(f.note ?? '', /^LoRA adapter: its stored factors are fitted as separate tensors/);
    } finally {
      await config.update('useFactors', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test(
    'mimicry.openDashboard on a reparameterized file: ' +
      'the results view from its stored metrics reports 14 charts over the message path',
    async () => {
      const source = await openCheckpoint(workspaceFile('real/capp-gpt2-4layer.safetensors').fsPath);
      const out = path.join(dir, 'capp.recast.safetensors');
      try {
        await exportRecast(source, { preset: 'paper' }, { out });
      } finally {
        await source.close();
      }
      // The file stores no spectra (the CLI's export): the results show at once, the spectra follow.
      const complete = waitForDashboard(
        out,
        'results',
        () => Promise.resolve(),
        (x) => x.pendingSpectra === 0,
      );
      const r = await waitForDashboard(out, 'results', () => vscode.commands.executeCommand('mimicry.openDashboard', vscode.Uri.file(out)));
      // fidelity, relative error, diversity, entropy, the energy shares the file stores (closed form),
      // spectra + one heat map per bank (8), as the webview counts them in its 'rendered' message
      // (drawn ones: test/e2e/dashboard.spec.mjs)
      assert.equal(r.charts, 14);
      assert.ok((r.pendingSpectra ?? 0) > 0, 'the first picture comes before the spectra');
      assert.equal((await complete).charts, 14);
    },
  );

  test("a run from the dashboard: the results card shows the whole run's time with its phases; its export opens from what it stores", async () => {
    const uri = workspaceFile('real/capp-gpt2-4layer.safetensors');
    const out = path.join(dir, 'from-run.recast.safetensors');
    let written: string | undefined;
    const r = await waitForDashboard(uri.fsPath, 'results', async () => {
      written = await vscode.commands.executeCommand<string | undefined>('mimicry.exportReparameterized', uri, {
        out,
        options: { preset: 'paper' },
      });
    });
    // The card: the whole run's time, its phases on the line under it.
    const time = r.cards?.time ?? '';
    const phases = r.cardHints?.time ?? '';
    assert.match(time, /^\d[\d.]* s$|^\d+ min \d+ s$/);
    assert.match(
      phases,
      /^fit [\d.]+ s, fidelity [\d.]+ s, diversity [\d.]+ s, entropy [\d.]+ s, spectra [\d.]+ s, digest [\d.]+ s; closed form$/,
    );
    // The whole is at least the sum of its phases (each rounded to 0.1 s or 0.01 s).
    const parts = [...phases.matchAll(/[a-z]+ ([\d.]+) s/g)].map((m) => Number(m[1]));
    const total = Number(/^([\d.]+) s$/.exec(time)?.[1] ?? Number.NaN);
    if (Number.isFinite(total)) assert.ok(total + 0.1 * parts.length >= parts.reduce((a, b) => a + b, 0), `${time}: ${phases}`);
    for (let i = 0; i < 600 && written === undefined; i++) await new Promise((res) => setTimeout(res, 100));
    assert.equal(written, out);
    await closeAllEditors();
    // Its dashboard: everything from the file's metadata, spectra included (none pending), the same time card.
    const back = await waitForDashboard(out, 'results', () =>
      vscode.commands.executeCommand('mimicry.openDashboard', vscode.Uri.file(out)),
    );
    assert.equal(back.pendingSpectra, 0);
    assert.equal(back.cards?.time, time);
    assert.equal(back.cardHints?.time, phases);
    await closeAllEditors();
  });

  test("an export of a BF16 checkpoint: BF16 templates, and the Size on disk card gives its size next to the source's", async () => {
    // The bundled GPT-2 as BF16 (each F32 value rounded to nearest even), written into the temp folder.
    const gpt2 = await openCheckpoint(workspaceFile('real/capp-gpt2-4layer.safetensors').fsPath);
    const src = path.join(dir, 'gpt2-bf16.safetensors');
    try {
      const tensors = [];
      for (const t of gpt2.tensors) {
        const v = Float32Array.from(await gpt2.readValues(t));
        const u = new Uint32Array(v.buffer);
        const bits = new Uint16Array(v.length).map((_, i) => (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16);
        tensors.push({ name: t.name, dtype: 'BF16' as const, shape: [...t.shape], data: new Uint8Array(bits.buffer) });
      }
      await writeSafetensors(src, tensors);
    } finally {
      await gpt2.close();
    }
    const out = path.join(dir, 'gpt2-bf16.recast.safetensors');
    let written: string | undefined;
    // The report after the export: the card holds the written file's size.
    const r = await waitForDashboard(
      src,
      'results',
      async () => {
        written = await vscode.commands.executeCommand<string | undefined>('mimicry.exportReparameterized', vscode.Uri.file(src), {
          out,
          options: { preset: '4x' },
        });
      },
      (x) => /of source/.test(x.cards?.['size-on-disk'] ?? ''),
    );
    for (let i = 0; i < 600 && written === undefined; i++) await new Promise((res) => setTimeout(res, 100));
    assert.equal(written, out);
    const [source, model] = [(await stat(src)).size, (await stat(out)).size];
    assert.ok(model < source / 2, `${model} bytes against ${source}`);
    const ratio = (model / source).toFixed(2);
    assert.match(r.cards?.['size-on-disk'] ?? '', new RegExp(`^[\\d.]+ (KiB|MiB) \\(${ratio}× of source\\)$`));
    assert.match(
      r.cardHints?.['size-on-disk'] ?? '',
      new RegExp(`^gpt2-bf16\\.recast\\.safetensors [\\d.]+ (KiB|MiB) \\(${ratio}x of source [\\d.]+ (KiB|MiB)\\)$`),
    );
    assert.equal(r.cards?.['template-dtype'], 'BF16');
    assert.match(r.cardHints?.['template-dtype'] ?? '', /^metrics are of the stored templates; F32 templates: mean cosine 0\.\d+/);
    const ck = await openCheckpoint(out);
    try {
      const templates = ck.tensors.filter((t) => t.name.startsWith('recast.templates.'));
      assert.ok(templates.length > 0);
      for (const t of templates) assert.equal(t.dtype, 'BF16', t.name);
    } finally {
      await ck.close();
    }
    await closeAllEditors();
    // The setting mimicry.reconstruct.templateDtype = F32 (no options given: the settings' defaults) stores them exactly.
    const config = vscode.workspace.getConfiguration('mimicry.reconstruct');
    await config.update('templateDtype', 'F32', vscode.ConfigurationTarget.Global);
    const exact = path.join(dir, 'gpt2-bf16-f32.recast.safetensors');
    try {
      assert.equal(
        await vscode.commands.executeCommand<string | undefined>('mimicry.exportReparameterized', vscode.Uri.file(src), { out: exact }),
        exact,
      );
    } finally {
      await config.update('templateDtype', undefined, vscode.ConfigurationTarget.Global);
    }
    const f32 = await openCheckpoint(exact);
    try {
      assert.deepEqual([...new Set(f32.tensors.filter((t) => t.name.startsWith('recast.templates.')).map((t) => t.dtype))], ['F32']);
    } finally {
      await f32.close();
    }
    await closeAllEditors();
  });

  test('mimicry.exportReparameterized with given options writes a valid reparameterized file', async () => {
    const uri = workspaceFile('real/capp-gpt2-4layer.safetensors');
    const out = path.join(dir, 'from-command-4x.recast.safetensors');
    const written = await vscode.commands.executeCommand<string | undefined>('mimicry.exportReparameterized', uri, {
      out,
      options: { preset: '4x' },
    });
    assert.equal(written, out);
    const ck = await openCheckpoint(out);
    try {
      assert.equal(ck.metadata['format'], 'recast');
      assert.equal(ck.metadata['recast.version'], '1');
      const method = JSON.parse(ck.metadata['recast.method']) as { method: string; grouping: { preset: string } };
      assert.equal(method.method, 'spectral');
      assert.equal(method.grouping.preset, '4x');
      const banks = JSON.parse(ck.metadata['recast.banks']) as Record<string, { members: string[] }>;
      const members = Object.values(banks).flatMap((b) => b.members);
      assert.equal(members.length, 16); // 4 roles x 4 blocks of the GPT-2 fixture
      for (const m of members) assert.ok(ck.tensor(`recast.coefficients.${m}`), `coefficients of ${m}`);
    } finally {
      await ck.close();
    }
    await closeAllEditors();
  });

  test('cancelling a reconstruction started by the export command writes nothing', async () => {
    const uri = workspaceFile('real/capp-gpt2-4layer.safetensors');
    const out = path.join(dir, 'cancelled.recast.safetensors');
    const before = await readdir(dir);
    const pending = vscode.commands.executeCommand<string | undefined>('mimicry.exportReparameterized', uri, {
      out,
      options: { method: 'paper', steps: 100_000, backend: 'wasm' },
    });
    // Cancel as soon as the job is running (the command answers how many runs it cancelled).
    let cancelled = 0;
    for (let i = 0; i < 300 && cancelled === 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      cancelled = (await vscode.commands.executeCommand<number>('mimicry.cancelReconstruction')) ?? 0;
    }
    assert.equal(cancelled, 1, 'the run was seen and cancelled');
    assert.equal(await pending, undefined);
    assert.equal(existsSync(out), false);
    assert.deepEqual(await readdir(dir), before, 'no partial or temporary file left');
    await closeAllEditors();
  });
});
