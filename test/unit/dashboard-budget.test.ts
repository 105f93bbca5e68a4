// The configuration view's live budget comes from the engine and equals what the run reports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import type { Checkpoint } from '../../src/mimicry/safetensors/types';
import { planView, withoutBanks } from '../../src/mimicry/dashboard/budget';
import { reconstruct } from '../../src/mimicry/recast/reconstruct';
import type { ReconstructOptions } from '../../src/mimicry/recast/types';

let ck: Checkpoint;
before(async () => {
  ck = await openCheckpoint('test/fixtures/real/capp-gpt2-4layer.safetensors');
});
after(() => ck.close());

for (const options of [
  { preset: 'paper' },
  { preset: 'exact' },
  { preset: '4x' },
  { preset: 'paper', modules: ['mlp.c_fc'], sets: 3 },
  { preset: 'paper', shareRoles: true },
] as ReconstructOptions[]) {
  test(`budget equals the run's parameters: ${JSON.stringify(options)}`, async () => {
    const outcome = planView(ck.tensors, options);
    assert.ok(outcome.ok, outcome.ok ? '' : outcome.error);
    const result = await reconstruct(ck, options);
    const b = outcome.plan.budget;
    assert.equal(b.before, result.summary.parameters.before);
    assert.equal(b.after, result.summary.parameters.after);
    assert.equal(b.coefficientsPerTask, result.summary.coefficientsPerTask);
    assert.equal(b.ratio, result.summary.parameters.ratio);
    assert.deepEqual(
      outcome.plan.banks.map((x) => x.name),
      result.banks.map((x) => x.plan.name),
    );
    assert.equal(b.after, b.templateParameters + b.coefficientsPerTask + b.passthroughParameters);
  });
}

test('roles: every groupable role listed; a module filter marks the others unselected', () => {
  const outcome = planView(ck.tensors, { modules: ['mlp.c_fc'] });
  assert.ok(outcome.ok);
  assert.equal(outcome.plan.roles.length, 4);
  assert.deepEqual(
    outcome.plan.roles.filter((r) => r.selected).map((r) => r.role),
    ['mlp.c_fc'],
  );
});

test('engine validation comes back as a message with the field it is about', () => {
  const bad = [
    [{ steps: 1.5, method: 'paper' }, 'steps'],
    [{ templates: 0 }, 'templates'],
    [{ lr: -1, method: 'paper' }, 'lr'],
    [{ method: 'spectral', loss: 'smoothl1' }, 'loss'],
    [{ modules: ['nope'] }, 'modules'],
    [{ sets: 0 }, 'sets'],
  ] as const;
  for (const [options, field] of bad) {
    const outcome = planView(ck.tensors, options as ReconstructOptions);
    assert.equal(outcome.ok, false, JSON.stringify(options));
    if (!outcome.ok) assert.equal(outcome.field, field, outcome.error);
  }
});

test('no role selected: no bank, every tensor copied, 1x (the budget follows the selection)', () => {
  const outcome = planView(ck.tensors, { preset: 'paper' });
  assert.ok(outcome.ok);
  const none = withoutBanks(outcome.plan);
  assert.deepEqual(none.banks, []);
  assert.ok(none.roles.every((r) => !r.selected));
  const b = none.budget;
  assert.equal(
    b.before,
    ck.tensors.reduce((a, t) => a + t.params, 0),
  );
  assert.equal(b.after, b.before);
  assert.equal(b.ratio, 1);
  assert.equal(b.templateParameters, 0);
  assert.equal(b.coefficientsPerTask, 0);
  assert.equal(b.passthroughParameters, b.before);
  assert.equal(b.passthroughTensors, ck.tensors.length);
});
