// The compression-vs-fidelity curve (src/mimicry/recast/curve.ts) against an independent dense SVD
// (ml-matrix, float64) of real banks, and its chosen point against the fit itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, SVD } from 'ml-matrix';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import type { Checkpoint } from '../../src/mimicry/safetensors/types';
import { planGroups } from '../../src/mimicry/recast/grouping';
import { readMember } from '../../src/mimicry/recast/stream';
import { Scratch } from '../../src/mimicry/recast/scratch';
import { bankEigen, bankGram, checkpointCurve, energyShares, tailShare, type BankEigen } from '../../src/mimicry/recast/curve';
import { reconstruct } from '../../src/mimicry/recast/reconstruct';
import type { Objective } from '../../src/mimicry/recast/spectral';

let ck: Checkpoint;
before(async () => {
  ck = await openCheckpoint('test/fixtures/real/capp-gpt2-4layer.safetensors');
});
after(() => ck.close());

/** Members of a bank as float64 rows. */
async function rowsOf(members: readonly string[]): Promise<number[][]> {
  const scratch = new Scratch();
  const rows: number[][] = [];
  for (const name of members) {
    const info = ck.tensor(name);
    assert.ok(info);
    rows.push(Array.from(await readMember(ck, info, 'x', new Float32Array(info.params), scratch)));
  }
  return rows;
}

/** Rank-n truncated SVD of the (row-scaled) members: per-member cosine and the pooled relative error. */
function denseReference(rows: number[][], n: number, objective: Objective): { cos: number[]; relError: number } {
  const scale = rows.map((r) => (objective === 'per-layer' ? Math.hypot(...r) : 1));
  const y = new Matrix(rows.map((r, l) => r.map((v) => v / scale[l])));
  const svd = new SVD(y, { autoTranspose: true });
  const k = Math.min(n, svd.diagonal.length);
  const u = svd.leftSingularVectors.subMatrix(0, y.rows - 1, 0, k - 1);
  const v = svd.rightSingularVectors.subMatrix(0, y.columns - 1, 0, k - 1);
  const s = Matrix.diag(svd.diagonal.slice(0, k));
  const yn = u.mmul(s).mmul(v.transpose());
  const cos: number[] = [];
  let tail = 0;
  let total = 0;
  for (let l = 0; l < y.rows; l++) {
    const a = y.getRow(l);
    const b = yn.getRow(l);
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = 0; i < a.length; i++) {
      ab += a[i] * b[i];
      aa += a[i] * a[i];
      bb += b[i] * b[i];
      tail += (a[i] - b[i]) ** 2;
    }
    total += aa;
    cos.push(ab / Math.sqrt(aa * bb));
  }
  return { cos, relError: Math.sqrt(tail / total) };
}

for (const objective of ['per-layer', 'total'] as const) {
  test(`curve of a real bank equals a dense SVD at every n (${objective})`, async () => {
    const plan = planGroups(ck.tensors, { groups: 1, modules: ['mlp.c_fc'] });
    const bank = plan.banks[0];
    const L = bank.members.length;
    assert.ok(L >= 3, `bank of ${L}`);
    const g = await bankGram(ck, bank, new Scratch(), undefined, undefined, 1000); // several chunks
    const eigen: BankEigen = bankEigen(g, L, objective);
    const rows = await rowsOf(bank.members);
    for (let n = 1; n <= L; n++) {
      const ref = denseReference(rows, n, objective);
      const { tail, total } = tailShare(eigen, n);
      assert.ok(Math.abs(Math.sqrt(tail / total) - ref.relError) < 1e-9, `n=${n}: ${Math.sqrt(tail / total)} vs ${ref.relError}`);
      for (let l = 0; l < L; l++) {
        const c = Math.sqrt(eigen.cos2[l * L + n - 1]);
        assert.ok(Math.abs(c - ref.cos[l]) < 1e-9, `n=${n} member ${l}: ${c} vs ${ref.cos[l]}`);
      }
    }
    // At n = L the fit is exact.
    assert.ok(tailShare(eigen, L).tail / tailShare(eigen, L).total < 1e-12);
  });
}

test('energy shares: each kept template’s eigenvalue over the sum; all L of them sum to 1', async () => {
  const plan = planGroups(ck.tensors, { groups: 1 });
  for (const bank of plan.banks) {
    const L = bank.members.length;
    const eigen = bankEigen(await bankGram(ck, bank), L, 'per-layer');
    const all = energyShares(eigen, L);
    assert.ok(Math.abs(all.reduce((a, b) => a + b, 0) - 1) < 1e-12, bank.name);
    assert.ok(all.every((s, i) => s >= 0 && (i === 0 || s <= all[i - 1])));
    const two = energyShares(eigen, 2);
    const { tail, total } = tailShare(eigen, 2);
    assert.ok(Math.abs(two.reduce((a, b) => a + b, 0) + tail / total - 1) < 1e-12);
  }
});

for (const options of [{ preset: '4x' }, { preset: 'paper' }, { groups: 1, templates: 2, objective: 'total' }] as const) {
  test(`the chosen point is what the fit reports: ${JSON.stringify(options)}`, async () => {
    const curve = await checkpointCurve(ck, options);
    const result = await reconstruct(ck, options);
    assert.equal(curve.roles.length, 4);
    for (const role of curve.roles) {
      const layers = result.layers.filter((l) => role.banks.includes(l.bank));
      const mean = layers.reduce((a, l) => a + l.cosine, 0) / layers.length;
      // float32 templates and coefficients against float64 algebra
      assert.ok(Math.abs(role.chosen.meanCosine - mean) < 1e-4, `${role.role}: ${role.chosen.meanCosine} vs ${mean}`);
      const banks = result.banks.filter((b) => role.banks.includes(b.plan.name));
      assert.equal(
        role.chosen.after,
        banks.reduce((a, b) => a + b.metrics.parameters.after, 0),
      );
      // the curve's ratios rise with fewer templates; the error falls with more
      for (let i = 1; i < role.points.length; i++) {
        assert.ok(role.points[i].ratio <= role.points[i - 1].ratio);
        assert.ok(role.points[i].relError <= role.points[i - 1].relError + 1e-12);
      }
    }
  });
}

test('paper preset: every point of the curve is exact at the chosen n (2 members, n = 2): 1.00x at best', async () => {
  const curve = await checkpointCurve(ck, { preset: 'paper' });
  for (const role of curve.roles) {
    assert.equal(role.chosen.n, 2);
    assert.ok(role.chosen.relError < 1e-6);
    assert.ok(role.chosen.ratio <= 1);
  }
});

test('mimicry curve: a table per role with the chosen row marked; --json gives the same numbers', async () => {
  const { runCli } = await import('../../src/cli/main');
  const run = async (args: string[]): Promise<{ code: number; out: string }> => {
    let out = '';
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => undefined } };
    const code = await runCli(args, io as unknown as Parameters<typeof runCli>[1]);
    return { code, out };
  };
  const file = 'test/fixtures/real/capp-gpt2-4layer.safetensors';
  const text = await run(['curve', file, '--groups', '1']);
  assert.equal(text.code, 0);
  assert.match(text.out, /transformer\.h\.mlp\.c_fc \(1 group, 65,536 parameters\)/);
  assert.match(text.out, /^\* 2 +32,784 +2\.00x/m);
  assert.match(text.out, /^ {2}4 +65,568 +1\.00x +0 +1\.00000 +1\.00000$/m);
  const json = await run(['curve', file, '--groups', '1', '--json']);
  const view = JSON.parse(json.out) as Awaited<ReturnType<typeof checkpointCurve>>;
  const direct = await checkpointCurve(ck, { groups: 1 });
  assert.deepEqual(view, JSON.parse(JSON.stringify(direct)));
  const bad = await run(['curve', 'test/fixtures/real/nope.safetensors']);
  assert.equal(bad.code, 2);
});
