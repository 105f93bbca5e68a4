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
}

export interface FitContext {
  readonly fit: ResolvedFit;
  readonly signal?: AbortSignal;
  /** The run's reused buffers: a fitter may put its templates there (the store copies them). */
  readonly scratch: Scratch;
  progress(step: number, steps: number, loss: number): void;
}

export type GroupFitter = (rows: Float32Array[], bank: BankPlan, ctx: FitContext) => Promise<GroupFit>;
