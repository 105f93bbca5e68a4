// Scalar summaries of a singular-value spectrum (docs/RECAST.md section 4):
// - spectral norm s1; stable rank ||W||_F^2 / s1^2
// - spectral entropy H = -sum p_i ln p_i with p_i = s_i / sum(s); effective rank exp(H)
// - normalised entropy H / ln(rank) in [0, 1], rank = number of non-zero singular values
// Undefined values (a zero matrix; H / ln(1)) are null rather than NaN so that JSON keeps them.

export interface SpectralMetrics {
  readonly spectralNorm: number;
  readonly frobeniusNorm: number;
  /** ||W||_F^2 / s1^2, in [1, rank]; null for a zero matrix. */
  readonly stableRank: number | null;
  /** exp(H); null for a zero matrix. */
  readonly effectiveRank: number | null;
  /** H in nats; null for a zero matrix. */
  readonly entropy: number | null;
  /** H / ln(rank); null when rank < 2. */
  readonly normalizedEntropy: number | null;
  /** Count of non-zero singular values. */
  readonly rank: number;
}

/**
 * Metrics from singular values (any order, all >= 0). `frobeniusSquared` defaults to sum s_i^2;
 * pass the exact sum of squares of the entries when it is known (e.g. the Gram's trace).
 */
export function spectralMetrics(singularValues: ArrayLike<number>, frobeniusSquared?: number): SpectralMetrics {
  let s1 = 0;
  let sum = 0;
  let sq = 0;
  let rank = 0;
  for (let i = 0; i < singularValues.length; i++) {
    const s = singularValues[i];
    if (!(s >= 0)) throw new RangeError(`singular values must be >= 0, got ${s}`);
    if (s > s1) s1 = s;
    sum += s;
    sq += s * s;
    if (s > 0) rank++;
  }
  const frob2 = frobeniusSquared ?? sq;
  const frobeniusNorm = Math.sqrt(frob2);
  if (s1 === 0) {
    return { spectralNorm: 0, frobeniusNorm, stableRank: null, effectiveRank: null, entropy: null, normalizedEntropy: null, rank: 0 };
  }
  let h = 0;
  for (let i = 0; i < singularValues.length; i++) {
    const p = singularValues[i] / sum;
    if (p > 0) h -= p * Math.log(p);
  }
  return {
    spectralNorm: s1,
    frobeniusNorm,
    stableRank: frob2 / (s1 * s1),
    effectiveRank: Math.exp(h),
    entropy: h,
    normalizedEntropy: rank >= 2 ? h / Math.log(rank) : null,
    rank,
  };
}
