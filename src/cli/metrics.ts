// `mimicry metrics RECAST [--source FILE] [--json]`: the metrics stored in a recast file; with
// --source, every layer's cosine and relative error recomputed from the two files.
import type { Command } from 'commander';
import { openCheckpoint } from '../mimicry/safetensors/reader';
import type { Checkpoint } from '../mimicry/safetensors/types';
import { compose } from '../mimicry/recast/compose';
import { layerFidelity } from '../mimicry/recast/metrics';
import { RecastFormatError } from '../mimicry/recast/errors';
import { parseRecast, type RecastFile } from '../mimicry/recast/rebuild';
import type { MetricsJson } from '../mimicry/recast/report';
import { cell, num, table } from './format';
import { CliError, EXIT_USAGE, printable, toCliError, type CliIO } from './io';

interface MetricsFlags {
  readonly source?: string;
  readonly json?: boolean;
}

interface Recomputed {
  readonly name: string;
  readonly cosine: number;
  readonly relError: number;
}

async function asFloat32(ck: Checkpoint, name: string): Promise<Float32Array> {
  const t = ck.tensor(name);
  if (!t) throw new CliError(`${printable(ck.path)} has no tensor ${printable(name)}`, EXIT_USAGE);
  const v = await ck.readValues(t);
  return v instanceof Float32Array ? v : Float32Array.from(v);
}

/** Rebuilds each member in float32 (before the dtype cast) and compares it with the source. */
async function recompute(recast: Checkpoint, file: RecastFile, source: Checkpoint): Promise<Recomputed[]> {
  const out: Recomputed[] = [];
  for (const b of file.banks) {
    const T = await asFloat32(recast, b.templateTensor.name);
    for (const [l, name] of b.members.entries()) {
      const C = await asFloat32(recast, b.coefficientTensors[l].name);
      const f = layerFidelity(await asFloat32(source, name), compose(T, b.templates, C));
      out.push({ name, cosine: f.cosine, relError: f.relError });
    }
  }
  return out;
}

function render(metrics: MetricsJson, recomputed: Recomputed[] | null): string {
  const again = new Map((recomputed ?? []).map((r) => [r.name, r]));
  const layerRows = metrics.layers.map((l) => [
    cell(l.name),
    cell(l.bank, 40),
    l.cosine.toFixed(5),
    num(l.relError),
    ...(recomputed ? [again.get(l.name)?.cosine.toFixed(5) ?? '-'] : []),
  ]);
  const layers = table(
    [
      { title: 'layer', align: 'left' },
      { title: 'bank', align: 'left' },
      { title: 'cosine', align: 'right' },
      { title: 'rel. error', align: 'right' },
      ...(recomputed ? [{ title: 'cosine (recomputed)', align: 'right' as const }] : []),
    ],
    layerRows,
  );
  const banks = table(
    [
      { title: 'bank', align: 'left' },
      { title: 'members', align: 'right' },
      { title: 'n', align: 'right' },
      { title: 'diversity', align: 'right' },
      { title: 'relative', align: 'right' },
      { title: 'entropy', align: 'right' },
      { title: 'normalized', align: 'right' },
    ],
    metrics.banks.map((b) => [
      cell(b.name, 40),
      String(b.members.length),
      String(b.templates),
      num(b.diversity),
      num(b.diversityRelative),
      num(b.entropy),
      num(b.entropyNormalized),
    ]),
  );
  return `${banks}\n${layers}`;
}

async function run(file: string, flags: MetricsFlags, io: CliIO): Promise<void> {
  let recast: Checkpoint | undefined;
  let source: Checkpoint | undefined;
  try {
    recast = await openCheckpoint(file);
    const parsed = parseRecast(recast);
    const text = parsed.metadata['recast.metrics'];
    if (text === undefined) throw new RecastFormatError('metadata-missing', 'recast.metrics', file);
    const metrics = JSON.parse(text) as MetricsJson;
    let recomputed: Recomputed[] | null = null;
    if (flags.source) {
      source = await openCheckpoint(flags.source);
      recomputed = await recompute(recast, parsed, source);
    }
    if (flags.json) io.stdout.write(JSON.stringify({ metrics, ...(recomputed ? { recomputed } : {}) }, null, 2) + '\n');
    else io.stdout.write(render(metrics, recomputed));
  } catch (e) {
    throw toCliError(e, file);
  } finally {
    await recast?.close();
    await source?.close();
  }
}

export function registerMetrics(program: Command, io: CliIO): void {
  program
    .command('metrics')
    .description('show the fidelity, diversity and entropy metrics of a reparameterized (recast) file')
    .argument('<file>', 'a recast .safetensors file')
    .option('--source <file>', "recompute each layer's cosine and relative error against this source checkpoint")
    .option('--json', 'print JSON instead of tables')
    .action((file: string, flags: MetricsFlags) => run(file, flags, io));
}
