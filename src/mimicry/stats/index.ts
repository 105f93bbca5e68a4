// Per-tensor statistics and spectra: the engine's public surface for the inspector and the CLI.

export { computeTensorStats, DEFAULT_BINS, type TensorStats, type TensorStatsOptions } from './tensorStats';
export { HistogramBuilder, histogramRange, linearEdges, type Histogram } from './histogram';
export {
  tensorStatsOf,
  isStatsSkipped,
  type StatsSkipped,
  type TensorStatsOutcome,
  type TensorStatsOfOptions,
} from './checkpointStats';
export { spectralMetrics, type SpectralMetrics } from './spectralMetrics';
export {
  gramOfMatrix,
  streamGram,
  planGram,
  DEFAULT_PANEL_ELEMENTS,
  type GramPlan,
  type GramResult,
  type StreamGramOptions,
} from './gram';
export {
  computeSpectrum,
  spectrumFromMatrix,
  spectrumFromGram,
  matrixView,
  isSpectrumSkipped,
  DEFAULT_SPECTRUM_MAX_SIDE,
  type Spectrum,
  type SpectrumSkipped,
  type SpectrumOutcome,
  type SpectrumOptions,
  type ComputeSpectrumOptions,
} from './spectrum';
