// A task family's report (docs/RECAST.md section 6): per layer and member the update's norm and
// spectrum, cosines between members per layer and over the whole model, per bank the closed-form
// fit of shared update templates with per-member coefficients (fidelity against n, leave-one-out
// "captured", specialisation and a non-negative variant), and a PCA or UMAP map of the (member,
// layer) updates. Everything is built from each bank's Gram matrix of updates, in float64; a LoRA
// update is never formed whole.
import * as path from 'node:path';
import { UMAP } from 'umap-js';
import { planGroups, type TensorLike } from '../recast/grouping';
import { Random } from '../recast/random';
import { solveGram } from '../recast/spectral';
import { symmetricEigen } from '../recast/linalg';
import { spectralMetrics } from '../stats/spectralMetrics';
import { DEFAULT_SPECTRUM_MAX_SIDE } from '../stats/spectrum';
import { isPositiveInt } from '../positiveInt';
import { FamilyError } from './errors';
import { storedWeight, type FamilyBase, type FamilyMember, type LoadedFamily, type MemberKind } from './members';
import type { TensorInfo } from '../safetensors/types';
import { nonNegativeFit, useEntropy } from './specialise';
import { itemCurves, memberCurve, normalisedEigen } from './bankCurves';
import { denseSingularValues, factorSingularValues, type LayerUpdate } from './updates';
import { baseCrossGram, updateGram } from './updateGram';
import { fitWeights, type FamilyWeightsDoc } from './weightsFit';

export interface FamilyOptions {
  /** Templates per bank n; default: the number of members. */
  readonly templates?: number;
  /** The map's method: PCA (exact) or UMAP (umap-js, seeded). Default PCA. */
  readonly map?: FamilyMapMethod;
  /** Seed of UMAP's random stream (default 0): the same input and seed give the same map. */
  readonly seed?: number;
  /** Largest min(rows, cols) of a dense update that gets singular values (factor updates always do). */
  readonly maxSide?: number;
  readonly signal?: AbortSignal;
  /** Called after each bank with the banks done and their count. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Called with each bank's Gram of updates (items layer by layer, members within): a task bank export reuses them. */
  readonly onGram?: (bank: string, g: Float64Array) => void;
}

export interface FamilyMemberDoc {
  readonly name: string;
  readonly path: string;
  readonly kind: MemberKind;
  readonly step: number | null;
  /** Parameters of the member's file. */
  readonly params: number;
  /** Coefficients the member needs over the shared templates: sum over banks of its layers times n. */
  readonly coefficients: number;
  /** Its layers that not every member has (left out of every comparison). */
  readonly unshared: readonly string[];
  /** Its tensors that are not layer updates (saved heads, LoRA biases, ...). */
  readonly ignored: readonly string[];
}

export interface FamilyLayerDoc {
  readonly name: string;
  /** The base weight's stored shape. */
  readonly shape: readonly number[];
  readonly bank: string;
  /** ||dW||_F per member. */
  readonly norms: readonly number[];
  /** Member x member cosine of the updates. */
  readonly cosine: readonly (readonly number[])[];
  /** ||W_base||_F, with a base. */
  readonly baseNorm: number | null;
  /** ||dW||_F / ||W_base||_F per member, with a base. */
  readonly relative: readonly (number | null)[] | null;
  readonly stableRank: readonly (number | null)[];
  readonly effectiveRank: readonly (number | null)[];
  /** Descending, per member; null when skipped (a dense update over the size limit). */
  readonly singularValues: readonly (readonly number[] | null)[];
}

export interface FamilyBankDoc {
  readonly name: string;
  readonly shape: readonly number[];
  readonly layers: readonly string[];
  /** Templates fitted, n (at most the bank's numerical rank). */
  readonly templates: number;
  /** Numerical rank of the bank's normalised updates (members x layers of them). */
  readonly rank: number;
  /** Per member: cosine of its updates in this bank to their best fit over templates fitted to the other members alone. */
  readonly captured: Readonly<Record<string, number>>;
  /** Per member: its share of coefficient energy on each template (sums to 1). */
  readonly share: Readonly<Record<string, readonly number[]>>;
  /** Per member: its coefficient count here (layers times n). */
  readonly coefficients: Readonly<Record<string, number>>;
  /** Per member, for n = 1..rank templates: cosine and relative error of its updates in this bank. */
  readonly fidelity: {
    readonly cosine: Readonly<Record<string, readonly number[]>>;
    readonly relError: Readonly<Record<string, readonly number[]>>;
  };
  /** Per template, the entropy of its use across members (of `share`'s energies); low = specialised. */
  readonly use: TemplateUse;
  /** The same n templates' span refitted with coefficients >= 0 (semi-NMF, NNLS steps). */
  readonly nonNegative: {
    /** Mean over items of the squared relative error; `unconstrainedCost` is the closed form's. */
    readonly cost: number;
    readonly unconstrainedCost: number;
    readonly iterations: number;
    /** Per member: cosine of its updates in this bank to their non-negative fit. */
    readonly cosine: Readonly<Record<string, number>>;
    readonly share: Readonly<Record<string, readonly number[]>>;
    readonly use: TemplateUse;
  };
  /** With a base: the members' full weights over the base's frozen templates and over templates fitted to them all. */
  readonly weights: FamilyWeightsDoc | null;
}

export interface TemplateUse {
  /** Nats, per template. */
  readonly entropy: readonly number[];
  /** entropy / ln(members), in [0, 1]. */
  readonly normalized: readonly (number | null)[];
}

/** Members x every template of every bank: each member's share of its coefficient energy (rows sum to 1). */
export interface FamilySpecialisationDoc {
  readonly templates: readonly { readonly bank: string; readonly template: number }[];
  readonly share: Readonly<Record<string, readonly number[]>>;
  readonly nonNegativeShare: Readonly<Record<string, readonly number[]>>;
}

export interface FamilyMapPoint {
  readonly member: string;
  readonly layer: string;
  readonly x: number;
  readonly y: number;
}

export type FamilyMapMethod = 'pca' | 'umap';
export const FAMILY_MAP_METHODS: readonly FamilyMapMethod[] = ['pca', 'umap'];

export interface FamilyMapDoc {
  readonly method: FamilyMapMethod;
  /** PCA: the fraction of the total variance along each axis; UMAP: null. */
  readonly explained: readonly [number, number] | null;
  /** UMAP: the seed and neighbour count used; PCA: null. */
  readonly seed: number | null;
  readonly neighbors: number | null;
  readonly points: readonly FamilyMapPoint[];
  /** Training snapshots joined in step order, one line per run (the folder holding the `checkpoint-N` names). */
  readonly trajectories: readonly FamilyTrajectory[];
}

export interface FamilyTrajectory {
  /** The run's folder, relative to the working folder when inside it. */
  readonly run: string;
  /** Member names in step order (ties in the order given). */
  readonly members: readonly string[];
}

export interface FamilyReport {
  readonly members: readonly FamilyMemberDoc[];
  readonly layers: readonly FamilyLayerDoc[];
  /** Member x member cosine of the whole update (every shared layer concatenated). */
  readonly cosine: readonly (readonly number[])[];
  readonly banks: readonly FamilyBankDoc[];
  readonly map: FamilyMapDoc;
  readonly specialisation: FamilySpecialisationDoc;
  readonly base: string | null;
}

/** Dotted names in natural order: numeric parts compare as numbers (h.2 before h.10). */
export function compareModuleNames(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const na = /^\d+$/.test(pa[i]);
    const nb = /^\d+$/.test(pb[i]);
    if (na && nb) return Number(pa[i]) - Number(pb[i]);
    if (na !== nb) return na ? -1 : 1;
    return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** Cosine from a Gram's entries, with the project's conventions (1 when both are zero, 0 when one is). */
function cosineOf(ab: number, aa: number, bb: number): number {
  if (aa <= 0 && bb <= 0) return 1;
  if (aa <= 0 || bb <= 0) return 0;
  return Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)));
}

export interface PlannedBank {
  readonly name: string;
  readonly shape: readonly number[];
  readonly layers: readonly string[];
}

/** Banks as reconstruction groups them (one module role and shape, all blocks); a layer of no role is a bank alone. */
export function planBanks(layers: readonly { name: string; shape: readonly number[] }[]): PlannedBank[] {
  const pseudo: TensorLike[] = layers.map((l) => ({ name: `${l.name}.weight`, dtype: 'F32', shape: l.shape }));
  const plan = planGroups(pseudo, { groups: 1, templates: 1 });
  const banks: PlannedBank[] = plan.banks.map((b) => ({
    name: b.name,
    shape: b.shape,
    layers: b.members.map((m) => m.slice(0, -'.weight'.length)),
  }));
  const grouped = new Set(banks.flatMap((b) => b.layers));
  const names = new Set(banks.map((b) => b.name));
  for (const l of layers) {
    if (grouped.has(l.name)) continue;
    let name = l.name.replace(/[^A-Za-z0-9._-]/g, '_');
    while (names.has(name)) name += '_';
    names.add(name);
    banks.push({ name, shape: l.shape, layers: [l.name] });
  }
  return banks;
}

/** Layers every member has (natural order), each member's others, and the shared layers' common shape. */
export function sharedLayers(members: readonly FamilyMember[]): {
  shared: { name: string; shape: readonly number[] }[];
  unshared: string[][];
} {
  const first = members[0];
  const names = [...first.layers.keys()].filter((n) => members.every((m) => m.layers.has(n))).sort(compareModuleNames);
  if (names.length === 0) {
    const counts = members.map((m) => `${m.name}: ${m.layers.size} layers`).join(', ');
    throw new FamilyError('no-shared-layers', counts, members.find((m) => m.layers.size > 0)?.path ?? first.path);
  }
  const shared = names.map((name) => {
    const shape = (first.layers.get(name) as { shape: readonly number[] }).shape;
    for (const m of members) {
      const other = (m.layers.get(name) as { shape: readonly number[] }).shape;
      if (shapeText(other) !== shapeText(shape))
        throw new FamilyError('mixed-bases', `${name} is ${shapeText(other)} here, ${shapeText(shape)} in ${first.path}`, m.path);
    }
    return { name, shape };
  });
  const set = new Set(names);
  const unshared = members.map((m) => [...m.layers.keys()].filter((n) => !set.has(n)).sort(compareModuleNames));
  return { shared, unshared };
}

export function checkBaseModels(members: readonly FamilyMember[]): void {
  const named = members.filter((m) => m.baseModel !== null);
  const other = named.find((m) => m.baseModel !== named[0].baseModel);
  if (other)
    throw new FamilyError(
      'mixed-bases',
      `its base is ${JSON.stringify(other.baseModel)}, ${named[0].path}'s is ${JSON.stringify(named[0].baseModel)}`,
      other.path,
    );
}

/** The base's weight of a layer, refused when it is missing or of another shape. */
function baseWeightOf(base: FamilyBase, layer: string, shape: readonly number[]): TensorInfo {
  const w = base.weightOf(layer);
  if (!w) throw new FamilyError('base-mismatch', `no weight for ${layer}`, base.path);
  if (shapeText(w.shape) !== shapeText(shape)) {
    const hint = shape.length === 2 && shapeText(w.shape) === shapeText([shape[1], shape[0]]) ? ' (transposed: check fan_in_fan_out)' : '';
    throw new FamilyError(
      'base-mismatch',
      `${w.name} is ${shapeText(w.shape)}, the update of ${layer} is ${shapeText(shape)}${hint}`,
      base.path,
    );
  }
  return w;
}

async function baseNorm(base: FamilyBase, layer: string, shape: readonly number[], signal?: AbortSignal): Promise<number> {
  const w = baseWeightOf(base, layer, shape);
  let s = 0;
  for await (const chunk of base.checkpoint.chunks(w, undefined, signal)) for (let i = 0; i < chunk.length; i++) s += chunk[i] * chunk[i];
  return Math.sqrt(s);
}

/** Per member (rows) the summed energy of its items' terms on each template; shares are each row over its sum. */
function memberEnergy(termEnergy: (l: number, t: number) => number, M: number, B: number, n: number): number[][] {
  return Array.from({ length: M }, (_, mi) => {
    const e = new Array<number>(n).fill(0);
    for (let k = 0; k < B; k++) for (let t = 0; t < n; t++) e[t] += termEnergy(k * M + mi, t);
    return e;
  });
}

const shares = (e: readonly number[]) => {
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => (sum > 0 ? x / sum : 0));
};

interface FittedBank {
  readonly doc: FamilyBankDoc;
  /** Per member, per template: energy of its terms, unconstrained and non-negative (for the whole-model table). */
  readonly energy: number[][];
  readonly nonNegativeEnergy: number[][];
}

function fitBank(
  bank: PlannedBank,
  g: Float64Array,
  members: readonly FamilyMember[],
  templates: number,
  weights: FamilyWeightsDoc | null,
): FittedBank {
  const M = members.length;
  const B = bank.layers.length;
  const L = M * B; // item l = layer * M + member
  const norms = Float64Array.from({ length: L }, (_, l) => Math.sqrt(Math.max(0, g[l * L + l])));
  const sol = solveGram(g, L, Math.min(templates, L), 'per-layer');
  const rank = Math.max(1, sol.rank);
  const n = sol.n;
  const { k, values, vectors } = normalisedEigen(g, L, norms);
  const curves = itemCurves(values, vectors, L, norms, rank);

  // The term of template t in item l's fit has ||term||^2 = ||x_l||^2 lambda_t U[l,t]^2.
  const energy = memberEnergy((l, t) => norms[l] ** 2 * Math.max(0, values[t]) * vectors[l * L + t] ** 2, M, B, n);
  // Non-negative variant, from the closed form's unit templates T_t = sum_l U[l,t] y_l / sqrt(lambda_t).
  const start = new Float64Array(n * L);
  for (let t = 0; t < n; t++) for (let l = 0; l < L; l++) start[t * L + l] = values[t] > 0 ? vectors[l * L + t] / Math.sqrt(values[t]) : 0;
  const nn = nonNegativeFit(k, L, start, n);
  const nnEnergy = memberEnergy((l, t) => norms[l] ** 2 * nn.coefficients[l * n + t] ** 2 * nn.templateNorms2[t], M, B, n);
  let unconstrainedCost = 0;
  for (let l = 0; l < L; l++) unconstrainedCost += norms[l] > 0 ? 1 - curves[l * rank + n - 1] : 0;
  unconstrainedCost /= L;

  const cosine: Record<string, number[]> = {};
  const relError: Record<string, number[]> = {};
  const share: Record<string, number[]> = {};
  const nnShare: Record<string, number[]> = {};
  const nnCosine: Record<string, number> = {};
  const coefficients: Record<string, number> = {};
  const captured: Record<string, number> = {};
  members.forEach((m, mi) => {
    const items = Array.from({ length: B }, (_, kk) => kk * M + mi);
    const total = items.reduce((s, l) => s + norms[l] * norms[l], 0);
    const curve = memberCurve(
      items,
      (l) => norms[l] * norms[l],
      (l, t) => curves[l * rank + t],
      rank,
    );
    cosine[m.name] = curve.cosine;
    relError[m.name] = curve.relError;
    share[m.name] = shares(energy[mi]);
    nnShare[m.name] = shares(nnEnergy[mi]);
    const inner = items.reduce((s, l) => s + norms[l] ** 2 * nn.inner[l], 0);
    const fitted = items.reduce((s, l) => s + norms[l] ** 2 * nn.fitted[l], 0);
    nnCosine[m.name] = total <= 0 ? 1 : fitted <= 0 ? 0 : Math.max(-1, Math.min(1, inner / Math.sqrt(total * fitted)));
    coefficients[m.name] = B * n;
    captured[m.name] = leaveOneOut(g, L, items, templates);
  });
  const doc: FamilyBankDoc = {
    name: bank.name,
    shape: bank.shape,
    layers: bank.layers,
    templates: n,
    rank: sol.rank,
    captured,
    share,
    coefficients,
    fidelity: { cosine, relError },
    use: useEntropy(energy, n),
    nonNegative: {
      cost: nn.cost,
      unconstrainedCost,
      iterations: nn.iterations,
      cosine: nnCosine,
      share: nnShare,
      use: useEntropy(nnEnergy, n),
    },
    weights,
  };
  return { doc, energy, nonNegativeEnergy: nnEnergy };
}

/**
 * How much of a member the others' templates explain: fit n templates to every other item (same
 * closed form), project the member's updates onto their span, cos = sqrt(sum ||P x||^2 / sum ||x||^2).
 * The closed form's templates are orthogonal with equal norms c, so ||P x||^2 = sum_t <T_t, x>^2 / c^2.
 */
function leaveOneOut(g: Float64Array, L: number, held: readonly number[], templates: number): number {
  const heldSet = new Set(held);
  const others = Array.from({ length: L }, (_, l) => l).filter((l) => !heldSet.has(l));
  const O = others.length;
  let total = 0;
  for (const l of held) total += Math.max(0, g[l * L + l]);
  if (total <= 0) return 1;
  if (O === 0) return 0;
  const sub = new Float64Array(O * O);
  let trace = 0;
  for (let a = 0; a < O; a++) {
    for (let b = 0; b < O; b++) sub[a * O + b] = g[others[a] * L + others[b]];
    trace += Math.max(0, sub[a * O + a]);
  }
  if (trace <= 0) return 0;
  const sol = solveGram(sub, O, Math.min(templates, O), 'per-layer');
  const c2 = trace / O;
  let kept = 0;
  for (const l of held) {
    for (let t = 0; t < sol.n; t++) {
      let bt = 0;
      for (let k = 0; k < O; k++) bt += sol.weights[k * sol.n + t] * g[others[k] * L + l];
      kept += (bt * bt) / c2;
    }
  }
  return Math.min(1, Math.sqrt(kept / total));
}

type MapBlock = { g: Float64Array; L: number; labels: readonly { member: string; layer: string }[] };

/**
 * The unit-norm updates, every (member, layer) a point, centred, in the coordinates of their
 * principal axes (all of them with a positive eigenvalue): distances between rows are exactly the
 * distances between the updates. Updates of different banks live in different spaces (their Gram
 * entries are 0), so the Gram of all points is block-diagonal; everything comes from the centred
 * Gram `H K H`, eigenvector signs fixed (deterministic).
 */
function principalCoordinates(blocks: readonly MapBlock[]): {
  values: Float64Array;
  vectors: Float64Array;
  N: number;
  labels: { member: string; layer: string }[];
} {
  const N = blocks.reduce((s, b) => s + b.L, 0);
  const k = new Float64Array(N * N);
  let at = 0;
  const labels: { member: string; layer: string }[] = [];
  for (const { g, L, labels: bl } of blocks) {
    for (let a = 0; a < L; a++) {
      for (let b = 0; b < L; b++) {
        const s = Math.sqrt(Math.max(0, g[a * L + a]) * Math.max(0, g[b * L + b]));
        k[(at + a) * N + at + b] = s > 0 ? g[a * L + b] / s : 0;
      }
    }
    labels.push(...bl);
    at += L;
  }
  // K_c = H K H, H = I - 11^T / N
  const rowMean = new Float64Array(N);
  let all = 0;
  for (let a = 0; a < N; a++) {
    let s = 0;
    for (let b = 0; b < N; b++) s += k[a * N + b];
    rowMean[a] = s / N;
    all += s;
  }
  all /= N * N;
  for (let a = 0; a < N; a++) for (let b = 0; b < N; b++) k[a * N + b] += all - rowMean[a] - rowMean[b];
  const { values, vectors } = symmetricEigen(k, N);
  return { values, vectors, N, labels };
}

/**
 * Snapshots grouped by run, each in step order; runs in the order their first snapshot was given.
 * A member without a step whose file lies in a run's own folder (PEFT's final save beside its
 * `checkpoint-N` folders, mlx-lm's `adapters.safetensors` beside `N_adapters.safetensors`) is a
 * snapshot of that run too, after the numbered ones, in file order.
 */
function trajectoriesOf(members: readonly FamilyMember[]): FamilyTrajectory[] {
  const runs = new Map<string, FamilyMember[]>();
  for (const m of members) {
    if (m.step === null || m.run === null) continue;
    const list = runs.get(m.run) ?? [];
    list.push(m);
    runs.set(m.run, list);
  }
  for (const m of members) if (m.step === null) runs.get(path.dirname(path.resolve(m.file)))?.push(m);
  const order = (m: FamilyMember) => m.step ?? Number.POSITIVE_INFINITY;
  return [...runs].map(([run, list]) => {
    const rel = path.relative(process.cwd(), run);
    return {
      run: rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : run,
      // A stable sort: equal steps, and the members without one, stay in the order given.
      members: [...list].sort((a, b) => (order(a) === order(b) ? 0 : order(a) - order(b))).map((m) => m.name),
    };
  });
}

function pcaMap(blocks: readonly MapBlock[]): Omit<FamilyMapDoc, 'trajectories'> {
  const { values, vectors, N, labels } = principalCoordinates(blocks);
  const positive = Array.from(values).reduce((s, v) => s + Math.max(0, v), 0);
  const coord = (i: number, t: number) => (t < N ? Math.sqrt(Math.max(0, values[t])) * vectors[i * N + t] : 0);
  const explained: [number, number] = [
    positive > 0 ? Math.max(0, values[0]) / positive : 0,
    positive > 0 && N > 1 ? Math.max(0, values[1]) / positive : 0,
  ];
  return {
    method: 'pca',
    explained,
    seed: null,
    neighbors: null,
    points: labels.map((p, i) => ({ ...p, x: coord(i, 0), y: coord(i, 1) })),
  };
}

/** UMAP neighbours: umap-js's default 15, fewer for a small family. */
const UMAP_NEIGHBORS = 15;

/**
 * UMAP (umap-js) of the same points, on their exact principal coordinates (Euclidean distances of
 * the unit-norm updates), every random draw from the engine's seeded generator.
 */
function umapMap(blocks: readonly MapBlock[], seed: number): Omit<FamilyMapDoc, 'trajectories'> {
  const { values, vectors, N, labels } = principalCoordinates(blocks);
  if (N < 3) throw new FamilyError('invalid-family-option', `a UMAP map needs 3 or more (member, layer) points, the family has ${N}`);
  const top = Math.max(values[0], 0);
  const axes: number[] = [];
  for (let t = 0; t < N; t++) if (values[t] > top * N * Number.EPSILON) axes.push(t);
  const data = labels.map((_, i) => (axes.length ? axes.map((t) => Math.sqrt(values[t]) * vectors[i * N + t]) : [0]));
  const random = new Random(seed);
  const neighbors = Math.min(UMAP_NEIGHBORS, N - 1);
  const umap = new UMAP({ nComponents: 2, nNeighbors: neighbors, minDist: 0.1, random: () => random.uniform() });
  const embedding = umap.fit(data);
  return {
    method: 'umap',
    explained: null,
    seed,
    neighbors,
    points: labels.map((p, i) => ({ ...p, x: embedding[i][0], y: embedding[i][1] })),
  };
}

/** The whole report of a loaded family. */
export async function analyzeFamily(family: LoadedFamily, opts: FamilyOptions = {}): Promise<FamilyReport> {
  const { members } = family;
  const M = members.length;
  if (opts.templates !== undefined && !isPositiveInt(opts.templates))
    throw new FamilyError('invalid-family-option', `templates must be a positive integer, got ${opts.templates}`);
  if (opts.map !== undefined && !FAMILY_MAP_METHODS.includes(opts.map))
    throw new FamilyError('invalid-family-option', `map must be one of ${FAMILY_MAP_METHODS.join(', ')}, got ${String(opts.map)}`);
  if (opts.seed !== undefined && !Number.isSafeInteger(opts.seed))
    throw new FamilyError('invalid-family-option', `seed must be an integer, got ${opts.seed}`);
  const templates = opts.templates ?? M;
  const maxSide = opts.maxSide ?? DEFAULT_SPECTRUM_MAX_SIDE;
  checkBaseModels(members);
  const { shared, unshared } = sharedLayers(members);
  const banks = planBanks(shared);
  // Base norms first: a base that does not fit is refused before any heavy work.
  const baseNorms = new Map<string, number>();
  const base = family.base;
  if (base) for (const l of shared) baseNorms.set(l.name, await baseNorm(base, l.name, l.shape, opts.signal));

  const layerDocs = new Map<string, FamilyLayerDoc>();
  const bankDocs: FamilyBankDoc[] = [];
  const whole = new Float64Array(M * M);
  const mapBlocks: { g: Float64Array; L: number; labels: { member: string; layer: string }[] }[] = [];
  const coefficientCount = new Array<number>(M).fill(0);
  const wholeEnergy: number[][] = members.map(() => []);
  const wholeNonNegative: number[][] = members.map(() => []);
  const columns: { bank: string; template: number }[] = [];

  for (const [bi, bank] of banks.entries()) {
    opts.signal?.throwIfAborted();
    const items: LayerUpdate[] = [];
    const labels: { member: string; layer: string }[] = [];
    for (const layer of bank.layers)
      for (const m of members) {
        items.push((m.layers.get(layer) as { update: LayerUpdate }).update);
        labels.push({ member: m.name, layer });
      }
    const g = await updateGram(items, opts.signal);
    const L = items.length;
    for (let i = 0; i < L; i++) {
      if (!Number.isFinite(g[i * L + i])) {
        const m = members[i % M];
        throw new FamilyError('non-finite-update', `the update of ${labels[i].layer} overflows float64`, m.path);
      }
    }
    mapBlocks.push({ g, L, labels });
    opts.onGram?.(bank.name, g);

    for (const [k, layer] of bank.layers.entries()) {
      const at = (mi: number) => k * M + mi;
      const norms = members.map((_, mi) => Math.sqrt(Math.max(0, g[at(mi) * L + at(mi)])));
      const cosine = members.map((_, a) =>
        members.map((__, b) => cosineOf(g[at(a) * L + at(b)], g[at(a) * L + at(a)], g[at(b) * L + at(b)])),
      );
      for (let a = 0; a < M; a++) for (let b = 0; b < M; b++) whole[a * M + b] += g[at(a) * L + at(b)];
      const shape = shared.find((s) => s.name === layer)?.shape ?? bank.shape;
      const bn = baseNorms.get(layer) ?? null;
      const singularValues: (number[] | null)[] = [];
      const stableRank: (number | null)[] = [];
      const effectiveRank: (number | null)[] = [];
      for (const [mi, m] of members.entries()) {
        const u = (m.layers.get(layer) as { update: LayerUpdate }).update;
        let sv: number[] | null;
        if (u.kind === 'factors') sv = factorSingularValues(u);
        else {
          const d = await denseSingularValues(u, maxSide, opts.signal);
          sv = 'values' in d ? d.values : null;
        }
        singularValues.push(sv);
        const metrics = sv ? spectralMetrics(sv, norms[mi] * norms[mi]) : null;
        stableRank.push(metrics?.stableRank ?? null);
        effectiveRank.push(metrics?.effectiveRank ?? null);
      }
      layerDocs.set(layer, {
        name: layer,
        shape,
        bank: bank.name,
        norms,
        cosine,
        baseNorm: bn,
        relative: bn === null ? null : norms.map((n) => (bn > 0 ? n / bn : null)),
        stableRank,
        effectiveRank,
        singularValues,
      });
    }
    let weights: FamilyWeightsDoc | null = null;
    if (base) {
      const baseItems = bank.layers.map((layer) => storedWeight(base.checkpoint, baseWeightOf(base, layer, bank.shape)));
      const { bb, bd } = await baseCrossGram(baseItems, items, opts.signal);
      weights = fitWeights(
        bb,
        bd,
        g,
        bank.layers.length,
        members.map((m) => m.name),
      );
    }
    const fitted = fitBank(bank, g, members, templates, weights);
    const doc = fitted.doc;
    members.forEach((m, mi) => {
      coefficientCount[mi] += doc.coefficients[m.name];
      wholeEnergy[mi].push(...fitted.energy[mi]);
      wholeNonNegative[mi].push(...fitted.nonNegativeEnergy[mi]);
    });
    for (let t = 0; t < doc.templates; t++) columns.push({ bank: doc.name, template: t });
    bankDocs.push(doc);
    opts.onProgress?.(bi + 1, banks.length);
  }

  const cosine = members.map((_, a) => members.map((__, b) => cosineOf(whole[a * M + b], whole[a * M + a], whole[b * M + b])));
  return {
    members: members.map((m, mi) => ({
      name: m.name,
      path: m.path,
      kind: m.kind,
      step: m.step,
      params: m.params,
      coefficients: coefficientCount[mi],
      unshared: unshared[mi],
      ignored: m.ignored,
    })),
    layers: shared.map((s) => layerDocs.get(s.name) as FamilyLayerDoc),
    cosine,
    banks: bankDocs,
    map: { ...(opts.map === 'umap' ? umapMap(mapBlocks, opts.seed ?? 0) : pcaMap(mapBlocks)), trajectories: trajectoriesOf(members) },
    specialisation: {
      templates: columns,
      share: Object.fromEntries(members.map((m, mi) => [m.name, shares(wholeEnergy[mi])])),
      nonNegativeShare: Object.fromEntries(members.map((m, mi) => [m.name, shares(wholeNonNegative[mi])])),
    },
    base: family.base?.path ?? null,
  };
}
