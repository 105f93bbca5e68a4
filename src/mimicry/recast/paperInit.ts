// What both loops of the paper method (tfjs: paper.ts, fused: paperFused.ts) start from: the authors'
// initial state (or the closed form's, for spectral+refine), drawn from the bank's seeded stream in
// the same order, and each member's loss weight.
import type { BankPlan } from './grouping';
import type { Random } from './random';
import { fitSpectral, repeatSets, type Objective } from './spectral';

/** torch.nn.init.kaiming_normal_(mode='fan_in', a=0): std = sqrt(2 / fan_in), fan_in = size(1) * receptive field. */
export function kaimingStd(shape: readonly number[]): number {
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  return Math.sqrt(2 / Math.max(1, fanIn));
}

/** torch.nn.init.orthogonal_ on an (n, 1) tensor: a random unit vector. */
export function unitVector(n: number, rng: Random): Float32Array {
  const v = new Float64Array(n).map(() => rng.normal());
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1;
  return Float32Array.from(v, (x) => x / norm);
}

export interface InitialState {
  readonly n: number;
  /** [n, d] */
  readonly templates: Float32Array;
  /** [L, K, n] */
  readonly coefficients: Float32Array;
}

export function initialState(rows: Float32Array[], bank: BankPlan, refine: boolean, objective: Objective, rng: Random): InitialState {
  const L = rows.length,
    K = bank.sets;
  if (refine) {
    const f = fitSpectral(rows, bank.templates, objective);
    const c = new Float32Array(L * K * f.n);
    for (let l = 0; l < L; l++) c.set(repeatSets(f.alpha, l, f.n, K), l * K * f.n);
    return { n: f.n, templates: f.templates, coefficients: c };
  }
  const n = bank.templates;
  const templates = rng.normals(n * bank.size, kaimingStd(bank.shape));
  const c = new Float32Array(L * K * n);
  for (let s = 0; s < L * K; s++) c.set(unitVector(n, rng), s * n);
  return { n, templates, coefficients: c };
}

/** Each member's loss weight: its role's entry in `weights`, else 1. */
export function memberWeights(bank: BankPlan, weights: Readonly<Record<string, number>>): Float32Array {
  return Float32Array.from(bank.memberRoles, (role) => weights[role] ?? 1);
}
