// DashboardData of a reconstruction that just ran (engine result + source digest + spectra).
import { reportJson, sourceDiskBytes, type ReportSource } from '../recast/report';
import type { ReconstructResult } from '../recast/types';
import { blocksAndRoles } from './layers';
import { DASHBOARD_DATA_VERSION, type BankSpectra, type DashboardData } from './types';

export function dashboardFromResult(
  result: ReconstructResult,
  path: string,
  source: ReportSource & { readonly shards?: readonly ReportSource[] },
  spectra: readonly BankSpectra[],
): DashboardData {
  const blockAndRole = blocksAndRoles(result.layers.map((l) => l.name));
  return {
    version: DASHBOARD_DATA_VERSION,
    origin: 'run',
    source: { file: source.file, path, bytes: source.bytes, sha256: source.sha256, diskBytes: sourceDiskBytes(source) },
    method: result.method,
    summary: result.summary,
    layers: result.layers.map((l) => ({ ...l, ...blockAndRole(l.name) })),
    banks: result.banks.map((b) => ({
      name: b.plan.name,
      roles: b.plan.roles,
      members: b.plan.members,
      blocks: b.plan.blocks,
      shape: b.plan.shape,
      templates: b.n,
      diversity: b.metrics.diversity,
      diversityRelative: b.metrics.diversityRelative,
      entropy: b.metrics.entropy,
      entropyNormalized: b.metrics.entropyNormalized,
      ...(b.metrics.entropySkipped === undefined ? {} : { entropySkipped: b.metrics.entropySkipped }),
      ...(b.metrics.entropyEstimated === undefined ? {} : { entropyEstimated: b.metrics.entropyEstimated }),
      ...(b.metrics.energy === undefined ? {} : { energy: b.metrics.energy }),
      coefficientSimilarity: b.metrics.coefficientSimilarity,
      coefficientSimilarityBlocks: b.metrics.coefficientSimilarityBlocks,
      parameters: b.metrics.parameters,
      rank: b.metrics.rank,
      loss: Number.isFinite(b.metrics.loss) ? b.metrics.loss : null,
      templateDtype: b.templateDtype,
    })),
    spectra,
    report: reportJson(result, source, {}),
  };
}
