// `mimicry metrics RECAST [--source FILE] [--json]`: the metrics stored in a recast file; with
// --source, every layer's cosine and relative error recomputed from the two files. The recast file
// is checked whole (metadata schema, tensor layout, every template and coefficient value) before
// anything is printed; a --source must be the very checkpoint recast.source describes.
import type { Command } from 'commander';
import { openFitSource, updatesNoteOf } from '../mimicry/family/adapterView';
import { openCheckpoint } from '../mimicry/safetensors/reader';
import type { Checkpoint, TensorInfo } from '../mimicry/safetensors/types';
import { compose } from '../mimicry/recast/compose';
import { describeSource } from '../mimicry/recast/export';
import { layerFidelity } from '../mimicry/recast/metrics';
import { RecastFormatError } from '../mimicry/recast/errors';
import { checkRecastValues, parseRecast, readFinite, type RecastFile } from '../mimicry/recast/rebuild';
import type { RecastMetricsDoc, SourceDigestDoc } from '../mimicry/recast/recastSchema';
import { cell, num, table } from './format';
import { toCliError, type CliIO } from './io';

interface MetricsFlags {
  readonly source?: string;
  readonly json?: boolean;
}

interface Recomputed {
  readonly name: string;
  readonly cosine: number;
  readonly relError: number;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const digestText = (d: SourceDigestDoc) => `${d.file}, ${d.bytes} bytes, sha256 ${d.sha256}`;

/**
 * The source must be the file recast.source describes (size and SHA-256, and each shard's when
 * recorded), and hold every member with the shape recast.banks gives it. Otherwise the recast file
 * does not belong with it: refused naming the recast file, the source in the detail.
 */
async function checkSource(recast: Checkpoint, file: RecastFile, source: Checkpoint): Promise<Map<string, TensorInfo>> {
  const mismatch = (detail: string): never => {
    throw new RecastFormatError('source-mismatch', `--source ${source.path}: ${detail}`, recast.path);
  };
  const want = file.docs.source;
  const got = await describeSource(source);
  if (got.bytes !== want.bytes || got.sha256 !== want.sha256) mismatch(`it is ${digestText(got)}; recast.source is ${digestText(want)}`);
  if (want.shards) {
    const shards = got.shards ?? [];
    if (shards.length !== want.shards.length) mismatch(`it has ${shards.length} shards, recast.source.shards lists ${want.shards.length}`);
    for (const [i, s] of want.shards.entries()) {
      if (shards[i].bytes !== s.bytes || shards[i].sha256 !== s.sha256)
        mismatch(`shard ${i} is ${digestText(shards[i])}; recast.source.shards[${i}] is ${digestText(s)}`);
    }
  }
  const members = new Map<string, TensorInfo>();
  for (const b of file.banks) {
    for (const name of b.members) {
      const t = source.tensor(name);
      if (!t) return mismatch(`it has no tensor ${JSON.stringify(name)}, a member of bank ${b.name}`);
      if (!sameShape(t.shape, b.shape) || t.dtype !== b.dtype)
        mismatch(
          `${JSON.stringify(name)} is ${t.dtype} [${t.shape.join(', ')}] there, recast.banks says ${b.dtype} [${b.shape.join(', ')}]`,
        );
      members.set(name, t);
    }
  }
  return members;
}

/** Rebuilds each member in float32 (before the dtype cast) and compares it with the source. */
async function recompute(
  recast: Checkpoint,
  file: RecastFile,
  source: Checkpoint,
  members: Map<string, TensorInfo>,
): Promise<Recomputed[]> {
  const out: Recomputed[] = [];
  for (const b of file.banks) {
    const T = await readFinite(recast, b.templateTensor);
    for (const [l, name] of b.members.entries()) {
      const C = await readFinite(recast, b.coefficientTensors[l]);
      const f = layerFidelity(await source.readValues(members.get(name) as TensorInfo), compose(T, b.templates, C));
      out.push({ name, cosine: f.cosine, relError: f.relError });
    }
  }
  return out;
}

function render(metrics: RecastMetricsDoc, recomputed: Recomputed[] | null): string {
  const again = new Map((recomputed ?? []).map((r) => [r.name, r]));
  // 16-bit templates: the stored metrics are of the rounded templates; the F32 templates' cosine beside.
  const f32 = metrics.layers.some((l) => l.f32Cosine !== undefined);
  const layerRows = metrics.layers.map((l) => [
    cell(l.name),
    cell(l.bank, 40),
    l.cosine.toFixed(5),
    num(l.relError),
    ...(f32 ? [l.f32Cosine?.toFixed(5) ?? '-'] : []),
    ...(recomputed ? [again.get(l.name)?.cosine.toFixed(5) ?? '-'] : []),
  ]);
  const layers = table(
    [
      { title: 'layer', align: 'left' },
      { title: 'bank', align: 'left' },
      { title: 'cosine', align: 'right' },
      { title: 'rel. error', align: 'right' },
      ...(f32 ? [{ title: 'cosine (F32 templates)', align: 'right' as const }] : []),
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
      b.entropyEstimated && b.entropy !== null ? `~${num(b.entropy)} ±${num(b.entropyEstimated.error)}` : num(b.entropy),
      b.entropyEstimated && b.entropyNormalized !== null ? `~${num(b.entropyNormalized)}` : num(b.entropyNormalized),
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
    const metrics = parsed.docs.metrics;
    let recomputed: Recomputed[] | null = null;
    if (flags.source) {
      // A recast file made from an adapter's update view is compared with that view of its source.
      ({ checkpoint: source } = await openFitSource(flags.source, { factors: updatesNoteOf(recast.metadata) === null }));
      const members = await checkSource(recast, parsed, source);
      recomputed = await recompute(recast, parsed, source, members); // reads (and checks) every template and coefficient
    } else {
      await checkRecastValues(recast, parsed);
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
