// The results dashboard's Size on disk and Templates stored as cards, on a real run of a BF16
// checkpoint exported by the worker's job, and on the dashboard of the file it wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import { ReconstructSessionJob } from '../../src/mimicry/worker/reconstruct/job';
import { recastDashboard } from '../../src/mimicry/dashboard/fromRecast';
import { withOutput } from '../../src/mimicry/dashboard/outputs';
import { sourceDiskBytes } from '../../src/mimicry/recast/report';
import { summaryCards } from '../../src/webview/dashboard/model';
import { formatBytes, formatSizeAgainst } from '../../src/webview/shared/format';
import { Random } from '../../src/mimicry/recast/random';
import { inTempDir } from './helpers/temp-dir';

const f = { count: (n: number) => String(n), number: (x: number) => String(x) };

/** Four BF16 blocks of one role (64 x 64) plus a copied BF16 vector each. */
async function bf16Checkpoint(file: string): Promise<void> {
  const rng = new Random(9);
  const bf16 = (v: Float32Array) => {
    const u = new Uint32Array(v.buffer);
    return new Uint8Array(new Uint16Array(v.length).map((_, i) => (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16).buffer);
  };
  const tensors = [];
  for (let i = 0; i < 4; i++) {
    tensors.push({ name: `h.${i}.mlp.weight`, dtype: 'BF16' as const, shape: [64, 64], data: bf16(rng.normals(64 * 64, 0.02)) });
    tensors.push({ name: `h.${i}.ln.weight`, dtype: 'BF16' as const, shape: [64], data: bf16(rng.normals(64)) });
  }
  await writeSafetensors(file, tensors);
}

test('formatSizeAgainst: the size, and the ratio to the source when there is one', () => {
  assert.equal(
    formatSizeAgainst('m.recast.safetensors', 1024 * 1024, 4 * 1024 * 1024),
    'm.recast.safetensors 1.00 MiB (0.25x of source 4.00 MiB)',
  );
  assert.equal(formatSizeAgainst('r.json', 2048, 4096, false), 'r.json 2.00 KiB');
  assert.equal(formatSizeAgainst('m.safetensors', 10), 'm.safetensors 10 B');
  // A sharded source on disk: its index and every shard.
  const shard = (bytes: number) => ({ file: 's.safetensors', bytes, sha256: '0'.repeat(64) });
  assert.equal(sourceDiskBytes({ ...shard(100), shards: [shard(1000), shard(2000)] }), 3100);
  assert.equal(sourceDiskBytes(shard(100)), 100);
});

test('a BF16 run: templates stored as BF16 with the F32 templates\u2019 fidelity, the sizes of the source and of each export', async () => {
  await inTempDir(async (dir) => {
    const src = join(dir, 'half.safetensors');
    await bf16Checkpoint(src);
    const sourceBytes = statSync(src).size;
    const ck = await openCheckpoint(src);
    const job = new ReconstructSessionJob(ck);
    try {
      const hooks = { signal: new AbortController().signal, onFit: () => undefined, onPhase: () => undefined };
      const data = await job.run({ blocksPerGroup: 4, templates: 1 }, 1024, hooks);
      assert.equal(data.source.diskBytes, sourceBytes);
      const card = (d: typeof data, id: string) => summaryCards(d, f).find((c) => c.id === id);
      const dtype = card(data, 'template-dtype');
      const exact = data.summary.f32Templates;
      assert.ok(exact);
      assert.deepEqual(dtype, {
        id: 'template-dtype',
        label: 'Templates stored as',
        value: 'BF16',
        hint:
          `metrics are of the stored templates; F32 templates: mean cosine ${exact.meanCosine}, min ${exact.minCosine}, ` +
          `mean relative error ${exact.meanRelError}`,
      });
      // Nothing exported yet: the source's size.
      assert.deepEqual(card(data, 'size-on-disk'), {
        id: 'size-on-disk',
        label: 'Size on disk',
        value: `source ${formatBytes(sourceBytes)}`,
        hint: 'half.safetensors; nothing exported yet',
      });
      // The cards follow the compression ratio.
      assert.deepEqual(
        summaryCards(data, f)
          .map((c) => c.id)
          .slice(2, 5),
        ['ratio', 'size-on-disk', 'template-dtype'],
      );
      const out = join(dir, 'half.recast.safetensors');
      const dense = join(dir, 'half.dense.safetensors');
      await job.export('model', out, false, {});
      await job.export('dense', dense, false, {});
      const modelBytes = statSync(out).size;
      const denseBytes = statSync(dense).size;
      assert.ok(modelBytes < 0.6 * sourceBytes, `${modelBytes} against ${sourceBytes}`);
      let after = withOutput(data, { kind: 'model', file: basename(out), bytes: modelBytes });
      after = withOutput(after, { kind: 'dense', file: basename(dense), bytes: denseBytes });
      after = withOutput(after, { kind: 'model', file: basename(out), bytes: modelBytes }); // again: replaced, not added
      assert.equal(after.outputs?.length, 2);
      assert.deepEqual(card(after, 'size-on-disk'), {
        id: 'size-on-disk',
        label: 'Size on disk',
        value: `${formatBytes(modelBytes)} (${(modelBytes / sourceBytes).toFixed(2)}× of source)`,
        hint: `${formatSizeAgainst('half.dense.safetensors', denseBytes, sourceBytes)}; ${formatSizeAgainst('half.recast.safetensors', modelBytes, sourceBytes)}`,
      });
      // The written file's own dashboard: its size against the source's, its templates' dtype from the tensor.
      const written = await openCheckpoint(out);
      try {
        const back = recastDashboard(written);
        assert.deepEqual(back.outputs, [{ kind: 'model', file: 'half.recast.safetensors', bytes: modelBytes }]);
        assert.equal(back.source.diskBytes, sourceBytes);
        assert.deepEqual(
          back.banks.map((b) => b.templateDtype),
          ['BF16'],
        );
        assert.equal(card(back, 'template-dtype')?.hint, dtype?.hint);
        assert.equal(card(back, 'size-on-disk')?.value, `${formatBytes(modelBytes)} (${(modelBytes / sourceBytes).toFixed(2)}× of source)`);
      } finally {
        await written.close();
      }
      // F32 templates: exact, and no F32 fidelity beside.
      const f32 = await job.run({ blocksPerGroup: 4, templates: 1, templateDtype: 'F32' }, 1024, hooks);
      assert.deepEqual(card(f32, 'template-dtype'), {
        id: 'template-dtype',
        label: 'Templates stored as',
        value: 'F32',
        hint: 'exact: the fitted templates as they are',
      });
      assert.equal(f32.summary.meanCosine, exact.meanCosine);
    } finally {
      await job.dropResult();
      await ck.close();
    }
  });
});
