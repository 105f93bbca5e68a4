// The checkpoint `reconstruct` and `curve` fit: the file as it is, or a LoRA adapter's layer updates
// (docs/RECAST.md section 6.7). Refusals become the CLI's one-line errors; what is fitted, when it
// needs saying, goes to stderr once.
import { openFitSource } from '../mimicry/family/adapterView';
import type { Checkpoint } from '../mimicry/safetensors/types';
import { printable, toCliError, type CliIO } from './io';

export async function openForFit(file: string, factors: boolean | undefined, io: CliIO): Promise<Checkpoint> {
  let opened: Awaited<ReturnType<typeof openFitSource>>;
  try {
    opened = await openFitSource(file, { factors });
  } catch (e) {
    throw toCliError(e, file);
  }
  if (opened.note) io.stderr.write(`mimicry: ${printable(opened.note)}\n`);
  return opened.checkpoint;
}
