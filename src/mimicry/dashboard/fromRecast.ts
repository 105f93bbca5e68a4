// DashboardData of a reparameterized file, read back from its stored metrics (docs/FORMAT.md
// recast.metrics / recast.method / recast.source) and stored spectra (recast.spectra, when the
// writer had them). Opening reads the metadata only; the spectra a file does not store are
// computed afterwards (in the worker, with progress) from its templates and rebuilt members.
import * as path from 'node:path';
import type { Checkpoint } from '../safetensors/types';
import { sourceDiskBytes } from '../recast/report';
import { compose } from '../recast/compose';
import { parseRecast, readFinite, type RecastBank, type RecastFile } from '../recast/rebuild';
import { blocksAndRoles } from './layers';
import { spectrumLines, templateAt, type SpectrumInput } from './spectra';
import { DASHBOARD_DATA_VERSION, type BankSpectra, type DashboardData } from './types';

/** Rebuilt members drawn per bank (each spectrum costs O(side^3)). */
const MAX_REBUILT_SPECTRA = 6;

/**
 * The dashboard from the metadata alone (parseRecast checks every key against the one schema and
 * the tensor layout): no tensor value is read, so it is ready at once whatever the file's size.
 * Banks whose spectra the file does not store come back `pending` (see `computeSpectra`).
 */
export function recastDashboard(checkpoint: Checkpoint, file: RecastFile = parseRecast(checkpoint)): DashboardData {
  const { metrics, method, source, banksJson } = file.docs;
  const blockAndRole = blocksAndRoles([...new Set([...metrics.layers.map((l) => l.name), ...metrics.banks.flatMap((m) => m.members)])]);
  const byName = new Map(file.banks.map((b) => [b.name, b]));
  const stored = new Map((file.docs.spectra ?? []).map((s) => [s.bank, s]));
  const spectra: BankSpectra[] = file.banks.map((b) => {
    const s = stored.get(b.name);
    return s
      ? { bank: b.name, lines: s.lines, ...(s.skipped === undefined ? {} : { skipped: s.skipped }) }
      : { bank: b.name, lines: [], pending: true };
  });
  return {
    version: DASHBOARD_DATA_VERSION,
    origin: 'recast-file',
    source: { file: source.file, path: checkpoint.path, bytes: source.bytes, sha256: source.sha256, diskBytes: sourceDiskBytes(source) },
    method,
    summary: metrics.summary,
    layers: metrics.layers.map((l) => ({ ...l, ...blockAndRole(l.name) })),
    banks: metrics.banks.map((m) => {
      const b = byName.get(m.name);
      return {
        name: m.name,
        roles: [...new Set(m.members.map((n) => blockAndRole(n).role))],
        members: m.members,
        blocks: m.members.map((n) => blockAndRole(n).block),
        shape: b?.shape ?? [],
        templates: m.templates,
        diversity: m.diversity,
        diversityRelative: m.diversityRelative,
        entropy: m.entropy,
        entropyNormalized: m.entropyNormalized,
        ...(m.entropySkipped === undefined ? {} : { entropySkipped: m.entropySkipped }),
        ...(m.entropyEstimated === undefined ? {} : { entropyEstimated: m.entropyEstimated }),
        ...(m.energy === undefined ? {} : { energy: m.energy }),
        coefficientSimilarity: m.coefficientSimilarity,
        coefficientSimilarityBlocks: m.coefficientSimilarityBlocks,
        parameters: m.parameters,
        rank: m.rank,
        loss: Number.isFinite(m.loss) ? m.loss : null,
        ...(b && (b.templateTensor.dtype === 'F32' || b.templateTensor.dtype === b.dtype) ? { templateDtype: b.templateTensor.dtype } : {}),
      };
    }),
    spectra,
    report: { format: 'recast-report', version: '1', source, outputs: {}, method, banks: banksJson, metrics },
    // The file itself is the export whose size is compared with the source's.
    outputs: [{ kind: 'model', file: path.basename(checkpoint.path), bytes: checkpoint.totalBytes }],
  };
}

/** Progress of `computeSpectra`: bank `bankIndex` of `banks` (those computed), `done` of `total` spectra. */
export interface SpectraProgress {
  readonly bank: string;
  readonly bankIndex: number;
  readonly banks: number;
  readonly done: number;
  readonly total: number;
}

/** Reads one bank's templates and coefficients (NaN and infinity refused) and draws its spectra. */
async function bankSpectra(
  checkpoint: Checkpoint,
  b: RecastBank,
  spectrumMaxSide: number,
  onDone: (done: number, total: number) => void,
): Promise<BankSpectra> {
  const templates = await readFinite(checkpoint, b.templateTensor);
  const inputs: SpectrumInput[] = [];
  const shown = Math.min(b.members.length, MAX_REBUILT_SPECTRA);
  for (let l = 0; l < b.members.length; l++) {
    const c = await readFinite(checkpoint, b.coefficientTensors[l]);
    if (l < shown) inputs.push({ label: b.members[l], kind: 'rebuilt', values: compose(templates, b.templates, c) });
  }
  for (let t = 0; t < b.templates; t++)
    inputs.push({ label: `template ${t + 1}`, kind: 'template', values: templateAt(templates, b.templates, t) });
  onDone(0, inputs.length);
  const lines = spectrumLines(inputs, b.shape, spectrumMaxSide, (done) => onDone(done, inputs.length));
  const note = [lines.skipped, shown < b.members.length ? `first ${shown} of ${b.members.length} members shown` : undefined]
    .filter((x) => x !== undefined)
    .join('; ');
  return { bank: b.name, lines: lines.lines, ...(note ? { skipped: note } : {}) };
}

/**
 * The spectra of the banks named in `banks` (the dashboard's pending ones), one bank after another,
 * reporting each spectrum as it is done. Every template and coefficient tensor of those banks is
 * read, and refused when it holds NaN or infinity.
 */
export async function computeSpectra(
  checkpoint: Checkpoint,
  banks: readonly string[],
  spectrumMaxSide: number,
  signal?: AbortSignal,
  onProgress?: (p: SpectraProgress) => void,
  file: RecastFile = parseRecast(checkpoint),
): Promise<BankSpectra[]> {
  const wanted = file.banks.filter((b) => banks.includes(b.name));
  const out: BankSpectra[] = [];
  for (const [bankIndex, b] of wanted.entries()) {
    signal?.throwIfAborted();
    out.push(
      await bankSpectra(checkpoint, b, spectrumMaxSide, (done, total) => {
        signal?.throwIfAborted();
        onProgress?.({ bank: b.name, bankIndex, banks: wanted.length, done, total });
      }),
    );
  }
  return out;
}

/** `data` with the computed banks' spectra in place of their pending entries. */
export function withSpectra(data: DashboardData, computed: readonly BankSpectra[]): DashboardData {
  const byBank = new Map(computed.map((s) => [s.bank, s]));
  return { ...data, spectra: data.spectra.map((s) => byBank.get(s.bank) ?? s) };
}

/**
 * The complete dashboard at once (the CLI's and the tests' way): the file is checked whole first,
 * then every template and coefficient tensor is read, and refused when it holds NaN or infinity,
 * even the members whose spectra are not drawn and the banks whose spectra the file stores.
 */
export async function dashboardFromRecast(checkpoint: Checkpoint, spectrumMaxSide: number, signal?: AbortSignal): Promise<DashboardData> {
  const file = parseRecast(checkpoint);
  const data = recastDashboard(checkpoint, file);
  const pending = data.spectra.filter((s) => s.pending).map((s) => s.bank);
  for (const b of file.banks) {
    if (pending.includes(b.name)) continue;
    for (const t of [b.templateTensor, ...b.coefficientTensors]) {
      signal?.throwIfAborted();
      await readFinite(checkpoint, t);
    }
  }
  return withSpectra(data, await computeSpectra(checkpoint, pending, spectrumMaxSide, signal, undefined, file));
}
