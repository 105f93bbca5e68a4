// The reconstruction job of the worker: runs the engine on the open checkpoint, measures spectra,
// digests the source and builds the dashboard's data; keeps the result for exports.
import type { Checkpoint } from '../../safetensors/types';
import type { WriteControl, WriteProgress } from '../../safetensors/writer';
import { reconstruct, roundedPhases } from '../../recast/reconstruct';
import { describeSource, writeDense, writeReparameterized, type SourceRecord } from '../../recast/export';
import { rebuildDense } from '../../recast/rebuild';
import { FileTemplateStore, removeStaleScratch } from '../../recast/store';
import type { PhaseEvent, ProgressEvent, ReconstructOptions, ReconstructResult } from '../../recast/types';
import { dashboardFromResult } from '../../dashboard/fromResult';
import { spectrumLines, templateAt, type SpectrumInput } from '../../dashboard/spectra';
import type { BankSpectra, DashboardData } from '../../dashboard/types';
import type { ExportKind, RunProgress } from './protocol';

export interface RunHooks {
  readonly signal: AbortSignal;
  /** The optimizer's loss events (the curve). */
  onFit(ev: ProgressEvent): void;
  /** Progress inside every other phase, with the job's share done (`fraction`) and the phase's own (`phaseFraction`). */
  onPhase(p: RunProgress): void;
}

/** Shares of the whole job's bar: the engine's banks, then the spectra, then the digest. */
const ENGINE_SHARE = 0.5;
const SPECTRA_SHARE = 0.45;
/** Within one bank of the engine: where each phase starts and how much of the bank it takes. */
const BANK_PHASES: Readonly<Record<'fit' | 'fidelity' | 'diversity' | 'entropy', readonly [number, number]>> = {
  fit: [0, 0.5],
  fidelity: [0.5, 0.25],
  diversity: [0.75, 0.05],
  entropy: [0.8, 0.2],
};

/** The job's share done at an engine phase event (bank `bankIndex` of `banks`, `inPhase` of its phase done). */
export function engineFraction(phase: keyof typeof BANK_PHASES, bankIndex: number, banks: number, inPhase: number): number {
  const [start, width] = BANK_PHASES[phase];
  return (ENGINE_SHARE * (bankIndex + start + width * Math.min(1, Math.max(0, inPhase)))) / Math.max(1, banks);
}

function phaseMessage(ev: PhaseEvent): string {
  const bank = `bank ${ev.bankIndex + 1} of ${ev.banks} (${ev.bank})`;
  return ev.unit === 'group' ? bank : `${bank}: ${ev.unit} ${ev.done} of ${ev.total}`;
}

/** Engine phase events at most every `intervalMs`, but always a phase's first and last. */
export function throttlePhases(send: (ev: PhaseEvent) => void, intervalMs = 100): (ev: PhaseEvent) => void {
  let last = 0;
  return (ev) => {
    const now = Date.now();
    if (ev.done > 0 && ev.done < ev.total && now - last < intervalMs) return;
    last = now;
    send(ev);
  };
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

/** The job's share done at a loss event (the fit is the first part of each bank's share). */
export function fitJobFraction(ev: ProgressEvent): number {
  // The closed form reports its loss once, after its bank is measured.
  if (ev.steps === 0) return engineFraction('entropy', ev.groupIndex, ev.groups, 1);
  const inGroup = ev.steps > 0 ? Math.min(1, ev.step / ev.steps) : 1;
  return engineFraction('fit', ev.groupIndex, ev.groups, inGroup);
}

/**
 * The job's share at the engine's events, never going back: the entropy of a bank may finish while
 * the next bank fits (entropyPool.ts), so its events carry the most the bar has reached, loss events
 * (whose share main.ts computes with fitJobFraction) included.
 */
export class EngineShare {
  private reached = 0;

  /** A loss event (sent with fitJobFraction's share). */
  fit(ev: ProgressEvent): void {
    this.reached = Math.max(this.reached, fitJobFraction(ev));
  }

  /** The share to send with a phase event. */
  phase(phase: keyof typeof BANK_PHASES, bankIndex: number, banks: number, inPhase: number): number {
    this.reached = Math.max(this.reached, engineFraction(phase, bankIndex, banks, inPhase));
    return this.reached;
  }
}

/** Originals drawn per bank: enough to compare with the templates, bounded in time (O(side^3) each). */
export const MAX_ORIGINAL_SPECTRA = 6;

async function bankSpectra(
  checkpoint: Checkpoint,
  result: ReconstructResult,
  spectrumMaxSide: number,
  signal: AbortSignal,
  onLine: (bank: number, done: number, total: number) => void,
): Promise<BankSpectra[]> {
  const out: BankSpectra[] = [];
  for (const [bi, b] of result.banks.entries()) {
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
    onLine(bi, 0, inputs.length);
    const lines = spectrumLines(inputs, b.plan.shape, spectrumMaxSide, (done) => {
      signal.throwIfAborted();
      onLine(bi, done, inputs.length);
    });
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
  private last: { result: ReconstructResult; source: SourceRecord; spectra: readonly BankSpectra[] } | undefined;

  constructor(private readonly checkpoint: Checkpoint) {}

  async run(options: ReconstructOptions, spectrumMaxSide: number, hooks: RunHooks): Promise<DashboardData> {
    await this.dropResult();
    // Templates spill to a scratch file in the temp folder: memory holds one group at a time.
    // Scratch left by a killed window (or CLI run) is removed before new scratch is made.
    await removeStaleScratch().catch(() => undefined);
    const store = new FileTemplateStore();
    let stopOnFailure = (): void => undefined;
    try {
      const share = new EngineShare();
      const onFit = (ev: ProgressEvent): void => {
        share.fit(ev);
        hooks.onFit(ev);
      };
      const onEnginePhase = throttlePhases((ev) => {
        if (ev.phase === 'fit' || ev.phase === 'fidelity' || ev.phase === 'diversity' || ev.phase === 'entropy') {
          const inPhase = ev.total > 0 ? ev.done / ev.total : 1;
          hooks.onPhase({
            phase: ev.phase,
            message: phaseMessage(ev),
            phaseFraction: inPhase,
            fraction: share.phase(ev.phase, ev.bankIndex, ev.banks, inPhase),
          });
        }
      });
      // The source's digest runs beside the engine and the spectra (its reads fill their waits).
      const stopDigest = new AbortController();
      const digest = describeSource(this.checkpoint, AbortSignal.any([hooks.signal, stopDigest.signal]));
      digest.catch(() => undefined); // awaited below; a failed run leaves no unhandled rejection
      stopOnFailure = () => stopDigest.abort();
      const engine = await reconstruct(this.checkpoint, options, {
        onProgress: onFit,
        onPhase: onEnginePhase,
        signal: hooks.signal,
        store,
      });
      let started = performance.now();
      const banks = engine.banks.length;
      const onSpectrum = throttlePhases((ev) =>
        hooks.onPhase({
          phase: 'spectra',
          message: phaseMessage(ev),
          phaseFraction: ev.done / Math.max(1, ev.total),
          fraction: ENGINE_SHARE + (SPECTRA_SHARE * (ev.bankIndex + ev.done / Math.max(1, ev.total))) / Math.max(1, banks),
        }),
      );
      const spectra = await bankSpectra(this.checkpoint, engine, spectrumMaxSide, hooks.signal, (bi, done, total) =>
        onSpectrum({ phase: 'spectra', bank: engine.banks[bi].plan.name, bankIndex: bi, banks, done, total, unit: 'spectrum' }),
      );
      const spectraSeconds = (performance.now() - started) / 1000;
      started = performance.now();
      hooks.onPhase({ phase: 'digest', message: 'SHA-256 of the source', phaseFraction: 0, fraction: ENGINE_SHARE + SPECTRA_SHARE });
      const source = await digest;
      hooks.onPhase({ phase: 'digest', message: 'SHA-256 of the source', phaseFraction: 1, fraction: 1 });
      const digestSeconds = (performance.now() - started) / 1000;
      // The worker's phases join the engine's: the run's whole time is on the results card and in the export.
      const method = {
        ...engine.method,
        phases: roundedPhases({ ...engine.method.phases, spectra: spectraSeconds, digest: digestSeconds }),
      };
      const result: ReconstructResult = { ...engine, method };
      this.last = { result, source, spectra };
      return dashboardFromResult(result, this.checkpoint.path, source, spectra);
    } catch (e) {
      stopOnFailure();
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
    if (kind === 'model') await writeReparameterized(this.checkpoint, result, file, source, io, { spectra: this.last.spectra });
    else await writeDense(this.checkpoint, result, file, io);
  }

  async dropResult(): Promise<void> {
    const last = this.last;
    this.last = undefined;
    await last?.result.store.dispose();
  }
}
