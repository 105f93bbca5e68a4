// The Family dashboard in the real extension host: "Compare as Task Family" on the bundled GPT-2
// LoRA family (as from an explorer multi-selection) opens the dashboard, the worker compares the
// members, and the webview reports what it drew (members, charts, the summary line) over the
// message path; the numbers it shows are the engine's (the same report computed here); a refused
// member is shown naming its file and rule; the task bank is written through the dashboard.
// That the charts are drawn is checked in a real browser by test/e2e/family.spec.mjs.
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { FamilyDashboardReport } from '../../../src/extension/api';
import { analyzeFamily } from '../../../src/mimicry/family/analyze';
import { loadFamily } from '../../../src/mimicry/family/members';
import { writeSafetensors } from '../../../src/mimicry/safetensors/writer';
import { encodeF32 } from '../../../src/mimicry/safetensors/dtypes';
import { api, closeAllEditors, firstReport, workspaceFile, WORKSPACE_FILES } from './helpers';

const TIMEOUT_MS = 90_000;

/** Runs `open` and resolves with the first Family dashboard report in `view` for exactly these members. */
async function waitForFamily(
  paths: readonly string[],
  view: FamilyDashboardReport['view'],
  open: () => Thenable<unknown>,
): Promise<FamilyDashboardReport> {
  const mimicry = await api();
  const want = paths.map((p) => path.resolve(p)).join('\n');
  return firstReport(
    mimicry.onDidReportFamily,
    (r) => r.view === view && r.paths.map((p) => path.resolve(p)).join('\n') === want,
    open,
    `no ${view} Family dashboard for ${paths.length} members`,
    TIMEOUT_MS,
  );
}

suite('family dashboard', () => {
  let dir: string;
  suiteSetup(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mimicry-family-'));
  });
  suiteTeardown(async () => {
    await closeAllEditors();
    await rm(dir, { recursive: true, force: true });
  });

  test('the family commands are registered', async () => {
    await api();
    const all = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(
      ['mimicry.compareFamily', 'mimicry.addToFamily', 'mimicry.cancelFamilyComparison'].filter((c) => !all.has(c)),
      [],
    );
  });

  test('Compare as Task Family on the GPT-2 family: the dashboard shows the engine report (4 members, 12 shared layers, 5 charts) and exports its task bank', async () => {
    const uris = WORKSPACE_FILES.family.map((rel) => workspaceFile(rel));
    const paths = uris.map((u) => u.fsPath);
    // As the explorer calls it: the clicked item, then the whole selection.
    const r = await waitForFamily(paths, 'report', () => vscode.commands.executeCommand('mimicry.compareFamily', uris[0], uris));
    assert.equal(r.members, 4);
    assert.equal(r.charts, 5);
    assert.equal(r.base, null);
    // The summary's numbers are the engine's: the same report computed here.
    const family = await loadFamily(paths);
    let coefficients: number;
    let params: number;
    try {
      const report = await analyzeFamily(family);
      assert.equal(report.layers.length, WORKSPACE_FILES.familySharedLayers);
      assert.equal(report.banks.length, WORKSPACE_FILES.familyBanks);
      coefficients = report.members.reduce((a, m) => a + m.coefficients, 0);
      params = report.members.reduce((a, m) => a + m.params, 0);
    } finally {
      await family.close();
    }
    assert.equal(coefficients, 4 * 12 * 4);
    assert.equal(params, 2 * 811_008 + 2 * 294_912);
    assert.equal(
      r.summary,
      "4 members, 12 shared layers in 1 bank; 192 coefficients over the shared templates for 2.2M parameters of the members' files",
    );

    const mimicry = await api();
    const out = path.join(dir, 'gpt2.taskbank.safetensors');
    assert.equal(await mimicry.exportTaskBank(out), out);
    assert.ok((await stat(out)).size > 0);
    // Never over a member: refused, nothing written there.
    const member = path.join(paths[0], 'adapter_model.safetensors');
    const before = (await stat(member)).size;
    assert.equal(await mimicry.exportTaskBank(member), undefined);
    assert.equal((await stat(member)).size, before);
    assert.deepEqual(await readdir(dir), ['gpt2.taskbank.safetensors']);
  });

  test('Add to Family: a member joins the Family dashboard in front, which compares the three', async () => {
    const [math, medical, run] = WORKSPACE_FILES.family.map((rel) => workspaceFile(rel));
    const two = [math.fsPath, medical.fsPath];
    const r2 = await waitForFamily(two, 'report', () =>
      vscode.commands.executeCommand('mimicry.compareFamily', undefined, [math, medical]),
    );
    assert.equal(r2.members, 2);
    const r3 = await waitForFamily([...two, run.fsPath], 'report', () => vscode.commands.executeCommand('mimicry.addToFamily', run));
    assert.equal(r3.members, 3);
    assert.equal(r3.charts, 5);
    // math and medical share 36 layers; the run has the 12 c_attn layers only.
    assert.match(r2.summary ?? '', /^2 members, 36 shared layers in 3 banks; /);
    assert.match(r3.summary ?? '', /^3 members, 12 shared layers in 1 bank; /);
  });

  test('with a base: the dashboard adds the full-weights chart (base templates frozen vs fitted), and the numbers are the engine report', async () => {
    const folder = path.join(dir, 'with-base');
    const values = (n: number, seed: number, scale = 1) =>
      encodeF32(Array.from({ length: n }, (_, i) => scale * Math.sin(0.91 * seed * (i + 1) + 0.13 * i * i)));
    const base = path.join(folder, 'gpt2.safetensors');
    await mkdir(folder, { recursive: true });
    await writeSafetensors(
      base,
      [0, 1, 2].map((i) => ({ name: `h.${i}.attn.c_attn.weight`, dtype: 'F32' as const, shape: [8, 6], data: values(48, 50 + i) })),
    );
    const members: string[] = [];
    for (const m of [0, 1]) {
      const adapter = path.join(folder, `task${m}`);
      await mkdir(adapter, { recursive: true });
      await writeSafetensors(
        path.join(adapter, 'adapter_model.safetensors'),
        [0, 1, 2].flatMap((i) => [
          {
            name: `base_model.model.transformer.h.${i}.attn.c_attn.lora_A.weight`,
            dtype: 'F32' as const,
            shape: [2, 8],
            data: values(16, 10 * m + i, 0.2),
          },
          {
            name: `base_model.model.transformer.h.${i}.attn.c_attn.lora_B.weight`,
            dtype: 'F32' as const,
            shape: [6, 2],
            data: values(12, 10 * m + i + 5, 0.2),
          },
        ]),
      );
      await writeFile(
        path.join(adapter, 'adapter_config.json'),
        JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, fan_in_fan_out: true }),
      );
      members.push(adapter);
    }
    const r = await waitForFamily(members, 'report', () =>
      vscode.commands.executeCommand(
        'mimicry.compareFamily',
        undefined,
        members.map((p) => vscode.Uri.file(p)),
        { base },
      ),
    );
    assert.equal(r.base, base);
    assert.equal(r.charts, 6);
    const family = await loadFamily(members, { base });
    try {
      const report = await analyzeFamily(family);
      const w = report.banks[0].weights;
      assert.ok(w, 'the engine fits the full weights when there is a base');
      assert.equal(w.baseRank, 3);
      assert.deepEqual(Object.keys(w.update), ['task0', 'task1']);
    } finally {
      await family.close();
    }
  });

  test('Add to Family with an explorer multi-selection: the two new members join at once, one already in it is skipped', async () => {
    const [math, medical, early, late] = WORKSPACE_FILES.family.map((rel) => workspaceFile(rel));
    const two = [math.fsPath, medical.fsPath];
    const all = [...two, early.fsPath, late.fsPath];
    await waitForFamily(two, 'report', () => vscode.commands.executeCommand('mimicry.compareFamily', undefined, [math, medical]));
    // As the explorer calls it: the clicked item, then the whole selection (medical is a member already).
    let added: readonly string[] | undefined;
    const r4 = await waitForFamily(all, 'report', async () => {
      added = await vscode.commands.executeCommand<readonly string[]>('mimicry.addToFamily', early, [early, medical, late]);
    });
    assert.equal(r4.members, 4);
    assert.equal(r4.charts, 5);
    assert.match(r4.summary ?? '', /^4 members, 12 shared layers in 1 bank; /);
    assert.deepEqual(added, all);
    // Only members already in it: nothing to compare again, the family stays as it is.
    const mimicry = await api();
    const reports = mimicry.familyReports().length;
    assert.deepEqual(await vscode.commands.executeCommand('mimicry.addToFamily', math, [math, late]), all);
    assert.equal(mimicry.familyReports().length, reports, 'the dashboard was not redrawn');
  });

  test('Add to Family while the family is being compared: that comparison ends and the dashboard compares all of them', async () => {
    const [math, medical, early, late] = WORKSPACE_FILES.family.map((rel) => workspaceFile(rel));
    const two = [math.fsPath, medical.fsPath];
    await waitForFamily(two, 'running', () => vscode.commands.executeCommand('mimicry.compareFamily', undefined, [math, medical]));
    const r4 = await waitForFamily([...two, early.fsPath, late.fsPath], 'report', () =>
      vscode.commands.executeCommand('mimicry.addToFamily', early, [early, late]),
    );
    assert.equal(r4.members, 4);
    assert.match(r4.summary ?? '', /^4 members, 12 shared layers in 1 bank; /);
  });

  test('Cancel Family Comparison stops the comparison as cancelled, changes no file, and the dashboard compares again after it', async () => {
    const [math, medical, early] = WORKSPACE_FILES.family.map((rel) => workspaceFile(rel));
    const two = [math.fsPath, medical.fsPath];
    const files = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const folder of two) {
        for (const name of (await readdir(folder)).sort()) {
          const s = await stat(path.join(folder, name));
          out.push(`${name} ${s.size} ${s.mtimeMs}`);
        }
      }
      return out;
    };
    const before = await files();
    const r = await waitForFamily(two, 'error', async () => {
      await vscode.commands.executeCommand('mimicry.compareFamily', undefined, [math, medical]);
      // Cancel as soon as the comparison runs (the command answers how many it cancelled): the
      // progress notification's Cancel cancels the same job.
      let cancelled = 0;
      for (let i = 0; i < 600 && cancelled === 0; i++) {
        await new Promise((res) => setTimeout(res, 50));
        cancelled = (await vscode.commands.executeCommand<number>('mimicry.cancelFamilyComparison')) ?? 0;
      }
      assert.equal(cancelled, 1, 'the comparison was seen and cancelled');
    });
    assert.equal(r.error, 'The comparison was cancelled: nothing was written.');
    assert.equal(r.charts, 0);
    assert.equal(r.members, 0);
    assert.deepEqual(await files(), before, 'a member changed on disk');
    assert.equal(await vscode.commands.executeCommand<number>('mimicry.cancelFamilyComparison'), 0, 'nothing runs after the cancel');
    // The same dashboard compares again: a member added to it gives the report of the three.
    const r3 = await waitForFamily([...two, early.fsPath], 'report', () => vscode.commands.executeCommand('mimicry.addToFamily', early));
    assert.equal(r3.members, 3);
    assert.equal(r3.charts, 5);
  });

  test('a DoRA member: the dashboard shows the refusal naming its file and rule, no report', async () => {
    const folder = path.join(dir, 'dora');
    await mkdir(folder, { recursive: true });
    const values = (n: number, seed: number) => encodeF32(Array.from({ length: n }, (_, i) => Math.sin(seed * 31 + i)));
    await writeSafetensors(path.join(folder, 'adapter_model.safetensors'), [
      { name: 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight', dtype: 'F32', shape: [2, 8], data: values(16, 1) },
      { name: 'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight', dtype: 'F32', shape: [6, 2], data: values(12, 2) },
    ]);
    const config = path.join(folder, 'adapter_config.json');
    await writeFile(config, JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, use_dora: true }));
    const paths = [workspaceFile(WORKSPACE_FILES.family[0]).fsPath, folder];
    const r = await waitForFamily(paths, 'error', () =>
      vscode.commands.executeCommand(
        'mimicry.compareFamily',
        undefined,
        paths.map((p) => vscode.Uri.file(p)),
      ),
    );
    assert.equal(r.charts, 0);
    assert.ok(r.error?.startsWith(`${config}: DoRA adapters are not supported`), r.error);
    assert.match(r.error ?? '', /\[dora-unsupported\]$/);
  });
});
