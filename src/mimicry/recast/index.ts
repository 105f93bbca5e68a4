// The reconstruction engine's public surface (the extension, its worker and the CLI import from here).
export { reconstruct } from './reconstruct';
export { type GroupFit, type GroupFitter, type FitContext } from './fitting';
export { paperFitter, kaimingStd, unitVector } from './paper';
export { exportRecast, writeReparameterized, writeDense, writeJsonAtomic, describeSource, recastMetadata, type ExportTargets, type ExportOutcome, type SourceRecord } from './export';
export { rebuildDense, parseRecast, denseEntries, type RecastFile, type RecastBank } from './rebuild';
export { planGroups, findRoles, parseWeightName, resolveGrouping, templatesForRatio, bankParameters, PRESETS } from './grouping';
export type { BankPlan, GroupingOptions, GroupingPlan, ParsedName, Preset, ResolvedGrouping, RoleInfo, TensorLike, BankDType } from './grouping';
export { fitSpectral, repeatSets, type Objective, type SpectralFit } from './spectral';
export { compose } from './compose';
export { layerFidelity, probeFidelity, inputLayout, templateDiversity, templateEntropy, coefficientSimilarity } from './metrics';
export type { LayerFidelity, Diversity, Entropy, CoefficientSimilarity, InputLayout } from './metrics';
export { banksJson, metricsJson, reportJson, type BanksJson, type MetricsJson } from './report';
export { resolveFit, type ResolvedFit } from './options';
export { MemoryTemplateStore, FileTemplateStore, type TemplateStore } from './store';
export { BackendError, ReconstructError, RecastFormatError } from './errors';
export * from './format';
export * from './types';
