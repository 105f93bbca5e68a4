// Messages between the extension host and the reconstruction worker (dist/reconstructWorker.js).
// One worker serves one dashboard: it opens one checkpoint, answers plan requests (the live
// budget), runs one reconstruction at a time with progress, and writes exports of the last run.
import type { PlanOutcome } from '../dashboard/budget';
import type { DashboardData } from '../dashboard/types';
import type { ProgressEvent, ReconstructOptions } from '../recast/types';

export type ExportKind = 'model' | 'dense';

export interface CheckpointBrief {
  readonly path: string;
  readonly fileName: string;
  readonly tensorCount: number;
  readonly params: number;
  readonly totalBytes: number;
  /** True for a reparameterized (metadata format "recast") file. */
  readonly isRecast: boolean;
}

export interface ReconstructFailure {
  readonly message: string;
  readonly cancelled: boolean;
}

export type ToReconstructWorker =
  | { readonly type: 'open'; readonly path: string }
  | { readonly type: 'plan'; readonly id: number; readonly options: ReconstructOptions }
  | { readonly type: 'run'; readonly id: number; readonly options: ReconstructOptions; readonly spectrumMaxSide: number }
  /** Dashboard of a recast file from its stored metrics. */
  | { readonly type: 'load'; readonly id: number; readonly spectrumMaxSide: number }
  | { readonly type: 'export'; readonly id: number; readonly kind: ExportKind; readonly file: string }
  | { readonly type: 'cancel'; readonly id: number }
  | { readonly type: 'close' };

export type FromReconstructWorker =
  | { readonly type: 'opened'; readonly brief: CheckpointBrief }
  | { readonly type: 'openFailed'; readonly error: ReconstructFailure }
  | { readonly type: 'plan'; readonly id: number; readonly outcome: PlanOutcome }
  /** `fraction`: share done, in [0, 1]: of the fit (phase fit), of the file's bytes (phase write). */
  | { readonly type: 'progress'; readonly id: number; readonly phase: 'fit' | 'spectra' | 'digest' | 'write'; readonly event?: ProgressEvent; readonly message?: string; readonly fraction?: number }
  | { readonly type: 'result'; readonly id: number; readonly data: DashboardData }
  | { readonly type: 'exported'; readonly id: number; readonly file: string }
  | { readonly type: 'failed'; readonly id: number; readonly error: ReconstructFailure };
