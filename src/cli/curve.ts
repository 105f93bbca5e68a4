// `mimicry curve FILE [grouping options] [--json]`: the closed form's compression-vs-fidelity
// trade-off per module role, for every template count n at once (docs/RECAST.md section 3), from
// the eigenvalues of each bank's Gram matrix: nothing is fitted or written.
import { Option, type Command } from 'commander';
import { openCheckpoint } from '../mimicry/safetensors/reader';
import type { Checkpoint } from '../mimicry/safetensors/types';
import { checkpointCurve, type CurvePoint, type CurveView } from '../mimicry/recast/curve';
import { PRESETS } from '../mimicry/recast/grouping';
import type { ReconstructOptions } from '../mimicry/recast/types';
import { cell, grouped, num, table } from './format';
import { toCliError, type CliIO } from './io';
import { positiveInt } from './flags';
import { progressOn } from './progress';
import { modulesArg, ratioArg, templatesArg } from './reconstruct';
import { onStopSignals } from './signals';

interface CurveFlags extends Pick<
  ReconstructOptions,
  'preset' | 'modules' | 'blocksPerGroup' | 'groups' | 'templates' | 'ratio' | 'sets' | 'shareRoles' | 'objective'
> {
  readonly json?: boolean;
}

const row = (p: CurvePoint, chosen: boolean): string[] => [
  `${chosen ? '*' : ' '} ${p.n}`,
  grouped(p.after),
  `${p.ratio.toFixed(2)}x`,
  num(p.relError),
  p.meanCosine.toFixed(5),
  p.minCosine.toFixed(5),
];

/** One table per role; the options' own setting is marked `*` (or added below the curve when n differs between banks). */
export function renderCurve(view: CurveView): string {
  const parts = [
    `compression vs fidelity of the closed form (${view.objective} objective), every n from the eigenvalues of each group's Gram matrix;\n` +
      `rel. error = sqrt(eigenvalues beyond n / all eigenvalues); * = the chosen setting\n`,
  ];
  for (const role of view.roles) {
    const onCurve = role.points.find((p) => p.n === role.chosen.n && p.after === role.chosen.after);
    const rows = role.points.map((p) => row(p, p === onCurve));
    if (!onCurve) rows.push(row(role.chosen, true));
    parts.push(
      `${cell(role.role)} (${role.banks.length} ${role.banks.length === 1 ? 'group' : 'groups'}, ${grouped(role.chosen.before)} parameters)\n` +
        table(
          [
            { title: '  n', align: 'right' },
            { title: 'params after', align: 'right' },
            { title: 'ratio', align: 'right' },
            { title: 'rel. error', align: 'right' },
            { title: 'mean cosine', align: 'right' },
            { title: 'min cosine', align: 'right' },
          ],
          rows,
        ),
    );
  }
  return parts.join('\n');
}

async function run(file: string, flags: CurveFlags, io: CliIO): Promise<void> {
  let checkpoint: Checkpoint;
  try {
    checkpoint = await openCheckpoint(file);
  } catch (e) {
    throw toCliError(e, file);
  }
  const progress = progressOn(io.stderr);
  const stop = onStopSignals();
  try {
    const { json, ...options } = flags;
    const view = await checkpointCurve(checkpoint, options, {
      signal: stop.signal,
      onProgress: (p) => progress.update(`[${p.bankIndex + 1}/${p.banks}] ${p.bank}: ${Math.floor(100 * p.fraction)}%`),
    });
    progress.done();
    io.stdout.write(json ? JSON.stringify(view, null, 2) + '\n' : renderCurve(view));
  } catch (e) {
    progress.done();
    throw stop.received ? stop.stopped() : toCliError(e, file);
  } finally {
    stop.dispose();
    await checkpoint.close();
  }
}

export function registerCurve(program: Command, io: CliIO): void {
  program
    .command('curve')
    .description('compression vs fidelity of the closed form for every template count n, per module role (nothing is written)')
    .argument('<file>', 'checkpoint: .safetensors or *.safetensors.index.json')
    .addOption(
      new Option('--objective <objective>', 'closed form: per-layer (best average per-layer cosine) or total (least squared error)')
        .choices(['per-layer', 'total'])
        .default('per-layer'),
    )
    .addOption(new Option('--preset <preset>', 'grouping and the chosen point, as for reconstruct').choices(PRESETS))
    .option('--modules <roles>', 'module roles, comma-separated; default all', modulesArg)
    .option('--blocks-per-group <n>', 'consecutive blocks per group (default 2)', positiveInt)
    .option('--groups <n>', 'number of groups per role (instead of --blocks-per-group)', positiveInt)
    .option('--templates <n>', 'the chosen n per bank, or "exact" (default 2)', templatesArg)
    .option('--ratio <r>', 'choose n per bank for this compression ratio (e.g. 4 or 4x)', ratioArg)
    .option('--sets <k>', 'coefficient sets per layer, K (default 2)', positiveInt)
    .option('--share-roles', 'one bank for all roles of equal shape in a group')
    .option('--json', 'print the curve as JSON')
    .action((file: string, flags: CurveFlags) => run(file, flags, io));
}
