// The JSON documents of an export: recast.banks, recast.metrics, recast.method, and the report file.
import type { BankDType } from './grouping';
import type { ReconstructResult } from './types';
import type { BankSpectra, SpectrumKind } from '../dashboard/types';

/** docs/FORMAT.md recast.banks: `{ "<bank>": { members, shape, templates, source_dtype } }`. */
export interface BanksJson {
  [bank: string]: { members: string[]; shape: number[]; templates: number; source_dtype: BankDType };
}

export function banksJson(result: ReconstructResult): BanksJson {
  const out: BanksJson = {};
  for (const b of result.banks) {
    out[b.plan.name] = { members: [...b.plan.members], shape: [...b.plan.shape], templates: b.n, source_dtype: b.plan.dtype };
  }
  return out;
}

/** docs/FORMAT.md recast.metrics: layers and banks as specified, plus a summary (an added key). */
export function metricsJson(result: ReconstructResult) {
  return {
    layers: result.layers.map((l) => ({
      name: l.name,
      bank: l.bank,
      cosine: l.cosine,
      relError: l.relError,
      ...(l.probeCosine === undefined ? {} : { probeCosine: l.probeCosine }),
      ...(l.f32Cosine === undefined ? {} : { f32Cosine: l.f32Cosine, f32RelError: l.f32RelError }),
    })),
    banks: result.banks.map((b) => {
      const m = b.metrics;
      return {
        name: m.name,
        members: [...m.members],
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
        loss: m.loss,
      };
    }),
    summary: {
      ...result.summary,
      // docs/RECAST.md section 4: probes are random inputs, not data.
      ...(result.summary.meanProbeCosine === undefined
        ? {}
        : { probeKind: `random N(0, I) probes, ${result.method.probes} per layer, seed ${result.method.seed}` }),
    },
  };
}

export type MetricsJson = ReturnType<typeof metricsJson>;

/** docs/FORMAT.md recast.spectra: `{ "<bank>": { lines: [{ label, kind, values }], skipped? } }`. */
export interface SpectraJson {
  [bank: string]: { lines: { label: string; kind: SpectrumKind; values: number[] }[]; skipped?: string };
}

/** Singular values kept to float32 precision (7 significant digits): the chart's values, a third of the text. */
const float32Digits = (v: number): number => (v === 0 ? 0 : Number(v.toPrecision(7)));

export function spectraJson(spectra: readonly BankSpectra[]): SpectraJson {
  const out: SpectraJson = {};
  for (const b of spectra) {
    if (b.pending) continue;
    out[b.bank] = {
      lines: b.lines.map((l) => ({ label: l.label, kind: l.kind, values: l.values.map(float32Digits) })),
      ...(b.skipped === undefined ? {} : { skipped: b.skipped }),
    };
  }
  return out;
}

export interface ReportSource {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** The source's size on disk: its file's bytes, plus every shard's for a sharded source (whose file is the index). */
export function sourceDiskBytes(source: ReportSource & { readonly shards?: readonly ReportSource[] }): number {
  return source.bytes + (source.shards ?? []).reduce((a, s) => a + s.bytes, 0);
}

/** The report file: the same metrics and method as the export's metadata, plus where things went. */
export function reportJson(result: ReconstructResult, source: ReportSource, outputs: Record<string, string>) {
  return {
    format: 'recast-report',
    version: '1',
    source,
    outputs,
    method: result.method,
    banks: banksJson(result),
    metrics: metricsJson(result),
  };
}
