// Child process of the llama7b bench (bench/llama7b.bench.ts): on one generated LLaMA-shaped sharded
// checkpoint, times opening it, full statistics on the stats pool, and a spectral reconstruction of
// all 7 roles (2 blocks per group, n = 2: the authors' preset) with fidelity, diversity, similarity and
// template entropy (estimated over 1024), writing the reparameterized file and its report. Memory is
// sampled from inside every 50 ms. Progress goes to stderr as it happens; the result is one line
// `LLAMA7B_CASE <json>` on stdout.
// Usage: node --import tsx bench/llama7bCase.ts <index.json> <empty output dir> <stats worker .js>
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { openCheckpoint } from '../src/mimicry/safetensors/reader';
import { exportRecast } from '../src/mimicry/recast/export';
import { computeCheckpointStats } from '../src/mimicry/stats/statsPool';
import { isStatsSkipped } from '../src/mimicry/stats/checkpointStats';
import { LLAMA7B_CASE_PREFIX, type Llama7bCaseResult } from './llama7b.bench';

function progress(line: string): void {
  process.stderr.write(`  ${line}\n`);
}

async function main(): Promise<void> {
  const [index, outDir, statsWorker] = process.argv.slice(2);
  if (!index || !outDir) throw new Error('usage: llama7bCase.ts <index.json> <output dir> [stats worker]');
  const base = process.memoryUsage().rss;
  let peak = 0;
  // What the run was doing when the peak was sampled (the last phase event or write seen).
  let doing = '';
  let peakAt = '';
  const timer = setInterval(() => {
    const mu = process.memoryUsage();
    const rss = mu.rss - base;
    // This thread's ArrayBuffers beside it: what it holds itself (buffers, dead ones not yet collected
    // among them); the rest of the RSS is the workers', V8's heaps and the code.
    if (rss > peak) [peak, peakAt] = [rss, `${doing}; this thread's ArrayBuffers ${(mu.arrayBuffers / 2 ** 20).toFixed(0)} MiB`];
  }, 50);
  try {
    let t = performance.now();
    const ck = await openCheckpoint(index);
    const openSeconds = (performance.now() - t) / 1000;
    const dataBytes = ck.tensors.reduce((s, x) => s + x.bytes, 0);
    progress(`opened ${ck.tensors.length} tensors in ${ck.files.length} shards in ${openSeconds.toFixed(3)} s`);

    t = performance.now();
    let shown = 0;
    const stats = await computeCheckpointStats(ck, ck.tensors, {
      workerEntry: statsWorker,
      onProgress: (p) => {
        const pct = Math.floor((p.doneBytes / Math.max(1, p.totalBytes)) * 10);
        if (pct > shown)
          progress(`statistics ${(shown = pct) * 10}% (${(p.doneBytes / 1e9).toFixed(1)} of ${(p.totalBytes / 1e9).toFixed(1)} GB)`);
      },
    });
    const statsSeconds = (performance.now() - t) / 1000;
    const statsTensors = stats.filter((s) => !isStatsSkipped(s)).length;
    progress(`statistics of ${statsTensors} tensors in ${statsSeconds.toFixed(1)} s`);

    t = performance.now();
    const startRss = process.memoryUsage().rss - base;
    peak = 0;
    const out = path.join(outDir, 'model.recast.safetensors');
    let lastPhase = '';
    const { result } = await exportRecast(
      ck,
      { preset: 'paper' },
      { out, report: path.join(outDir, 'model.report.json') },
      {
        onPhase: (ev) => {
          // Entropy that finishes on the pool reports late, while this thread is on later banks.
          if (ev.phase !== 'entropy' || ev.done === 0) doing = `${ev.phase} ${ev.bank}`;
          const line = `${ev.phase} ${ev.bank} (${ev.bankIndex + 1}/${ev.banks})`;
          if (ev.done === ev.total && line !== lastPhase && (ev.phase === 'fit' || ev.phase === 'entropy')) progress((lastPhase = line));
        },
        onWrite: (_file, p) => {
          doing = `write (after ${p.tensor || 'the header'})`;
          if (p.tensors === p.totalTensors) progress(`wrote ${p.totalTensors} tensors`);
        },
      },
    );
    const reconstructSeconds = (performance.now() - t) / 1000;
    const top = result.banks.reduce((a, b) => (b.plan.members.length * b.plan.size > a.plan.members.length * a.plan.size ? b : a));
    const measured = result.banks.filter((b) => b.metrics.entropy !== null);
    const estimated = measured.filter((b) => b.metrics.entropyEstimated);
    const res: Llama7bCaseResult = {
      tensors: ck.tensors.length,
      dataBytes,
      openSeconds,
      statsSeconds,
      statsTensors,
      reconstructSeconds,
      phases: { ...(result.method.phases ?? {}) },
      banks: result.banks.length,
      layers: result.layers.length,
      minCosine: result.summary.minCosine,
      entropyBanks: measured.length,
      estimatedBanks: estimated.length,
      worstEntropyError: Math.max(0, ...estimated.map((b) => b.metrics.entropyEstimated?.error ?? 0)),
      largestGroupF32: top.plan.members.length * top.plan.size * 4,
      peakRss: peak,
      peakAt,
      startRss,
      outBytes: statSync(out).size,
    };
    await ck.close();
    process.stdout.write(`${LLAMA7B_CASE_PREFIX}${JSON.stringify(res)}\n`);
  } finally {
    clearInterval(timer);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
