// Options arriving from the webview are untrusted: keep only known keys of the right JSON type.
// Ranges and combinations are the engine's to judge (resolveFit / resolveGrouping report them).
import type { ReconstructOptions } from '../../mimicry/recast/types';

const NUMBER_KEYS = ['blocksPerGroup', 'groups', 'ratio', 'sets', 'beta', 'steps', 'lr', 'lrStep', 'lrGamma', 'noise', 'clip', 'seed', 'probes'] as const;
const STRING_KEYS = ['method', 'objective', 'loss', 'backend', 'preset'] as const;

export function sanitizeOptions(raw: Record<string, unknown>): ReconstructOptions {
  const out: Record<string, unknown> = {};
  for (const k of NUMBER_KEYS) if (typeof raw[k] === 'number') out[k] = raw[k];
  for (const k of STRING_KEYS) if (typeof raw[k] === 'string') out[k] = raw[k];
  if (typeof raw.templates === 'number' || raw.templates === 'exact') out.templates = raw.templates;
  if (typeof raw.shareRoles === 'boolean') out.shareRoles = raw.shareRoles;
  if (Array.isArray(raw.modules)) out.modules = raw.modules.filter((m): m is string => typeof m === 'string');
  return out as ReconstructOptions;
}
