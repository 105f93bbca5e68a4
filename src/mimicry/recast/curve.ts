// The compression-vs-fidelity curve of the closed form (docs/RECAST.md section 3): the
// eigen-decomposition of each bank's L x L Gram matrix gives the fit's error for every template
// count n at once, so the whole trade-off costs one read of the members and no fit.
import type { Checkpoint } from '../safetensors/types';
import { bankParameters, planGroups, type BankPlan } from './grouping';
import { resolveFit } from './options';
import type { ReconstructOptions } from './types';
import { Scratch } from './scratch';
import { accumulateGram, scaledGramEigen, type Objective } from './spectral';
import { memberInfos, readFloat32Into, STREAM_CHUNK } from './stream';
import { ReconstructError } from './errors';
import { energyShares as sharesOf } from './fitting';

/** The fit's eigen-decomposition of one bank, enough for every n. */
export interface BankEigen {
  readonly members: number;
  /** All L eigenvalues of the fit's (row-scaled) Gram matrix, largest first. */
  readonly eigenvalues: Float64Array;
  /** Numerical rank, as the fit counts it: the fit keeps at most this many templates. */
  readonly rank: number;
  /** cos2[l * L + k]: member l's squared cosine with k + 1 templates asked for (after the rank cap). */
  readonly cos2: Float64Array;
}

/** Templates the fit keeps when asked for n (solveGram's rule). */
export function keptTemplates(n: number, eigen: BankEigen): number {
  return Math.max(1, Math.min(n, eigen.members, eigen.rank));
}

/**
 * From G = X X^T (L x L), exactly as solveGram scales it for the objective: the rebuilt member is
 * the projection of its (scaled) row onto the n leading singular directions, so its squared
 * cosine is sum over t < n of lambda_t U[l,t]^2 over its own squared norm.
 */
export function bankEigen(g: Float64Array, L: number, objective: Objective): BankEigen {
  const { target, values, vectors, rank } = scaledGramEigen(g, L, objective);
  const eigen: BankEigen = { members: L, eigenvalues: values, rank, cos2: new Float64Array(L * L) };
  for (let l = 0; l < L; l++) {
    const own = target[l * L + l];
    let acc = 0;
    let summed = 0; // eigen-directions already in acc
    for (let k = 0; k < L; k++) {
      const kept = keptTemplates(k + 1, eigen);
      for (; summed < kept; summed++) acc += Math.max(0, values[summed]) * vectors[l * L + summed] ** 2;
      // A zero member is rebuilt as zero: cosine 1 (both zero, docs/RECAST.md section 4.1).
      eigen.cos2[l * L + k] = own > 0 ? Math.min(1, acc / own) : 1;
    }
  }
  return eigen;
}

/** Squared relative error of a bank with n templates asked for: eigenvalues beyond the kept ones over all of them. */
export function tailShare(eigen: BankEigen, n: number): { tail: number; total: number } {
  const kept = keptTemplates(n, eigen);
  let tail = 0;
  let total = 0;
  eigen.eigenvalues.forEach((v, i) => {
    const e = Math.max(0, v);
    total += e;
    if (i >= kept) tail += e;
  });
  return { tail, total };
}

/** Each kept template's share of the bank's energy: lambda_t / sum of all eigenvalues. */
export function energyShares(eigen: BankEigen, n: number): number[] {
  return sharesOf(eigen.eigenvalues, keptTemplates(n, eigen));
}

export interface CurvePoint {
  /** Templates asked for per bank (each bank takes at most its members). */
  readonly n: number;
  readonly before: number;
  readonly after: number;
  /** before / after of this role's banks. */
  readonly ratio: number;
  /** sqrt(sum of the eigenvalues beyond n / sum of all), over the role's banks. */
  readonly relError: number;
  /** Mean and minimum per-layer cosine fidelity of the fit. */
  readonly meanCosine: number;
  readonly minCosine: number;
}

export interface RoleCurve {
  /** The banks' prefix and role(s), e.g. `transformer.h.mlp.c_fc`. */
  readonly role: string;
  readonly banks: readonly string[];
  /** n = 1 .. the largest bank's members. */
  readonly points: readonly CurvePoint[];
  /** The plan's own setting (each bank's n as planned). */
  readonly chosen: CurvePoint;
}

export interface CurveView {
  readonly objective: Objective;
  readonly roles: readonly RoleCurve[];
}

type Plannable = Pick<BankPlan, 'name' | 'prefix' | 'roles' | 'members' | 'size' | 'sets' | 'templates'>;

function point(banks: readonly Plannable[], eigens: readonly BankEigen[], nOf: (b: Plannable) => number, n: number): CurvePoint {
  let before = 0;
  let after = 0;
  let tail = 0;
  let total = 0;
  let cosSum = 0;
  let count = 0;
  let minCosine = 1;
  banks.forEach((b, i) => {
    const e = eigens[i];
    const nb = Math.min(nOf(b), e.members);
    const p = bankParameters(b, nb);
    before += p.before;
    after += p.after;
    const s = tailShare(e, nb);
    tail += s.tail;
    total += s.total;
    for (let l = 0; l < e.members; l++) {
      const c = Math.sqrt(e.cos2[l * e.members + nb - 1]);
      cosSum += c;
      count++;
      minCosine = Math.min(minCosine, c);
    }
  });
  return {
    n,
    before,
    after,
    ratio: after > 0 ? before / after : 1,
    relError: total > 0 ? Math.sqrt(tail / total) : 0,
    meanCosine: count > 0 ? cosSum / count : 1,
    minCosine,
  };
}

/** Role label of a bank: its prefix and role(s). */
export function roleLabel(b: Pick<BankPlan, 'prefix' | 'roles'>): string {
  const roles = b.roles.join('+');
  return b.prefix ? `${b.prefix}.${roles}` : roles;
}

/** One curve per role (banks grouped by prefix and roles, in plan order), from each bank's eigen-decomposition. */
export function roleCurves(banks: readonly Plannable[], eigens: readonly BankEigen[], objective: Objective): CurveView {
  const byRole = new Map<string, number[]>();
  banks.forEach((b, i) => {
    const key = roleLabel(b);
    const list = byRole.get(key) ?? [];
    list.push(i);
    byRole.set(key, list);
  });
  const roles = [...byRole].map(([role, idx]): RoleCurve => {
    const bs = idx.map((i) => banks[i]);
    const es = idx.map((i) => eigens[i]);
    const largest = Math.max(...es.map((e) => e.members));
    const points = Array.from({ length: largest }, (_, k) => point(bs, es, () => k + 1, k + 1));
    const chosenN = Math.max(...bs.map((b) => b.templates));
    return { role, banks: bs.map((b) => b.name), points, chosen: point(bs, es, (b) => b.templates, chosenN) };
  });
  return { objective, roles };
}

/** One Gram matrix's progress: members' elements read of the bank's total. */
export interface GramProgress {
  readonly done: number;
  readonly total: number;
}

/** X X^T of a bank's members (decoded to float32, float64 sums), read in column chunks: bounded memory. */
export async function bankGram(
  checkpoint: Checkpoint,
  bank: Pick<BankPlan, 'members' | 'size'>,
  scratch: Scratch = new Scratch(),
  signal?: AbortSignal,
  onProgress?: (p: GramProgress) => void,
  chunk = STREAM_CHUNK,
): Promise<Float64Array> {
  const infos = memberInfos(checkpoint, bank as BankPlan);
  const L = infos.length;
  const d = bank.size;
  const g = new Float64Array(L * L);
  for (let at = 0; at < d; at += chunk) {
    signal?.throwIfAborted();
    const end = Math.min(d, at + chunk);
    const parts: Float32Array[] = [];
    for (const [l, info] of infos.entries())
      parts.push(await readFloat32Into(checkpoint, info, scratch.floats(`chunk${l}`, end - at), scratch, at, end));
    for (const [l, p] of parts.entries())
      for (let i = 0; i < p.length; i++)
        if (!Number.isFinite(p[i]))
          throw new ReconstructError('non-finite-weights', `${infos[l].name} at element ${at + i}`, infos[l].file);
    accumulateGram(g, parts);
    onProgress?.({ done: end, total: d });
  }
  return g;
}

export interface CurveProgress {
  readonly bank: string;
  readonly bankIndex: number;
  readonly banks: number;
  /** Share of this bank's members read, in [0, 1]. */
  readonly fraction: number;
}

export interface CurveHooks {
  readonly signal?: AbortSignal;
  onProgress?(p: CurveProgress): void;
  /** Eigen-decompositions kept between calls (the form asks again on every change), by objective and members. */
  readonly cache?: Map<string, BankEigen>;
}

/** Each bank's eigen-decomposition for an objective, from the cache or read (with progress). */
export async function bankEigens(
  checkpoint: Checkpoint,
  banks: readonly Pick<BankPlan, 'name' | 'members' | 'size'>[],
  objective: Objective,
  hooks: CurveHooks = {},
): Promise<BankEigen[]> {
  const scratch = new Scratch();
  const eigens: BankEigen[] = [];
  for (const [bankIndex, bank] of banks.entries()) {
    const key = `${objective}\u0000${bank.members.join('\u0000')}`;
    let eigen = hooks.cache?.get(key);
    if (!eigen) {
      const report = (fraction: number): void => hooks.onProgress?.({ bank: bank.name, bankIndex, banks: banks.length, fraction });
      report(0);
      const g = await bankGram(checkpoint, bank, scratch, hooks.signal, (p) => report(p.done / Math.max(1, p.total)));
      eigen = bankEigen(g, bank.members.length, objective);
      hooks.cache?.set(key, eigen);
    }
    eigens.push(eigen);
  }
  return eigens;
}

/** The curve of every planned bank of a checkpoint for these options (its grouping and objective). */
export async function checkpointCurve(checkpoint: Checkpoint, options: ReconstructOptions, hooks: CurveHooks = {}): Promise<CurveView> {
  const { objective } = resolveFit(options);
  const plan = planGroups(checkpoint.tensors, options);
  return roleCurves(plan.banks, await bankEigens(checkpoint, plan.banks, objective, hooks), objective);
}
