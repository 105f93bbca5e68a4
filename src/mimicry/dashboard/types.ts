// The plain-JSON picture of one reconstruction that every dashboard draws, whether it comes from a
// run that just finished or from the metadata of a reparameterized ("recast") file. Built by the
// engine side (worker); the extension only forwards it and the webview only draws it.
import type { BankDType } from '../recast/grouping';
import type { BankMetrics, LayerMetrics, MethodRecord, Summary } from '../recast/types';

export const DASHBOARD_DATA_VERSION = 1;

/** A layer's metrics with where it sits: its block and module role. */
export interface DashboardLayer extends LayerMetrics {
  /** Block index parsed from the name (null when the name has none). */
  readonly block: number | null;
  readonly role: string;
}

/** A bank's metrics with its layout; the loss is null when read back from a file (not stored). */
export interface DashboardBank extends Omit<BankMetrics, 'loss'> {
  readonly roles: readonly string[];
  readonly blocks: readonly (number | null)[];
  readonly shape: readonly number[];
  readonly loss: number | null;
  /**
   * Closed-form runs: each template's share of the group's energy, lambda_t / sum of all eigenvalues
   * of the fit's Gram matrix (largest first; 1 minus their sum is what the fit leaves out).
   */
  readonly energy?: readonly number[];
  /** The dtype its templates are (to be) stored in: F32, or the members' 16-bit dtype. */
  readonly templateDtype?: BankDType;
}

export type SpectrumKind = 'original' | 'template' | 'rebuilt';

export interface SpectrumLine {
  readonly label: string;
  readonly kind: SpectrumKind;
  /** Descending singular values of the out x (everything else) view. */
  readonly values: readonly number[];
}

export interface BankSpectra {
  readonly bank: string;
  readonly lines: readonly SpectrumLine[];
  /** Why some or all lines are missing (too large, cancelled...). */
  readonly skipped?: string;
  /** Not known yet: a recast file without stored spectra gets them computed after it opens. */
  readonly pending?: boolean;
}

export interface DashboardSource {
  /** Base name of the checkpoint that was reconstructed. */
  readonly file: string;
  /** Absolute path of the file the dashboard was made from (the checkpoint, or the recast file). */
  readonly path: string;
  readonly bytes?: number;
  readonly sha256?: string;
  /** Its size on disk: `bytes`, plus every shard's for a sharded checkpoint (whose file is the index). */
  readonly diskBytes?: number;
}

/** A file written from these results (or, for a recast file's dashboard, that file itself). */
export interface OutputFile {
  readonly kind: 'model' | 'dense' | 'report-json' | 'report-csv';
  /** Base name. */
  readonly file: string;
  /** Size on disk. */
  readonly bytes: number;
}

export interface DashboardData {
  readonly version: typeof DASHBOARD_DATA_VERSION;
  /** 'run': a reconstruction that ran in this window; 'recast-file': read back from an export. */
  readonly origin: 'run' | 'recast-file';
  readonly source: DashboardSource;
  readonly method: MethodRecord;
  readonly summary: Summary;
  readonly layers: readonly DashboardLayer[];
  readonly banks: readonly DashboardBank[];
  readonly spectra: readonly BankSpectra[];
  /** The report document (reportJson of the engine, or its equivalent read from a recast file). */
  readonly report: Readonly<Record<string, unknown>>;
  /** The files written so far, each with its size on disk (docs: README "Template dtype and the size on disk"). */
  readonly outputs?: readonly OutputFile[];
  /** What was fitted when that needs saying: a LoRA adapter's layer updates, or its factors (docs/RECAST.md section 6.7). */
  readonly note?: string;
}
