// The task-family worker the Family dashboard uses: the report it answers is the engine's own
// (analyzeFamily on the same members, run in this thread), with progress; a refused member comes
// back as the engine's error (its file and rule); a cancel stops the analysis (the worker lives on); the task bank it
// writes is the engine writer's, and never lands on a member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { analyzeFamily } from '../../src/mimicry/family/analyze';
import { loadFamily } from '../../src/mimicry/family/members';
import { TASK_BANK_FORMAT } from '../../src/mimicry/family/bank';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { RemoteError } from '../../src/mimicry/errors';
import { familyHost } from '../../src/mimicry/worker/family/client';
import { tsWorkerEntry } from './helpers/worker-entry';
import { inTempDir } from './helpers/temp-dir';
import { peftConfig, randomTensor, writeAdapter, type Tensors } from './helpers/family-craft';

const FAMILY = tsWorkerEntry('src/mimicry/worker/family/main.ts');
const ROOT = resolve('test/fixtures/real/gpt2-lora-family');
const GPT2 = ['math', 'medical', 'shakespeare-cattn/checkpoint-1000', 'shakespeare-cattn/checkpoint-7500'].map((p) => join(ROOT, p));

function tiny(seed: number): Tensors {
  const t: Tensors = {};
  for (let i = 0; i < 2; i++) {
    t[`base_model.model.model.layers.${i}.self_attn.q_proj.lora_A.weight`] = randomTensor(seed + i, [2, 3]);
    t[`base_model.model.model.layers.${i}.self_attn.q_proj.lora_B.weight`] = randomTensor(seed + i + 7, [4, 2]);
  }
  return t;
}

test('the family worker answers the engine report of the GPT-2 family, with progress, and writes its task bank', () =>
  inTempDir(async (dir) => {
    const host = familyHost(FAMILY, { paths: GPT2 });
    try {
      const brief = await host.open();
      assert.deepEqual(
        brief.members.map((m) => [m.name, m.kind, m.step]),
        [
          ['math', 'peft-lora', null],
          ['medical', 'peft-lora', null],
          ['checkpoint-1000', 'peft-lora', 1000],
          ['checkpoint-7500', 'peft-lora', 7500],
        ],
      );
      const fractions: number[] = [];
      const report = await host.request('analyze', { templates: 2 }, (p) => fractions.push(p.fraction)).done;
      assert.equal(fractions.at(-1), 1);
      const family = await loadFamily(GPT2);
      try {
        assert.deepEqual(report, await analyzeFamily(family, { templates: 2 }));
      } finally {
        await family.close();
      }
      assert.equal(report.layers.length, 12);
      assert.equal(report.members[0].unshared.length, 24);

      const out = join(dir, 'family.taskbank.safetensors');
      const written = await host.request('exportBank', { file: out }).done;
      assert.equal(written.path, out);
      assert.equal(written.bytes, (await stat(out)).size);
      assert.ok(written.membersBytes > 0);
      assert.ok(written.bytes < written.denseBytes, `${written.bytes} < ${written.denseBytes}`);
      const bank = await openCheckpoint(out);
      try {
        assert.equal(bank.metadata.format, TASK_BANK_FORMAT);
        // templates: 2 as analysed: each bank's coefficients are [members, layers, 2]
        const coeffs = bank.tensors.filter((t) => t.name.startsWith('taskbank.coefficients.'));
        assert.ok(coeffs.length > 0);
        for (const c of coeffs) assert.deepEqual([c.shape[0], c.shape[2]], [4, 2]);
      } finally {
        await bank.close();
      }
      await assert.rejects(host.request('exportBank', { file: join(GPT2[0], 'adapter_model.safetensors') }).done);
    } finally {
      host.dispose();
    }
    assert.deepEqual(await readdir(dir), ['family.taskbank.safetensors']);
  }));

test('a refused member comes back naming its file and rule; a cancelled analysis says cancelled, and the same worker compares again', () =>
  inTempDir(async (dir) => {
    const good = await writeAdapter(join(dir, 'good'), tiny(1), peftConfig());
    const dora = await writeAdapter(join(dir, 'dora'), tiny(3), peftConfig({ use_dora: true }));
    const other = await writeAdapter(join(dir, 'other'), tiny(5), peftConfig({ base_model_name_or_path: 'another-model' }));
    for (const [paths, file, rule] of [
      [[good, dora], join(dora, 'adapter_config.json'), 'dora-unsupported'],
      [[good, other], undefined, 'mixed-bases'],
    ] as const) {
      const host = familyHost(FAMILY, { paths });
      try {
        const e = await host.request('analyze', {}).done.then(
          () => assert.fail(`${rule}: expected a refusal`),
          (err: unknown) => err,
        );
        assert.ok(e instanceof RemoteError);
        assert.equal(e.wire.rule, rule, e.message);
        if (file) assert.equal(e.wire.file, file);
        assert.equal(e.wire.cancelled, false);
      } finally {
        host.dispose();
      }
    }
    const host = familyHost(FAMILY, { paths: GPT2 });
    try {
      await host.open();
      const request = host.request('analyze', {});
      request.cancel();
      const e = await request.done.then(
        () => undefined,
        (err: unknown) => err,
      );
      // Cancelled before it could finish: never a failure.
      if (e !== undefined) assert.equal((e as RemoteError).wire.cancelled, true);
      // The same worker compares again (the dashboard's "Try Again" after a cancel).
      const again = await host.request('analyze', {}).done;
      assert.deepEqual(
        again.members.map((m) => m.path),
        GPT2,
      );
      assert.equal(again.layers.length, 12);
    } finally {
      host.dispose();
    }
  }));
