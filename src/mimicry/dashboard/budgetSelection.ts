// The budget of an empty role selection, computed from a plan alone (no engine code: the webview
// imports it while every role is unchecked, when there is no engine plan to ask for).
import type { PlanView } from './budget';

/**
 * The plan with no role selected: no bank, every tensor copied unchanged (1x). The form shows this
 * while every role is unchecked, so the budget never shows banks of a selection the user undid.
 */
export function withoutBanks(plan: PlanView): PlanView {
  const tensors = plan.budget.passthroughTensors + plan.banks.reduce((a, b) => a + b.members.length, 0);
  const before = plan.budget.before;
  return {
    ...plan,
    roles: plan.roles.map((r) => ({ ...r, selected: false })),
    banks: [],
    budget: {
      before,
      after: before,
      ratio: 1,
      templateParameters: 0,
      coefficientsPerTask: 0,
      passthroughParameters: before,
      passthroughTensors: tensors,
    },
  };
}
