// `mimicry family PATH... [--base FILE] [--templates N] [--map pca|umap] [--seed S] [--out BANK] [--json]`:
// compares the fine-tunes or adapters of one base (docs/RECAST.md section 6); with --out, also writes
// their task bank (docs/FORMAT.md section 8). Progress on stderr (a terminal only); Ctrl-C stops it.
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { analyzeFamily, FAMILY_MAP_METHODS, type FamilyMapMethod, type FamilyReport } from '../mimicry/family/analyze';
import { writeTaskBank, type TaskBankResult } from '../mimicry/family/bank';
import { loadFamily, type LoadedFamily } from '../mimicry/family/members';
import type { FamilyWeightsDoc } from '../mimicry/family/weightsFit';
import { cell, grouped, num, table } from './format';
import { nonNegativeInt, positiveInt } from './flags';
import { displayPath, ensureOutputFolders, toCliError, type CliIO } from './io';
import { progressOn } from './progress';
import { onStopSignals, removeStaleTemporaries } from './signals';

interface FamilyFlags {
  readonly base?: string;
  readonly templates?: number;
  readonly map: FamilyMapMethod;
  readonly seed: number;
  readonly out?: string;
  readonly json?: boolean;
}

const fixed = (x: number) => x.toFixed(4);

function render(r: FamilyReport): string {
  const names = r.members.map((m) => cell(m.name, 32));
  const out: string[] = [];
  out.push(
    table(
      [
        { title: 'member', align: 'left' },
        { title: 'kind', align: 'left' },
        { title: 'step', align: 'right' },
        { title: 'parameters', align: 'right' },
        { title: 'coefficients', align: 'right' },
        { title: 'unshared layers', align: 'right' },
      ],
      r.members.map((m, i) => [
        names[i],
        m.kind,
        m.step === null ? '-' : String(m.step),
        grouped(m.params),
        grouped(m.coefficients),
        String(m.unshared.length),
      ]),
    ),
  );
  out.push(`compared on ${r.layers.length} shared layers${r.base ? `, base ${cell(r.base)}` : ''}\n`);
  out.push('\nwhole-model cosine of the updates\n');
  out.push(
    table(
      [{ title: '', align: 'left' }, ...names.map((n) => ({ title: n, align: 'right' as const }))],
      r.cosine.map((row, i) => [names[i], ...row.map(fixed)]),
    ),
  );
  const pairs: [number, number][] = [];
  for (let a = 0; a < names.length; a++) for (let b = a + 1; b < names.length; b++) pairs.push([a, b]);
  out.push(`\nper layer: ||dW||_F${r.base ? ' (relative to the base)' : ''} per member, mean cosine over member pairs\n`);
  out.push(
    table(
      [
        { title: 'layer', align: 'left' },
        ...names.map((n) => ({ title: n, align: 'right' as const })),
        { title: 'mean cosine', align: 'right' },
      ],
      r.layers.map((l) => [
        cell(l.name, 60),
        ...l.norms.map((v, i) => (l.relative ? `${num(v)} (${num(l.relative[i])})` : num(v))),
        pairs.length ? fixed(pairs.reduce((s, [a, b]) => s + l.cosine[a][b], 0) / pairs.length) : '-',
      ]),
    ),
  );
  out.push('\nbanks: n shared templates; per member the cosine at n, and "captured" by the others\' templates\n');
  out.push(
    table(
      [
        { title: 'bank', align: 'left' },
        { title: 'layers', align: 'right' },
        { title: 'n', align: 'right' },
        { title: 'rank', align: 'right' },
        ...names.map((n) => ({ title: `${n} cos / captured`, align: 'right' as const })),
        { title: 'cost / >= 0', align: 'right' },
        { title: 'min use entropy', align: 'right' },
      ],
      r.banks.map((b) => [
        cell(b.name, 40),
        String(b.layers.length),
        String(b.templates),
        String(b.rank),
        ...r.members.map((m) => `${fixed(b.fidelity.cosine[m.name][b.templates - 1] ?? 1)} / ${fixed(b.captured[m.name])}`),
        `${fixed(b.nonNegative.unconstrainedCost)} / ${fixed(b.nonNegative.cost)}`,
        num(b.use.normalized.reduce<number | null>((lo, h) => (h === null ? lo : lo === null ? h : Math.min(lo, h)), null)),
      ]),
    ),
  );
  out.push(
    'cost: mean squared relative error of the closed form and of the non-negative fit; use entropy: 0 = one member alone uses a template\n',
  );
  const weighted = r.banks.filter((b) => b.weights !== null);
  if (weighted.length) {
    out.push(
      "\nfull weights W_base + dW, n templates: per member the cosine over the base's own templates frozen (only its coefficients fitted) / over templates fitted to every member / the part of dW the frozen ones express\n",
    );
    out.push(
      table(
        [
          { title: 'bank', align: 'left' },
          { title: 'n', align: 'right' },
          { title: 'base cos', align: 'right' },
          ...names.map((n) => ({ title: `${n} frozen / joint / dW`, align: 'right' as const })),
        ],
        weighted.map((b) => {
          const w = b.weights as FamilyWeightsDoc;
          const at = (curve: readonly number[]) => fixed(curve[Math.min(b.templates, curve.length) - 1] ?? 1);
          return [
            cell(b.name, 40),
            String(Math.min(b.templates, w.baseRank)),
            at(w.base),
            ...r.members.map((m) => `${at(w.frozen[m.name])} / ${at(w.joint[m.name])} / ${at(w.update[m.name])}`),
          ];
        }),
      ),
    );
  }
  out.push('\nthe fidelity-vs-n curves, shares and the map: --json\n');
  return out.join('');
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

/** The task bank's line: its size next to the members' files. */
function renderBank(bank: TaskBankResult, given: string): string {
  const ratio = bank.membersBytes > 0 ? bank.bytes / bank.membersBytes : 0;
  return (
    `\ntask bank ${displayPath(bank.path, given)}: ${mib(bank.bytes)} (${grouped(bank.templateValues)} template and ` +
    `${grouped(bank.coefficientValues)} coefficient values in ${bank.banks} banks); the members' files: ${mib(bank.membersBytes)} ` +
    `(${ratio.toFixed(2)}x); their shared layers' updates stored dense: ${mib(bank.denseBytes)}\n`
  );
}

async function run(paths: string[], flags: FamilyFlags, io: CliIO): Promise<void> {
  if (flags.out !== undefined) await ensureOutputFolders([flags.out]);
  const progress = progressOn(io.stderr);
  // Ctrl-C or SIGTERM stops the run; the bank's writer then removes its temporary file.
  const stop = onStopSignals();
  let family: LoadedFamily | undefined;
  try {
    if (flags.out !== undefined) await removeStaleTemporaries([flags.out], io);
    progress.update(`reading ${paths.length} members`);
    family = await loadFamily(paths, { base: flags.base, signal: stop.signal });
    const grams = new Map<string, Float64Array>();
    const report = await analyzeFamily(family, {
      templates: flags.templates,
      map: flags.map,
      seed: flags.seed,
      signal: stop.signal,
      onProgress: (done, total) => progress.update(`[${done}/${total}] banks compared`),
      onGram: flags.out !== undefined ? (bank, g) => grams.set(bank, g) : undefined,
    });
    let bank: TaskBankResult | undefined;
    if (flags.out !== undefined) {
      const out = flags.out;
      bank = await writeTaskBank(family, out, {
        templates: flags.templates,
        grams,
        signal: stop.signal,
        onWrite: (p) =>
          progress.update(
            `writing ${path.basename(out)}: ${Math.floor((100 * p.bytes) / Math.max(1, p.totalBytes))}% (${p.tensors}/${p.totalTensors} tensors)`,
          ),
      });
    }
    progress.done();
    if (flags.json) {
      const doc = bank
        ? { ...report, taskBank: { path: bank.path, bytes: bank.bytes, membersBytes: bank.membersBytes, denseBytes: bank.denseBytes } }
        : report;
      io.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    } else io.stdout.write(render(report) + (bank ? renderBank(bank, flags.out ?? '') : ''));
  } catch (e) {
    progress.done();
    throw stop.received ? stop.stopped() : toCliError(e, paths[0] ?? '');
  } finally {
    stop.dispose();
    await family?.close();
  }
}

export function registerFamily(program: Command, io: CliIO): void {
  program
    .command('family')
    .description(
      'compare fine-tunes or LoRA adapters of one base: update norms, spectra and cosines, shared update templates, a map; --out writes the task bank',
    )
    .argument('<paths...>', 'two or more PEFT / mlx-lm adapter folders or files, or full checkpoints (with --base)')
    .option('--base <file>', 'the base checkpoint: needed for full checkpoints; adds ||dW||_F / ||W_base||_F and the full-weights fit')
    .option('--templates <n>', 'shared templates per bank (default: the number of members)', positiveInt)
    .addOption(
      new Option('--map <method>', 'the map of (member, layer) updates: pca (exact) or umap (seeded)')
        .choices([...FAMILY_MAP_METHODS])
        .default('pca'),
    )
    .option('--seed <n>', "UMAP's random seed (PCA is exact)", nonNegativeInt, 0)
    .option('--out <bank>', "also write the task bank: shared templates and every member's coefficients (.safetensors)")
    .option('--json', 'print one JSON document instead of tables')
    .action((paths: string[], flags: FamilyFlags) => run(paths, flags, io));
}
