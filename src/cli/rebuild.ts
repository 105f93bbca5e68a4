// `mimicry rebuild RECAST --out DENSE`: docs/FORMAT.md's reconstruction rule, back to a dense checkpoint.
// The recast file is opened and checked whole (metadata, tensor layout) before the output folder is
// made or anything written; NaN or infinity in its values stops the atomic write, leaving nothing.
// A refusal names the recast file (the input), never the output.
import type { Command } from 'commander';
import type { Checkpoint } from '../mimicry/safetensors/types';
import { openRecast, writeRebuilt, type RecastFile } from '../mimicry/recast/rebuild';
import { ensureOutputFolders, printable, toCliError, type CliIO } from './io';
import { progressOn } from './progress';
import { onStopSignals, removeStaleTemporaries } from './signals';

interface RebuildFlags {
  readonly out: string;
  readonly json?: boolean;
}

async function run(file: string, flags: RebuildFlags, io: CliIO): Promise<void> {
  const { checkpoint, file: recast } = await openRecast(file).catch((e: unknown) => {
    throw toCliError(e, file);
  });
  try {
    await ensureOutputFolders([flags.out]);
    await write(checkpoint, recast, file, flags, io);
  } finally {
    await checkpoint.close();
  }
}

async function write(checkpoint: Checkpoint, recast: RecastFile, file: string, flags: RebuildFlags, io: CliIO): Promise<void> {
  const progress = progressOn(io.stderr);
  // Ctrl-C or SIGTERM stops between tensors; the atomic writer then removes its temporary file.
  const stop = onStopSignals();
  try {
    await removeStaleTemporaries([flags.out], io);
    const r = await writeRebuilt(checkpoint, recast, flags.out, {
      signal: stop.signal,
      onProgress: (p) =>
        progress.update(`writing ${p.tensors}/${p.totalTensors} tensors, ${Math.floor((100 * p.bytes) / Math.max(1, p.totalBytes))}%`),
    });
    progress.done();
    if (flags.json) io.stdout.write(JSON.stringify({ out: flags.out, rebuilt: r.members, copied: r.copies }) + '\n');
    else io.stdout.write(`wrote ${printable(flags.out)}: ${r.members} tensors rebuilt from templates, ${r.copies} copied\n`);
  } catch (e) {
    progress.done();
    throw stop.received ? stop.stopped() : toCliError(e, file);
  } finally {
    stop.dispose();
  }
}

export function registerRebuild(program: Command, io: CliIO): void {
  program
    .command('rebuild')
    .description('rebuild the dense checkpoint from a reparameterized (recast) file')
    .argument('<file>', 'a recast .safetensors file')
    .requiredOption('--out <file>', 'the dense .safetensors file to write')
    .option('--json', 'print a JSON summary')
    .action((file: string, flags: RebuildFlags) => run(file, flags, io));
}
