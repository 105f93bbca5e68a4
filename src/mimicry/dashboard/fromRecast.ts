// DashboardData of a reparameterized file, read back from its stored metrics (docs/FORMAT.md
// recast.metrics / recast.method / recast.source); spectra of its templates and rebuilt members.
import type { Checkpoint } from '../safetensors/types';
import { compose } from '../recast/compose';
import { parseRecast, readFinite } from '../recast/rebuild';
import { blockAndRole } from './layers';
import { spectrumLines, templateAt, type SpectrumInput } from './spectra';
import { DASHBOARD_DATA_VERSION, type BankSpectra, type DashboardData } from './types';

/** Rebuilt members drawn per bank (each spectrum costs O(side^3)). */
const MAX_REBUILT_SPECTRA = 6;

/**
 * The file is checked whole first (parseRecast: every metadata key against the one schema, the
 * tensor layout); every template and coefficient tensor is read, and refused when it holds NaN or
 * infinity, even the members whose spectra are not drawn.
 */
export async function dashboardFromRecast(checkpoint: Checkpoint, spectrumMaxSide: number, signal?: AbortSignal): Promise<DashboardData> {
  const file = parseRecast(checkpoint);
  const { metrics, method, source, banksJson } = file.docs;
  const byName = new Map(file.banks.map((b) => [b.name, b]));
  const spectra: BankSpectra[] = [];
  for (const b of file.banks) {
    if (signal?.aborted) break;
    const templates = await readFinite(checkpoint, b.templateTensor);
    const inputs: SpectrumInput[] = [];
    const shown = Math.min(b.members.length, MAX_REBUILT_SPECTRA);
    for (let l = 0; l < b.members.length; l++) {
      const c = await readFinite(checkpoint, b.coefficientTensors[l]);
      if (l < shown) inputs.push({ label: b.members[l], kind: 'rebuilt', values: compose(templates, b.templates, c) });
    }
    for (let t = 0; t < b.templates; t++)
      inputs.push({ label: `template ${t + 1}`, kind: 'template', values: templateAt(templates, b.templates, t) });
    const lines = spectrumLines(inputs, b.shape, spectrumMaxSide);
    const note = [lines.skipped, shown < b.members.length ? `first ${shown} of ${b.members.length} members shown` : undefined]
      .filter((x) => x !== undefined)
      .join('; ');
    spectra.push({ bank: b.name, lines: lines.lines, ...(note ? { skipped: note } : {}) });
  }
  return {
    version: DASHBOARD_DATA_VERSION,
    origin: 'recast-file',
    source: { file: source.file, path: checkpoint.path, bytes: source.bytes, sha256: source.sha256 },
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
        coefficientSimilarity: m.coefficientSimilarity,
        coefficientSimilarityBlocks: m.coefficientSimilarityBlocks,
        parameters: m.parameters,
        rank: m.rank,
        loss: Number.isFinite(m.loss) ? m.loss : null,
      };
    }),
    spectra,
    report: { format: 'recast-report', version: '1', source, outputs: {}, method, banks: banksJson, metrics },
  };
}
