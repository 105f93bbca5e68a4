// `mimicry curve FILE [grouping options] [--json]`: the closed form's compression-vs-fidelity
// trade-off per module role, for every template count n at once (docs/RECAST.md section 3), from
// the eigenvalues of each bank's Gram matrix: nothing is fitted or written.
import type { Command } from 'commander';
import { checkpointCurve, type CurvePoint, type CurveView } from '../mimicry/recast/curve';
import type { ReconstructOptions } from '../mimicry/recast/types';
import { cell, grouped, num, table } from './format';
import { openForFit } from './fitSource';
import { toCliError, type CliIO } from './io';
import { progressOn } from './progress';
import { addGroupingOptions } from './reconstruct';
import { onStopSignals } from './signals';

interface CurveFlags extends Pick<
  ReconstructOptions,
  'preset' | 'modules' | 'blocksPerGroup' | 'groups' | 'templates' | 'ratio' | 'sets' | 'shareRoles' | 'objective'
> {
  readonly json?: boolean;
  readonly factors?: boolean;
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
  const checkpoint = await openForFit(file, flags.factors, io);
  const progress = progressOn(io.stderr);
  const stop = onStopSignals();
  try {
    const { json, factors: _factors, ...options } = flags;
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
  addGroupingOptions(
    program
      .command('curve')
      .description('compression vs fidelity of the closed form for every template count n, per module role (nothing is written)')
      .argument('<file>', 'checkpoint: .safetensors or *.safetensors.index.json'),
  )
    .option('--json', 'print the curve as JSON')
    .action((file: string, flags: CurveFlags) => run(file, flags, io));
}
