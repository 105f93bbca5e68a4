// Child process of the memory bench (bench/memory.bench.ts): one whole-model export of one
// checkpoint, with memory sampled from inside. Each case runs in its own process so that neither
// the bench's own allocations nor an earlier case's heap count here.
// Usage: node --expose-gc --import tsx bench/memoryCase.ts <checkpoint> <empty output dir> [live]
// `live` forces a GC before every sample (every 50 ms instead of 10), so the figures are what the
// engine still references, without the garbage V8 has not collected yet.
// Prints one line `MEMORY_CASE <json>` (a MemoryCaseResult) on stdout.
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { openCheckpoint } from '../src/mimicry/safetensors/reader';
import { exportRecast } from '../src/mimicry/recast/export';
import { computeTensorStats } from '../src/mimicry/stats/tensorStats';
import { MEMORY_CASE_PREFIX, type MemoryCaseResult, type MemoryFigures, type PhasePeak } from './memory.bench';

const live = process.argv[4] === 'live';
const SAMPLE_MS = live ? 50 : 10;

function collect(): void {
  // Only with --expose-gc: a clean baseline, so garbage from loading modules is not credited to the run.
  globalThis.gc?.();
}

function figures(m: NodeJS.MemoryUsage, base: NodeJS.MemoryUsage): MemoryFigures {
  return {
    rss: m.rss - base.rss,
    heapUsed: m.heapUsed - base.heapUsed,
    external: m.external - base.external,
    arrayBuffers: m.arrayBuffers - base.arrayBuffers,
    heapPlusBuffers: m.heapUsed + m.arrayBuffers - (base.heapUsed + base.arrayBuffers),
  };
}

/** Peak of each field above the baseline, per phase; fields peak at different instants. */
class Sampler {
  readonly peaks = new Map<string, PhasePeak>();
  samples = 0;
  constructor(
    private readonly base: NodeJS.MemoryUsage,
    private readonly phase: () => string,
  ) {}

  sample(label?: string): void {
    if (live) collect();
    const f = figures(process.memoryUsage(), this.base);
    const name = label ?? this.phase();
    const p = this.peaks.get(name) ?? { phase: name, samples: 0, rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0, heapPlusBuffers: 0 };
    this.peaks.set(name, {
      phase: name,
      samples: p.samples + 1,
      rss: Math.max(p.rss, f.rss),
      heapUsed: Math.max(p.heapUsed, f.heapUsed),
      external: Math.max(p.external, f.external),
      arrayBuffers: Math.max(p.arrayBuffers, f.arrayBuffers),
      heapPlusBuffers: Math.max(p.heapPlusBuffers, f.heapPlusBuffers),
    });
    this.samples++;
  }

  overall(exclude: ReadonlySet<string>): MemoryFigures {
    const all = [...this.peaks.values()].filter((p) => !exclude.has(p.phase));
    const max = (k: keyof MemoryFigures) => Math.max(0, ...all.map((p) => p[k]));
    return {
      rss: max('rss'),
      heapUsed: max('heapUsed'),
      external: max('external'),
      arrayBuffers: max('arrayBuffers'),
      heapPlusBuffers: max('heapPlusBuffers'),
    };
  }
}

/**
 * The runtime's own floor at this size: a loop that allocates one buffer of `bytes`, touches it and
 * drops it, awaiting between steps as the engine awaits its reads. Only one is ever referenced, so
 * whatever this peaks at is V8's garbage-collection schedule, not anyone's retention.
 */
async function churnFloor(bytes: number, steps = 200): Promise<{ heapPlusBuffers: number; rss: number }> {
  collect();
  const base = process.memoryUsage();
  let heapPlusBuffers = 0,
    rss = 0;
  // Held on purpose: the old buffer lives until the new one replaces it.
  let held: Float32Array;
  for (let i = 0; i < steps; i++) {
    held = new Float32Array(bytes / 4);
    held.fill(i);
    await new Promise<void>((r) => setImmediate(r));
    const f = figures(process.memoryUsage(), base);
    heapPlusBuffers = Math.max(heapPlusBuffers, f.heapPlusBuffers);
    rss = Math.max(rss, f.rss);
  }
  return { heapPlusBuffers, rss };
}

async function main(): Promise<void> {
  const [file, outDir] = process.argv.slice(2);
  if (!file || !outDir) throw new Error('usage: memoryCase.ts <checkpoint> <output dir>');
  const names = { out: 'model.recast.safetensors', dense: 'model.dense.safetensors', report: 'model.report.json' };
  const targets = { out: path.join(outDir, names.out), dense: path.join(outDir, names.dense), report: path.join(outDir, names.report) };

  collect();
  const base = process.memoryUsage();
  const maxRssAtBase = process.resourceUsage().maxRSS * 1024;

  // The engine reports groups through onProgress; after the last one, the temporary files in the
  // output folder say which write is under way (the writers are atomic: .<name>.<pid>.<rand>.tmp).
  let groupsDone = 0;
  let groups = -1;
  let phase = 'open';
  const exportPhase = (): string => {
    if (groups < 0 || groupsDone < groups) return phase;
    const files = readdirSync(outDir);
    if (files.includes(names.dense)) return 'report';
    if (files.some((f) => f.startsWith(`.${names.dense}.`))) return 'write dense';
    if (files.includes(names.out)) return 'write dense';
    if (files.some((f) => f.startsWith(`.${names.out}.`))) return 'write reparameterized';
    return 'digest source';
  };
  const sampler = new Sampler(base, exportPhase);
  const timer = setInterval(() => sampler.sample(), SAMPLE_MS);

  const t0 = performance.now();
  const ck = await openCheckpoint(file);
  phase = 'reconstruct';
  let exportSeconds: number;
  let largestGroupF32: number;
  let largestGroup: string;
  let banks: number;
  const biggest = [...ck.tensors].sort((a, b) => b.params - a.params)[0];
  let stats: MemoryCaseResult['stats'];
  try {
    const { result } = await exportRecast(ck, {}, targets, {
      onProgress(ev) {
        groups = ev.groups;
        // Spectral reports once per group, after its metrics, while its members and templates are
        // still referenced: the moment a timer may never see (fit and metrics are synchronous).
        if (ev.steps === 0) {
          sampler.sample('reconstruct');
          groupsDone = ev.groupIndex + 1;
        }
      },
    });
    sampler.sample();
    exportSeconds = (performance.now() - t0) / 1000;
    banks = result.banks.length;
    const top = result.banks.reduce((a, b) => (b.plan.members.length * b.plan.size > a.plan.members.length * a.plan.size ? b : a));
    largestGroupF32 = top.plan.members.length * top.plan.size * 4;
    largestGroup = `${top.plan.name} (${top.plan.members.length} x [${top.plan.shape.join(', ')}])`;

    // The inspector's streaming statistics on the biggest tensor, as its own phase.
    collect();
    phase = 'stats';
    groups = -1; // back to the named phase
    const s0 = performance.now();
    const st = await computeTensorStats(() => ck.chunks(biggest), { totalElements: biggest.params });
    sampler.sample('stats');
    stats = {
      tensor: biggest.name,
      elements: biggest.params,
      float32Bytes: biggest.params * 4,
      seconds: (performance.now() - s0) / 1000,
      mean: st.mean,
      std: st.std,
    };
  } finally {
    clearInterval(timer);
    await ck.close();
  }

  const maxRss = process.resourceUsage().maxRSS * 1024;
  const floor = live ? null : await churnFloor(largestGroupF32);
  const exclude = new Set(['stats']);
  const sampled = sampler.overall(exclude);
  const out: MemoryCaseResult = {
    file: path.basename(file),
    live,
    checkpointBytes: ck.totalBytes,
    tensors: ck.tensors.length,
    banks,
    largestGroup,
    largestGroupF32,
    exportSeconds,
    samples: sampler.samples,
    baseline: { rss: base.rss, heapUsed: base.heapUsed, external: base.external, arrayBuffers: base.arrayBuffers },
    peak: sampled,
    // The kernel's high-water mark sees the synchronous stretches the timer misses; it only tells
    // something when it rose past what loading the modules had already reached.
    kernelPeakRss: maxRss > maxRssAtBase ? maxRss - base.rss : null,
    phases: [...sampler.peaks.values()],
    churnFloor: floor,
    stats,
  };
  process.stdout.write(`${MEMORY_CASE_PREFIX}${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
