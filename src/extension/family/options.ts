// The family analysis' options arriving from the webview (or a command's arguments) are untrusted:
// keep only known keys of the right type; the engine judges the values again.
import type { FamilyMapMethod } from '../../mimicry/family/analyze';
import type { FamilyAnalyzeParams } from '../../mimicry/worker/family/protocol';
import { isObject } from '../../webview/protocol';

export function sanitizeFamilyOptions(raw: unknown): FamilyAnalyzeParams {
  const o = isObject(raw) ? raw : {};
  const map: FamilyMapMethod = o.map === 'umap' ? 'umap' : 'pca';
  const count = (v: unknown, min: number): number | undefined =>
    Number.isSafeInteger(v) && (v as number) >= min ? (v as number) : undefined;
  const templates = count(o.templates, 1);
  const seed = count(o.seed, 0);
  return { map, ...(templates === undefined ? {} : { templates }), ...(seed === undefined ? {} : { seed }) };
}
