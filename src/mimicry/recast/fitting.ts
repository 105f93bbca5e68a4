// What every fitting method (closed form, optimizer) is given and returns for one group.
import type { BankPlan } from './grouping';
import type { ResolvedFit } from './options';
import type { Scratch } from './scratch';

export interface GroupFit {
  readonly templates: Float32Array;
  /** [K, n] per member. */
  readonly coefficients: Float32Array[];
  readonly n: number;
  readonly rank: number | null;
  /** The method's final objective value (NaN: measured afterwards as the mean squared error). */
  readonly loss: number;
  /** Backend that ran it. */
  readonly backend: string;
  /** Closed form: each template's share of the group's energy (energyShares). */
  readonly energy?: readonly number[];
}

/** Each of the n kept templates' share of the group's energy: its eigenvalue over the sum of all (negative round-off as 0). */
export function energyShares(eigenvalues: ArrayLike<number>, n: number): number[] {
  let total = 0;
  for (let i = 0; i < eigenvalues.length; i++) total += Math.max(0, eigenvalues[i]);
  return Array.from({ length: n }, (_, t) => (total > 0 ? Math.max(0, eigenvalues[t]) / total : 0));
}

export interface FitContext {
  readonly fit: ResolvedFit;
  readonly signal?: AbortSignal;
  /** The run's reused buffers: a fitter may put its templates there (the store copies them). */
  readonly scratch: Scratch;
  progress(step: number, steps: number, loss: number): void;
}

export type GroupFitter = (rows: Float32Array[], bank: BankPlan, ctx: FitContext) => Promise<GroupFit>;
