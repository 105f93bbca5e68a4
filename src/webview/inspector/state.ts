// What the webview knows: the header, statistics and spectra received so far, jobs in flight.
import type { BatchProgress, BatchState, CheckpointSummary, SpectrumView, TensorRow, TensorStatsView } from '../protocol';

export type Work = 'stats' | 'spectrum';

export class InspectorState {
  summary: CheckpointSummary | undefined;
  tensors: readonly TensorRow[] = [];
  byName = new Map<string, TensorRow>();
  autoStats = false;
  readonly stats = new Map<string, TensorStatsView>();
  readonly spectra = new Map<string, SpectrumView>();
  /** Tensor names with statistics in flight (for the table's spinner). */
  readonly runningStats = new Set<string>();
  private readonly progress = new Map<string, number>();
  private readonly errors = new Map<string, string>();
  batch: { state: BatchState; progress: BatchProgress; message?: string } = { state: 'idle', progress: { done: 0, total: 0 } };

  setHeader(summary: CheckpointSummary, tensors: readonly TensorRow[], autoStats: boolean): void {
    this.summary = summary;
    this.tensors = tensors;
    this.byName = new Map(tensors.map((t) => [t.name, t]));
    this.autoStats = autoStats;
  }

  private static key(what: Work, name: string): string {
    return `${what}:${name}`;
  }

  isRunning(what: Work, name: string): boolean {
    return this.progress.has(InspectorState.key(what, name));
  }

  fraction(what: Work, name: string): number {
    return this.progress.get(InspectorState.key(what, name)) ?? 0;
  }

  error(what: Work, name: string): string | undefined {
    return this.errors.get(InspectorState.key(what, name));
  }

  started(what: Work, name: string, fraction = 0): void {
    this.progress.set(InspectorState.key(what, name), fraction);
    this.errors.delete(InspectorState.key(what, name));
    if (what === 'stats') this.runningStats.add(name);
  }

  finished(what: Work, name: string, error?: string): void {
    this.progress.delete(InspectorState.key(what, name));
    if (error !== undefined) this.errors.set(InspectorState.key(what, name), error);
    if (what === 'stats') this.runningStats.delete(name);
  }
}
