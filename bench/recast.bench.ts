// `npm run bench`: speed and quality of the reconstruction methods (never asserted in tests).
// Results go to stdout and bench-results/recast.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { openCheckpoint } from '../src/mimicry/safetensors/reader';
import type { Checkpoint, TensorInfo } from '../src/mimicry/safetensors/types';
import { reconstruct } from '../src/mimicry/recast/reconstruct';
import { Random } from '../src/mimicry/recast/random';
import type { ReconstructOptions } from '../src/mimicry/recast/types';

interface Row { case: string; setting: string; seconds: number; meanCosine: number; minCosine: number; ratio: number; backend: string }

/** A ViT-S-shaped in-memory checkpoint (12 blocks, fc1 [1536, 384], fc2 [384, 1536]), random weights. */
function vitS(): Checkpoint {
  const rng = new Random(1);
  const data = new Map<string, Float32Array>();
  const tensors: TensorInfo[] = [];
  let offset = 0;
  for (let i = 0; i < 12; i++) {
    for (const [role, shape] of [['mlp.fc1', [1536, 384]], ['mlp.fc2', [384, 1536]]] as const) {
      const name = `blocks.${i}.${role}.weight`;
      const params = shape[0] * shape[1];
      data.set(name, rng.normals(params, 0.02));
      tensors.push({ name, dtype: 'F32', shape, dataOffsets: [offset, offset + 4 * params], params, bytes: 4 * params, file: 'vit-s', fileOffset: offset });
      offset += 4 * params;
    }
  }
  const byName = new Map(tensors.map((t) => [t.name, t]));
  return {
    path: 'vit-s (synthetic)', kind: 'single', files: ['vit-s'], totalBytes: offset, metadata: {}, tensors,
    tensor: (n) => byName.get(n),
    readBytes: (t, start = 0, end = t.bytes) => { const v = data.get(t.name)!; return Promise.resolve(new Uint8Array(v.buffer.slice(start, end))); },
    readValues: (t) => Promise.resolve(data.get(t.name)!),
    chunks: async function* (t) { yield data.get(t.name)!; },
    close: () => Promise.resolve(),
  };
}

async function measure(rows: Row[], label: string, ck: Checkpoint, setting: string, options: ReconstructOptions) {
  const t = performance.now();
  const r = await reconstruct(ck, options);
  const row = { case: label, setting, seconds: (performance.now() - t) / 1000, meanCosine: r.summary.meanCosine, minCosine: r.summary.minCosine, ratio: r.summary.parameters.ratio, backend: r.method.backend };
  rows.push(row);
  console.log(`${label.padEnd(22)} ${setting.padEnd(42)} ${row.seconds.toFixed(3).padStart(8)} s  mean cos ${row.meanCosine.toFixed(4)}  min ${row.minCosine.toFixed(4)}  ratio ${row.ratio.toFixed(2)}  ${row.backend}`);
}

/** quick: short optimizer runs; long: also the authors' loop on the ViT-S shape (minutes). */
export async function benchRecast(quick: boolean, long = false): Promise<void> {
  const rows: Row[] = [];
  const gpt2 = await openCheckpoint('test/fixtures/real/capp-gpt2-4layer.safetensors');
  await measure(rows, 'real GPT-2 (4 blocks)', gpt2, 'spectral, paper grouping (2/group, n=2)', {});
  await measure(rows, 'real GPT-2 (4 blocks)', gpt2, 'spectral total, 4/group n=3', { blocksPerGroup: 4, templates: 3, objective: 'total' });
  await measure(rows, 'real GPT-2 (4 blocks)', gpt2, 'spectral per-layer, 4/group n=3', { blocksPerGroup: 4, templates: 3 });
  await measure(rows, 'real GPT-2 (4 blocks)', gpt2, 'spectral, 4x', { preset: '4x' });
  await measure(rows, 'real GPT-2 (4 blocks)', gpt2, `paper loop (wasm), ${quick ? 200 : 1000} steps`, { method: 'paper', backend: 'wasm', steps: quick ? 200 : 1000 });
  await gpt2.close();
  const vit = vitS();
  await measure(rows, 'ViT-S-shaped fc1+fc2', vit, 'spectral, paper grouping (2/group, n=2)', {});
  await measure(rows, 'ViT-S-shaped fc1+fc2', vit, 'spectral per-layer, 12/group n=3', { blocksPerGroup: 12, templates: 3 });
  await measure(rows, 'ViT-S-shaped fc1+fc2', vit, 'same, streamed in 1M-element chunks', { blocksPerGroup: 12, templates: 3, groupMemoryBytes: 1 });
  await measure(rows, 'ViT-S-shaped fc1+fc2', vit, 'same, no entropy (fit + fidelity only)', { blocksPerGroup: 12, templates: 3, entropyMaxSide: 1 });
  if (long) await measure(rows, 'ViT-S-shaped fc1+fc2', vit, 'paper loop (wasm), 1000 steps, w(fc1, fc2) = 2', { method: 'paper', backend: 'wasm', moduleWeights: { 'mlp.fc1': 2, 'mlp.fc2': 2 } });
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/recast.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2));
}
