// The task-family service (dist/familyWorker.js), spoken over the worker channel. One worker serves
// one Family dashboard: it loads the members (and the base) once, answers the family report with
// progress, and writes the task bank of the same fit.
import type { FamilyMapMethod, FamilyReport } from '../../family/analyze';
import type { MemberKind } from '../../family/members';
import type { TaskBankResult } from '../../family/bank';
import type { Method } from '../channel/protocol';

export interface FamilyOpenParams {
  /** Two or more adapter folders or files, or full checkpoints (with a base). */
  readonly paths: readonly string[];
  readonly base?: string;
}

/** The members as loaded: what the dashboard names before the analysis is done. */
export interface FamilyBrief {
  readonly members: readonly { readonly name: string; readonly path: string; readonly kind: MemberKind; readonly step: number | null }[];
  readonly base: string | null;
}

export interface FamilyAnalyzeParams {
  readonly templates?: number;
  readonly map?: FamilyMapMethod;
  readonly seed?: number;
  readonly maxSide?: number;
}

export interface FamilyProgress {
  readonly message: string;
  /** Share of the job done, in [0, 1]. */
  readonly fraction: number;
}

/** The task bank written: its size next to the members' files (the engine's TaskBankResult, less its metrics). */
export type TaskBankWritten = Omit<TaskBankResult, 'metrics'>;

export interface FamilyService {
  readonly open: Method<FamilyOpenParams, FamilyBrief>;
  readonly analyze: Method<FamilyAnalyzeParams, FamilyReport, FamilyProgress>;
  /** The task bank of the last analysis' templates count, written atomically to `file`. */
  readonly exportBank: Method<{ readonly file: string; readonly templates?: number }, TaskBankWritten, FamilyProgress>;
}
