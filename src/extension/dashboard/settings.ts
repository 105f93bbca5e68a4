// The `mimicry.reconstruct.*` settings: the starting values of the configuration form.
import * as vscode from 'vscode';
import { inspectorSettings } from '../config';
import { isPositiveInt } from '../../mimicry/positiveInt';
import {
  BACKENDS,
  METHODS,
  TEMPLATE_DTYPES,
  type Backend,
  type Method,
  type ReconstructOptions,
  type TemplateDtype,
} from '../../mimicry/recast/types';

export interface ReconstructSettings {
  readonly defaults: ReconstructOptions;
  /** Folder for exports; empty: next to the source. */
  readonly exportFolder: string;
  /** The inspector's spectrum size limit, used for the dashboards' spectra too. */
  readonly spectrumMaxSide: number;
}

export function reconstructSettings(scope?: vscode.Uri): ReconstructSettings {
  const c = vscode.workspace.getConfiguration('mimicry.reconstruct', scope);
  // n, K and steps override a preset's values, so they count only when the user set them.
  const explicit = (key: string): unknown => {
    const i = c.inspect(key);
    return i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
  };
  const method = c.get<string>('method');
  const backend = c.get<string>('backend');
  const templateDtype = c.get<string>('templateDtype');
  const templates = explicit('templates');
  const sets = explicit('sets');
  const steps = explicit('steps');
  const defaults: ReconstructOptions = {
    ...(METHODS.includes(method as Method) ? { method: method as Method } : {}),
    ...(BACKENDS.includes(backend as Backend) ? { backend: backend as Backend } : {}),
    ...(TEMPLATE_DTYPES.includes(templateDtype as TemplateDtype) ? { templateDtype: templateDtype as TemplateDtype } : {}),
    ...(templates === 'exact' ? { templates: 'exact' as const } : isPositiveInt(templates) ? { templates } : {}),
    ...(isPositiveInt(sets) ? { sets } : {}),
    ...(isPositiveInt(steps) ? { steps } : {}),
  };
  return {
    defaults,
    exportFolder: (c.get<string>('exportFolder') ?? '').trim(),
    spectrumMaxSide: inspectorSettings(scope).spectrumMaxSide,
  };
}
