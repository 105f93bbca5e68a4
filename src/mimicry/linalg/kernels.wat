;; Float64 kernels with 128-bit SIMD (f64x2) for the two hot loops of the exact spectra
;; and the block products of the estimated entropy (at the end):
;; the Gram product of a panel (stats/gram.ts) and the fused sweep of the Householder
;; tridiagonalization (linalg/symmetricEigenvalues.ts). Same arithmetic as the JavaScript loops
;; they replace, except that each sum over t (or k) runs as two interleaved partial sums (even and
;; odd indices) added at the end: a different rounding, not a different precision.
;; The multiply-adds of syrk, sweep and syrk32 are relaxed SIMD (relaxed_madd: a b + c,
;; relaxed_nmadd: c - a b), one fused instruction where the CPU has FMA: those loops issue about
;; half the arithmetic instructions (~1.3x faster here). paper22 and combine keep separate
;; multiplies and adds: they must give their JavaScript loops' bits.
;; Compiled by scripts/build-kernels.mjs (wabt's wat2wasm, from npm) into kernelsWasm.ts, twice:
;; as written, and with every relaxed multiply-add unfused for runtimes without relaxed SIMD.
;; Every address is in bytes; every array is float64, except combine's float32 rows and output
;; and syrk32's float32 panel (the float32 Gram of the template entropy, at the end).
(module
  (memory (export "memory") 1)

  ;; G[i n + j] += sum over t < used of P[i w + t] P[j w + t], for j >= i, tiles of 2 rows x 4
  ;; columns as the JavaScript accumulate(); a diagonal tile also adds (i + 1, i), which the caller
  ;; overwrites when it mirrors the upper triangle.
  (func (export "syrk") (param $p i32) (param $g i32) (param $n i32) (param $w i32) (param $used i32)
    (local $row i32) (local $pairs i32) (local $i i32) (local $j i32) (local $k i32)
    (local $oa i32) (local $ob i32) (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local $ga i32) (local $gb i32) (local $t i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $x v128) (local $y v128) (local $q v128)
    (local $sx f64) (local $sy f64) (local $s f64)
    (local.set $row (i32.shl (local.get $w) (i32.const 3)))
    ;; bytes of the even part of `used`
    (local.set $pairs (i32.shl (i32.and (local.get $used) (i32.const -2)) (i32.const 3)))
    (local.set $i (i32.const 0))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_s (i32.add (local.get $i) (i32.const 1)) (local.get $n)))
        (local.set $oa (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $row))))
        (local.set $ob (i32.add (local.get $oa) (local.get $row)))
        (local.set $ga (i32.add (local.get $g) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 3))))
        (local.set $gb (i32.add (local.get $ga) (i32.shl (local.get $n) (i32.const 3))))
        (local.set $j (local.get $i))
        ;; 2 x 4 tiles
        (block $tilesDone
          (loop $tiles
            (br_if $tilesDone (i32.ge_s (i32.add (local.get $j) (i32.const 3)) (local.get $n)))
            (local.set $o0 (i32.add (local.get $p) (i32.mul (local.get $j) (local.get $row))))
            (local.set $o1 (i32.add (local.get $o0) (local.get $row)))
            (local.set $o2 (i32.add (local.get $o1) (local.get $row)))
            (local.set $o3 (i32.add (local.get $o2) (local.get $row)))
            (local.set $a0 (v128.const f64x2 0 0)) (local.set $a1 (v128.const f64x2 0 0))
            (local.set $a2 (v128.const f64x2 0 0)) (local.set $a3 (v128.const f64x2 0 0))
            (local.set $b0 (v128.const f64x2 0 0)) (local.set $b1 (v128.const f64x2 0 0))
            (local.set $b2 (v128.const f64x2 0 0)) (local.set $b3 (v128.const f64x2 0 0))
            (local.set $k (i32.const 0))
            (block $kDone
              (loop $ks
                (br_if $kDone (i32.ge_u (local.get $k) (local.get $pairs)))
                (local.set $x (v128.load (i32.add (local.get $oa) (local.get $k))))
                (local.set $y (v128.load (i32.add (local.get $ob) (local.get $k))))
                (local.set $q (v128.load (i32.add (local.get $o0) (local.get $k))))
                (local.set $a0 (f64x2.relaxed_madd (local.get $x) (local.get $q) (local.get $a0)))
                (local.set $b0 (f64x2.relaxed_madd (local.get $y) (local.get $q) (local.get $b0)))
                (local.set $q (v128.load (i32.add (local.get $o1) (local.get $k))))
                (local.set $a1 (f64x2.relaxed_madd (local.get $x) (local.get $q) (local.get $a1)))
                (local.set $b1 (f64x2.relaxed_madd (local.get $y) (local.get $q) (local.get $b1)))
                (local.set $q (v128.load (i32.add (local.get $o2) (local.get $k))))
                (local.set $a2 (f64x2.relaxed_madd (local.get $x) (local.get $q) (local.get $a2)))
                (local.set $b2 (f64x2.relaxed_madd (local.get $y) (local.get $q) (local.get $b2)))
                (local.set $q (v128.load (i32.add (local.get $o3) (local.get $k))))
                (local.set $a3 (f64x2.relaxed_madd (local.get $x) (local.get $q) (local.get $a3)))
                (local.set $b3 (f64x2.relaxed_madd (local.get $y) (local.get $q) (local.get $b3)))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $ks)))
            ;; odd `used`: the last t, as a scalar, into lane 0
            (if (i32.ne (local.get $k) (i32.shl (local.get $used) (i32.const 3)))
              (then
                (local.set $x (f64x2.splat (f64.load (i32.add (local.get $oa) (local.get $k)))))
                (local.set $y (f64x2.splat (f64.load (i32.add (local.get $ob) (local.get $k)))))
                (local.set $q (f64x2.replace_lane 0 (v128.const f64x2 0 0) (f64.load (i32.add (local.get $o0) (local.get $k)))))
                (local.set $a0 (f64x2.relaxed_madd (local.get $x) (local.get $q) (local.get $a0)))
                (local.set $b0 (f64x2.relaxed_madd (local.get $y) (local.get $q) (local.get $b0)))
                (local.set $q (f64x2.replace_lane 0 (v128.const f64x2 0 0) (f64.load (i32.add (local.get $o1) (local.get $k)))))
                (local.set $a1 (f64x2.relaxed_madd (local.get $x) (local.get $q) (local.get $a1)))
                (local.set $b1 (f64x2.relaxed_madd (local.get $y) (local.get $q) (local.get $b1)))
                (local.set $q (f64x2.replace_lane 0 (v128.const f64x2 0 0) (f64.load (i32.add (local.get $o2) (local.get $k)))))
                (local.set $a2 (f64x2.relaxed_madd (local.get $x) (local.get $q) (local.get $a2)))
                (local.set $b2 (f64x2.relaxed_madd (local.get $y) (local.get $q) (local.get $b2)))
                (local.set $q (f64x2.replace_lane 0 (v128.const f64x2 0 0) (f64.load (i32.add (local.get $o3) (local.get $k)))))
                (local.set $a3 (f64x2.relaxed_madd (local.get $x) (local.get $q) (local.get $a3)))
                (local.set $b3 (f64x2.relaxed_madd (local.get $y) (local.get $q) (local.get $b3)))))
            (local.set $t (i32.add (local.get $ga) (i32.shl (local.get $j) (i32.const 3))))
            (f64.store offset=0 (local.get $t) (f64.add (f64.load offset=0 (local.get $t))
              (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0)))))
            (f64.store offset=8 (local.get $t) (f64.add (f64.load offset=8 (local.get $t))
              (f64.add (f64x2.extract_lane 0 (local.get $a1)) (f64x2.extract_lane 1 (local.get $a1)))))
            (f64.store offset=16 (local.get $t) (f64.add (f64.load offset=16 (local.get $t))
              (f64.add (f64x2.extract_lane 0 (local.get $a2)) (f64x2.extract_lane 1 (local.get $a2)))))
            (f64.store offset=24 (local.get $t) (f64.add (f64.load offset=24 (local.get $t))
              (f64.add (f64x2.extract_lane 0 (local.get $a3)) (f64x2.extract_lane 1 (local.get $a3)))))
            (local.set $t (i32.add (local.get $gb) (i32.shl (local.get $j) (i32.const 3))))
            (f64.store offset=0 (local.get $t) (f64.add (f64.load offset=0 (local.get $t))
              (f64.add (f64x2.extract_lane 0 (local.get $b0)) (f64x2.extract_lane 1 (local.get $b0)))))
            (f64.store offset=8 (local.get $t) (f64.add (f64.load offset=8 (local.get $t))
              (f64.add (f64x2.extract_lane 0 (local.get $b1)) (f64x2.extract_lane 1 (local.get $b1)))))
            (f64.store offset=16 (local.get $t) (f64.add (f64.load offset=16 (local.get $t))
              (f64.add (f64x2.extract_lane 0 (local.get $b2)) (f64x2.extract_lane 1 (local.get $b2)))))
            (f64.store offset=24 (local.get $t) (f64.add (f64.load offset=24 (local.get $t))
              (f64.add (f64x2.extract_lane 0 (local.get $b3)) (f64x2.extract_lane 1 (local.get $b3)))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $tiles)))
        ;; leftover columns, one at a time (scalar: at most 3 per row pair)
        (block $colsDone
          (loop $cols
            (br_if $colsDone (i32.ge_s (local.get $j) (local.get $n)))
            (local.set $o0 (i32.add (local.get $p) (i32.mul (local.get $j) (local.get $row))))
            (local.set $sx (f64.const 0))
            (local.set $sy (f64.const 0))
            (local.set $k (i32.const 0))
            (block $cDone
              (loop $cs
                (br_if $cDone (i32.ge_u (local.get $k) (i32.shl (local.get $used) (i32.const 3))))
                (local.set $s (f64.load (i32.add (local.get $o0) (local.get $k))))
                (local.set $sx (f64.add (local.get $sx) (f64.mul (f64.load (i32.add (local.get $oa) (local.get $k))) (local.get $s))))
                (local.set $sy (f64.add (local.get $sy) (f64.mul (f64.load (i32.add (local.get $ob) (local.get $k))) (local.get $s))))
                (local.set $k (i32.add (local.get $k) (i32.const 8)))
                (br $cs)))
            (local.set $t (i32.add (local.get $ga) (i32.shl (local.get $j) (i32.const 3))))
            (f64.store (local.get $t) (f64.add (f64.load (local.get $t)) (local.get $sx)))
            (local.set $t (i32.add (local.get $gb) (i32.shl (local.get $j) (i32.const 3))))
            (f64.store (local.get $t) (f64.add (f64.load (local.get $t)) (local.get $sy)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br $rows)))
    ;; odd n: the last row has only its diagonal entry left
    (if (i32.lt_s (local.get $i) (local.get $n))
      (then
        (local.set $oa (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $row))))
        (local.set $sx (f64.const 0))
        (local.set $k (i32.const 0))
        (block $dDone
          (loop $ds
            (br_if $dDone (i32.ge_u (local.get $k) (i32.shl (local.get $used) (i32.const 3))))
            (local.set $s (f64.load (i32.add (local.get $oa) (local.get $k))))
            (local.set $sx (f64.add (local.get $sx) (f64.mul (local.get $s) (local.get $s))))
            (local.set $k (i32.add (local.get $k) (i32.const 8)))
            (br $ds)))
        (local.set $t (i32.add (local.get $g) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $i)) (i32.const 3))))
        (f64.store (local.get $t) (f64.add (f64.load (local.get $t)) (local.get $sx))))))

  ;; The fused sweep of symmetricEigenvalues' updateThenMultiply for rows [0, m) of the packed lower
  ;; triangle at $a (row j at element j (j + 1) / 2): S -= uo qo^T + qo uo^T, and p = S u with the
  ;; updated S. Rows in pairs, k in pairs of lanes; the leftover row and odd k as scalars. The loop
;; reads qo and p at 32768 bytes past uo and u (the caller lays the vectors out so: one address for
;; each pair, ~5% faster); $qo and $p must be those addresses. (Four rows at a time ran slower here:
;; its twelve splatted scalars do not fit in the registers.)
  (func (export "sweep") (param $a i32) (param $m i32) (param $uo i32) (param $qo i32) (param $u i32) (param $p i32)
    (local $j i32) (local $k i32) (local $kEnd i32) (local $kPairs i32)
    (local $r0 i32) (local $r1 i32)
    (local $uo0 f64) (local $qo0 f64) (local $u0 f64) (local $uo1 f64) (local $qo1 f64) (local $u1 f64)
    (local $UO0 v128) (local $QO0 v128) (local $U0 v128) (local $UO1 v128) (local $QO1 v128) (local $U1 v128)
    (local $S0 v128) (local $S1 v128) (local $uok v128) (local $qok v128) (local $v0 v128) (local $v1 v128) (local $uk v128)
    (local $s0 f64) (local $s1 f64) (local $x0 f64) (local $x1 f64) (local $ukS f64) (local $uokS f64) (local $qokS f64)
    (local $v00 f64) (local $v10 f64) (local $v11 f64) (local $t i32)
    (memory.fill (local.get $p) (i32.const 0) (i32.shl (local.get $m) (i32.const 3)))
    (local.set $j (i32.const 0))
    (block $pairsDone
      (loop $pairs
        (br_if $pairsDone (i32.ge_s (i32.add (local.get $j) (i32.const 1)) (local.get $m)))
        ;; byte addresses of rows j and j + 1
        (local.set $r0 (i32.add (local.get $a) (i32.shl (i32.shr_u (i32.mul (local.get $j) (i32.add (local.get $j) (i32.const 1))) (i32.const 1)) (i32.const 3))))
        (local.set $r1 (i32.add (local.get $r0) (i32.shl (i32.add (local.get $j) (i32.const 1)) (i32.const 3))))
        (local.set $t (i32.shl (local.get $j) (i32.const 3)))
        (local.set $uo0 (f64.load offset=0 (i32.add (local.get $uo) (local.get $t))))
        (local.set $uo1 (f64.load offset=8 (i32.add (local.get $uo) (local.get $t))))
        (local.set $qo0 (f64.load offset=0 (i32.add (local.get $qo) (local.get $t))))
        (local.set $qo1 (f64.load offset=8 (i32.add (local.get $qo) (local.get $t))))
        (local.set $u0 (f64.load offset=0 (i32.add (local.get $u) (local.get $t))))
        (local.set $u1 (f64.load offset=8 (i32.add (local.get $u) (local.get $t))))
        (local.set $UO0 (f64x2.splat (local.get $uo0))) (local.set $UO1 (f64x2.splat (local.get $uo1)))
        (local.set $QO0 (f64x2.splat (local.get $qo0))) (local.set $QO1 (f64x2.splat (local.get $qo1)))
        (local.set $U0 (f64x2.splat (local.get $u0))) (local.set $U1 (f64x2.splat (local.get $u1)))
        (local.set $S0 (v128.const f64x2 0 0))
        (local.set $S1 (v128.const f64x2 0 0))
        (local.set $kEnd (i32.shl (local.get $j) (i32.const 3)))
        (local.set $kPairs (i32.shl (i32.and (local.get $j) (i32.const -2)) (i32.const 3)))
        (local.set $k (i32.const 0))
        (block $kDone
          (loop $ks
            (br_if $kDone (i32.ge_u (local.get $k) (local.get $kPairs)))
            (local.set $t (i32.add (local.get $uo) (local.get $k)))
            (local.set $uok (v128.load (local.get $t)))
            (local.set $qok (v128.load offset=32768 (local.get $t)))
            (local.set $t (i32.add (local.get $u) (local.get $k)))
            (local.set $uk (v128.load (local.get $t)))
            (local.set $v0 (f64x2.relaxed_nmadd (local.get $QO0) (local.get $uok) (f64x2.relaxed_nmadd (local.get $UO0) (local.get $qok) (v128.load (i32.add (local.get $r0) (local.get $k))))))
            (local.set $v1 (f64x2.relaxed_nmadd (local.get $QO1) (local.get $uok) (f64x2.relaxed_nmadd (local.get $UO1) (local.get $qok) (v128.load (i32.add (local.get $r1) (local.get $k))))))
            (v128.store (i32.add (local.get $r0) (local.get $k)) (local.get $v0))
            (v128.store (i32.add (local.get $r1) (local.get $k)) (local.get $v1))
            (local.set $S0 (f64x2.relaxed_madd (local.get $v0) (local.get $uk) (local.get $S0)))
            (local.set $S1 (f64x2.relaxed_madd (local.get $v1) (local.get $uk) (local.get $S1)))
            (v128.store offset=32768 (local.get $t)
              (f64x2.relaxed_madd (local.get $v1) (local.get $U1) (f64x2.relaxed_madd (local.get $v0) (local.get $U0) (v128.load offset=32768 (local.get $t)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $ks)))
        (local.set $s0 (f64.add (f64x2.extract_lane 0 (local.get $S0)) (f64x2.extract_lane 1 (local.get $S0))))
        (local.set $s1 (f64.add (f64x2.extract_lane 0 (local.get $S1)) (f64x2.extract_lane 1 (local.get $S1))))
        ;; odd j: the last k as a scalar
        (if (i32.lt_u (local.get $k) (local.get $kEnd))
          (then
            (local.set $uokS (f64.load (i32.add (local.get $uo) (local.get $k))))
            (local.set $qokS (f64.load (i32.add (local.get $qo) (local.get $k))))
            (local.set $ukS (f64.load (i32.add (local.get $u) (local.get $k))))
            (local.set $x0 (f64.sub (f64.load (i32.add (local.get $r0) (local.get $k)))
              (f64.add (f64.mul (local.get $uo0) (local.get $qokS)) (f64.mul (local.get $qo0) (local.get $uokS)))))
            (local.set $x1 (f64.sub (f64.load (i32.add (local.get $r1) (local.get $k)))
              (f64.add (f64.mul (local.get $uo1) (local.get $qokS)) (f64.mul (local.get $qo1) (local.get $uokS)))))
            (f64.store (i32.add (local.get $r0) (local.get $k)) (local.get $x0))
            (f64.store (i32.add (local.get $r1) (local.get $k)) (local.get $x1))
            (local.set $s0 (f64.add (local.get $s0) (f64.mul (local.get $x0) (local.get $ukS))))
            (local.set $s1 (f64.add (local.get $s1) (f64.mul (local.get $x1) (local.get $ukS))))
            (f64.store (i32.add (local.get $p) (local.get $k))
              (f64.add (f64.load (i32.add (local.get $p) (local.get $k)))
                (f64.add (f64.mul (local.get $x0) (local.get $u0)) (f64.mul (local.get $x1) (local.get $u1)))))))
        ;; the 2 x 2 diagonal block: S[j, j], S[j + 1, j], S[j + 1, j + 1]
        (local.set $v00 (f64.sub (f64.load (i32.add (local.get $r0) (local.get $kEnd)))
          (f64.mul (f64.mul (f64.const 2) (local.get $uo0)) (local.get $qo0))))
        (local.set $v10 (f64.sub (f64.load (i32.add (local.get $r1) (local.get $kEnd)))
          (f64.add (f64.mul (local.get $uo1) (local.get $qo0)) (f64.mul (local.get $qo1) (local.get $uo0)))))
        (local.set $v11 (f64.sub (f64.load offset=8 (i32.add (local.get $r1) (local.get $kEnd)))
          (f64.mul (f64.mul (f64.const 2) (local.get $uo1)) (local.get $qo1))))
        (f64.store (i32.add (local.get $r0) (local.get $kEnd)) (local.get $v00))
        (f64.store (i32.add (local.get $r1) (local.get $kEnd)) (local.get $v10))
        (f64.store offset=8 (i32.add (local.get $r1) (local.get $kEnd)) (local.get $v11))
        (local.set $t (i32.add (local.get $p) (local.get $kEnd)))
        (f64.store offset=0 (local.get $t) (f64.add (f64.load offset=0 (local.get $t))
          (f64.add (f64.add (local.get $s0) (f64.mul (local.get $v00) (local.get $u0))) (f64.mul (local.get $v10) (local.get $u1)))))
        (f64.store offset=8 (local.get $t) (f64.add (f64.load offset=8 (local.get $t))
          (f64.add (f64.add (local.get $s1) (f64.mul (local.get $v10) (local.get $u0))) (f64.mul (local.get $v11) (local.get $u1)))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pairs)))
    ;; odd m: the last row alone
    (if (i32.lt_s (local.get $j) (local.get $m))
      (then
        (local.set $r0 (i32.add (local.get $a) (i32.shl (i32.shr_u (i32.mul (local.get $j) (i32.add (local.get $j) (i32.const 1))) (i32.const 1)) (i32.const 3))))
        (local.set $t (i32.shl (local.get $j) (i32.const 3)))
        (local.set $uo0 (f64.load (i32.add (local.get $uo) (local.get $t))))
        (local.set $qo0 (f64.load (i32.add (local.get $qo) (local.get $t))))
        (local.set $u0 (f64.load (i32.add (local.get $u) (local.get $t))))
        (local.set $s0 (f64.const 0))
        (local.set $k (i32.const 0))
        (block $lDone
          (loop $ls
            (br_if $lDone (i32.ge_u (local.get $k) (local.get $t)))
            (local.set $x0 (f64.sub (f64.load (i32.add (local.get $r0) (local.get $k)))
              (f64.add (f64.mul (local.get $uo0) (f64.load (i32.add (local.get $qo) (local.get $k))))
                (f64.mul (local.get $qo0) (f64.load (i32.add (local.get $uo) (local.get $k)))))))
            (f64.store (i32.add (local.get $r0) (local.get $k)) (local.get $x0))
            (local.set $s0 (f64.add (local.get $s0) (f64.mul (local.get $x0) (f64.load (i32.add (local.get $u) (local.get $k))))))
            (f64.store (i32.add (local.get $p) (local.get $k))
              (f64.add (f64.load (i32.add (local.get $p) (local.get $k))) (f64.mul (local.get $x0) (local.get $u0))))
            (local.set $k (i32.add (local.get $k) (i32.const 8)))
            (br $ls)))
        (local.set $v00 (f64.sub (f64.load (i32.add (local.get $r0) (local.get $t)))
          (f64.mul (f64.mul (f64.const 2) (local.get $uo0)) (local.get $qo0))))
        (f64.store (i32.add (local.get $r0) (local.get $t)) (local.get $v00))
        (f64.store (i32.add (local.get $p) (local.get $t))
          (f64.add (f64.load (i32.add (local.get $p) (local.get $t)))
            (f64.add (local.get $s0) (f64.mul (local.get $v00) (local.get $u0))))))))

  ;; The block products of the estimated entropy (recast/entropyEstimate.ts), 4 probes interleaved:
  ;; A is rows x cols float32 at $a (row-major), the vectors float64 with the 4 probes of an entry
  ;; side by side (32 bytes per entry). Rows go in pairs; each pair's two products are added before
  ;; they reach the sum (a different rounding from the JavaScript loops, not a different precision).

  ;; out (cols x 4) += A^T v, v rows x 4.
  (func (export "atv4") (param $a i32) (param $rows i32) (param $cols i32) (param $v i32) (param $out i32)
    (local $r i32) (local $c i32) (local $ra i32) (local $rb i32) (local $o i32) (local $row i32) (local $vr i32)
    (local $p0 v128) (local $p1 v128) (local $q0 v128) (local $q1 v128) (local $x v128) (local $y v128)
    (local.set $row (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $r (i32.const 0))
    (block $rowsDone
      (loop $rowsLoop
        (br_if $rowsDone (i32.ge_s (i32.add (local.get $r) (i32.const 1)) (local.get $rows)))
        (local.set $ra (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $row))))
        (local.set $rb (i32.add (local.get $ra) (local.get $row)))
        (local.set $vr (i32.add (local.get $v) (i32.shl (local.get $r) (i32.const 5))))
        (local.set $p0 (v128.load offset=0 (local.get $vr)))
        (local.set $p1 (v128.load offset=16 (local.get $vr)))
        (local.set $q0 (v128.load offset=32 (local.get $vr)))
        (local.set $q1 (v128.load offset=48 (local.get $vr)))
        (local.set $c (i32.const 0))
        (local.set $o (local.get $out))
        (block $colsDone
          (loop $colsLoop
            (br_if $colsDone (i32.ge_u (local.get $c) (local.get $row)))
            (local.set $x (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $ra) (local.get $c))))))
            (local.set $y (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $rb) (local.get $c))))))
            (v128.store offset=0 (local.get $o)
              (f64x2.add (v128.load offset=0 (local.get $o))
                (f64x2.add (f64x2.mul (local.get $x) (local.get $p0)) (f64x2.mul (local.get $y) (local.get $q0)))))
            (v128.store offset=16 (local.get $o)
              (f64x2.add (v128.load offset=16 (local.get $o))
                (f64x2.add (f64x2.mul (local.get $x) (local.get $p1)) (f64x2.mul (local.get $y) (local.get $q1)))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (local.set $o (i32.add (local.get $o) (i32.const 32)))
            (br $colsLoop)))
        (local.set $r (i32.add (local.get $r) (i32.const 2)))
        (br $rowsLoop)))
    ;; odd rows: the last one alone
    (if (i32.lt_s (local.get $r) (local.get $rows))
      (then
        (local.set $ra (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $row))))
        (local.set $vr (i32.add (local.get $v) (i32.shl (local.get $r) (i32.const 5))))
        (local.set $p0 (v128.load offset=0 (local.get $vr)))
        (local.set $p1 (v128.load offset=16 (local.get $vr)))
        (local.set $c (i32.const 0))
        (local.set $o (local.get $out))
        (block $lastDone
          (loop $lastLoop
            (br_if $lastDone (i32.ge_u (local.get $c) (local.get $row)))
            (local.set $x (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $ra) (local.get $c))))))
            (v128.store offset=0 (local.get $o) (f64x2.add (v128.load offset=0 (local.get $o)) (f64x2.mul (local.get $x) (local.get $p0))))
            (v128.store offset=16 (local.get $o) (f64x2.add (v128.load offset=16 (local.get $o)) (f64x2.mul (local.get $x) (local.get $p1))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (local.set $o (i32.add (local.get $o) (i32.const 32)))
            (br $lastLoop))))))

  ;; out (rows x 4) += A m, m cols x 4.
  (func (export "av4") (param $a i32) (param $rows i32) (param $cols i32) (param $m i32) (param $out i32)
    (local $r i32) (local $c i32) (local $ra i32) (local $rb i32) (local $mo i32) (local $row i32) (local $t i32)
    (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128)
    (local $m0 v128) (local $m1 v128) (local $x v128) (local $y v128)
    (local.set $row (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $r (i32.const 0))
    (block $rowsDone
      (loop $rowsLoop
        (br_if $rowsDone (i32.ge_s (i32.add (local.get $r) (i32.const 1)) (local.get $rows)))
        (local.set $ra (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $row))))
        (local.set $rb (i32.add (local.get $ra) (local.get $row)))
        (local.set $a0 (v128.const f64x2 0 0)) (local.set $a1 (v128.const f64x2 0 0))
        (local.set $b0 (v128.const f64x2 0 0)) (local.set $b1 (v128.const f64x2 0 0))
        (local.set $c (i32.const 0))
        (local.set $mo (local.get $m))
        (block $colsDone
          (loop $colsLoop
            (br_if $colsDone (i32.ge_u (local.get $c) (local.get $row)))
            (local.set $m0 (v128.load offset=0 (local.get $mo)))
            (local.set $m1 (v128.load offset=16 (local.get $mo)))
            (local.set $x (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $ra) (local.get $c))))))
            (local.set $y (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $rb) (local.get $c))))))
            (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $x) (local.get $m0))))
            (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $x) (local.get $m1))))
            (local.set $b0 (f64x2.add (local.get $b0) (f64x2.mul (local.get $y) (local.get $m0))))
            (local.set $b1 (f64x2.add (local.get $b1) (f64x2.mul (local.get $y) (local.get $m1))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (local.set $mo (i32.add (local.get $mo) (i32.const 32)))
            (br $colsLoop)))
        (local.set $t (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 5))))
        (v128.store offset=0 (local.get $t) (f64x2.add (v128.load offset=0 (local.get $t)) (local.get $a0)))
        (v128.store offset=16 (local.get $t) (f64x2.add (v128.load offset=16 (local.get $t)) (local.get $a1)))
        (v128.store offset=32 (local.get $t) (f64x2.add (v128.load offset=32 (local.get $t)) (local.get $b0)))
        (v128.store offset=48 (local.get $t) (f64x2.add (v128.load offset=48 (local.get $t)) (local.get $b1)))
        (local.set $r (i32.add (local.get $r) (i32.const 2)))
        (br $rowsLoop)))
    (if (i32.lt_s (local.get $r) (local.get $rows))
      (then
        (local.set $ra (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $row))))
        (local.set $a0 (v128.const f64x2 0 0)) (local.set $a1 (v128.const f64x2 0 0))
        (local.set $c (i32.const 0))
        (local.set $mo (local.get $m))
        (block $lastDone
          (loop $lastLoop
            (br_if $lastDone (i32.ge_u (local.get $c) (local.get $row)))
            (local.set $x (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $ra) (local.get $c))))))
            (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $x) (v128.load offset=0 (local.get $mo)))))
            (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $x) (v128.load offset=16 (local.get $mo)))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (local.set $mo (i32.add (local.get $mo) (i32.const 32)))
            (br $lastLoop)))
        (local.set $t (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 5))))
        (v128.store offset=0 (local.get $t) (f64x2.add (v128.load offset=0 (local.get $t)) (local.get $a0)))
        (v128.store offset=16 (local.get $t) (f64x2.add (v128.load offset=16 (local.get $t)) (local.get $a1))))))

  ;; out[i] = float32(sum over l < L of w[l] * x[l stride + i]) for i < m (m a multiple of 4): each sum
  ;; in float64 from 0, member by member in order, rounded once, exactly as writeTemplates' JavaScript
  ;; loop (f64x2 lanes run over elements, never over the sum). x and out are float32, w float64;
  ;; stride in elements.
  (func (export "combine") (param $x i32) (param $stride i32) (param $L i32) (param $w i32) (param $out i32) (param $m i32)
    (local $i i32) (local $l i32) (local $p i32) (local $q i32) (local $v v128) (local $c v128)
    (local $a0 v128) (local $a1 v128)
    (local.set $i (i32.const 0))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $i) (local.get $m)))
        (local.set $a0 (v128.const f64x2 0 0))
        (local.set $a1 (v128.const f64x2 0 0))
        (local.set $p (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $q (local.get $w))
        (local.set $l (i32.const 0))
        (block $membersDone
          (loop $members
            (br_if $membersDone (i32.ge_u (local.get $l) (local.get $L)))
            (local.set $c (f64x2.splat (f64.load (local.get $q))))
            (local.set $v (v128.load (local.get $p)))
            (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $c) (f64x2.promote_low_f32x4 (local.get $v)))))
            (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $c) (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))))))
            (local.set $p (i32.add (local.get $p) (i32.shl (local.get $stride) (i32.const 2))))
            (local.set $q (i32.add (local.get $q) (i32.const 8)))
            (local.set $l (i32.add (local.get $l) (i32.const 1)))
            (br $members)))
        (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $a0)) (f32x4.demote_f64x2_zero (local.get $a1))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quads))))

  ;; The float32 Gram of the template entropy's float32 route (linalg/gram32.ts): G[i n + j] (float64)
  ;; += the float32 dot product of rows i and j of P, for j >= i, as the float64 syrk above but with
  ;; f32x4 products and sums (twice the lanes). P is n rows of w float32 values (w a multiple of 4,
  ;; zero-padded) stored in blocks of 256 values: block b holds the values [256 b, 256 b + 256) of
  ;; every row, row r at byte 1024 (b n + r) from $p0, so the six rows a tile reads are a fixed 1024
  ;; bytes apart (load offsets instead of address arithmetic: ~25% faster). Each dot product runs over
  ;; one block in float32, its four lanes are added in float32 ((l0 + l2) + (l1 + l3)) and the block's
  ;; sum is added to G in float64: the float32 error is that of a 256-value sum, whatever w. A
  ;; diagonal tile also adds (i + 1, i), which the caller overwrites when it mirrors the upper triangle.
  ;; The lane sum of $v as addSums forms it: (v0 + v2) + (v1 + v3) in float32, promoted to float64.
  (func $sum4 (param $v v128) (result f64)
    (local $u v128)
    (local.set $u (f32x4.add (local.get $v) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (f64.promote_f32 (f32.add (f32x4.extract_lane 0 (local.get $u)) (f32x4.extract_lane 1 (local.get $u)))))
  ;; $t (a float64 address) += $s
  (func $addTo (param $t i32) (param $s f64)
    (f64.store (local.get $t) (f64.add (f64.load (local.get $t)) (local.get $s))))

  ;; G[t .. t + 4) (float64) += the lane sums of $a, $b, $c, $d (in float32, then promoted).
  (func $addSums (param $t i32) (param $a v128) (param $b v128) (param $c v128) (param $d v128)
    (local $u v128) (local $v v128) (local $s v128)
    (local.set $u (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $v (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
    (local.set $s (f32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $u) (local.get $v))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $u) (local.get $v))))
    (v128.store offset=0 (local.get $t) (f64x2.add (v128.load offset=0 (local.get $t)) (f64x2.promote_low_f32x4 (local.get $s))))
    (v128.store offset=16 (local.get $t) (f64x2.add (v128.load offset=16 (local.get $t))
      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $s) (local.get $s))))))

  (func (export "syrk32") (param $p0 i32) (param $g i32) (param $n i32) (param $w i32)
    (local $p i32) (local $blk i32)
    (local $row i32) (local $k1 i32) (local $i i32) (local $j i32) (local $k i32)
    (local $oa i32) (local $ob i32) (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local $ga i32) (local $gb i32) (local $t i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $x v128) (local $y v128) (local $q v128)
    ;; a row of a block: 256 values
    (local.set $row (i32.const 1024))
    (local.set $p (local.get $p0))
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.ge_u (local.get $blk) (i32.shl (local.get $w) (i32.const 2))))
        ;; bytes of each row in this block: 1024, less in the last one
        (local.set $k1 (i32.sub (i32.shl (local.get $w) (i32.const 2)) (local.get $blk)))
        (if (i32.gt_u (local.get $k1) (i32.const 1024)) (then (local.set $k1 (i32.const 1024))))
        (local.set $i (i32.const 0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_s (i32.add (local.get $i) (i32.const 1)) (local.get $n)))
            (local.set $oa (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $row))))
            (local.set $ob (i32.add (local.get $oa) (local.get $row)))
            (local.set $ga (i32.add (local.get $g) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 3))))
            (local.set $gb (i32.add (local.get $ga) (i32.shl (local.get $n) (i32.const 3))))
            (local.set $j (local.get $i))
            (block $tilesDone
              (loop $tiles
                (br_if $tilesDone (i32.ge_s (i32.add (local.get $j) (i32.const 3)) (local.get $n)))
                (local.set $o0 (i32.add (local.get $p) (i32.mul (local.get $j) (local.get $row))))
                (local.set $o1 (i32.add (local.get $o0) (local.get $row)))
                (local.set $o2 (i32.add (local.get $o1) (local.get $row)))
                (local.set $o3 (i32.add (local.get $o2) (local.get $row)))
                (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
                (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
                (local.set $b0 (v128.const i32x4 0 0 0 0)) (local.set $b1 (v128.const i32x4 0 0 0 0))
                (local.set $b2 (v128.const i32x4 0 0 0 0)) (local.set $b3 (v128.const i32x4 0 0 0 0))
                (local.set $k (i32.const 0))
                ;; rows i, i + 1 and j .. j + 3 lie 1024 bytes apart: one address each for the two groups
                (block $kDone
                  (loop $ks
                    (br_if $kDone (i32.ge_u (local.get $k) (local.get $k1)))
                    (local.set $t (i32.add (local.get $oa) (local.get $k)))
                    (local.set $x (v128.load (local.get $t)))
                    (local.set $y (v128.load offset=1024 (local.get $t)))
                    (local.set $t (i32.add (local.get $o0) (local.get $k)))
                    (local.set $q (v128.load (local.get $t)))
                    (local.set $a0 (f32x4.relaxed_madd (local.get $x) (local.get $q) (local.get $a0)))
                    (local.set $b0 (f32x4.relaxed_madd (local.get $y) (local.get $q) (local.get $b0)))
                    (local.set $q (v128.load offset=1024 (local.get $t)))
                    (local.set $a1 (f32x4.relaxed_madd (local.get $x) (local.get $q) (local.get $a1)))
                    (local.set $b1 (f32x4.relaxed_madd (local.get $y) (local.get $q) (local.get $b1)))
                    (local.set $q (v128.load offset=2048 (local.get $t)))
                    (local.set $a2 (f32x4.relaxed_madd (local.get $x) (local.get $q) (local.get $a2)))
                    (local.set $b2 (f32x4.relaxed_madd (local.get $y) (local.get $q) (local.get $b2)))
                    (local.set $q (v128.load offset=3072 (local.get $t)))
                    (local.set $a3 (f32x4.relaxed_madd (local.get $x) (local.get $q) (local.get $a3)))
                    (local.set $b3 (f32x4.relaxed_madd (local.get $y) (local.get $q) (local.get $b3)))
                    (local.set $k (i32.add (local.get $k) (i32.const 16)))
                    (br $ks)))
                (local.set $t (i32.add (local.get $ga) (i32.shl (local.get $j) (i32.const 3))))
                (call $addSums (local.get $t) (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))
                (local.set $t (i32.add (local.get $gb) (i32.shl (local.get $j) (i32.const 3))))
                (call $addSums (local.get $t) (local.get $b0) (local.get $b1) (local.get $b2) (local.get $b3))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $tiles)))
            ;; leftover columns one at a time (at most 3 per row pair)
            (block $colsDone
              (loop $cols
                (br_if $colsDone (i32.ge_s (local.get $j) (local.get $n)))
                (local.set $o0 (i32.add (local.get $p) (i32.mul (local.get $j) (local.get $row))))
                (local.set $a0 (v128.const i32x4 0 0 0 0))
                (local.set $b0 (v128.const i32x4 0 0 0 0))
                (local.set $k (i32.const 0))
                (block $cDone
                  (loop $cs
                    (br_if $cDone (i32.ge_u (local.get $k) (local.get $k1)))
                    (local.set $q (v128.load (i32.add (local.get $o0) (local.get $k))))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (i32.add (local.get $oa) (local.get $k))) (local.get $q))))
                    (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (v128.load (i32.add (local.get $ob) (local.get $k))) (local.get $q))))
                    (local.set $k (i32.add (local.get $k) (i32.const 16)))
                    (br $cs)))
                (call $addTo (i32.add (local.get $ga) (i32.shl (local.get $j) (i32.const 3))) (call $sum4 (local.get $a0)))
                (call $addTo (i32.add (local.get $gb) (i32.shl (local.get $j) (i32.const 3))) (call $sum4 (local.get $b0)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $cols)))
            (local.set $i (i32.add (local.get $i) (i32.const 2)))
            (br $rows)))
        ;; odd n: the last row has only its diagonal entry left
        (if (i32.lt_s (local.get $i) (local.get $n))
          (then
            (local.set $oa (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $row))))
            (local.set $a0 (v128.const i32x4 0 0 0 0))
            (local.set $k (i32.const 0))
            (block $dDone
              (loop $ds
                (br_if $dDone (i32.ge_u (local.get $k) (local.get $k1)))
                (local.set $x (v128.load (i32.add (local.get $oa) (local.get $k))))
                (local.set $a0 (f32x4.relaxed_madd (local.get $x) (local.get $x) (local.get $a0)))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $ds)))
            (call $addTo (i32.add (local.get $g) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $i)) (i32.const 3)))
              (call $sum4 (local.get $a0)))))
        (local.set $blk (i32.add (local.get $blk) (i32.const 1024)))
        (local.set $p (i32.add (local.get $p) (i32.mul (local.get $n) (i32.const 1024))))
        (br $blocks))))

  ;; The authors' loop, one pass over a chunk for 2 members and 2 templates (recast/paperKernel.ts,
  ;; passTwoByTwo): the same float64 operations in the same order as that JavaScript loop, elements
  ;; i and i + 1 in the two f64x2 lanes, float32 values rounded where it rounds them, and each of its
  ;; eight sums kept in float64 in element order (lane 0 added before lane 1): the same bits.
  ;; At $base, $s bytes apart, float32 arrays of the chunk's n elements: T0 T1 SQ0 SQ1 GRAD0 GRAD1
  ;; TARGET0 TARGET1 (an odd n reads and writes one more, ignored). At $prm eighteen float64 params:
  ;; scale lr m00 m01 m10 m11 beta 0.5/beta 0.5*beta g0 g1 g0/beta g1/beta 2*g0 2*g1 alpha
  ;; (1 - alpha) eps (paperKernel.ts), and after them the eight sums s0 s1 d00 d01 d10 d11 n0 n1 that
  ;; it writes. $flags: 1 apply the RMSprop update, 2 gradients, 4 MSE (else SmoothL1).
  ;; No calls inside: V8 does not inline WebAssembly calls, and a v128 passed to one costs more than the
  ;; work (a first version with helper functions ran at a third of this speed).
  (func (export "paper22") (param $base i32) (param $n i32) (param $s i32) (param $prm i32) (param $flags i32)
    (local $i i32) (local $p i32) (local $two i32)
    (local $apply i32) (local $grad i32) (local $mse i32)
    (local $o2 i32) (local $o3 i32) (local $o4 i32) (local $o5 i32) (local $o6 i32) (local $o7 i32)
    (local $scale v128) (local $lr v128) (local $m00 v128) (local $m01 v128) (local $m10 v128) (local $m11 v128) (local $beta v128) (local $hob v128) (local $hb v128) (local $g0 v128) (local $g1 v128) (local $gb0 v128) (local $gb1 v128) (local $g20 v128) (local $g21 v128) (local $A v128) (local $B v128) (local $eps v128)
    (local $t0 v128) (local $t1 v128) (local $x0 v128) (local $x1 v128) (local $a0 v128) (local $a1 v128)
    (local $e0 v128) (local $e1 v128) (local $G0 v128) (local $G1 v128) (local $q0 v128) (local $q1 v128) (local $in v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $f v128) (local $ga v128) (local $qa v128)
    (local $s0 f64) (local $s1 f64) (local $d00 f64) (local $d01 f64) (local $d10 f64) (local $d11 f64) (local $n0 f64) (local $n1 f64)
    (local.set $apply (i32.and (local.get $flags) (i32.const 1)))
    (local.set $grad (i32.and (local.get $flags) (i32.const 2)))
    (local.set $mse (i32.and (local.get $flags) (i32.const 4)))
    (local.set $o2 (i32.shl (local.get $s) (i32.const 1)))
    (local.set $o3 (i32.mul (local.get $s) (i32.const 3)))
    (local.set $o4 (i32.shl (local.get $s) (i32.const 2)))
    (local.set $o5 (i32.mul (local.get $s) (i32.const 5)))
    (local.set $o6 (i32.mul (local.get $s) (i32.const 6)))
    (local.set $o7 (i32.mul (local.get $s) (i32.const 7)))
    (local.set $scale (v128.load64_splat offset=0 (local.get $prm)))
    (local.set $lr (v128.load64_splat offset=8 (local.get $prm)))
    (local.set $m00 (v128.load64_splat offset=16 (local.get $prm)))
    (local.set $m01 (v128.load64_splat offset=24 (local.get $prm)))
    (local.set $m10 (v128.load64_splat offset=32 (local.get $prm)))
    (local.set $m11 (v128.load64_splat offset=40 (local.get $prm)))
    (local.set $beta (v128.load64_splat offset=48 (local.get $prm)))
    (local.set $hob (v128.load64_splat offset=56 (local.get $prm)))
    (local.set $hb (v128.load64_splat offset=64 (local.get $prm)))
    (local.set $g0 (v128.load64_splat offset=72 (local.get $prm)))
    (local.set $g1 (v128.load64_splat offset=80 (local.get $prm)))
    (local.set $gb0 (v128.load64_splat offset=88 (local.get $prm)))
    (local.set $gb1 (v128.load64_splat offset=96 (local.get $prm)))
    (local.set $g20 (v128.load64_splat offset=104 (local.get $prm)))
    (local.set $g21 (v128.load64_splat offset=112 (local.get $prm)))
    (local.set $A (v128.load64_splat offset=120 (local.get $prm)))
    (local.set $B (v128.load64_splat offset=128 (local.get $prm)))
    (local.set $eps (v128.load64_splat offset=136 (local.get $prm)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $pairs
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $two (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $n)))
        (local.set $p (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))
        (if (local.get $apply)
          (then
            (local.set $ga (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (local.get $o4)))) (local.get $scale)))
            (local.set $f (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (local.get $o2)))) (local.get $A)) (f64x2.mul (f64x2.mul (local.get $ga) (local.get $ga)) (local.get $B)))))
            (v128.store64_lane 0 (i32.add (local.get $p) (local.get $o2)) (local.get $f))
            (local.set $qa (f64x2.promote_low_f32x4 (local.get $f)))
            (local.set $f (f32x4.demote_f64x2_zero (f64x2.sub (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))) (f64x2.div (f64x2.mul (local.get $ga) (local.get $lr)) (f64x2.add (f64x2.sqrt (local.get $qa)) (local.get $eps))))))
            (v128.store64_lane 0 (local.get $p) (local.get $f))
            (local.set $t0 (f64x2.promote_low_f32x4 (local.get $f)))
            (local.set $ga (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (local.get $o5)))) (local.get $scale)))
            (local.set $f (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (local.get $o3)))) (local.get $A)) (f64x2.mul (f64x2.mul (local.get $ga) (local.get $ga)) (local.get $B)))))
            (v128.store64_lane 0 (i32.add (local.get $p) (local.get $o3)) (local.get $f))
            (local.set $qa (f64x2.promote_low_f32x4 (local.get $f)))
            (local.set $f (f32x4.demote_f64x2_zero (f64x2.sub (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (local.get $s)))) (f64x2.div (f64x2.mul (local.get $ga) (local.get $lr)) (f64x2.add (f64x2.sqrt (local.get $qa)) (local.get $eps))))))
            (v128.store64_lane 0 (i32.add (local.get $p) (local.get $s)) (local.get $f))
            (local.set $t1 (f64x2.promote_low_f32x4 (local.get $f))))
          (else
            (local.set $t0 (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
            (local.set $t1 (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (local.get $s)))))))
        (local.set $x0 (f64x2.sub
          (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (local.get $m00) (local.get $t0)) (f64x2.mul (local.get $m01) (local.get $t1)))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (local.get $o6))))))
        (local.set $x1 (f64x2.sub
          (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (local.get $m10) (local.get $t0)) (f64x2.mul (local.get $m11) (local.get $t1)))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (local.get $o7))))))
        (if (local.get $mse)
          (then
            (local.set $e0 (f64x2.mul (local.get $x0) (local.get $x0)))
            (local.set $G0 (f64x2.mul (local.get $g20) (local.get $x0)))
            (local.set $e1 (f64x2.mul (local.get $x1) (local.get $x1)))
            (local.set $G1 (f64x2.mul (local.get $g21) (local.get $x1))))
          (else
            ;; SmoothL1 both ways, then each lane takes its own side: the same values as the branches.
            (local.set $a0 (f64x2.abs (local.get $x0)))
            (local.set $in (f64x2.lt (local.get $a0) (local.get $beta)))
            (local.set $e0 (v128.bitselect (f64x2.mul (f64x2.mul (local.get $hob) (local.get $x0)) (local.get $x0))
              (f64x2.sub (local.get $a0) (local.get $hb)) (local.get $in)))
            (local.set $G0 (v128.bitselect (f64x2.mul (local.get $gb0) (local.get $x0))
              (v128.bitselect (local.get $g0) (f64x2.neg (local.get $g0)) (f64x2.gt (local.get $x0) (v128.const f64x2 0 0)))
              (local.get $in)))
            (local.set $a1 (f64x2.abs (local.get $x1)))
            (local.set $in (f64x2.lt (local.get $a1) (local.get $beta)))
            (local.set $e1 (v128.bitselect (f64x2.mul (f64x2.mul (local.get $hob) (local.get $x1)) (local.get $x1))
              (f64x2.sub (local.get $a1) (local.get $hb)) (local.get $in)))
            (local.set $G1 (v128.bitselect (f64x2.mul (local.get $gb1) (local.get $x1))
              (v128.bitselect (local.get $g1) (f64x2.neg (local.get $g1)) (f64x2.gt (local.get $x1) (v128.const f64x2 0 0)))
              (local.get $in)))))
        (if (local.get $grad)
          (then
            (local.set $f (f32x4.demote_f64x2_zero (f64x2.add (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (f64x2.mul (local.get $m00) (local.get $G0)))) (f64x2.mul (local.get $m10) (local.get $G1)))))
            (v128.store64_lane 0 (i32.add (local.get $p) (local.get $o4)) (local.get $f))
            (local.set $q0 (f64x2.promote_low_f32x4 (local.get $f)))
            (local.set $f (f32x4.demote_f64x2_zero (f64x2.add (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (f64x2.mul (local.get $m01) (local.get $G0)))) (f64x2.mul (local.get $m11) (local.get $G1)))))
            (v128.store64_lane 0 (i32.add (local.get $p) (local.get $o5)) (local.get $f))
            (local.set $q1 (f64x2.promote_low_f32x4 (local.get $f)))
            (local.set $v0 (f64x2.mul (local.get $G0) (local.get $t0)))
            (local.set $v1 (f64x2.mul (local.get $G0) (local.get $t1)))
            (local.set $v2 (f64x2.mul (local.get $G1) (local.get $t0)))
            (local.set $v3 (f64x2.mul (local.get $G1) (local.get $t1)))
            (local.set $q0 (f64x2.mul (local.get $q0) (local.get $q0)))
            (local.set $q1 (f64x2.mul (local.get $q1) (local.get $q1)))
            (local.set $d00 (f64.add (local.get $d00) (f64x2.extract_lane 0 (local.get $v0))))
            (local.set $d01 (f64.add (local.get $d01) (f64x2.extract_lane 0 (local.get $v1))))
            (local.set $d10 (f64.add (local.get $d10) (f64x2.extract_lane 0 (local.get $v2))))
            (local.set $d11 (f64.add (local.get $d11) (f64x2.extract_lane 0 (local.get $v3))))
            (local.set $n0 (f64.add (local.get $n0) (f64x2.extract_lane 0 (local.get $q0))))
            (local.set $n1 (f64.add (local.get $n1) (f64x2.extract_lane 0 (local.get $q1))))))
        (local.set $s0 (f64.add (local.get $s0) (f64x2.extract_lane 0 (local.get $e0))))
        (local.set $s1 (f64.add (local.get $s1) (f64x2.extract_lane 0 (local.get $e1))))
        (if (local.get $two)
          (then
            (local.set $s0 (f64.add (local.get $s0) (f64x2.extract_lane 1 (local.get $e0))))
            (local.set $s1 (f64.add (local.get $s1) (f64x2.extract_lane 1 (local.get $e1))))
            (if (local.get $grad)
              (then
                (local.set $d00 (f64.add (local.get $d00) (f64x2.extract_lane 1 (local.get $v0))))
                (local.set $d01 (f64.add (local.get $d01) (f64x2.extract_lane 1 (local.get $v1))))
                (local.set $d10 (f64.add (local.get $d10) (f64x2.extract_lane 1 (local.get $v2))))
                (local.set $d11 (f64.add (local.get $d11) (f64x2.extract_lane 1 (local.get $v3))))
                (local.set $n0 (f64.add (local.get $n0) (f64x2.extract_lane 1 (local.get $q0))))
                (local.set $n1 (f64.add (local.get $n1) (f64x2.extract_lane 1 (local.get $q1))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br $pairs)))
    (f64.store offset=144 (local.get $prm) (local.get $s0))
    (f64.store offset=152 (local.get $prm) (local.get $s1))
    (f64.store offset=160 (local.get $prm) (local.get $d00))
    (f64.store offset=168 (local.get $prm) (local.get $d01))
    (f64.store offset=176 (local.get $prm) (local.get $d10))
    (f64.store offset=184 (local.get $prm) (local.get $d11))
    (f64.store offset=192 (local.get $prm) (local.get $n0))
    (f64.store offset=200 (local.get $prm) (local.get $n1)))
)
