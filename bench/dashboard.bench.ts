// Dashboard section of `npm run bench` (issue 12 item 6): a LLaMA-shaped q_proj stack (8 blocks of
// side x side, 2 blocks per group, n = 2) run as the dashboard runs it (worker job: fit, metrics,
// spectra, digest), its phase times, then its reparameterized file's dashboard opened. Target: the
// dashboard of a file written from a run opens in < 1 s from what the file stores (no tensor read),
// printed beside the same open where the spectra must be computed from the tensors (a file without
// recast.spectra: the CLI's, or one written before it existed), the old route's cost.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeF32 } from '../src/mimicry/safetensors/dtypes';
import { writeSafetensors } from '../src/mimicry/safetensors/writer';
import { openCheckpoint } from '../src/mimicry/safetensors/reader';
import type { TensorToWrite } from '../src/mimicry/safetensors/types';
import { ReconstructSessionJob } from '../src/mimicry/worker/reconstruct/job';
import { exportRecast } from '../src/mimicry/recast/export';
import { dashboardFromRecast, recastDashboard } from '../src/mimicry/dashboard/fromRecast';
import { Random } from '../src/mimicry/recast/random';
import type { RunProgress } from '../src/mimicry/worker/reconstruct/protocol';

const OPEN_TARGET_S = 1;
const BLOCKS = 8;

async function qprojStack(file: string, side: number): Promise<void> {
  const rng = new Random(7);
  const shared = Float32Array.from({ length: side * side }, () => rng.normal() * 0.02);
  const tensors: TensorToWrite[] = [];
  for (let i = 0; i < BLOCKS; i++) {
    const w = new Float32Array(side * side);
    for (let k = 0; k < w.length; k++) w[k] = shared[k] + rng.normal() * 0.01;
    tensors.push({ name: `model.layers.${i}.self_attn.q_proj.weight`, dtype: 'F32', shape: [side, side], data: encodeF32(w) });
    tensors.push({
      name: `model.layers.${i}.input_layernorm.weight`,
      dtype: 'F32',
      shape: [side],
      data: encodeF32(new Float32Array(side).fill(1)),
    });
  }
  await writeSafetensors(file, tensors, { format: 'pt' });
}

const seconds = (t0: number): number => (performance.now() - t0) / 1000;

export async function benchDashboard(quick: boolean): Promise<void> {
  const side = quick ? 512 : 1024;
  const dir = await mkdtemp(join(tmpdir(), 'mimicry-bench-dash-'));
  try {
    const source = join(dir, 'llama-qproj.safetensors');
    await qprojStack(source, side);
    const options = { modules: ['self_attn.q_proj'], blocksPerGroup: 2, templates: 2 } as const;
    const stored = join(dir, 'from-run.recast.safetensors');
    const plain = join(dir, 'from-cli.recast.safetensors');
    const ck = await openCheckpoint(source);
    let events = 0;
    let t0 = performance.now();
    try {
      const job = new ReconstructSessionJob(ck);
      const data = await job.run(options, 4096, {
        signal: new AbortController().signal,
        onFit: () => undefined,
        onPhase: (_p: RunProgress) => void events++,
      });
      const run = seconds(t0);
      await job.export('model', stored, false, {});
      await job.dropResult();
      await exportRecast(ck, options, { out: plain });
      const phases = Object.entries(data.method.phases ?? {})
        .map(([k, v]) => `${k} ${v.toFixed(2)} s`)
        .join(', ');
      console.log(`case: ${BLOCKS} q_proj of ${side} x ${side} (F32), 2 blocks/group, n = 2${quick ? ' (--quick: smaller side)' : ''}`);
      console.log(`run (worker job): ${run.toFixed(2)} s; phases: ${phases}; ${events} progress events inside the phases`);
    } finally {
      await ck.close();
    }

    const openStored = async (): Promise<number> => {
      const t = performance.now();
      const c = await openCheckpoint(stored);
      try {
        const d = recastDashboard(c);
        if (d.spectra.some((s) => s.pending)) throw new Error('stored spectra expected');
      } finally {
        await c.close();
      }
      return seconds(t);
    };
    const fast = Math.min(await openStored(), await openStored());
    t0 = performance.now();
    const c = await openCheckpoint(plain);
    try {
      await dashboardFromRecast(c, 4096);
    } finally {
      await c.close();
    }
    const slow = seconds(t0);
    console.log(`dashboard open, stored spectra (metadata only): ${(fast * 1000).toFixed(1)} ms`);
    console.log(`dashboard open, spectra computed from the tensors (the old route): ${slow.toFixed(2)} s (${(slow / fast).toFixed(0)}x)`);
    console.log(
      fast < OPEN_TARGET_S
        ? `PASS dashboard opens from what the file stores in ${(fast * 1000).toFixed(1)} ms (target < ${OPEN_TARGET_S} s)`
        : `FAIL dashboard open ${fast.toFixed(2)} s, target < ${OPEN_TARGET_S} s (${(fast / OPEN_TARGET_S).toFixed(1)}x over)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
