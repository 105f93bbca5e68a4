// `npm run bench -- --only paper`: the authors' loop (method paper) three ways on the same banks of a
// generated ViT-S (fc1 + fc2, 2 blocks/group, n = 2, K = 2, fc1/fc2 weighted 2, the authors'
// settings): our fused CPU loop (the default on CPU backends), our tfjs loop on wasm (what ran before,
// now the GPU backends' loop), and the authors' loop in PyTorch (bench/paper-torch.py, CPU, 2
// threads) when a python3 with torch is found. Prints seconds per step side by side, the ratios, how
// closely the fused loop follows the tfjs loop's loss trajectory, and PASS/FAIL against the target:
// the fused loop at least as fast per step as PyTorch. Timings are never asserted in tests.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCheckpoint } from '../src/mimicry/safetensors/reader';
import { parseWeightName, planGroups, type BankPlan } from '../src/mimicry/recast/grouping';
import { memberInfos, readMember } from '../src/mimicry/recast/stream';
import { paperFitterTfjs } from '../src/mimicry/recast/paper';
import { fitPaperFused } from '../src/mimicry/recast/paperFused';
import { memberWeights } from '../src/mimicry/recast/paperInit';
import { defaultThreads } from '../src/mimicry/recast/paperPool';
import { resolveFit } from '../src/mimicry/recast/options';
import { loadTf } from '../src/mimicry/recast/tfjs';
import { Scratch } from '../src/mimicry/recast/scratch';
import { compose } from '../src/mimicry/recast/compose';
import { layerFidelity } from '../src/mimicry/recast/metrics';
import type { GroupFit, GroupFitter } from '../src/mimicry/recast/fitting';
import type { ReconstructOptions } from '../src/mimicry/recast/types';
import { writeVitS } from './vitS';

const FULL_STEPS = 1000;
/** The tfjs loop takes about a second per step here: a few steps give its per-step time. */
const TFJS_STEPS = { full: 20, quick: 5 };
/** PyTorch's steps all cost the same: 200 give its per-step time (1000 take 4 minutes or more here). */
const TORCH_STEPS = { full: 200, quick: 20 };
const TORCH_THREADS = 2;
/**
 * Loss trajectories of the fused and the tfjs loop agree to this relative difference: tfjs sums the
 * loss's 589,824 terms per member in float32, which alone is about 2e-4 off (printed beside it).
 */
const TRAJECTORY_TOLERANCE = 1e-3;

const OPTIONS: ReconstructOptions = { modules: ['mlp.fc1', 'mlp.fc2'], moduleWeights: { 'mlp.fc1': 2, 'mlp.fc2': 2 } };

interface LoopRun {
  readonly loop: string;
  readonly steps: number;
  readonly seconds: number;
  readonly meanCosine: number;
  readonly minCosine: number;
  readonly detail: string;
}

interface Bank {
  readonly plan: BankPlan;
  readonly rows: Float32Array[];
}

const perStep = (r: LoopRun) => r.seconds / r.steps;
const mean = (v: readonly number[]) => v.reduce((a, x) => a + x, 0) / v.length;

async function runLoop(
  label: string,
  fitter: GroupFitter,
  banks: readonly Bank[],
  steps: number,
  backend: 'wasm' | 'cpu',
): Promise<{ run: LoopRun; losses: number[][] }> {
  const fit = resolveFit({ ...OPTIONS, method: 'paper', steps, backend });
  const cosines: number[] = [];
  const losses: number[][] = [];
  let seconds = 0;
  let ran = '';
  for (const b of banks) {
    const trace: number[] = [];
    const t = performance.now();
    const r: GroupFit = await fitter(b.rows, b.plan, { fit, scratch: new Scratch(), progress: (_s, _n, loss) => trace.push(loss) });
    seconds += (performance.now() - t) / 1000;
    ran = r.backend;
    losses.push(trace);
    b.rows.forEach((row, l) => cosines.push(layerFidelity(row, compose(r.templates, r.n, r.coefficients[l])).cosine));
    process.stderr.write(`  [paper bench] ${label}: bank ${b.plan.name} done, ${seconds.toFixed(1)} s so far\n`);
  }
  return { run: { loop: label, steps, seconds, meanCosine: mean(cosines), minCosine: Math.min(...cosines), detail: ran }, losses };
}

/** A python3 that imports torch: the one on PATH, else Debian's (apt-get install python3-torch). */
function torchPython(): string | null {
  for (const py of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
      return py;
    } catch {
      // not this one
    }
  }
  return null;
}

function runTorch(py: string, file: string, banks: readonly Bank[], steps: number): LoopRun {
  const fit = resolveFit({ ...OPTIONS, method: 'paper', steps });
  const cfg = {
    file,
    banks: banks.map((b) => ({ members: b.plan.members, weights: Array.from(memberWeights(b.plan, fit.moduleWeights)) })),
    n: banks[0].plan.templates,
    K: banks[0].plan.sets,
    steps,
    lr: fit.lr,
    lrStep: fit.lrStep,
    lrGamma: fit.lrGamma,
    beta: fit.beta,
    noise: fit.noise,
    clip: fit.clip,
    threads: TORCH_THREADS,
    seed: fit.seed,
  };
  const out = execFileSync(py, [path.join(__dirname, 'paper-torch.py'), JSON.stringify(cfg)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env: { ...process.env, OMP_NUM_THREADS: String(TORCH_THREADS) },
  });
  const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { seconds: number; cosines: number[]; torch: string };
  return {
    loop: 'authors (PyTorch)',
    steps,
    seconds: r.seconds,
    meanCosine: mean(r.cosines),
    minCosine: Math.min(...r.cosines),
    detail: `torch ${r.torch}, CPU, ${TORCH_THREADS} threads, one joint loop`,
  };
}

/** Relative error of tfjs' float32 sum (wasm) of a member's squared values, against float64. */
async function tfjsSumError(values: Float32Array): Promise<number> {
  const { tf } = await loadTf('wasm');
  const squares = values.map((v) => v * v);
  let exact = 0;
  for (const v of squares) exact += v;
  const t = tf.tensor1d(squares);
  const s = tf.sum(t);
  const got = (await s.data())[0];
  t.dispose();
  s.dispose();
  return Math.abs(got - exact) / exact;
}

/** Largest relative difference between two loss trajectories, step by step. */
function trajectoryGap(a: number[][], b: number[][]): number {
  let worst = 0;
  a.forEach((trace, i) => trace.forEach((x, s) => (worst = Math.max(worst, Math.abs(x - b[i][s]) / Math.abs(x)))));
  return worst;
}

export async function benchPaper(quick: boolean): Promise<void> {
  const fusedSteps = quick ? 100 : FULL_STEPS;
  const tfjsSteps = quick ? TFJS_STEPS.quick : TFJS_STEPS.full;
  const torchSteps = quick ? TORCH_STEPS.quick : TORCH_STEPS.full;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mimicry-paper-bench-'));
  try {
    const file = path.join(dir, 'vit-s.safetensors');
    await writeVitS(file);
    const ck = await openCheckpoint(file);
    const banks: Bank[] = [];
    try {
      const scratch = new Scratch();
      for (const plan of planGroups(ck.tensors, OPTIONS).banks) {
        const rows: Float32Array[] = [];
        for (const info of memberInfos(ck, plan))
          rows.push(
            Float32Array.from(await readMember(ck, info, parseWeightName(info.name)?.role ?? '', new Float32Array(plan.size), scratch)),
          );
        banks.push({ plan, rows });
      }
    } finally {
      await ck.close();
    }
    const b0 = banks[0].plan;
    const threads = defaultThreads(b0.templates, b0.size);
    console.log(
      `paper loop, ViT-S fc1+fc2 (${banks.length} banks of ${b0.members.length} x ${b0.shape.join('x')}, n=${b0.templates}, ` +
        `K=${b0.sets}, fc1/fc2 weight 2), ${os.availableParallelism()} cores, load average ${os
          .loadavg()
          .map((v) => v.toFixed(2))
          .join(' ')}` +
        (quick ? ` -- QUICK: ${fusedSteps} fused / ${torchSteps} PyTorch steps, not the authors' ${FULL_STEPS}` : ''),
    );

    const fused = await runLoop(`fused (${threads} threads)`, fitPaperFused, banks, fusedSteps, 'wasm');
    const tfjs = await runLoop('tfjs (wasm)', paperFitterTfjs, banks, tfjsSteps, 'wasm');
    // The same first steps on the fused loop, every step reported: the trajectory comparison.
    const fusedShort = await runLoop('fused, short', fitPaperFused, banks, tfjsSteps, 'wasm');
    const gap = trajectoryGap(tfjs.losses, fusedShort.losses);
    const sumError = await tfjsSumError(banks[0].rows[0]);
    const py = torchPython();
    const torch = py ? runTorch(py, file, banks, torchSteps) : null;

    const rows = [fused.run, tfjs.run, ...(torch ? [torch] : [])];
    const ref = torch ?? tfjs.run;
    const head = ['loop', 'steps', 'time', 's/step', `vs ${torch ? 'PyTorch' : 'tfjs'}`, 'mean cos', 'min cos', 'ran on'];
    const body = rows.map((r) => [
      r.loop,
      String(r.steps),
      `${r.seconds.toFixed(1)} s`,
      perStep(r).toFixed(4),
      `${(perStep(r) / perStep(ref)).toFixed(2)}x`,
      r.meanCosine.toFixed(4),
      r.minCosine.toFixed(4),
      r.detail,
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells: readonly string[]) =>
      cells.map((c, i) => (i === 0 || i === 7 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    console.log(line(head));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const b of body) console.log(line(b));
    console.log(
      `cosines are of each loop's own run (${fusedSteps}, ${tfjsSteps} and ${torch ? torchSteps : '-'} steps); ` +
        `PyTorch clips and keeps the best state over all banks at once, ours per bank`,
    );
    console.log(
      `fused vs tfjs loss trajectory, first ${tfjsSteps} steps of every bank: largest relative difference ${gap.toExponential(2)} ` +
        `(tfjs' own float32 sum of one member's ${b0.size} squares is ${sumError.toExponential(1)} off)`,
    );
    console.log(
      `${FULL_STEPS} steps, all ${banks.length} banks: fused ${(perStep(fused.run) * FULL_STEPS).toFixed(1)} s` +
        (fused.run.steps === FULL_STEPS ? ' (measured)' : ' (from its per-step time)') +
        (torch ? `, PyTorch ${(perStep(torch) * FULL_STEPS).toFixed(1)} s (from its per-step time)` : '') +
        `, tfjs ${(perStep(tfjs.run) * FULL_STEPS).toFixed(0)} s (from its per-step time)`,
    );
    console.log(`tfjs / fused: ${(perStep(tfjs.run) / perStep(fused.run)).toFixed(1)}x`);

    console.log('');
    const sameTrajectory = gap <= TRAJECTORY_TOLERANCE;
    console.log(
      `${sameTrajectory ? 'PASS' : 'FAIL'}  fused loop follows the tfjs loop (relative loss difference <= ${TRAJECTORY_TOLERANCE}): ${gap.toExponential(2)}`,
    );
    if (!torch)
      console.log("skipped: no torch (python3 -c 'import torch' failed for python3 and /usr/bin/python3; apt-get install python3-torch)");
    else {
      const ratio = perStep(fused.run) / perStep(torch);
      console.log(
        `${ratio <= 1 ? 'PASS' : 'FAIL'}  fused loop at least as fast per step as the authors' PyTorch loop: ` +
          `${perStep(fused.run).toFixed(4)} vs ${perStep(torch).toFixed(4)} s/step, ` +
          (ratio <= 1 ? `${(1 / ratio).toFixed(1)}x faster` : `${ratio.toFixed(2)}x slower (missed by ${((ratio - 1) * 100).toFixed(0)}%)`),
      );
    }
    mkdirSync('bench-results', { recursive: true });
    const json = {
      date: new Date().toISOString(),
      quick,
      loadAverage: os.loadavg(),
      banks: banks.map((b) => b.plan.name),
      runs: rows.map((r) => ({ ...r, secondsPerStep: perStep(r) })),
      trajectoryGap: gap,
      tfjsSumError: sumError,
      torch: torch ? { fusedOverTorch: perStep(fused.run) / perStep(torch) } : 'skipped: no torch',
    };
    writeFileSync('bench-results/paper.json', JSON.stringify(json, null, 2) + '\n');
    console.log('wrote bench-results/paper.json');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
