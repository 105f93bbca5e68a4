// Refusals of the reconstruction engine, each with a stable rule from a closed union (see
// ../errors.ts for the shape every engine error shares).
import { engineErrorClass } from '../errors';

export type ReconstructRule =
  | 'invalid-option'
  | 'unknown-preset'
  | 'unknown-module'
  | 'already-recast'
  | 'nothing-to-reconstruct'
  | 'non-finite-weights'
  | 'tensor-vanished'
  | 'output-paths-clash'
  | 'refuse-overwrite-source'
  | 'group-too-large';

export const RECONSTRUCT_TEXT: Record<ReconstructRule, string> = {
  'invalid-option': 'invalid reconstruction option',
  'unknown-preset': 'unknown preset',
  'unknown-module': 'no groupable module of that name',
  'already-recast': 'the file is already a reparameterized (recast) file: rebuild it to a dense checkpoint first',
  'nothing-to-reconstruct': 'nothing to reconstruct: no module role has the same shape in two or more numbered blocks',
  'non-finite-weights': 'a weight to reconstruct contains NaN or Inf',
  'tensor-vanished': 'a tensor disappeared from the checkpoint',
  'output-paths-clash': 'the export, dense and report paths must differ',
  'refuse-overwrite-source': 'refusing to overwrite the source',
  'group-too-large': 'a group needs more memory than the limit allows',
};

/** A reconstruction the engine refuses: options, grouping, or weights it cannot fit. */
export class ReconstructError extends engineErrorClass<ReconstructRule>('ReconstructError', RECONSTRUCT_TEXT) {}

export type RecastFormatRule =
  | 'not-recast'
  | 'unsupported-recast-version'
  | 'metadata-missing'
  | 'metadata-not-json'
  | 'metadata-invalid'
  | 'metadata-inconsistent'
  | 'tensor-invalid'
  | 'tensor-stray'
  | 'tensor-conflict'
  | 'tensor-non-finite'
  | 'source-mismatch';

export const RECAST_FORMAT_TEXT: Record<RecastFormatRule, string> = {
  'not-recast': 'not a recast file',
  'unsupported-recast-version': 'unsupported recast.version',
  'metadata-missing': 'a recast metadata key is missing',
  'metadata-not-json': 'a recast metadata value is not valid JSON',
  'metadata-invalid': 'a recast metadata value has the wrong type, range or form',
  'metadata-inconsistent': 'two recast metadata values contradict each other',
  'tensor-invalid': 'a template or coefficient tensor is missing or has the wrong dtype or shape',
  'tensor-stray': 'a recast.templates.* or recast.coefficients.* tensor that no bank of recast.banks names',
  'tensor-conflict': 'a tensor name is a member of two banks, or both a member and a copied tensor',
  'tensor-non-finite': 'a template or coefficient tensor holds NaN or infinity',
  'source-mismatch': 'the source checkpoint given is not the one this recast file was made from',
};

/** A reparameterized file that breaks the recast format (docs/FORMAT.md). */
export class RecastFormatError extends engineErrorClass<RecastFormatRule>('RecastFormatError', RECAST_FORMAT_TEXT) {}

export type BackendRule = 'backend-unavailable' | 'backend-failed' | 'gpu-device-lost' | 'gpu-bank-too-large';

export const BACKEND_TEXT: Record<BackendRule, string> = {
  'backend-unavailable': 'the TensorFlow.js backend asked for is not available',
  'backend-failed': 'the TensorFlow.js backend failed to start',
  'gpu-device-lost': 'the GPU device was lost or failed during the run',
  'gpu-bank-too-large': "a group's coefficients exceed the GPU's largest buffer (its members and templates are split in chunks)",
};

/** A TensorFlow.js backend that cannot be loaded or started. */
export class BackendError extends engineErrorClass<BackendRule>('BackendError', BACKEND_TEXT) {}
