// The reconstruction job of the worker: runs the engine on the open checkpoint, measures spectra,
// digests the source and builds the dashboard's data; keeps the result for exports.
import type { Checkpoint } from '../../safetensors/types';
import type { WriteControl, WriteProgress } from '../../safetensors/writer';
import { reconstruct } from '../../recast/reconstruct';
import { describeSource, writeDense, writeReparameterized, type SourceRecord } from '../../recast/export';
import { rebuildDense } from '../../recast/rebuild';
import { FileTemplateStore, removeStaleScratch } from '../../recast/store';
import type { ProgressEvent, ReconstructOptions, ReconstructResult } from '../../recast/types';
import { dashboardFromResult } from '../../dashboard/fromResult';
import { spectrumLines, templateAt, type SpectrumInput } from '../../dashboard/spectra';
import type { BankSpectra, DashboardData } from '../../dashboard/types';
import type { ExportKind } from './protocol';

export interface RunHooks {
  readonly signal: AbortSignal;
  onFit(ev: ProgressEvent): void;
  onPhase(phase: 'spectra' | 'digest', message: string): void;
}

/** Loss events at most every 50 ms, but always a group's first and last step (the curve's ends). */
export function throttleProgress(send: (ev: ProgressEvent) => void, intervalMs = 50): (ev: ProgressEvent) => void {
  let last = 0;
  let group = '';
  return (ev) => {
    const now = Date.now();
    const edge = ev.group !== group || ev.step === 0 || ev.step >= ev.steps;
    if (!edge && now - last < intervalMs) return;
    group = ev.group;
    last = now;
    send(ev);
  };
}

/** Write progress at most every `intervalMs`, but always the first and the last. */
export function throttleWrites(send: (p: WriteProgress) => void, intervalMs = 100): (p: WriteProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (p.tensors > 0 && p.tensors < p.totalTensors && now - last < intervalMs) return;
    last = now;
    send(p);
  };
}

/** Share of the fit done: finished groups plus the current group's share of its steps. */
export function fitFraction(ev: ProgressEvent): number {
  const inGroup = ev.steps > 0 ? Math.min(1, ev.step / ev.steps) : 1;
  return Math.min(1, (ev.groupIndex + inGroup) / Math.max(1, ev.groups));
}

/** Originals drawn per bank: enough to compare with the templates, bounded in time (O(side^3) each). */
export const MAX_ORIGINAL_SPECTRA = 6;

async function bankSpectra(
  checkpoint: Checkpoint,
  result: ReconstructResult,
  spectrumMaxSide: number,
  signal: AbortSignal,
): Promise<BankSpectra[]> {
  const out: BankSpectra[] = [];
  for (const b of result.banks) {
    signal.throwIfAborted();
    const inputs: SpectrumInput[] = [];
    const shown = b.plan.members.slice(0, MAX_ORIGINAL_SPECTRA);
    for (const name of shown) {
      signal.throwIfAborted();
      const info = checkpoint.tensor(name);
      if (!info) continue;
      const v = await checkpoint.readValues(info);
      inputs.push({ label: name, kind: 'original', values: v instanceof Float32Array ? v : Float32Array.from(v) });
    }
    const templates = await result.store.get(b.plan.name);
    for (let t = 0; t < b.n; t++) inputs.push({ label: `template ${t + 1}`, kind: 'template', values: templateAt(templates, b.n, t) });
    const lines = spectrumLines(inputs, b.plan.shape, spectrumMaxSide);
    const more = b.plan.members.length - shown.length;
    const note = [lines.skipped, more > 0 ? `first ${shown.length} of ${b.plan.members.length} members shown` : undefined]
      .filter((x) => x !== undefined)
      .join('; ');
    out.push({ bank: b.plan.name, lines: lines.lines, ...(note ? { skipped: note } : {}) });
  }
  return out;
}

/** One checkpoint's reconstruction state inside the worker. */
export class ReconstructSessionJob {
  private last: { result: ReconstructResult; source: SourceRecord } | undefined;

  constructor(private readonly checkpoint: Checkpoint) {}

  async run(options: ReconstructOptions, spectrumMaxSide: number, hooks: RunHooks): Promise<DashboardData> {
    await this.dropResult();
    // Templates spill to a scratch file in the temp folder: memory holds one group at a time.
    // Scratch left by a killed window (or CLI run) is removed before new scratch is made.
    await removeStaleScratch().catch(() => undefined);
    const store = new FileTemplateStore();
    try {
      const result = await reconstruct(this.checkpoint, options, { onProgress: hooks.onFit, signal: hooks.signal, store });
      hooks.onPhase('spectra', 'singular-value spectra');
      const spectra = await bankSpectra(this.checkpoint, result, spectrumMaxSide, hooks.signal);
      hooks.onPhase('digest', 'SHA-256 of the source');
      const source = await describeSource(this.checkpoint, hooks.signal);
      this.last = { result, source };
      return dashboardFromResult(result, this.checkpoint.path, source, spectra);
    } catch (e) {
      await store.dispose();
      throw e;
    }
  }

  /** Writes an export of the last run (atomic: a cancelled write leaves no file). */
  async export(kind: ExportKind, file: string, isRecast: boolean, io: WriteControl): Promise<void> {
    if (isRecast) {
      if (kind !== 'dense') throw new Error('this file is already a reparameterized model: export its dense reconstruction instead');
      await rebuildDense(this.checkpoint.path, file, io);
      return;
    }
    if (!this.last) throw new Error('no reconstruction in this session: run one first');
    const { result, source } = this.last;
    if (kind === 'model') await writeReparameterized(this.checkpoint, result, file, source, io);
    else await writeDense(this.checkpoint, result, file, io);
  }

  async dropResult(): Promise<void> {
    const last = this.last;
    this.last = undefined;
    await last?.result.store.dispose();
  }
}
