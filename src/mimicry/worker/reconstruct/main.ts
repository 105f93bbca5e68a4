// Entry of dist/reconstructWorker.js: reconstruction in a worker thread, so fitting never blocks
// the extension host. Serves ReconstructService (./protocol.ts) over the worker channel.
import * as path from 'node:path';
import { describeUpdates, openFitSource, updatesNoteOf } from '../../family/adapterView';
import type { Checkpoint } from '../../safetensors/types';
import { RECAST_FORMAT } from '../../recast/format';
import { planView } from '../../dashboard/budget';
import { computeSpectra, recastDashboard } from '../../dashboard/fromRecast';
import { serve } from '../channel/serve';
import { onBackendNote } from '../../recast/tfjs';
import { fitJobFraction, ReconstructSessionJob, throttlePhases, throttleProgress, throttleWrites } from './job';
import type { ReconstructService } from './protocol';
import { bankEigens, checkpointCurve, energyShares, type BankEigen, type CurveProgress } from '../../recast/curve';
import type { DashboardData } from '../../dashboard/types';

let opened:
  | { checkpoint: Checkpoint; session: ReconstructSessionJob; isRecast: boolean; eigens: Map<string, BankEigen>; note: string | null }
  | undefined;

/** The dashboard says what was fitted when that needs saying (an adapter's updates or factors). */
const withNote = (data: DashboardData, note: string | null): DashboardData => (note ? { ...data, note } : data);

/**
 * A closed-form run's banks with each template's energy share (docs/RECAST.md section 3). The
 * eigenvalues are usually those the form's curve already read; otherwise they are read once here.
 */
async function withEnergy(data: DashboardData, signal: AbortSignal): Promise<DashboardData> {
  const { checkpoint, eigens: cache } = current();
  const objective = data.method.objective;
  // The engine's closed form reports them with its metrics; this reads them only for a run without.
  if (data.method.method !== 'spectral' || !objective || data.banks.every((b) => b.energy !== undefined)) return data;
  const banks = data.banks.map((b) => ({ name: b.name, members: b.members, size: b.shape.reduce((a, x) => a * x, 1) }));
  const eigens = await bankEigens(checkpoint, banks, objective, { signal, cache });
  return { ...data, banks: data.banks.map((b, i) => ({ ...b, energy: energyShares(eigens[i], b.templates) })) };
}

function current(): NonNullable<typeof opened> {
  if (!opened) throw new Error('no checkpoint is open');
  return opened;
}

serve<ReconstructService>(
  {
    async open({ path: file, factors }) {
      await opened?.checkpoint.close();
      const { checkpoint, note } = await openFitSource(file, { factors });
      const isRecast = checkpoint.metadata.format === RECAST_FORMAT;
      opened = { checkpoint, session: new ReconstructSessionJob(checkpoint), isRecast, eigens: new Map(), note };
      return {
        path: checkpoint.path,
        fileName: path.basename(checkpoint.path),
        tensorCount: checkpoint.tensors.length,
        params: checkpoint.tensors.reduce((a, t) => a + t.params, 0),
        totalBytes: checkpoint.totalBytes,
        isRecast,
        note,
      };
    },
    plan({ options }) {
      return planView(current().checkpoint.tensors, options);
    },
    async curve({ options }, { signal, progress }) {
      // At most every 100 ms, but always a bank's first and last report.
      let last = 0;
      const report = (p: CurveProgress): void => {
        const now = Date.now();
        if (p.fraction > 0 && p.fraction < 1 && now - last < 100) return;
        last = now;
        progress(p);
      };
      try {
        const curve = await checkpointCurve(current().checkpoint, options, {
          signal,
          cache: current().eigens,
          onProgress: report,
        });
        return { ok: true, curve };
      } catch (e) {
        if (signal.aborted) throw e;
        return { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
    },
    run({ options, spectrumMaxSide }, { signal, progress }) {
      const onFit = throttleProgress((event) =>
        progress({ phase: 'fit', event, fraction: fitJobFraction(event), phaseFraction: event.steps > 0 ? event.step / event.steps : 1 }),
      );
      // A GPU passed over (and why), or a software one forced: shown as the run's progress message.
      const off = onBackendNote((message) => progress({ phase: 'fit', message }));
      return current()
        .session.run(options, spectrumMaxSide, { signal, onFit, onPhase: progress })
        .then((data) => withEnergy(data, signal))
        .then((data) => withNote(data, current().note))
        .finally(off);
    },
    async load() {
      // A recast file made from an adapter's layer updates says so in its metadata.
      const { checkpoint } = current();
      const updates = updatesNoteOf(checkpoint.metadata);
      return withNote(await recastDashboard(checkpoint), updates ? describeUpdates(updates) : null);
    },
    spectra({ banks, spectrumMaxSide }, { signal, progress }) {
      const report = throttlePhases((ev) =>
        progress({
          phase: 'spectra',
          message: `bank ${ev.bankIndex + 1} of ${ev.banks} (${ev.bank}): spectrum ${ev.done} of ${ev.total}`,
          phaseFraction: ev.done / Math.max(1, ev.total),
          fraction: (ev.bankIndex + ev.done / Math.max(1, ev.total)) / Math.max(1, ev.banks),
        }),
      );
      return computeSpectra(current().checkpoint, banks, spectrumMaxSide, signal, (p) =>
        report({ phase: 'spectra', unit: 'spectrum', ...p }),
      );
    },
    async export({ kind, file }, { signal, progress }) {
      const { session, isRecast } = current();
      // The notification's title already names the file: the message says only how far it is.
      progress({ phase: 'write', fraction: 0 });
      const onProgress = throttleWrites((p) =>
        progress({
          phase: 'write',
          message: `${p.tensors} of ${p.totalTensors} tensors`,
          fraction: p.totalBytes > 0 ? p.bytes / p.totalBytes : 1,
          phaseFraction: p.totalBytes > 0 ? p.bytes / p.totalBytes : 1,
        }),
      );
      await session.export(kind, file, isRecast, { signal, onProgress });
      return file;
    },
  },
  async () => {
    await opened?.session.dropResult();
    await opened?.checkpoint.close();
    opened = undefined;
  },
);
