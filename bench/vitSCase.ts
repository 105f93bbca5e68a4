// Child process of the stats bench (bench/stats.bench.ts): one-thread statistics of a ViT-S-shaped
// checkpoint in a process that does nothing else, as `mimicry inspect --stats` runs. In the bench's
// own process, whose heap holds everything the earlier sections left, every run paid a full
// collection (marked on four helper threads: about a third more CPU seconds than here). Five runs
// warm up (V8 compiles the small tensors' code on other threads meanwhile, for several runs; the
// first is reported as `cold`), then the best of fifteen by CPU seconds, the per-core target's measure
// (a run is a tenth of a second: this VM's slow moments last longer, and five runs could all fall in one).
// The result is one line `VITS_CASE <json>` on stdout.
// Usage: node --import tsx bench/vitSCase.ts <file>
import { openCheckpoint } from '../src/mimicry/safetensors/reader';
import { computeCheckpointStats } from '../src/mimicry/stats/statsPool';
import { kernelMilliseconds } from '../src/mimicry/stats/statsKernels';

export const VITS_CASE_PREFIX = 'VITS_CASE ';
export const VIT_WARMUP = 5;
const MEASURED = 15;

export interface VitSCaseResult {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** Milliseconds inside each kernel during the best run. */
  readonly kernelMs: Readonly<Record<keyof typeof kernelMilliseconds, number>>;
  readonly cold: { readonly seconds: number; readonly cpuSeconds: number };
}

async function main(): Promise<void> {
  const [file] = process.argv.slice(2);
  if (!file) throw new Error('usage: vitSCase.ts <file>');
  const ck = await openCheckpoint(file);
  try {
    let best: Omit<VitSCaseResult, 'cold'> | undefined;
    let cold: VitSCaseResult['cold'] | undefined;
    for (let r = 0; r < VIT_WARMUP + MEASURED; r++) {
      const before = { ...kernelMilliseconds };
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await computeCheckpointStats(ck, ck.tensors, { threads: 1 });
      const seconds = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      const cpuSeconds = (c.user + c.system) / 1e6;
      if (r === 0) cold = { seconds, cpuSeconds };
      if (r < VIT_WARMUP || (best && best.cpuSeconds <= cpuSeconds)) continue;
      const kernelMs = { ...kernelMilliseconds };
      for (const k of Object.keys(kernelMs) as (keyof typeof kernelMs)[]) kernelMs[k] -= before[k];
      best = { seconds, cpuSeconds, kernelMs };
    }
    process.stdout.write(`${VITS_CASE_PREFIX}${JSON.stringify({ ...best, cold })}\n`);
  } finally {
    await ck.close();
  }
}

if (require.main === module)
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
