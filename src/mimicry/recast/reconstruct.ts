// The engine entry point: plan the banks, fit one group at a time, measure, hand templates to a store.
import type { Checkpoint } from '../safetensors/types';
import { energyShares, type GroupFit, type GroupFitter } from './fitting';
import { RECAST_FORMAT } from './format';
import { bankParameters, planGroups, type BankDType, type BankPlan } from './grouping';
import { roundFloat32To } from '../safetensors/dtypes';
import { bankEntropy, type BankEntropy } from './entropy';
import { bankEntropyOnGpu, gramEngine, onGpu } from './entropyGpu';
import { EntropyPool, entropyWork, POOL_MIN_WORK, pooledBankEntropy } from './entropyPool';
import { DEFAULT_ENTROPY_ESTIMATE, estimateCost, estimatedBankEntropy } from './entropyEstimate';
import { coefficientSimilarity, composeWithFidelity, inputLayout, probeFidelity, templateDiversity, type LayerFidelity } from './metrics';
import { ReconstructError } from './errors';
import { resolveFit, type ResolvedFit } from './options';
import { paperFitter } from './paper';
import { activeGpuDevice } from './tfjs';
import type { GpuDevice } from '../gpu/webgpu';
import { hashString, Random } from './random';
import { fitSpectral, repeatSets } from './spectral';
import { groupGram } from './groupGramGpu';
import { Scratch } from './scratch';
import { MemoryTemplateStore, type TemplateStore } from './store';
import { fitSpectralStreaming, memberInfos, readMember } from './stream';
import type {
  BankMetrics,
  BankResult,
  LayerMetrics,
  MethodRecord,
  PhaseTimes,
  ProgressEvent,
  ReconstructHooks,
  ReconstructOptions,
  ReconstructResult,
  RunPhaseName,
  Summary,
} from './types';

const spectralFitter: GroupFitter = async (rows, bank, ctx) => {
  // On webgpu a big group's Gram is computed on the GPU (float32, checked; groupGramGpu.ts).
  const g = await groupGram(rows, ctx.fit.backend);
  const f = fitSpectral(rows, bank.templates, ctx.fit.objective, (length) => ctx.scratch.floats('templates', length), g.gram);
  const coefficients = rows.map((_, l) => repeatSets(f.alpha, l, f.n, bank.sets));
  return {
    templates: f.templates,
    coefficients,
    n: f.n,
    rank: f.rank,
    loss: Number.NaN,
    backend: g.route === 'float32-gpu' ? 'webgpu' : 'js-float64',
    energy: energyShares(f.eigenvalues, f.n),
  };
};

function fitterFor(fit: ResolvedFit): GroupFitter {
  return fit.method === 'spectral' ? spectralFitter : paperFitter;
}

/** Where a bank's measuring phases report: progress inside each, and the seconds each took. */
interface PhaseClock {
  report(phase: RunPhaseName, done: number, total: number, unit: string): void;
  /** Adds the seconds since `since` (performance.now()) to `phase`. */
  spent(phase: RunPhaseName, since: number): void;
}

/**
 * Metrics of one fitted bank; `member(l)` gives member l's original values (one at a time is enough).
 * With `roundTo`, the float32 templates' fidelity is measured first (reported beside, as f32Cosine
 * and f32RelError), then `fit.templates` are rounded in place to the stored dtype: from there on,
 * everything (store, metrics, file) sees the templates as they are stored, and no second copy of
 * them is ever held. The templates go to `store` before entropy, whose pool reads them from its file.
 */
async function measureBank(
  bank: BankPlan,
  member: (l: number) => Promise<Float32Array>,
  fit: GroupFit,
  opts: ResolvedFit,
  scratch: Scratch,
  clock: PhaseClock,
  pool: EntropyPool | null,
  store: TemplateStore,
  roundTo: 'F16' | 'BF16' | null,
  signal?: AbortSignal,
): Promise<{ metrics: BankMetrics; layers: LayerMetrics[]; entropy: Promise<BankEntropy> | null }> {
  const layers: LayerMetrics[] = [];
  let se = 0;
  // Only the probes need a rebuilt member whole; the fidelity itself is summed as it is composed.
  const rebuilt = opts.probes > 0 ? scratch.floats('rebuilt', bank.size) : null;
  const L = bank.members.length;
  // Rounded templates: two passes over each layer, the float32 templates' and the stored ones' (a
  // streamed group reads its members twice: time, not memory).
  const passes = roundTo ? 2 * L : L;
  const unit = roundTo ? 'layer pass' : 'layer';
  let since = performance.now();
  clock.report('fidelity', 0, passes, unit);
  const exact: LayerFidelity[] = [];
  if (roundTo) {
    for (let l = 0; l < L; l++) {
      signal?.throwIfAborted();
      exact.push(composeWithFidelity(fit.templates, fit.n, fit.coefficients[l], await member(l), null));
      clock.report('fidelity', l + 1, passes, unit);
    }
    roundFloat32To(roundTo, fit.templates);
  }
  clock.spent('fidelity', since); // the store's write is no phase's
  await store.put(bank.name, fit.templates);
  const onDisk = store.locate?.(bank.name);
  since = performance.now();
  for (const [l, name] of bank.members.entries()) {
    signal?.throwIfAborted();
    const original = await member(l);
    // compose() and layerFidelity() in one pass (same bits); `rebuilt`, when held, is left for the probes.
    const f = composeWithFidelity(fit.templates, fit.n, fit.coefficients[l], original, rebuilt, se);
    se = f.squaredError;
    const e = exact[l];
    const m: LayerMetrics = {
      name,
      bank: bank.name,
      cosine: f.cosine,
      relError: f.relError,
      ...(e ? { f32Cosine: e.cosine, f32RelError: e.relError } : {}),
    };
    if (rebuilt) {
      const rng = new Random((opts.seed ^ hashString(name)) >>> 0);
      layers.push({ ...m, probeCosine: probeFidelity(original, rebuilt, bank.shape, inputLayout(name), opts.probes, rng) });
    } else layers.push(m);
    clock.report('fidelity', passes - L + l + 1, passes, unit);
  }
  clock.spent('fidelity', since);
  since = performance.now();
  clock.report('diversity', 0, fit.n, 'template');
  const div = templateDiversity(fit.templates, fit.n);
  clock.report('diversity', fit.n, fit.n, 'template');
  clock.spent('diversity', since);
  const side = Math.min(bank.shape[0], bank.size / bank.shape[0]);
  let entropy: Promise<BankEntropy> | null = null;
  const estimate = side > opts.entropyMaxSide && opts.entropyEstimate;
  if (estimate) {
    since = performance.now();
    clock.report('entropy', 0, fit.n, 'template');
    const onTemplate = (done: number) => clock.report('entropy', done, fit.n, 'template');
    entropy = pool
      ? pooledBankEntropy(pool, fit.templates, fit.n, bank.shape, onTemplate, DEFAULT_ENTROPY_ESTIMATE, onDisk)
      : Promise.resolve(estimatedBankEntropy(fit.templates, fit.n, bank.shape, DEFAULT_ENTROPY_ESTIMATE, signal, onTemplate));
    clock.spent('entropy', since);
  } else if (side <= opts.entropyMaxSide) {
    since = performance.now();
    clock.report('entropy', 0, fit.n, 'template');
    const engine = await gramEngine(opts.backend);
    const onTemplate = (done: number) => clock.report('entropy', done, fit.n, 'template');
    // The float64 route goes to the pool's threads (copied: `fit.templates` is scratch the next bank reuses).
    if (engine && onGpu(engine)) entropy = bankEntropyOnGpu(fit.templates, fit.n, bank.shape, engine, signal, onTemplate);
    else if (pool && !engine) entropy = pooledBankEntropy(pool, fit.templates, fit.n, bank.shape, onTemplate, undefined, onDisk);
    else entropy = Promise.resolve(bankEntropy(fit.templates, fit.n, bank.shape, engine, signal, onTemplate));
    clock.spent('entropy', since);
  }
  const sim = coefficientSimilarity(fit.coefficients, bank.blocks);
  const loss = Number.isNaN(fit.loss) ? se / (bank.members.length * bank.size) : fit.loss;
  return {
    layers,
    entropy,
    metrics: {
      name: bank.name,
      members: bank.members,
      templates: fit.n,
      diversity: div.diversity,
      diversityRelative: div.relative,
      // Filled in by reconstruct() once `entropy` settles.
      entropy: null,
      entropyNormalized: null,
      ...(entropy === null ? { entropySkipped: `smaller side ${side} > ${opts.entropyMaxSide} (entropyMaxSide)` } : {}),
      coefficientSimilarity: sim.matrix,
      coefficientSimilarityBlocks: sim.blocks,
      parameters: bankParameters(bank, fit.n),
      ...(fit.energy ? { energy: fit.energy } : {}),
      rank: fit.rank,
      loss,
    },
  };
}

function summarize(
  checkpoint: Checkpoint,
  passthrough: readonly string[],
  banks: readonly BankResult[],
  layers: readonly LayerMetrics[],
): Summary {
  const before = checkpoint.tensors.reduce((a, t) => a + t.params, 0);
  const kept = new Set(passthrough);
  let after = checkpoint.tensors.filter((t) => kept.has(t.name)).reduce((a, t) => a + t.params, 0);
  let coefficientsPerTask = 0;
  for (const b of banks) {
    after += b.metrics.parameters.after;
    coefficientsPerTask += b.coefficients.reduce((a, c) => a + c.length, 0);
  }
  const cos = layers.map((l) => l.cosine);
  const mean = (v: readonly number[]) => (v.length ? v.reduce((a, x) => a + x, 0) / v.length : 1);
  const probes = layers.flatMap((l) => (l.probeCosine === undefined ? [] : [l.probeCosine]));
  const rounded = layers.some((l) => l.f32Cosine !== undefined);
  // Layers of banks stored in F32 count with their own (exact) values.
  const f32Cos = layers.map((l) => l.f32Cosine ?? l.cosine);
  return {
    layers: layers.length,
    banks: banks.length,
    meanCosine: mean(cos),
    minCosine: cos.length ? cos.reduce((m, c) => Math.min(m, c), Infinity) : 1,
    meanRelError: layers.length ? mean(layers.map((l) => l.relError)) : 0,
    parameters: { before, after, ratio: after > 0 ? before / after : 1 },
    coefficientsPerTask,
    ...(probes.length ? { meanProbeCosine: mean(probes) } : {}),
    ...(rounded
      ? {
          f32Templates: {
            meanCosine: mean(f32Cos),
            minCosine: f32Cos.reduce((m, c) => Math.min(m, c), Infinity),
            meanRelError: mean(layers.map((l) => l.f32RelError ?? l.relError)),
          },
        }
      : {}),
  };
}

/** Phase seconds to the millisecond (they are shown and stored, not computed with). */
export function roundedPhases(phases: PhaseTimes): PhaseTimes {
  const out: PhaseTimes = {};
  for (const [k, v] of Object.entries(phases) as [keyof PhaseTimes, number][]) out[k] = Math.round(v * 1000) / 1000;
  return out;
}

/** The dtype `bank`'s templates are stored in: its own for `source`, unless that is F32 anyway. */
function storedDtype(bank: BankPlan, fit: ResolvedFit): BankDType {
  return fit.templateDtype === 'source' ? bank.dtype : 'F32';
}

/** Float32 buffers of one member's size that fitting and measuring `bank` holds at once. */
function buffersFor(bank: BankPlan, fit: ResolvedFit): number {
  const L = bank.members.length;
  const n = bank.templates;
  // 16-bit templates are rounded in place (measureBank): they cost nothing more.
  // Members, their tensors, templates with gradients and RMSprop state; in the authors' setting the
  // SIMD kernel's threads also keep their own copy of the targets and template state (paperKernel.ts).
  if (fit.method !== 'spectral') return 2 * L + 4 * n + 1 + (L === 2 && n === 2 ? 2 * L + 4 * n : 0);
  // (Members or one member), templates, and the rebuilt member, held only for probes.
  const rebuilt = fit.probes > 0 ? 1 : 0;
  return (streamed(bank, fit) ? n + 1 : L + n) + rebuilt;
}

/**
 * The 16-bit dtype `bank`'s templates are rounded to, or null when they stay float32: F32 asked, or
 * a value that F16 cannot hold (the bank then keeps exact F32 templates rather than infinities).
 * Rounding is monotonic, so the largest finite magnitude decides for every value.
 */
function roundingOf(templates: Float32Array, dtype: BankDType): 'F16' | 'BF16' | null {
  if (dtype === 'F32') return null;
  let max = 0;
  for (let i = 0; i < templates.length; i++) {
    const a = Math.abs(templates[i]);
    if (a > max && a !== Infinity) max = a; // NaN compares false
  }
  return Number.isFinite(roundFloat32To(dtype, Float32Array.of(max))[0]) ? dtype : null;
}

/** Whether the closed form streams `bank` (too big to hold): its members are then read a chunk at a time. */
function streamed(bank: BankPlan, fit: ResolvedFit): boolean {
  return fit.method === 'spectral' && bank.members.length * bank.size * 4 > fit.groupMemory;
}

/**
 * A Scratch whose member, template and rebuilt slots are sized for the largest group at once. Grown
 * from bank to bank instead, each smaller buffer left behind waits for the collector, which may keep
 * it long after (a 7B run held its attention-sized slots beside the MLP-sized ones). The sizes are
 * upper bounds: pages a run never writes are never resident.
 */
function presized(banks: readonly BankPlan[], fit: ResolvedFit): Scratch {
  const sizes = new Map<string, number>();
  const want = (name: string, length: number) => sizes.set(name, Math.max(sizes.get(name) ?? 0, length));
  for (const b of banks) {
    if (streamed(b, fit)) want('member0', b.size);
    else b.members.forEach((_, l) => want(`member${l}`, b.size));
    if (fit.method === 'spectral') want('templates', b.templates * b.size);
    if (fit.probes > 0) want('rebuilt', b.size);
  }
  const scratch = new Scratch();
  for (const [name, length] of sizes) scratch.floats(name, length);
  return scratch;
}

/** Refuses, before anything is read, a plan whose largest group would not fit in the memory limit. */
function checkMemory(banks: readonly BankPlan[], fit: ResolvedFit, file: string): void {
  const gib = (bytes: number) => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(2)} MiB`);
  for (const bank of banks) {
    const need = buffersFor(bank, fit) * bank.size * 4;
    if (need <= fit.memoryLimit) continue;
    throw new ReconstructError(
      'group-too-large',
      `bank ${bank.name} (${bank.members.length} members of ${gib(bank.size * 4)} in float32, ${bank.templates} templates) ` +
        `needs about ${gib(need)}, the limit is ${gib(fit.memoryLimit)}: use fewer templates, leave the role out with ` +
        `--modules, or raise --memory-limit-mb`,
      file,
    );
  }
}

/**
 * A number whose JSON text is as long as any float64's can be (24 characters): what the values still
 * to come (entropy, times) stand in as when a header is sized before they are known.
 */
export const STAND_IN = -2.2250738585072014e-308;

/** `banks` with every pending entropy (a non-null promise in `pending`) at the stand-in, estimated. */
function withStandIns(banks: readonly BankResult[], pending: readonly (Promise<BankEntropy> | null)[]): BankResult[] {
  return banks.map((b, i) =>
    pending[i]
      ? {
          ...b,
          metrics: {
            ...b.metrics,
            entropy: STAND_IN,
            entropyNormalized: STAND_IN,
            entropyEstimated: { probes: STAND_IN, steps: STAND_IN, error: STAND_IN },
          },
        }
      : b,
  );
}

/** Phase times are rounded to milliseconds (roundedPhases): their longest text is a stand-in of their own. */
const PHASE_STAND_IN = 999999.999;

function standInPhases<T extends Record<string, number>>(phases: T): T {
  return Object.fromEntries(Object.keys(phases).map((k) => [k, PHASE_STAND_IN])) as T;
}

/**
 * Reconstructs every bank of `checkpoint`: one group's weights in memory at a time; templates go
 * to `hooks.store` (memory by default), coefficients and metrics come back in the result.
 */
export async function reconstruct(
  checkpoint: Checkpoint,
  options: ReconstructOptions = {},
  hooks: ReconstructHooks = {},
): Promise<ReconstructResult> {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  if (checkpoint.metadata.format === RECAST_FORMAT) {
    throw new ReconstructError('already-recast', undefined, checkpoint.path);
  }
  const fit = resolveFit(options);
  const plan = planGroups(checkpoint.tensors, options);
  if (plan.banks.length === 0) {
    const roles = plan.roles.map((r) => r.role).join(', ');
    throw new ReconstructError('nothing-to-reconstruct', roles ? `roles: ${roles}` : undefined, checkpoint.path);
  }
  checkMemory(plan.banks, fit, checkpoint.path);
  const fitter = fitterFor(fit);
  const store: TemplateStore = hooks.store ?? new MemoryTemplateStore();
  const banks: BankResult[] = [];
  const backends = new Set<string>();
  let device: GpuDevice | undefined;
  // Member, template and rebuilt buffers, sized by the largest group and reused by every group.
  const scratch = presized(plan.banks, fit);
  // Between banks the templates slot is free: this thread reads the pool's templates into it.
  const templateSlot = (length: number) => scratch.floats('templates', length);
  const phases: Record<'fit' | 'fidelity' | 'diversity' | 'entropy', number> = { fit: 0, fidelity: 0, diversity: 0, entropy: 0 };
  // Template entropy of bank i runs on other cores while this thread fits bank i + 1.
  let work = 0;
  for (const b of plan.banks) {
    const cols = b.size / b.shape[0];
    if (Math.min(b.shape[0], cols) <= fit.entropyMaxSide) work += b.templates * entropyWork(b.shape[0], cols);
    else if (fit.entropyEstimate) work += b.templates * estimateCost(b.shape[0], cols);
  }
  const pool = work >= POOL_MIN_WORK ? EntropyPool.start({ signal: hooks.signal }) : null;
  // Entropy may lag behind the fits (estimates of 7B-sized templates): at most one bank's templates wait for it.
  const backlogLimit = Math.max(...plan.banks.map((b) => b.templates * b.size * 4));
  const entropies: (Promise<BankEntropy> | null)[] = [];
  try {
    await fitBanks();
    // Work that needs no entropy runs while the workers go on with it (an export's files), in the
    // fits' buffers (recycled: a 7B MLP bank's are ~860 MB, left for the collector they would sit
    // beside the writer's); the drain below takes its templates slot from them again.
    if (hooks.whileEntropy) {
      scratch.recycle();
      await hooks.whileEntropy(
        {
          plan,
          banks: [...banks],
          store,
          sizing: assemble(withStandIns(banks, entropies), STAND_IN, standInPhases(phases)),
        },
        scratch,
      );
      scratch.recycle();
    }
    // This thread's own work is done: it takes the templates no worker has started, then waits for the rest.
    const since = performance.now();
    await pool?.drain(templateSlot);
    const settled = await Promise.all(entropies);
    phases.entropy += (performance.now() - since) / 1000;
    settled.forEach((e, i) => {
      if (!e) return;
      const metrics = { ...banks[i].metrics, entropy: e.entropy, entropyNormalized: e.normalized };
      banks[i] = { ...banks[i], metrics: e.estimated ? { ...metrics, entropyEstimated: e.estimated } : metrics };
    });
  } finally {
    pool?.dispose();
    // A run that failed or was cancelled leaves no unhandled rejection behind.
    for (const e of entropies) e?.catch(() => undefined);
  }

  async function fitBanks(): Promise<void> {
    for (const [gi, bank] of plan.banks.entries()) {
      hooks.signal?.throwIfAborted();
      await pool?.relieve(backlogLimit, templateSlot);
      const clock: PhaseClock = {
        report: (phase, done, total, unit) =>
          hooks.onPhase?.({ phase, bank: bank.name, bankIndex: gi, banks: plan.banks.length, done, total, unit }),
        spent: (phase, since) => {
          if (phase in phases) phases[phase as keyof typeof phases] += (performance.now() - since) / 1000;
        },
      };
      const fitStarted = performance.now();
      clock.report('fit', 0, 1, 'group');
      const infos = memberInfos(checkpoint, bank);
      const roles = bank.memberRoles;
      // A group too big to hold is streamed by the closed form; its members are then re-read one by one.
      const stream = streamed(bank, fit);
      const rows: Float32Array[] = [];
      if (!stream)
        for (const [l, info] of infos.entries())
          rows.push(await readMember(checkpoint, info, roles[l], scratch.floats(`member${l}`, bank.size), scratch));
      const report = (step: number, steps: number, loss: number) => {
        const ev: ProgressEvent = { group: bank.name, groupIndex: gi, groups: plan.banks.length, step, steps, loss, elapsed: elapsed() };
        hooks.onProgress?.(ev);
      };
      const result = stream
        ? await fitSpectralStreaming(checkpoint, bank, fit.objective, roles, scratch, hooks.signal, undefined, fit.backend)
        : await fitter(rows, bank, { fit, signal: hooks.signal, scratch, progress: report });
      backends.add(result.backend);
      if (result.backend === 'webgpu') device ??= activeGpuDevice() ?? undefined;
      clock.spent('fit', fitStarted);
      clock.report('fit', 1, 1, 'group');
      const member = (l: number) =>
        stream ? readMember(checkpoint, infos[l], roles[l], scratch.floats('member0', bank.size), scratch) : Promise.resolve(rows[l]);
      const roundTo = roundingOf(result.templates, storedDtype(bank, fit));
      const measured = await measureBank(bank, member, result, fit, scratch, clock, pool, store, roundTo, hooks.signal);
      entropies.push(measured.entropy);
      measured.entropy?.catch(() => undefined); // handled where all are awaited
      if (fit.method === 'spectral') report(0, 0, measured.metrics.loss);
      banks.push({
        plan: bank,
        n: result.n,
        templateDtype: roundTo ?? 'F32',
        coefficients: result.coefficients,
        metrics: measured.metrics,
        layers: measured.layers,
      });
    }
  }
  return assemble(banks, elapsed(), phases);

  /** The result of `final` banks after `seconds`, `phaseSeconds` of it by phase. */
  function assemble(final: readonly BankResult[], seconds: number, phaseSeconds: typeof phases): ReconstructResult {
    const layers = final.flatMap((b) => b.layers);
    const g = plan.options;
    const method: MethodRecord = {
      method: fit.method,
      objective: fit.method === 'paper' ? null : fit.objective,
      grouping: {
        preset: g.preset,
        modules: g.modules,
        blocksPerGroup: g.blocksPerGroup,
        groups: g.groups,
        shareRoles: g.shareRoles,
        ratio: g.ratio,
        ...(g.blockIndex === 'inner' ? {} : { blockIndex: g.blockIndex }),
      },
      n: g.ratio !== null ? null : g.templates,
      K: g.sets,
      loss: fit.loss,
      beta: fit.loss === 'smoothl1' ? fit.beta : null,
      steps: fit.method === 'spectral' ? 0 : fit.steps,
      lr: fit.method === 'spectral' ? null : fit.lr,
      lrStep: fit.method === 'spectral' ? null : fit.lrStep,
      lrGamma: fit.method === 'spectral' ? null : fit.lrGamma,
      clip: fit.method === 'spectral' ? null : fit.clip,
      noise: fit.method === 'spectral' ? 0 : fit.noise,
      seed: fit.seed,
      backend: [...backends].join(','),
      ...(device ? { device } : {}),
      moduleWeights: fit.moduleWeights,
      probes: fit.probes,
      templateDtype: fit.templateDtype,
      elapsed: seconds,
      phases: roundedPhases(phaseSeconds),
    };
    return { plan, banks: [...final], layers, summary: summarize(checkpoint, plan.passthrough, final, layers), method, store };
  }
}
