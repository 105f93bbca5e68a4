import type { BlockIndex } from './grouping';
import type { EntropyEstimated } from './entropy';
// The engine's public shapes: what reconstruct() takes, reports while it runs, and returns.
import type { BankDType, BankPlan, GroupingOptions, GroupingPlan } from './grouping';
import type { CoefficientSimilarity } from './metrics';
import type { Objective } from './spectral';
import type { TemplateStore } from './store';
import type { Scratch } from './scratch';
import type { GpuDevice } from '../gpu/webgpu';

export type Method = 'spectral' | 'paper' | 'spectral+refine';
export const METHODS: readonly Method[] = ['spectral', 'paper', 'spectral+refine'];
export type LossKind = 'smoothl1' | 'mse';
export const LOSSES: readonly LossKind[] = ['smoothl1', 'mse'];
export const OBJECTIVES: readonly Objective[] = ['per-layer', 'total'];
/** Where the optimizer runs (the paper method). `auto` takes the fastest one that loads. */
export type Backend = 'auto' | 'webgpu' | 'wasm' | 'cpu' | 'tfjs-node' | 'tfjs-node-gpu';
export const BACKENDS: readonly Backend[] = ['auto', 'webgpu', 'wasm', 'cpu', 'tfjs-node', 'tfjs-node-gpu'];
/** How templates are stored: `F32` (exact), or `source`: the bank's own dtype (BF16/F16 templates for a 16-bit source). */
export type TemplateDtype = 'F32' | 'source';
export const TEMPLATE_DTYPES: readonly TemplateDtype[] = ['source', 'F32'];

export interface ReconstructOptions extends GroupingOptions {
  readonly method?: Method;
  /** Closed form: `per-layer` (default; maximises the per-layer cosines) or `total` squared error. */
  readonly objective?: Objective;
  /** Optimizer (paper, spectral+refine): docs/RECAST.md section 2 defaults. */
  readonly loss?: LossKind;
  readonly beta?: number;
  readonly steps?: number;
  readonly lr?: number;
  /** StepLR: multiply lr by `lrGamma` every `lrStep` steps. */
  readonly lrStep?: number;
  readonly lrGamma?: number;
  readonly noise?: number;
  readonly clip?: number;
  readonly seed?: number;
  readonly backend?: Backend;
  /** Loss weight per role (authors' ViT-S: 2.0 for fc1 and fc2); 1 otherwise. */
  readonly moduleWeights?: Readonly<Record<string, number>>;
  /** Random probes per layer for feature fidelity; 0 (default) skips it. */
  readonly probes?: number;
  /**
   * `source` (default): each bank's templates are stored in its members' dtype (half the bytes for
   * BF16/F16) and the metrics are of those rounded templates; `F32`: stored exactly.
   */
  readonly templateDtype?: TemplateDtype;
  /**
   * Template entropy needs all singular values (O(side^3) in JS): templates whose smaller side
   * (out vs rest) exceeds this are estimated instead (entropyEstimate), or get entropy null. Default 1024.
   */
  readonly entropyMaxSide?: number;
  /**
   * Templates over entropyMaxSide get an estimated entropy (stochastic Lanczos quadrature, with its
   * error; docs/RECAST.md section 4.4) instead of none. Default true.
   */
  readonly entropyEstimate?: boolean;
  /**
   * Closed form: groups whose float32 members exceed this many bytes are streamed in column chunks
   * (two reads of the group) instead of held whole. Default 1 GiB.
   */
  readonly groupMemoryBytes?: number;
  /**
   * A reconstruction whose largest group would need more memory than this is refused before
   * anything is read, with the estimate and what to change. Default 60% of the machine's memory.
   */
  readonly memoryLimitBytes?: number;
}

export interface ProgressEvent {
  /** Bank being fitted. */
  readonly group: string;
  readonly groupIndex: number;
  readonly groups: number;
  /** Optimizer step (0 for the closed form). */
  readonly step: number;
  readonly steps: number;
  /** Current loss (the method's objective); the closed form reports its mean squared error. */
  readonly loss: number;
  /** Seconds since reconstruct() started. */
  readonly elapsed: number;
}

/** The phases of a run, in the order they first happen (the engine's; the worker adds spectra, digest and write). */
export type RunPhaseName = 'fit' | 'fidelity' | 'diversity' | 'entropy' | 'spectra' | 'digest' | 'write';
export const RUN_PHASES: readonly RunPhaseName[] = ['fit', 'fidelity', 'diversity', 'entropy', 'spectra', 'digest', 'write'];

/** Progress inside one phase of one bank: `done` of `total` units (layers, templates, spectra). */
export interface PhaseEvent {
  readonly phase: RunPhaseName;
  readonly bank: string;
  readonly bankIndex: number;
  readonly banks: number;
  readonly done: number;
  readonly total: number;
  /** What a unit is, for messages ("layer", "layer pass", "template", "spectrum", "file"). */
  readonly unit: string;
}

/** Seconds spent in each phase, summed over banks (docs/FORMAT.md recast.method.phases). */
export type PhaseTimes = Partial<Record<RunPhaseName, number>>;

export interface ReconstructHooks {
  onProgress?(ev: ProgressEvent): void;
  /** Progress inside the measuring phases (fidelity per layer, diversity and entropy per template). */
  onPhase?(ev: PhaseEvent): void;
  readonly signal?: AbortSignal;
  /** Where templates go as each bank is done (default: memory). Exports spill to disk. */
  readonly store?: TemplateStore;
  /**
   * Called once every bank is fitted and measured but for template entropy, which may still be running
   * on the pool's workers: work that does not need entropy runs here, on this thread, while they go on
   * (an export writes its dense file). Awaited before this thread takes its share of the entropy.
   * `scratch` holds the fits' buffers, free now (recycled): the work takes its buffers from it.
   */
  whileEntropy?(fitted: FittedResult, scratch: Scratch): Promise<void>;
}

/** A run before template entropy is in: every bank's templates (in the store), coefficients and other metrics. */
export interface FittedResult extends Pick<ReconstructResult, 'plan' | 'banks' | 'store'> {
  /**
   * The whole result as it will be, with every value still to come (entropy, times) at its longest
   * JSON text (reconstruct.ts STAND_IN): for sizing a header before those values are known.
   */
  readonly sizing?: ReconstructResult;
}

export interface LayerMetrics {
  readonly name: string;
  readonly bank: string;
  readonly cosine: number;
  readonly relError: number;
  /** Feature fidelity with random N(0, I) probes (not data), when probes > 0. */
  readonly probeCosine?: number;
  /** Templates stored in 16 bits: the cosine and relative error the float32 templates would give (before rounding). */
  readonly f32Cosine?: number;
  readonly f32RelError?: number;
}

export interface BankMetrics {
  readonly name: string;
  readonly members: readonly string[];
  readonly templates: number;
  readonly diversity: number;
  readonly diversityRelative: number;
  /** Mean over templates; null when skipped (see entropySkipped). */
  readonly entropy: number | null;
  readonly entropyNormalized: number | null;
  readonly entropySkipped?: string;
  /** Present when the bank's entropy was estimated: how, and the error of the bank's mean H. */
  readonly entropyEstimated?: EntropyEstimated;
  /** Closed form: each template's share of the group's energy, eigenvalue over the sum of all (largest first). */
  readonly energy?: readonly number[];
  /** L x L over the group's blocks (see coefficientSimilarityBlocks). */
  readonly coefficientSimilarity: CoefficientSimilarity['matrix'];
  readonly coefficientSimilarityBlocks: readonly number[];
  readonly parameters: { readonly before: number; readonly after: number };
  /** Numerical rank of the group (closed form) or null. */
  readonly rank: number | null;
  /** Final loss of the method on this bank. */
  readonly loss: number;
}

export interface BankResult {
  readonly plan: BankPlan;
  /** Templates kept (<= plan.templates when the group's rank is lower). */
  readonly n: number;
  /** The dtype the templates are stored in (the store holds them already rounded to it). */
  readonly templateDtype: BankDType;
  /** [K, n] per member, in plan.members order. */
  readonly coefficients: readonly Float32Array[];
  readonly metrics: BankMetrics;
  readonly layers: readonly LayerMetrics[];
}

/** Everything needed to rerun a reconstruction (docs/FORMAT.md recast.method). */
export interface MethodRecord {
  readonly method: Method;
  readonly objective: Objective | null;
  readonly grouping: {
    readonly preset: string;
    readonly modules: readonly string[];
    readonly blocksPerGroup: number | null;
    readonly groups: number | null;
    readonly shareRoles: boolean;
    readonly ratio: number | null;
    /** Which numbered part of a name was the block; recorded when not the default 'inner'. */
    readonly blockIndex?: BlockIndex;
  };
  readonly n: number | 'exact' | null;
  readonly K: number;
  readonly loss: LossKind;
  readonly beta: number | null;
  readonly steps: number;
  readonly lr: number | null;
  readonly lrStep: number | null;
  readonly lrGamma: number | null;
  readonly clip: number | null;
  readonly noise: number;
  readonly seed: number;
  readonly backend: string;
  /** The GPU adapter when webgpu ran a fit (an added field). */
  readonly device?: GpuDevice;
  readonly moduleWeights: Readonly<Record<string, number>>;
  readonly probes: number;
  /** The template dtype asked for (an added field; absent in older files, which store F32). */
  readonly templateDtype?: TemplateDtype;
  readonly elapsed: number;
  /** Seconds per phase (an added field): the engine's phases, and the worker's when it ran them. */
  readonly phases?: PhaseTimes;
}

export interface Summary {
  readonly layers: number;
  readonly banks: number;
  readonly meanCosine: number;
  readonly minCosine: number;
  readonly meanRelError: number;
  readonly parameters: { readonly before: number; readonly after: number; readonly ratio: number };
  /** Task-specific numbers: all coefficient sets of all reparameterized layers. */
  readonly coefficientsPerTask: number;
  readonly meanProbeCosine?: number;
  /** When some templates are stored in 16 bits: the same means over the layers with the float32 templates instead. */
  readonly f32Templates?: { readonly meanCosine: number; readonly minCosine: number; readonly meanRelError: number };
}

export interface ReconstructResult {
  readonly plan: GroupingPlan;
  readonly banks: readonly BankResult[];
  readonly layers: readonly LayerMetrics[];
  readonly summary: Summary;
  readonly method: MethodRecord;
  readonly store: TemplateStore;
}
