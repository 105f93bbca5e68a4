// The full-weights fit of a bank when the family has a base (docs/RECAST.md section 6.4): each member's
// weights W_k + dW_k over (a) the base's own RECAST templates kept frozen, only the member's coefficients
// fitted by least squares, and (b) templates fitted to every member's full weights at once (the closed
// form). Everything comes from three Gram blocks: the base's bb, base-update bd and update-update g.
import { scaledGramEigen } from '../recast/spectral';
import { itemCurves, memberCurve } from './bankCurves';

export interface FamilyWeightsDoc {
  /** Numerical rank of the base's layers in this bank: the frozen curves run n = 1..baseRank. */
  readonly baseRank: number;
  /** The base's own fidelity per n: cosine of its layers here to their fit over its first n templates. */
  readonly base: readonly number[];
  /** Per member, per n: cosine of its full weights to their least-squares fit over the base's first n templates, frozen. */
  readonly frozen: Readonly<Record<string, readonly number[]>>;
  readonly frozenRelError: Readonly<Record<string, readonly number[]>>;
  /** Per member, per n: the part of its update those frozen templates express, sqrt(||P dW||^2 / ||dW||^2). */
  readonly update: Readonly<Record<string, readonly number[]>>;
  /** Numerical rank of all members' full weights here: the joint curves run n = 1..jointRank. */
  readonly jointRank: number;
  /** Per member, per n: cosine of its full weights to the closed form fitted to every member's full weights. */
  readonly joint: Readonly<Record<string, readonly number[]>>;
}

/**
 * The fit from bb (B x B, the base's layers in bank order), bd (B x L) and g (L x L), items l = layer * M + member.
 * The base's per-layer closed form spans the same space as the orthonormal Q_t = sum_k U[k,t] W_k / (||W_k|| sqrt(lambda_t)),
 * t < n; least squares over frozen templates is the projection onto that span, so item l keeps sum_{t<n} <Q_t, X_l>^2.
 */
export function fitWeights(bb: Float64Array, bd: Float64Array, g: Float64Array, B: number, members: readonly string[]): FamilyWeightsDoc {
  const M = members.length;
  const L = B * M;
  const layerOf = (l: number) => Math.floor(l / M);
  const { rowScale, values, vectors, rank } = scaledGramEigen(bb, B, 'per-layer');
  const baseRank = Math.max(1, rank);
  // coef[t * B + k] = U[k,t] / (||W_k|| sqrt(lambda_t)): <Q_t, Z> = sum_k coef[t, k] <W_k, Z>.
  const coef = new Float64Array(baseRank * B);
  for (let t = 0; t < rank; t++)
    for (let k = 0; k < B; k++) if (rowScale[k] > 0) coef[t * B + k] = vectors[k * B + t] / (rowScale[k] * Math.sqrt(values[t]));
  const project = (inner: (k: number) => number) => {
    const out = new Float64Array(baseRank);
    for (let t = 0; t < baseRank; t++) {
      let s = 0;
      for (let k = 0; k < B; k++) s += coef[t * B + k] * inner(k);
      out[t] = s * s;
    }
    return out;
  };
  // Cumulative kept fraction of an energy `total` from per-template projections.
  const cumulative = (p: Float64Array, total: number) => {
    const out = new Float64Array(p.length);
    let acc = 0;
    for (let t = 0; t < p.length; t++) {
      acc += p[t];
      out[t] = total > 0 ? Math.min(1, acc / total) : 1;
    }
    return out;
  };

  // Full weights X_l = W_k + dW_l: their Gram from the three blocks.
  const gx = new Float64Array(L * L);
  for (let a = 0; a < L; a++)
    for (let b = 0; b < L; b++)
      gx[a * L + b] = bb[layerOf(a) * B + layerOf(b)] + bd[layerOf(a) * L + b] + bd[layerOf(b) * L + a] + g[a * L + b];
  const xEnergy = (l: number) => Math.max(0, gx[l * L + l]);
  const dEnergy = (l: number) => Math.max(0, g[l * L + l]);
  const xKept: Float64Array[] = [];
  const dKept: Float64Array[] = [];
  for (let l = 0; l < L; l++) {
    const k0 = layerOf(l);
    xKept.push(
      cumulative(
        project((k) => bb[k * B + k0] + bd[k * L + l]),
        xEnergy(l),
      ),
    );
    dKept.push(
      cumulative(
        project((k) => bd[k * L + l]),
        dEnergy(l),
      ),
    );
  }
  const baseKept = Array.from({ length: B }, (_, j) =>
    cumulative(
      project((k) => bb[k * B + j]),
      Math.max(0, bb[j * B + j]),
    ),
  );
  const baseCurve = memberCurve(
    Array.from({ length: B }, (_, j) => j),
    (j) => Math.max(0, bb[j * B + j]),
    (j, t) => baseKept[j][t],
    baseRank,
  ).cosine;

  const xNorms = Float64Array.from({ length: L }, (_, l) => Math.sqrt(xEnergy(l)));
  const joint = scaledGramEigen(gx, L, 'per-layer');
  const jointRank = Math.max(1, joint.rank);
  const jointCurves = itemCurves(joint.values, joint.vectors, L, xNorms, jointRank);

  const frozen: Record<string, number[]> = {};
  const frozenRelError: Record<string, number[]> = {};
  const update: Record<string, number[]> = {};
  const jointDoc: Record<string, number[]> = {};
  members.forEach((name, mi) => {
    const items = Array.from({ length: B }, (_, k) => k * M + mi);
    const x = memberCurve(items, xEnergy, (l, t) => xKept[l][t], baseRank);
    frozen[name] = x.cosine;
    frozenRelError[name] = x.relError;
    update[name] = memberCurve(items, dEnergy, (l, t) => dKept[l][t], baseRank).cosine;
    jointDoc[name] = memberCurve(items, xEnergy, (l, t) => jointCurves[l * jointRank + t], jointRank).cosine;
  });
  return { baseRank, base: baseCurve, frozen, frozenRelError, update, jointRank, joint: jointDoc };
}
