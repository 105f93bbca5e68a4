// Options arriving from the webview are untrusted: keep only known keys of the right JSON type.
// Words must be one of the engine's; ranges and combinations are the engine's to judge
// (resolveFit / resolveGrouping report them).
import { PRESETS } from '../../mimicry/recast/grouping';
import { isObject } from '../../webview/protocol';
import { BACKENDS, LOSSES, METHODS, OBJECTIVES, TEMPLATE_DTYPES, type ReconstructOptions } from '../../mimicry/recast/types';

const NUMBER_KEYS = [
  'blocksPerGroup',
  'groups',
  'ratio',
  'sets',
  'beta',
  'steps',
  'lr',
  'lrStep',
  'lrGamma',
  'noise',
  'clip',
  'seed',
  'probes',
] as const;

/** Mutable while it is built; handed out as the engine's read-only options. */
type Building = { -readonly [K in keyof ReconstructOptions]: ReconstructOptions[K] };

function isOneOf<T extends string>(v: unknown, values: readonly T[]): v is T {
  return typeof v === 'string' && (values as readonly string[]).includes(v);
}

export function sanitizeOptions(raw: unknown): ReconstructOptions {
  const out: Building = {};
  if (!isObject(raw)) return out;
  const m = raw;
  for (const k of NUMBER_KEYS) {
    const v = m[k];
    if (typeof v === 'number') out[k] = v;
  }
  if (isOneOf(m.method, METHODS)) out.method = m.method;
  if (isOneOf(m.objective, OBJECTIVES)) out.objective = m.objective;
  if (isOneOf(m.loss, LOSSES)) out.loss = m.loss;
  if (isOneOf(m.backend, BACKENDS)) out.backend = m.backend;
  if (isOneOf(m.templateDtype, TEMPLATE_DTYPES)) out.templateDtype = m.templateDtype;
  if (isOneOf(m.preset, PRESETS)) out.preset = m.preset;
  if (typeof m.templates === 'number' || m.templates === 'exact') out.templates = m.templates;
  if (typeof m.shareRoles === 'boolean') out.shareRoles = m.shareRoles;
  if (Array.isArray(m.modules)) out.modules = m.modules.filter((x): x is string => typeof x === 'string');
  return out;
}
