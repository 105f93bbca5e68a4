// The reconstruction service (dist/reconstructWorker.js), spoken over the worker channel. One
// worker serves one dashboard: it opens one checkpoint, answers plan requests (the live budget),
// runs one reconstruction at a time with progress, and writes exports of the last run.
import type { PlanOutcome } from '../../dashboard/budget';
import type { BankSpectra, DashboardData } from '../../dashboard/types';
import type { CurveProgress, CurveView } from '../../recast/curve';
import type { ProgressEvent, ReconstructOptions, RunPhaseName } from '../../recast/types';
import type { Method } from '../channel/protocol';

export type ExportKind = 'model' | 'dense';

export interface CheckpointBrief {
  readonly path: string;
  readonly fileName: string;
  readonly tensorCount: number;
  readonly params: number;
  readonly totalBytes: number;
  /** True for a reparameterized (metadata format "recast") file. */
  readonly isRecast: boolean;
  /** What is fitted when that needs saying: a LoRA adapter's layer updates (by default) or its factors. */
  readonly note: string | null;
}

export type RunPhase = RunPhaseName;

/** The closed form's curve for the form's options, or why there is none (the plan's error, a non-finite member). */
export type CurveOutcome = { readonly ok: true; readonly curve: CurveView } | { readonly ok: false; readonly error: string };
export type { CurveProgress, CurveView };

export interface RunProgress {
  readonly phase: RunPhase;
  /** The optimizer's step (phase fit). */
  readonly event?: ProgressEvent;
  readonly message?: string;
  /** Share of the whole job done, in [0, 1] (the notification's bar; never goes back). */
  readonly fraction?: number;
  /** Share of the current phase done, in [0, 1]: of this bank's layers, templates or spectra, or of the file's bytes. */
  readonly phaseFraction?: number;
}

export interface ReconstructService {
  /** `factors`: a LoRA adapter is fitted as its stored factors, not its layer updates. */
  readonly open: Method<{ readonly path: string; readonly factors?: boolean }, CheckpointBrief>;
  readonly plan: Method<{ readonly options: ReconstructOptions }, PlanOutcome>;
  /**
   * Compression vs fidelity of the closed form per role, every n at once, for the options' grouping
   * and objective (each bank's Gram eigenvalues are kept for the next request and for the run's energy shares).
   */
  readonly curve: Method<{ readonly options: ReconstructOptions }, CurveOutcome, CurveProgress>;
  readonly run: Method<{ readonly options: ReconstructOptions; readonly spectrumMaxSide: number }, DashboardData, RunProgress>;
  /**
   * Dashboard of a recast file from its metadata alone (stored metrics and spectra; no tensor is
   * read): banks whose spectra the file does not store are `pending`.
   */
  readonly load: Method<{ readonly spectrumMaxSide: number }, DashboardData, RunProgress>;
  /** The spectra of those banks of a recast file, computed from its tensors, with progress (phase spectra). */
  readonly spectra: Method<{ readonly banks: readonly string[]; readonly spectrumMaxSide: number }, readonly BankSpectra[], RunProgress>;
  /** Resolves with the file written. */
  readonly export: Method<{ readonly kind: ExportKind; readonly file: string }, string, RunProgress>;
}
