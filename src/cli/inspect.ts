// `mimicry inspect FILE [--stats] [--spectra] [--json]`: what is inside a checkpoint.

import { Option, type Command } from 'commander';
import { BACKENDS, type Backend } from '../mimicry/recast/types';
import { onBackendNote, releaseGpu } from '../mimicry/recast/tfjs';
import { factorLayers } from '../mimicry/family/adapterView';
import { openCheckpoint } from '../mimicry/safetensors/reader';
import { DEFAULT_BINS } from '../mimicry/stats/tensorStats';
import { DEFAULT_SPECTRUM_MAX_SIDE, DEFAULT_SPECTRUM_TOP_K } from '../mimicry/stats/spectrum';
import { bundledStatsWorker } from '../mimicry/stats/statsPool';
import { nonNegativeInt, positiveInt } from './flags';
import { printable, toCliError, writeAll, type CliIO } from './io';
import { buildInspectReport } from './inspectReport';
import { renderJsonChunks, renderText } from './inspectRender';
import { progressOn } from './progress';

interface InspectFlags {
  readonly stats?: boolean;
  readonly spectra?: boolean;
  readonly json?: boolean;
  readonly bins: number;
  /** `--max-side`: the spectrum size limit. */
  readonly maxSide: number;
  /** `--top-k`: singular values estimated for a matrix over the limit (0: it is skipped). */
  readonly topK: number;
  /** `--threads`: threads for --stats (absent: as many as pay, statsPool's threadsFor). */
  readonly threads?: number;
  /** `--factors`: a LoRA adapter's factors get their own spectra. */
  readonly factors?: boolean;
  /** `--backend`: webgpu puts the Grams of large spectra on the GPU. */
  readonly backend: Backend;
}

/** "1.2 GB" with one decimal (progress only). */
function gb(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(0)} MB`;
}

async function inspect(file: string, flags: InspectFlags, io: CliIO): Promise<void> {
  let checkpoint;
  try {
    checkpoint = await openCheckpoint(file);
  } catch (e) {
    throw toCliError(e, file);
  }
  const progress = progressOn(io.stderr);
  // A GPU passed over, or a software one forced: one line each, above the progress line.
  const unsubscribe = onBackendNote((line) => {
    progress.done();
    io.stderr.write(`mimicry: ${printable(line)}\n`);
  });
  let shownAt = 0;
  const count = checkpoint.tensors.length;
  try {
    const report = await buildInspectReport(checkpoint, file, {
      stats: flags.stats === true,
      spectra: flags.spectra === true,
      // A LoRA adapter's factors are drawn by their layer update's spectrum (docs/RECAST.md section 6.7).
      factorLayers: flags.spectra && !flags.factors ? await factorLayers(checkpoint) : null,
      bins: flags.bins,
      spectrumMaxSide: flags.maxSide,
      spectrumTopK: flags.topK,
      backend: flags.backend,
      threads: flags.threads,
      statsWorker: bundledStatsWorker(),
      onStatsProgress: (p) => {
        // The line is built at most every 100 ms (200,000 tiny tensors report 200,000 times).
        const now = Date.now();
        if (now - shownAt < 100) return;
        shownAt = now;
        // On one thread: the tensor at work; on several: how many are done.
        const at =
          p.current === undefined
            ? `[${p.tensorsDone}/${count}] stats`
            : `[${p.current + 1}/${count}] stats ${checkpoint.tensors[p.current].name}`;
        const share = Math.floor((p.doneBytes / Math.max(1, p.totalBytes)) * 100);
        progress.update(`${at} ${share}% (${gb(p.doneBytes)} of ${gb(p.totalBytes)})`);
      },
      onProgress: (i, t, what, fraction) => progress.update(`[${i + 1}/${count}] ${what} ${t.name} ${Math.floor(fraction * 100)}%`),
    });
    progress.done();
    // Everything is computed before the first byte is written: a refusal never leaves half a report.
    if (flags.json) await writeAll(io.stdout, renderJsonChunks(report));
    else io.stdout.write(renderText(report, flags.stats === true, flags.spectra === true));
  } catch (e) {
    progress.done();
    throw toCliError(e, file);
  } finally {
    unsubscribe();
    releaseGpu(); // the GPU instance would keep the process alive
    await checkpoint.close();
  }
}

export function registerInspect(program: Command, io: CliIO): void {
  program
    .command('inspect')
    .description('list the tensors of a .safetensors file or a sharded *.safetensors.index.json')
    .argument('<file>', 'checkpoint: .safetensors or *.safetensors.index.json')
    .option(
      '--stats',
      'per-tensor statistics over finite values: min, max, mean, std, |mean|, zero fraction, NaN/Inf counts, percentiles, histogram',
    )
    .option('--spectra', 'singular-value spectrum of tensors with 2+ dimensions (viewed as out x rest)')
    .option('--json', 'print one JSON document instead of a table')
    .option('--bins <n>', 'histogram bins for --stats', positiveInt, DEFAULT_BINS)
    .option(
      '--max-side <n>',
      'largest min(rows, cols) for an exact --spectra; a larger matrix gets an estimate of its top singular values (--top-k)',
      positiveInt,
      DEFAULT_SPECTRUM_MAX_SIDE,
    )
    .option(
      '--top-k <n>',
      'singular values estimated (randomized) for a matrix over --max-side; its ranks are then estimated from them (0: skip it)',
      nonNegativeInt,
      DEFAULT_SPECTRUM_TOP_K,
    )
    .addOption(
      new Option('--backend <backend>', 'webgpu: the Gram of a --spectra matrix with min(rows, cols) >= 256 on the GPU (float32, checked)')
        .choices(BACKENDS)
        .default('auto'),
    )
    .option('--factors', "with --spectra on a LoRA adapter: each factor's own spectrum, not its layer update's scale * B @ A")
    .option(
      '--threads <n>',
      'threads for --stats, this one included (1: no worker threads; default: about 1 per 1.1 cores from 256 MiB of tensor data, else 1)',
      positiveInt,
    )
    .action((file: string, flags: InspectFlags) => inspect(file, flags, io));
}
