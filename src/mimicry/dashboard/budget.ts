// The configuration view's live parameter budget: the grouping plan of a checkpoint for a set of
// options, with every count taken from the engine's own formulas (planGroups, bankParameters,
// resolveFit), so the dashboard and the run can never disagree.
import { bankParameters, planGroups, type BankPlan, type ResolvedGrouping, type RoleInfo, type TensorLike } from '../recast/grouping';
import { resolveFit, type ResolvedFit } from '../recast/options';
import type { ReconstructOptions } from '../recast/types';
import { EngineError } from '../errors';

export interface PlanRole extends Omit<RoleInfo, 'tensors'> {
  /** Whether the options select it. */
  readonly selected: boolean;
}

export interface PlanBank extends Pick<BankPlan, 'name' | 'roles' | 'members' | 'blocks' | 'shape' | 'dtype' | 'templates' | 'sets'> {
  readonly parameters: { readonly before: number; readonly after: number };
  /** Task-specific numbers of this bank: members x K x n. */
  readonly coefficients: number;
}

export interface Budget {
  /** Every tensor of the checkpoint. */
  readonly before: number;
  /** Templates + coefficients + tensors copied unchanged. */
  readonly after: number;
  readonly ratio: number;
  readonly templateParameters: number;
  readonly coefficientsPerTask: number;
  readonly passthroughParameters: number;
  readonly passthroughTensors: number;
}

export interface PlanView {
  readonly options: ResolvedGrouping;
  /** The fitting settings after defaults: the form shows them as placeholders. */
  readonly fit: ResolvedFit;
  readonly roles: readonly PlanRole[];
  readonly banks: readonly PlanBank[];
  readonly budget: Budget;
}

export type PlanOutcome =
  { readonly ok: true; readonly plan: PlanView } | { readonly ok: false; readonly error: string; readonly field?: string };

/**
 * Which form field an engine refusal is about (for highlighting), read from its detail ("steps must
 * be ..."), or its whole message for other errors; undefined when unclear.
 */
function fieldOf(e: unknown): string | undefined {
  const message = e instanceof EngineError ? `${e.detail ?? ''} ${e.text}` : e instanceof Error ? e.message : String(e);
  const fields: [RegExp, string][] = [
    [/^method/, 'method'],
    [/^objective/, 'objective'],
    [/^loss|spectral method minimises/, 'loss'],
    [/^beta/, 'beta'],
    [/^steps/, 'steps'],
    [/^learning rate/, 'lr'],
    [/^noise/, 'noise'],
    [/^seed/, 'seed'],
    [/^backend/, 'backend'],
    [/^probes/, 'probes'],
    [/^blocks per group/, 'blocksPerGroup'],
    [/^number of groups/, 'groups'],
    [/^templates n/, 'templates'],
    [/^coefficient sets/, 'sets'],
    [/^ratio/, 'ratio'],
    [/groupable module|nothing to reconstruct/, 'modules'],
  ];
  return fields.find(([re]) => re.test(message))?.[1];
}

export function planView(tensors: readonly (TensorLike & { readonly params: number })[], options: ReconstructOptions): PlanOutcome {
  try {
    const fit = resolveFit(options);
    const plan = planGroups(tensors, options);
    const wanted = plan.options.modules;
    const selectedRoles = new Set(plan.banks.flatMap((b) => b.roles.map((r) => `${b.prefix}\u0000${r}`)));
    const roles: PlanRole[] = plan.roles.map((r) => ({
      role: r.role,
      prefix: r.prefix,
      shape: r.shape,
      dtype: r.dtype,
      blocks: r.blocks,
      selected: wanted.length === 0 || selectedRoles.has(`${r.prefix}\u0000${r.role}`),
    }));
    const banks: PlanBank[] = plan.banks.map((b) => ({
      name: b.name,
      roles: b.roles,
      members: b.members,
      blocks: b.blocks,
      shape: b.shape,
      dtype: b.dtype,
      templates: b.templates,
      sets: b.sets,
      parameters: bankParameters(b, b.templates),
      coefficients: b.members.length * b.sets * b.templates,
    }));
    const kept = new Set(plan.passthrough);
    const passthroughParameters = tensors.filter((t) => kept.has(t.name)).reduce((a, t) => a + t.params, 0);
    const before = tensors.reduce((a, t) => a + t.params, 0);
    const templateParameters = banks.reduce((a, b) => a + b.templates * b.shape.reduce((x, y) => x * y, 1), 0);
    const coefficientsPerTask = banks.reduce((a, b) => a + b.coefficients, 0);
    const after = passthroughParameters + banks.reduce((a, b) => a + b.parameters.after, 0);
    return {
      ok: true,
      plan: {
        options: plan.options,
        fit,
        roles,
        banks,
        budget: {
          before,
          after,
          ratio: after > 0 ? before / after : 1,
          templateParameters,
          coefficientsPerTask,
          passthroughParameters,
          passthroughTensors: plan.passthrough.length,
        },
      },
    };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { ok: false, error: message, field: fieldOf(e) };
  }
}

// The no-role plan lives apart: the webview imports it, and this file pulls in the engine's grouping.
export { withoutBanks } from './budgetSelection';
