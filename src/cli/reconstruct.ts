// `mimicry reconstruct FILE --out OUT [...]`: fit templates + coefficients and write the export
// (docs/FORMAT.md), optionally the dense reconstruction and a report; a per-layer table at the end.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { exportRecast, type ExportOutcome } from '../mimicry/recast/export';
import { BLOCK_INDEXES, PRESETS } from '../mimicry/recast/grouping';
import { reportJson, sourceDiskBytes } from '../mimicry/recast/report';
import { BACKENDS, METHODS, TEMPLATE_DTYPES, type ReconstructOptions } from '../mimicry/recast/types';
import { formatSizeAgainst } from '../webview/shared/format';
import { onBackendNote, releaseGpu } from '../mimicry/recast/tfjs';
import { describeDevice } from '../mimicry/gpu/webgpu';
import { cell, grouped, num, table } from './format';
import { displayPath, ensureOutputFolders, printable, toCliError, type CliIO } from './io';
import { nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from './flags';
import { openForFit } from './fitSource';
import { progressOn } from './progress';
import { onStopSignals, removeStaleTemporaries } from './signals';

// Option parsers of this command's own flags (the number parsers are in ./flags).

/** `--templates 3` or `--templates exact`. */
export function templatesArg(value: string): number | 'exact' {
  return value.trim() === 'exact' ? 'exact' : positiveInt(value);
}

/** `--modules mlp.fc1,attn.c_attn` (repeatable). */
export function modulesArg(value: string, previous: string[] = []): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) throw new InvalidArgumentError('expected a comma-separated list of module roles, e.g. mlp.fc1,attn.c_attn');
  return [...previous, ...list];
}

/** `--module-weight mlp.fc1=2` (repeatable). */
export function moduleWeightArg(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const m = /^([^=]+)=(.+)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected ROLE=WEIGHT, got "${value}"`);
  return { ...previous, [m[1].trim()]: nonNegativeNumber(m[2]) };
}

/** `--ratio 4` or `--ratio 4x`. */
export function ratioArg(value: string): number {
  const n = Number(value.trim().replace(/x$/i, ''));
  if (!Number.isFinite(n) || n < 1) throw new InvalidArgumentError(`expected a compression ratio >= 1 (e.g. 4 or 4x), got "${value}"`);
  return n;
}

/** Commander's parsed flags: the engine's options by their own names, plus the CLI's own. */
interface ReconstructFlags extends Omit<ReconstructOptions, 'moduleWeights' | 'groupMemoryBytes' | 'memoryLimitBytes'> {
  readonly out: string;
  readonly dense?: string;
  readonly report?: string;
  readonly json?: boolean;
  /** `--module-weight role=w`, repeatable. */
  readonly moduleWeight?: Record<string, number>;
  readonly groupMemoryMb?: number;
  readonly memoryLimitMb?: number;
  readonly factors?: boolean;
}

export function optionsFromFlags(f: ReconstructFlags): ReconstructOptions {
  const {
    out: _out,
    dense: _dense,
    report: _report,
    json: _json,
    factors: _factors,
    moduleWeight,
    groupMemoryMb,
    memoryLimitMb,
    ...engine
  } = f;
  const mib = (v: number | undefined) => (v === undefined ? undefined : v * 2 ** 20);
  return { ...engine, moduleWeights: moduleWeight, groupMemoryBytes: mib(groupMemoryMb), memoryLimitBytes: mib(memoryLimitMb) };
}

/** Bytes on disk of each file written (undefined: not written). */
export interface WrittenSizes {
  readonly out?: number;
  readonly dense?: number;
  readonly report?: number;
}

/** The sizes on disk of an export's files. */
export async function writtenSizes(files: ExportOutcome['files']): Promise<WrittenSizes> {
  const size = async (f: string | undefined) => (f === undefined ? undefined : (await stat(f)).size);
  return { out: await size(files.out), dense: await size(files.dense), report: await size(files.report) };
}

export function renderSummary(
  outcome: ExportOutcome,
  given: { out: string; dense?: string; report?: string },
  sizes: WrittenSizes = {},
): string {
  const { result } = outcome;
  const s = result.summary;
  const m = result.method;
  const lines = [
    `reconstructed ${s.layers} layers in ${s.banks} banks: ${m.method}${m.objective ? ` (${m.objective} objective)` : ''}, ` +
      `K = ${m.K}, backend ${m.backend}${m.device ? ` on ${describeDevice(m.device)}` : ''}, ${m.elapsed.toFixed(2)} s`,
    `parameters ${grouped(s.parameters.before)} -> ${grouped(s.parameters.after)} (${s.parameters.ratio.toFixed(2)}x); ` +
      `coefficients per task: ${grouped(s.coefficientsPerTask)}`,
    `cosine: mean ${s.meanCosine.toFixed(5)}, min ${s.minCosine.toFixed(5)}; relative error: mean ${num(s.meanRelError)}`,
  ];
  // 16-bit templates: the metrics above are of the file's rounded templates; these are the exact ones'.
  const rounded = [...new Set(result.banks.map((b) => b.templateDtype).filter((d) => d !== 'F32'))];
  if (s.f32Templates)
    lines.push(
      `templates stored as ${rounded.join(', ')} (the metrics above are of those); cosine with F32 templates: ` +
        `mean ${s.f32Templates.meanCosine.toFixed(5)}, min ${s.f32Templates.minCosine.toFixed(5)}; relative error: mean ${num(s.f32Templates.meanRelError)}`,
    );
  if (s.meanProbeCosine !== undefined)
    lines.push(`feature cosine with ${m.probes} random N(0, I) probes per layer (not data): mean ${s.meanProbeCosine.toFixed(5)}`);
  // Each file with its size on disk next to the source's.
  const source = sourceDiskBytes(outcome.source);
  const file = (name: string, bytes: number | undefined, ratio = true) =>
    bytes === undefined ? printable(name) : printable(formatSizeAgainst(name, bytes, source, ratio));
  lines.push(
    `wrote ${file(given.out, sizes.out)} (reparameterized)${given.dense ? `, ${file(given.dense, sizes.dense)} (dense)` : ''}` +
      `${given.report ? `, ${file(given.report, sizes.report, false)} (report)` : ''}`,
  );
  return lines.join('\n') + '\n';
}

export function renderLayerTable(outcome: ExportOutcome): string {
  const { result } = outcome;
  const probes = result.layers.some((l) => l.probeCosine !== undefined);
  const n = new Map(result.banks.map((b) => [b.plan.name, b.n]));
  const rows = result.layers.map((l) => [
    cell(l.name),
    cell(l.bank, 40),
    String(n.get(l.bank) ?? ''),
    l.cosine.toFixed(5),
    num(l.relError),
    ...(probes ? [l.probeCosine === undefined ? '-' : l.probeCosine.toFixed(5)] : []),
  ]);
  return table(
    [
      { title: 'layer', align: 'left' },
      { title: 'bank', align: 'left' },
      { title: 'n', align: 'right' },
      { title: 'cosine', align: 'right' },
      { title: 'rel. error', align: 'right' },
      ...(probes ? [{ title: 'probe cosine', align: 'right' as const }] : []),
    ],
    rows,
  );
}

async function run(file: string, flags: ReconstructFlags, io: CliIO): Promise<void> {
  const checkpoint = await openForFit(file, flags.factors, io);
  await ensureOutputFolders([flags.out, flags.dense, flags.report]).catch(async (e: unknown) => {
    await checkpoint.close();
    throw e;
  });
  const progress = progressOn(io.stderr);
  // Ctrl-C or SIGTERM stops the export; its writers then remove their temporary files.
  const stop = onStopSignals();
  // A GPU passed over, or a software one forced: one line each, above the progress line.
  const unsubscribe = onBackendNote((line) => {
    progress.done();
    io.stderr.write(`mimicry: ${printable(line)}\n`);
  });
  try {
    await removeStaleTemporaries([flags.out, flags.dense, flags.report], io);
    const outcome = await exportRecast(
      checkpoint,
      optionsFromFlags(flags),
      { out: flags.out, dense: flags.dense, report: flags.report },
      {
        signal: stop.signal,
        onProgress: (ev) =>
          progress.update(
            `[${ev.groupIndex + 1}/${ev.groups}] ${ev.group}${ev.steps ? ` step ${ev.step}/${ev.steps}` : ''} ` +
              `loss ${num(ev.loss)} ${ev.elapsed.toFixed(1)} s`,
          ),
        onWrite: (target, p) =>
          progress.update(
            `writing ${path.basename(target)}: ${Math.floor((100 * p.bytes) / Math.max(1, p.totalBytes))}% ` +
              `(${p.tensors}/${p.totalTensors} tensors)`,
          ),
      },
    );
    progress.done();
    if (flags.json) {
      io.stdout.write(JSON.stringify(reportJson(outcome.result, outcome.source, outcome.files), null, 2) + '\n');
    } else {
      io.stdout.write(
        renderSummary(
          outcome,
          { out: displayPath(outcome.files.out, flags.out), dense: flags.dense, report: flags.report },
          await writtenSizes(outcome.files),
        ) +
          '\n' +
          renderLayerTable(outcome),
      );
    }
  } catch (e) {
    progress.done();
    throw stop.received ? stop.stopped() : toCliError(e, file);
  } finally {
    unsubscribe();
    releaseGpu(); // the GPU instance would keep the process alive
    stop.dispose();
    await checkpoint.close();
  }
}

/** The grouping and template options, shared by `reconstruct` and `curve` (the same words, the same parsers). */
export function addGroupingOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--objective <objective>', 'closed form: per-layer (best average per-layer cosine) or total (least squared error)')
        .choices(['per-layer', 'total'])
        .default('per-layer'),
    )
    .addOption(
      new Option('--preset <preset>', 'paper (2 blocks/group, n = 2, K = 2), exact (n = group size), or a compression ratio').choices(
        PRESETS,
      ),
    )
    .option('--modules <roles>', 'module roles to reparameterize, comma-separated (e.g. mlp.fc1,attn.c_attn); default all', modulesArg)
    .option('--blocks-per-group <n>', 'consecutive blocks per group (default 2)', positiveInt)
    .option('--groups <n>', 'number of groups per role (instead of --blocks-per-group)', positiveInt)
    .option('--templates <n>', 'templates per bank, or "exact" (default 2)', templatesArg)
    .option('--ratio <r>', 'choose n per bank for this compression ratio (e.g. 4 or 4x)', ratioArg)
    .option('--sets <k>', 'coefficient sets per layer, K (default 2)', positiveInt)
    .option('--share-roles', 'one bank for all roles of equal shape in a group')
    .addOption(
      new Option(
        '--block-index <which>',
        'when a name has several numbered parts (T5: block.{i}.layer.{j}), which one is the block: inner (default) or outer',
      ).choices(BLOCK_INDEXES),
    )
    .option('--factors', 'a LoRA adapter: fit its stored factors (lora_A, lora_B) as tensors, not its layer updates scale * B @ A');
}

export function registerReconstruct(program: Command, io: CliIO): void {
  addGroupingOptions(
    program
      .command('reconstruct')
      .description('rebuild layers as shared templates + per-layer coefficients (RECAST Neural Mimicry) and export them')
      .argument('<file>', 'checkpoint: .safetensors or *.safetensors.index.json')
      .requiredOption('--out <file>', 'the reparameterized .safetensors file to write (docs/FORMAT.md)')
      .option('--dense <file>', 'also write the dense reconstruction (original names, shapes and dtypes)')
      .option('--report <file>', 'also write a JSON report (metrics and method)')
      .addOption(
        new Option('--method <method>', "spectral (closed form), paper (the authors' optimizer loop) or spectral+refine")
          .choices(METHODS)
          .default('spectral'),
      ),
  )
    .option('--steps <n>', 'optimizer steps (default 1000)', nonNegativeInt)
    .option('--lr <x>', 'RMSprop learning rate (default 0.1; 1e-4 for spectral+refine)', positiveNumber)
    .addOption(new Option('--loss <loss>', 'optimizer loss (default smoothl1; the closed form is mse)').choices(['smoothl1', 'mse']))
    .option('--beta <x>', 'SmoothL1 beta (default 1)', positiveNumber)
    .option('--noise <x>', 'std of the coefficient noise while training (default 1e-4)', nonNegativeNumber)
    .option('--seed <n>', 'random seed (default 0)', nonNegativeInt)
    .addOption(new Option('--backend <backend>', 'TensorFlow.js backend for the optimizer').choices(BACKENDS).default('auto'))
    .option('--module-weight <role=w>', 'loss weight of a role, repeatable (the authors use mlp.fc1=2 mlp.fc2=2 on ViT-S)', moduleWeightArg)
    .option('--probes <n>', 'feature fidelity with n random N(0, I) probes per layer (labelled as probes, not data)', nonNegativeInt)
    .addOption(
      new Option(
        '--template-dtype <dtype>',
        "store templates in each bank's own dtype (source: BF16/F16 for a 16-bit source, half the bytes) or exactly in F32",
      )
        .choices(TEMPLATE_DTYPES)
        .default('source'),
    )
    .option(
      '--entropy-max-side <n>',
      'template entropy exactly up to this min(out, rest); larger templates get an estimate with its error (default 1024)',
      positiveInt,
    )
    .option('--no-entropy-estimate', 'no estimate for templates over --entropy-max-side: their entropy is reported as null')
    .option(
      '--group-memory-mb <n>',
      'closed form: stream groups larger than this in chunks instead of holding them (default 1024)',
      positiveInt,
    )
    .option(
      '--memory-limit-mb <n>',
      'refuse up front a group whose fit would need more memory than this (default 60% of the machine memory)',
      positiveInt,
    )
    .option('--json', 'print the report as JSON instead of text')
    .action((file: string, flags: ReconstructFlags) => run(file, flags, io));
}
