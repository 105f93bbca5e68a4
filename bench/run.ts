// Entry point of `npm run bench`. Every section prints its figures next to their floor or peer and a
// PASS/FAIL line per target. With no flag every section runs, in the order below; `--only a,b` runs
// the named sections; `--quick` shortens the slow ones (e.g. the paper loop at 100 steps instead of
// the authors' 1000) and says so in the output; `--memory-only` is `--only memory`.
import { benchMemoryOnly } from './memory.bench';
import { benchOpen } from './open.bench';
import { benchRecast } from './recast.bench';
import { benchPaper } from './paper.bench';
import { benchExport } from './export.bench';
import { benchStats } from './stats.bench';
import { benchFamily } from './family.bench';
import { benchDashboard } from './dashboard.bench';
import { benchBackends } from './backends.bench';
import { benchLlama7b } from './llama7b.bench';

export interface BenchSection {
  readonly name: string;
  readonly what: string;
  readonly run: (quick: boolean) => Promise<void>;
}

// Each section lives in its own bench/<name>.bench.ts; add one line here.
const SECTIONS: readonly BenchSection[] = [
  { name: 'recast', what: 'paper loop vs closed form, whole ViT-S export, export memory', run: benchRecast },
  { name: 'memory', what: 'peak memory of the export alone', run: benchMemoryOnly },
  { name: 'open', what: 'opening a 7B sharded checkpoint and a 100,000-tensor header (CLI and inspector)', run: benchOpen },
  { name: 'paper', what: "the authors' loop: fused CPU vs tfjs vs PyTorch, per step", run: benchPaper },
  { name: 'export', what: 'whole ViT-S and ViT-B export time against the targets, by phase, numpy floor', run: benchExport },
  { name: 'stats', what: 'tensor statistics MB/s: plain read, one thread, worker pool, numpy; 13.5 GB BF16 extrapolated', run: benchStats },
  { name: 'family', what: 'mimicry family: the real GPT-2 adapters and LLaMA-7B-shaped ones, beside numpy', run: benchFamily },
  { name: 'dashboard', what: 'a dashboard run by phase; a recast file dashboard opened: stored vs computed', run: benchDashboard },
  { name: 'backends', what: 'every tfjs backend that loads (webgpu labelled): paper step, Gram GFLOP/s', run: benchBackends },
  {
    name: 'llama7b',
    what: 'a generated LLaMA-7B-shaped sharded BF16 checkpoint: open, statistics, reconstruct all 7 roles and write, memory',
    run: benchLlama7b,
  },
];

function chosen(argv: readonly string[]): readonly BenchSection[] {
  if (argv.includes('--memory-only')) return SECTIONS.filter((s) => s.name === 'memory');
  const at = argv.indexOf('--only');
  // `recast` already includes the memory section; the default run skips the memory-only repeat, and
  // the 7B case (tens of GB of disk and many minutes) runs only when named.
  if (at < 0) return SECTIONS.filter((s) => s.name !== 'memory' && s.name !== 'llama7b');
  const names = (argv[at + 1] ?? '').split(',').filter(Boolean);
  const unknown = names.filter((n) => !SECTIONS.some((s) => s.name === n));
  if (names.length === 0 || unknown.length > 0) {
    const list = SECTIONS.map((s) => `  ${s.name}: ${s.what}`).join('\n');
    throw new Error(
      `--only takes a comma-separated list of sections${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}:\n${list}`,
    );
  }
  return SECTIONS.filter((s) => names.includes(s.name));
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  for (const section of chosen(process.argv.slice(2))) {
    console.log(`\n=== bench: ${section.name} (${section.what}) ===`);
    await section.run(quick);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
