// Refusals of the task-family analysis (several fine-tunes or adapters of one base), each with a
// stable rule from a closed union (see ../errors.ts for the shape every engine error shares).
import { engineErrorClass } from '../errors';

export type FamilyRule =
  | 'family-too-small'
  | 'duplicate-member'
  | 'member-not-found'
  | 'adapter-config-missing'
  | 'adapter-config-invalid'
  | 'adapter-unsupported'
  | 'dora-unsupported'
  | 'lora-pair-incomplete'
  | 'base-required'
  | 'base-mismatch'
  | 'mixed-bases'
  | 'no-shared-layers'
  | 'non-finite-update'
  | 'invalid-family-option';

export const FAMILY_TEXT: Record<FamilyRule, string> = {
  'family-too-small': 'a family needs two or more members',
  'duplicate-member': 'the same file is given twice as a member',
  'member-not-found': 'the folder holds no adapter or checkpoint (adapter_model.safetensors, adapters.safetensors or model.safetensors)',
  'adapter-config-missing': 'a LoRA adapter needs its adapter_config.json beside it',
  'adapter-config-invalid': 'adapter_config.json is not valid JSON, or a LoRA setting in it has the wrong type or value',
  'adapter-unsupported': 'not a LoRA adapter: only LoRA updates (scale * B @ A) are compared',
  'dora-unsupported': "DoRA adapters are not supported: their update depends on the base weight's column norms",
  'lora-pair-incomplete': 'a LoRA layer lacks its A or B factor, or the two factors do not fit together',
  'base-required': 'a full checkpoint is compared by its update W - W_base: give the base with --base',
  'base-mismatch': 'the base has no weight of that name and shape for a layer of the family',
  'mixed-bases': 'the members are fine-tunes of different base models',
  'no-shared-layers': 'the members share no layer',
  'non-finite-update': 'a LoRA factor or weight holds NaN or infinity',
  'invalid-family-option': 'invalid family option',
};

/** A family the engine refuses: a member it cannot read as an update of the base, or no common ground. */
export class FamilyError extends engineErrorClass<FamilyRule>('FamilyError', FAMILY_TEXT) {}
