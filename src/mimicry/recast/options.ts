// Defaults and validation of reconstruction options (docs/RECAST.md section 2 for the optimizer).
import * as os from 'node:os';
import { ReconstructError } from './errors';
import {
  BACKENDS,
  METHODS,
  TEMPLATE_DTYPES,
  type Backend,
  type LossKind,
  type Method,
  type ReconstructOptions,
  type TemplateDtype,
} from './types';
import type { Objective } from './spectral';

export interface ResolvedFit {
  readonly method: Method;
  readonly objective: Objective;
  readonly loss: LossKind;
  readonly beta: number;
  readonly steps: number;
  readonly lr: number;
  readonly lrStep: number;
  readonly lrGamma: number;
  readonly noise: number;
  readonly clip: number;
  readonly seed: number;
  readonly backend: Backend;
  readonly moduleWeights: Readonly<Record<string, number>>;
  readonly probes: number;
  readonly templateDtype: TemplateDtype;
  readonly entropyMaxSide: number;
  readonly entropyEstimate: boolean;
  readonly groupMemory: number;
  readonly memoryLimit: number;
}

function finite(v: number | undefined, what: string, min: number, fallback: number, strict = false): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (strict && v === min)) {
    throw new ReconstructError('invalid-option', `${what} must be a number ${strict ? '>' : '>='} ${min}, got ${String(v)}`);
  }
  return v;
}

function integer(v: number | undefined, what: string, min: number, fallback: number): number {
  const x = finite(v, what, min, fallback);
  if (!Number.isInteger(x)) throw new ReconstructError('invalid-option', `${what} must be an integer, got ${x}`);
  return x;
}

export function resolveFit(o: ReconstructOptions): ResolvedFit {
  const method = o.method ?? 'spectral';
  if (!METHODS.includes(method))
    throw new ReconstructError('invalid-option', `method must be one of ${METHODS.join(', ')}, got "${String(method)}"`);
  const objective = o.objective ?? 'per-layer';
  if (objective !== 'total' && objective !== 'per-layer')
    throw new ReconstructError('invalid-option', `objective must be total or per-layer, got "${String(objective)}"`);
  const loss = o.loss ?? (method === 'spectral' ? 'mse' : 'smoothl1');
  if (loss !== 'smoothl1' && loss !== 'mse')
    throw new ReconstructError('invalid-option', `loss must be smoothl1 or mse, got "${String(loss)}"`);
  if (method === 'spectral' && loss !== 'mse')
    throw new ReconstructError(
      'invalid-option',
      'the spectral method minimises squared error; use --method paper or spectral+refine for smoothl1',
    );
  const backend = o.backend ?? 'auto';
  if (!BACKENDS.includes(backend))
    throw new ReconstructError('invalid-option', `backend must be one of ${BACKENDS.join(', ')}, got "${String(backend)}"`);
  const templateDtype = o.templateDtype ?? 'source';
  if (!TEMPLATE_DTYPES.includes(templateDtype))
    throw new ReconstructError(
      'invalid-option',
      `template dtype must be one of ${TEMPLATE_DTYPES.join(', ')}, got "${String(templateDtype)}"`,
    );
  const moduleWeights = o.moduleWeights ?? {};
  for (const [k, w] of Object.entries(moduleWeights)) finite(w, `weight of module ${k}`, 0, 1);
  return {
    method,
    objective,
    loss,
    beta: finite(o.beta, 'beta', 0, 1, true),
    steps: integer(o.steps, 'steps', 0, 1000),
    // Refining starts at the optimum of squared error: the authors' 0.1 (a first RMSprop step of
    // 10 x lr per parameter) would throw that away, so refinement defaults to small steps.
    lr: finite(o.lr, 'learning rate', 0, method === 'spectral+refine' ? 1e-4 : 0.1, true),
    lrStep: integer(o.lrStep, 'lr step', 1, 200),
    lrGamma: finite(o.lrGamma, 'lr gamma', 0, 0.1, true),
    noise: finite(o.noise, 'noise', 0, 1e-4),
    clip: finite(o.clip, 'gradient clip', 0, 1, true),
    seed: integer(o.seed, 'seed', 0, 0),
    backend,
    moduleWeights,
    probes: integer(o.probes, 'probes', 0, 0),
    templateDtype,
    entropyMaxSide: integer(o.entropyMaxSide, 'entropy max side', 1, 1024),
    entropyEstimate: o.entropyEstimate ?? true,
    groupMemory: finite(o.groupMemoryBytes, 'group memory', 1, 2 ** 30),
    memoryLimit: finite(o.memoryLimitBytes, 'memory limit', 1, Math.floor(0.6 * os.totalmem())),
  };
}
