// DashboardData of a reparameterized file, read back from its stored metrics (docs/FORMAT.md
// recast.metrics / recast.method / recast.source); spectra of its templates and rebuilt members.
import type { Checkpoint } from '../safetensors/types';
import { compose } from '../recast/compose';
import { metadataJson, parseRecast } from '../recast/rebuild';
import type { MetricsJson } from '../recast/report';
import type { MethodRecord, Summary } from '../recast/types';
import { blockAndRole } from './layers';
import { spectrumLines, templateAt, type SpectrumInput } from './spectra';
import { DASHBOARD_DATA_VERSION, type BankSpectra, type DashboardData } from './types';

async function floats(checkpoint: Checkpoint, info: Parameters<Checkpoint['readValues']>[0]): Promise<Float32Array> {
  const v = await checkpoint.readValues(info);
  return v instanceof Float32Array ? v : Float32Array.from(v);
}

/** Rebuilt members drawn per bank (each spectrum costs O(side^3)). */
const MAX_REBUILT_SPECTRA = 6;

export async function dashboardFromRecast(checkpoint: Checkpoint, spectrumMaxSide: number, signal?: AbortSignal): Promise<DashboardData> {
  const file = parseRecast(checkpoint);
  const meta = checkpoint.metadata;
  const metrics = metadataJson<MetricsJson>(meta, 'recast.metrics');
  const method = metadataJson<MethodRecord>(meta, 'recast.method');
  const source = metadataJson<{ file: string; bytes: number; sha256: string }>(meta, 'recast.source');
  const banksMeta = metadataJson<Record<string, unknown>>(meta, 'recast.banks');
  const byName = new Map(file.banks.map((b) => [b.name, b]));
  const spectra: BankSpectra[] = [];
  for (const b of file.banks) {
    if (signal?.aborted) break;
    const templates = await floats(checkpoint, b.templateTensor);
    const inputs: SpectrumInput[] = [];
    const shown = Math.min(b.members.length, MAX_REBUILT_SPECTRA);
    for (let l = 0; l < shown; l++) {
      const c = await floats(checkpoint, b.coefficientTensors[l]);
      inputs.push({ label: b.members[l], kind: 'rebuilt', values: compose(templates, b.templates, c) });
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
    summary: metrics.summary as Summary,
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
        ...('entropySkipped' in m && typeof m.entropySkipped === 'string' ? { entropySkipped: m.entropySkipped } : {}),
        coefficientSimilarity: m.coefficientSimilarity,
        coefficientSimilarityBlocks: m.coefficientSimilarityBlocks,
        parameters: m.parameters,
        rank: m.rank,
        loss: Number.isFinite(m.loss) ? m.loss : null,
      };
    }),
    spectra,
    report: { format: 'recast-report', version: '1', source, outputs: {}, method, banks: banksMeta, metrics },
  };
}
