// Eigenvalues only of a dense real symmetric matrix (float64, row-major), for callers that never
// look at eigenvectors (singular-value spectra through a Gram matrix, spectral entropy).
//
// Method (EISPACK's tred1 + tql1, the same algorithms as LAPACK's dsytd2 + dsteqr without vectors):
// 1. Householder reduction to tridiagonal form, one reflector per row from the bottom up, on the
//    lower triangle. No transform is accumulated, which is what makes this several times cheaper
//    than a full decomposition: ~(4/3) n^3 flops in all.
// 2. Implicit QL with Wilkinson shifts on the tridiagonal (O(n^2)), deflating when an
//    off-diagonal is negligible relative to its two neighbouring diagonal entries.
//
// Accuracy: both phases are normwise backward stable: the values returned are the exact
// eigenvalues of A + E with ||E||_2 <= c * n * eps * ||A||_2 (c a small constant), so by Weyl's
// theorem each eigenvalue is off by at most about n * eps * max|lambda|. Measured: ~1e-15..1e-13
// of the largest eigenvalue for n up to 1024 (the unit tests require 1e-10 against two independent
// ml-matrix decompositions). Eigenvalues far below max|lambda| are accurate only in that absolute
// sense, not to full relative precision; for a Gram matrix that is the usual n * eps * lambda_max
// floor.
//
// Speed: the lower triangle is packed (row j starts at j (j + 1) / 2), so the working set is half
// the matrix and contiguous; inner loops run along rows, several rows at a time so each load of the
// vectors serves several (four in the fused sweep below). Each step's rank-2 update is fused with the next step's matrix-vector
// product, so the triangle is swept once per step instead of twice. Scratch: the packed triangle
// plus six length-n vectors, allocated once per call; the caller's matrix is never written.

import { arena, kernels, type Kernels } from './kernels';

const EPS = Number.EPSILON;
/** From this size the fused sweep runs in the SIMD kernel (kernels.wat, ~2x): below it, the copy in costs more. */
const MIN_KERNEL_SIZE = 32;
/**
 * The sweep kernel reads qo and p at a fixed 32768 bytes past uo and u (one address for each pair:
 * fewer instructions in its loop), so the four vectors lie VECTOR_STRIDE values apart; up to this size.
 */
const VECTOR_STRIDE = 4096;
/** Smallest positive normal double: below it an off-diagonal is noise whatever the scale. */
const SAFE_MIN = 2.2250738585072014e-308;
/** Outside [RMIN, RMAX] the matrix is scaled by a power of two first (as LAPACK's dsyev does), so
 * squares in the reduction neither overflow nor underflow. */
const RMIN = 2 ** -484;
const RMAX = 2 ** 484;
/** Where f^2 + g^2 is safe to form directly (far from float64's underflow and overflow). */
const SQUARE_MIN = 2 ** -600;
const SQUARE_MAX = 2 ** 600;
/** QL sweeps allowed, in total, per eigenvalue (typically fewer than 2 are needed). */
const MAX_SWEEPS_PER_VALUE = 30;

/**
 * Eigenvalues, largest first, of the symmetric n x n matrix stored row-major in `matrix` (which is
 * only read). Only the lower triangle, diagonal included, is used; the upper one may hold anything.
 * Throws a RangeError on a non-finite entry, and an Error if the QL iteration does not converge
 * (not expected for finite input).
 */
export function symmetricEigenvalues(matrix: Float64Array, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`matrix size must be a non-negative integer, got ${n}`);
  if (matrix.length !== n * n) throw new RangeError(`expected ${n} x ${n} = ${n * n} values, got ${matrix.length}`);
  const d = new Float64Array(n);
  if (n === 0) return d;

  // With the SIMD kernel, the triangle and the sweep's four vectors live in its memory.
  const k = n >= MIN_KERNEL_SIZE && n <= VECTOR_STRIDE ? kernels() : null;
  const [a, ...vectors] = k
    ? arena(k, [(n * (n + 1)) / 2, VECTOR_STRIDE, VECTOR_STRIDE, VECTOR_STRIDE, VECTOR_STRIDE]).map((v, i) =>
        i === 0 ? v : v.subarray(0, n),
      )
    : [new Float64Array((n * (n + 1)) / 2), new Float64Array(n), new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  let anrm = 0;
  for (let i = 0, o = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k <= i; k++, o++) {
      const v = matrix[ri + k];
      const av = Math.abs(v);
      if (!(av <= Number.MAX_VALUE)) throw new RangeError(`matrix entry (${i}, ${k}) is ${v}`);
      if (av > anrm) anrm = av;
      a[o] = v;
    }
  }
  if (anrm === 0) return d;
  // Powers of two scale exactly (short of the subnormal range, where entries are below eps * anrm).
  const exponent = anrm < RMIN || anrm > RMAX ? -Math.floor(Math.log2(anrm)) : 0;
  if (exponent !== 0) scaleByPowerOfTwo(a, exponent);

  const e = new Float64Array(n);
  tridiagonalize(a, n, d, e, vectors, k);
  tridiagonalQL(d, e, n);

  if (exponent !== 0) scaleByPowerOfTwo(d, -exponent);
  d.sort();
  return d.reverse();
}

/** Offset of row j of a packed lower triangle. */
function rowStart(j: number): number {
  return (j * (j + 1)) / 2;
}

/**
 * Householder reduction of the packed lower triangle `a` to tridiagonal form: diagonal into d,
 * sub-diagonal into e[1..n-1] (e[i] couples rows i-1 and i). Destroys `a`.
 *
 * Step i (rows n-1 down to 2) annihilates row i left of the sub-diagonal with the reflector
 * I - u u^T / h and leaves S := S - u q^T - q u^T on the leading i x i block. Only row i-1 (the
 * next pivot row) is updated at once; rows 0..i-2 are updated during the next step's product.
 */
function tridiagonalize(
  a: Float64Array,
  n: number,
  d: Float64Array,
  e: Float64Array,
  vectors: readonly Float64Array[],
  k: Kernels | null,
): void {
  let u = vectors[0]; // this step's reflector
  let p = vectors[1]; // S u / h, then q = p - K u
  let uPrev = vectors[2]; // the last step's (u, q), owed to the rows above its pivot row
  let qPrev = vectors[3];
  let pending = false;
  for (let i = n - 1; i >= 1; i--) {
    const l = i - 1;
    const ri = rowStart(i);
    // Two partial sums in these O(n) loops: one running sum waits on its own additions (a float64
    // add's latency), which made them a sixth of the eigenvalues' time at n = 384.
    let scale = 0;
    if (l > 0) {
      let s1 = 0;
      let t = 0;
      for (; t < l; t += 2) {
        scale += Math.abs(a[ri + t]);
        s1 += Math.abs(a[ri + t + 1]);
      }
      if (t === l) scale += Math.abs(a[ri + l]);
      scale += s1;
    }
    if (scale === 0) {
      // Row i is already reduced (always so for i = 1): settle what is owed and move on.
      e[i] = a[ri + l];
      if (pending) rank2UpdateLower(a, l + 1, uPrev, qPrev);
      pending = false;
      continue;
    }
    // Dividing by the row's 1-norm keeps h = |x|^2 in range; the reflector is the same.
    let h = 0;
    let h1 = 0;
    const inv = 1 / scale;
    let m = 0;
    for (; m < l; m += 2) {
      const x = a[ri + m] * inv;
      const y = a[ri + m + 1] * inv;
      u[m] = x;
      u[m + 1] = y;
      h += x * x;
      h1 += y * y;
    }
    if (m === l) {
      const x = a[ri + l] * inv;
      u[l] = x;
      h += x * x;
    }
    h += h1;
    const f = u[l];
    // Sign opposite to f so that u[l] = f - g never cancels.
    const g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
    e[i] = scale * g;
    h -= f * g; // = |u|^2 / 2 once u[l] := f - g
    u[l] = f - g;

    if (pending && k) k.sweep(a.byteOffset, l + 1, uPrev.byteOffset, qPrev.byteOffset, u.byteOffset, p.byteOffset);
    else if (pending) updateThenMultiply(a, l + 1, uPrev, qPrev, u, p);
    else symmetricLowerTimes(a, l + 1, u, p);
    let uTp = 0;
    let uTp1 = 0;
    const invH = 1 / h;
    let j = 0;
    for (; j < l; j += 2) {
      const x = p[j] * invH;
      const y = p[j + 1] * invH;
      p[j] = x;
      p[j + 1] = y;
      uTp += u[j] * x;
      uTp1 += u[j + 1] * y;
    }
    if (j === l) {
      p[l] *= invH;
      uTp += u[l] * p[l];
    }
    uTp += uTp1;
    const kk = uTp / (h + h);
    for (let j = 0; j <= l; j++) p[j] -= kk * u[j];

    const rl = rowStart(l);
    const ul = u[l];
    const ql = p[l];
    for (let k = 0; k <= l; k++) a[rl + k] -= ul * p[k] + ql * u[k];
    let t = uPrev;
    uPrev = u;
    u = t;
    t = qPrev;
    qPrev = p;
    p = t;
    pending = true;
  }
  // Step 1 always takes the `scale === 0` branch, so nothing is owed here.
  for (let i = 0; i < n; i++) d[i] = a[rowStart(i) + i];
}

/**
 * p[0..m) = S u for the symmetric S held in the first m rows of the packed triangle. Row j
 * contributes S[j, k] u[k] to p[j] and, by symmetry, S[j, k] u[j] to p[k], so the triangle is
 * read once; rows go in pairs to halve the traffic on u and p.
 */
function symmetricLowerTimes(a: Float64Array, m: number, u: Float64Array, p: Float64Array): void {
  p.fill(0, 0, m);
  let j = 0;
  for (; j + 1 < m; j += 2) {
    const r0 = rowStart(j);
    const r1 = r0 + j + 1;
    const u0 = u[j];
    const u1 = u[j + 1];
    let s0 = 0;
    let s1 = 0;
    for (let k = 0; k < j; k++) {
      const v0 = a[r0 + k];
      const v1 = a[r1 + k];
      const uk = u[k];
      s0 += v0 * uk;
      s1 += v1 * uk;
      p[k] += v0 * u0 + v1 * u1;
    }
    // The 2 x 2 diagonal block S[j, j], S[j+1, j], S[j+1, j+1].
    const v10 = a[r1 + j];
    p[j] += s0 + a[r0 + j] * u0 + v10 * u1;
    p[j + 1] += s1 + v10 * u0 + a[r1 + j + 1] * u1;
  }
  if (j < m) {
    const r0 = rowStart(j);
    const u0 = u[j];
    let s0 = 0;
    for (let k = 0; k < j; k++) {
      const v0 = a[r0 + k];
      s0 += v0 * u[k];
      p[k] += v0 * u0;
    }
    p[j] += s0 + a[r0 + j] * u0;
  }
}

/**
 * The two sweeps of consecutive steps in one: S -= uo qo^T + qo uo^T on the first m rows of the
 * packed triangle, and p[0..m) = S u with the updated S. Rows go four at a time, so each load of
 * uo, qo, u and p serves four rows (~10% faster than pairs); then the leftover rows one by one.
 */
function updateThenMultiply(a: Float64Array, m: number, uo: Float64Array, qo: Float64Array, u: Float64Array, p: Float64Array): void {
  p.fill(0, 0, m);
  let j = 0;
  for (; j + 3 < m; j += 4) {
    const r0 = rowStart(j);
    const r1 = r0 + j + 1;
    const r2 = r1 + j + 2;
    const r3 = r2 + j + 3;
    const uo0 = uo[j],
      qo0 = qo[j],
      u0 = u[j];
    const uo1 = uo[j + 1],
      qo1 = qo[j + 1],
      u1 = u[j + 1];
    const uo2 = uo[j + 2],
      qo2 = qo[j + 2],
      u2 = u[j + 2];
    const uo3 = uo[j + 3],
      qo3 = qo[j + 3],
      u3 = u[j + 3];
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    for (let k = 0; k < j; k++) {
      const uok = uo[k];
      const qok = qo[k];
      const uk = u[k];
      const v0 = a[r0 + k] - (uo0 * qok + qo0 * uok);
      const v1 = a[r1 + k] - (uo1 * qok + qo1 * uok);
      const v2 = a[r2 + k] - (uo2 * qok + qo2 * uok);
      const v3 = a[r3 + k] - (uo3 * qok + qo3 * uok);
      a[r0 + k] = v0;
      a[r1 + k] = v1;
      a[r2 + k] = v2;
      a[r3 + k] = v3;
      s0 += v0 * uk;
      s1 += v1 * uk;
      s2 += v2 * uk;
      s3 += v3 * uk;
      p[k] += v0 * u0 + v1 * u1 + (v2 * u2 + v3 * u3);
    }
    // The 4 x 4 diagonal block, lower triangle: entry (row j+r, column j+c) for c <= r.
    const d00 = a[r0 + j] - 2 * uo0 * qo0;
    const d10 = a[r1 + j] - (uo1 * qo0 + qo1 * uo0);
    const d11 = a[r1 + j + 1] - 2 * uo1 * qo1;
    const d20 = a[r2 + j] - (uo2 * qo0 + qo2 * uo0);
    const d21 = a[r2 + j + 1] - (uo2 * qo1 + qo2 * uo1);
    const d22 = a[r2 + j + 2] - 2 * uo2 * qo2;
    const d30 = a[r3 + j] - (uo3 * qo0 + qo3 * uo0);
    const d31 = a[r3 + j + 1] - (uo3 * qo1 + qo3 * uo1);
    const d32 = a[r3 + j + 2] - (uo3 * qo2 + qo3 * uo2);
    const d33 = a[r3 + j + 3] - 2 * uo3 * qo3;
    a[r0 + j] = d00;
    a[r1 + j] = d10;
    a[r1 + j + 1] = d11;
    a[r2 + j] = d20;
    a[r2 + j + 1] = d21;
    a[r2 + j + 2] = d22;
    a[r3 + j] = d30;
    a[r3 + j + 1] = d31;
    a[r3 + j + 2] = d32;
    a[r3 + j + 3] = d33;
    p[j] += s0 + d00 * u0 + d10 * u1 + d20 * u2 + d30 * u3;
    p[j + 1] += s1 + d10 * u0 + d11 * u1 + d21 * u2 + d31 * u3;
    p[j + 2] += s2 + d20 * u0 + d21 * u1 + d22 * u2 + d32 * u3;
    p[j + 3] += s3 + d30 * u0 + d31 * u1 + d32 * u2 + d33 * u3;
  }
  for (; j < m; j++) {
    const r0 = rowStart(j);
    const uo0 = uo[j];
    const qo0 = qo[j];
    const u0 = u[j];
    let s0 = 0;
    for (let k = 0; k < j; k++) {
      const v0 = a[r0 + k] - (uo0 * qo[k] + qo0 * uo[k]);
      a[r0 + k] = v0;
      s0 += v0 * u[k];
      p[k] += v0 * u0;
    }
    const v00 = a[r0 + j] - 2 * uo0 * qo0;
    a[r0 + j] = v00;
    p[j] += s0 + v00 * u0;
  }
}

/** S -= u q^T + q u^T on the first m rows of the packed triangle. */
function rank2UpdateLower(a: Float64Array, m: number, u: Float64Array, q: Float64Array): void {
  for (let j = 0; j < m; j++) {
    const r = rowStart(j);
    const uj = u[j];
    const qj = q[j];
    for (let k = 0; k <= j; k++) a[r + k] -= uj * q[k] + qj * u[k];
  }
}

/**
 * Eigenvalues of the symmetric tridiagonal (d, e[1..n-1]) by implicit QL with Wilkinson shifts
 * (tql1), left unsorted in d. Destroys e.
 */
function tridiagonalQL(d: Float64Array, e: Float64Array, n: number): void {
  // Renumber so that e[i] couples d[i] and d[i+1].
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let budget = MAX_SWEEPS_PER_VALUE * n;
  for (let l = 0; l < n; l++) {
    for (;;) {
      // The first negligible off-diagonal at or below l splits off the block l..m.
      let m = l;
      for (; m < n - 1; m++) {
        const em = Math.abs(e[m]);
        if (em <= EPS * (Math.abs(d[m]) + Math.abs(d[m + 1])) || em < SAFE_MIN) break;
      }
      if (m === l) break; // d[l] has converged
      if (--budget < 0) throw new Error('symmetricEigenvalues: the QL iteration did not converge');
      // Wilkinson shift: the eigenvalue of the leading 2 x 2 block nearer d[l].
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = pythag(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        // sqrt(f^2 + g^2) directly while the squares can neither overflow nor underflow (one
        // division instead of three: this loop is a chain of dependent operations).
        const q = f * f + g * g;
        if (q > SQUARE_MIN && q < SQUARE_MAX) {
          r = Math.sqrt(q);
          const inv = 1 / r;
          e[i + 1] = r;
          s = f * inv;
          c = g * inv;
        } else {
          r = pythag(f, g);
          e[i + 1] = r;
          if (r === 0) break; // underflow: the block splits at i + 1; recover and retry
          s = f / r;
          c = g / r;
        }
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
      }
      if (i >= l) {
        d[i + 1] -= p;
        e[m] = 0;
        continue;
      }
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** sqrt(x^2 + y^2) without overflow or destructive underflow; cheaper than Math.hypot. */
function pythag(x: number, y: number): number {
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  if (ax > ay) {
    const t = ay / ax;
    return ax * Math.sqrt(1 + t * t);
  }
  if (ay === 0) return 0;
  const t = ax / ay;
  return ay * Math.sqrt(1 + t * t);
}

/** v *= 2^exponent, in two exact steps so that no factor overflows. */
function scaleByPowerOfTwo(v: Float64Array, exponent: number): void {
  const half = Math.trunc(exponent / 2);
  const f1 = 2 ** half;
  const f2 = 2 ** (exponent - half);
  for (let i = 0; i < v.length; i++) v[i] = v[i] * f1 * f2;
}
