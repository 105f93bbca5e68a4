;; WebAssembly SIMD kernels for the two passes over F32 tensors (stats/accumulators.ts).
;; - "blocks": the fast road of blockF32 over whole blocks of 4096 values. The float64 sums run in
;;   f64x2 lanes, two pairs of them: one pair takes elements 0 and 1 of every four, the other 2 and 3,
;;   each in element order, which is exactly the four interleaved sums of the JavaScript loop, added
;;   up the same way at the end ((s0 + s2) + (s1 + s3)), so the sums are bit for bit the same. Four
;;   chains of additions, not two: each waits on its own last addition half as often.
;;   min and max run in four f32x4 lanes (pmin/pmax: `if (v < m) m = v`); they agree with the
;;   sequential loop except for the sign of a zero, which the caller settles when a result is 0.
;;   Zeros are counted from the bits; bucket counts top[bits >>> shift]++ go to a table in this memory
;;   (shift 12 for big tensors, coarser for smaller ones: accumulators.ts, bucketShift).
;; - "marked": pass 2 over the values whose bucket is marked: those near a bin edge binned, those the
;;   quantiles want reported by position.
;; - "sparse": the non-zero bucket counts of a range of the table, taken out of it (the table left zero).
;; - "count16": counts of each 16-bit pattern (BF16, F16, 16-bit integers) into four tables.
;; Compiled by scripts/build-kernels.mjs (wabt's wat2wasm, from npm) into statsKernelsWasm.ts, with a
;; copy of `blocks` and `marked` for each bucket shift the statistics use (`blocks_12`, `marked_15`, ...),
;; the shift a constant there: a shift by a local is several times the cost of one by a constant.
;; Every address is in bytes. The memory never grows (the layout is in statsKernels.ts).
(module
  (memory (export "memory") 1696 1696)

  ;; For each of `nblocks` blocks of 4096 float32 at `data`: 8 float64 at out + 64 b:
  ;; sum (x - c), sum (x - c)^2, sum |x| (each as lane 0 + lane 1), min, max, zeros; c = the block's
  ;; first value. `count`: also add 1 to the int32 at top + 4 (bits >>> shift) for each value.
  (func (export "blocks") (param $data i32) (param $nblocks i32) (param $top i32) (param $count i32) (param $out i32) (param $shift i32)
    (local $b i32) (local $p i32) (local $end i32) (local $o i32) (local $u i32)
    (local $c v128) (local $s v128) (local $q v128) (local $a v128) (local $s2 v128) (local $q2 v128) (local $a2 v128)
    (local $mn v128) (local $mx v128) (local $z v128) (local $w v128) (local $v v128) (local $d v128)
    (local.set $p (local.get $data))
    (local.set $b (i32.const 0))
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.ge_u (local.get $b) (local.get $nblocks)))
        (local.set $end (i32.add (local.get $p) (i32.const 16384)))
        (local.set $c (f64x2.splat (f64.promote_f32 (f32.load (local.get $p)))))
        (local.set $s (v128.const f64x2 0 0))
        (local.set $q (v128.const f64x2 0 0))
        (local.set $a (v128.const f64x2 0 0))
        (local.set $s2 (v128.const f64x2 0 0))
        (local.set $q2 (v128.const f64x2 0 0))
        (local.set $a2 (v128.const f64x2 0 0))
        (local.set $mn (v128.const f32x4 inf inf inf inf))
        (local.set $mx (v128.const f32x4 -inf -inf -inf -inf))
        (local.set $z (v128.const i32x4 0 0 0 0))
        (loop $values
          (local.set $w (v128.load (local.get $p)))
          ;; elements 0 and 1
          (local.set $v (f64x2.promote_low_f32x4 (local.get $w)))
          (local.set $d (f64x2.sub (local.get $v) (local.get $c)))
          (local.set $s (f64x2.add (local.get $s) (local.get $d)))
          (local.set $q (f64x2.add (local.get $q) (f64x2.mul (local.get $d) (local.get $d))))
          (local.set $a (f64x2.add (local.get $a) (f64x2.abs (local.get $v))))
          ;; elements 2 and 3
          (local.set $v (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $w) (local.get $w))))
          (local.set $d (f64x2.sub (local.get $v) (local.get $c)))
          (local.set $s2 (f64x2.add (local.get $s2) (local.get $d)))
          (local.set $q2 (f64x2.add (local.get $q2) (f64x2.mul (local.get $d) (local.get $d))))
          (local.set $a2 (f64x2.add (local.get $a2) (f64x2.abs (local.get $v))))
          (local.set $mn (f32x4.pmin (local.get $mn) (local.get $w)))
          (local.set $mx (f32x4.pmax (local.get $mx) (local.get $w)))
          ;; +0 and -0: all bits but the sign are 0; eq gives -1 per such lane
          (local.set $z (i32x4.sub (local.get $z)
            (i32x4.eq (v128.and (local.get $w) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
                      (v128.const i32x4 0 0 0 0))))
          (if (local.get $count)
            (then
              (local.set $u (i32.add (local.get $top)
                (i32.shl (i32.shr_u (i32.load (local.get $p)) (local.get $shift)) (i32.const 2))))
              (i32.store (local.get $u) (i32.add (i32.load (local.get $u)) (i32.const 1)))
              (local.set $u (i32.add (local.get $top)
                (i32.shl (i32.shr_u (i32.load offset=4 (local.get $p)) (local.get $shift)) (i32.const 2))))
              (i32.store (local.get $u) (i32.add (i32.load (local.get $u)) (i32.const 1)))
              (local.set $u (i32.add (local.get $top)
                (i32.shl (i32.shr_u (i32.load offset=8 (local.get $p)) (local.get $shift)) (i32.const 2))))
              (i32.store (local.get $u) (i32.add (i32.load (local.get $u)) (i32.const 1)))
              (local.set $u (i32.add (local.get $top)
                (i32.shl (i32.shr_u (i32.load offset=12 (local.get $p)) (local.get $shift)) (i32.const 2))))
              (i32.store (local.get $u) (i32.add (i32.load (local.get $u)) (i32.const 1)))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $values (i32.lt_u (local.get $p) (local.get $end))))
        ;; lane 0: (x0 + x2 sums), lane 1: (x1 + x3 sums)
        (local.set $s (f64x2.add (local.get $s) (local.get $s2)))
        (local.set $q (f64x2.add (local.get $q) (local.get $q2)))
        (local.set $a (f64x2.add (local.get $a) (local.get $a2)))
        (local.set $o (i32.add (local.get $out) (i32.shl (local.get $b) (i32.const 6))))
        (f64.store (local.get $o)
          (f64.add (f64x2.extract_lane 0 (local.get $s)) (f64x2.extract_lane 1 (local.get $s))))
        (f64.store offset=8 (local.get $o)
          (f64.add (f64x2.extract_lane 0 (local.get $q)) (f64x2.extract_lane 1 (local.get $q))))
        (f64.store offset=16 (local.get $o)
          (f64.add (f64x2.extract_lane 0 (local.get $a)) (f64x2.extract_lane 1 (local.get $a))))
        (f64.store offset=24 (local.get $o) (f64.promote_f32
          (f32.min (f32.min (f32x4.extract_lane 0 (local.get $mn)) (f32x4.extract_lane 1 (local.get $mn)))
                   (f32.min (f32x4.extract_lane 2 (local.get $mn)) (f32x4.extract_lane 3 (local.get $mn))))))
        (f64.store offset=32 (local.get $o) (f64.promote_f32
          (f32.max (f32.max (f32x4.extract_lane 0 (local.get $mx)) (f32x4.extract_lane 1 (local.get $mx)))
                   (f32.max (f32x4.extract_lane 2 (local.get $mx)) (f32x4.extract_lane 3 (local.get $mx))))))
        (f64.store offset=40 (local.get $o) (f64.convert_i32_u
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $z)) (i32x4.extract_lane 1 (local.get $z)))
            (i32.add (i32x4.extract_lane 2 (local.get $z)) (i32x4.extract_lane 3 (local.get $z))))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $blocks))))

;; Takes the non-zero int32 counts of top[from, to) (bucket numbers, multiples of 4): writes each one's
  ;; bucket number to idx and its count to cnt (int32, ascending), sets the counts to 0, and answers how
  ;; many. Four at a time: a group of four zero counts (most of them) costs one load and one test; inside
  ;; a non-zero group each entry is written, and the write position moves on only for a non-zero one.
  (func (export "sparse") (param $top i32) (param $from i32) (param $to i32) (param $idx i32) (param $cnt i32) (result i32)
    (local $p i32) (local $end i32) (local $b i32) (local $at i32) (local $c i32)
    (local.set $p (i32.add (local.get $top) (i32.shl (local.get $from) (i32.const 2))))
    (local.set $end (i32.add (local.get $top) (i32.shl (local.get $to) (i32.const 2))))
    (local.set $b (local.get $from))
    (local.set $at (i32.const 0))
    (block $done
      (loop $groups
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (if (v128.any_true (v128.load (local.get $p)))
          (then
            (local.set $c (i32.load (local.get $p)))
            (i32.store (i32.add (local.get $idx) (i32.shl (local.get $at) (i32.const 2))) (local.get $b))
            (i32.store (i32.add (local.get $cnt) (i32.shl (local.get $at) (i32.const 2))) (local.get $c))
            (local.set $at (i32.add (local.get $at) (i32.ne (local.get $c) (i32.const 0))))
            (local.set $c (i32.load offset=4 (local.get $p)))
            (i32.store (i32.add (local.get $idx) (i32.shl (local.get $at) (i32.const 2))) (i32.add (local.get $b) (i32.const 1)))
            (i32.store (i32.add (local.get $cnt) (i32.shl (local.get $at) (i32.const 2))) (local.get $c))
            (local.set $at (i32.add (local.get $at) (i32.ne (local.get $c) (i32.const 0))))
            (local.set $c (i32.load offset=8 (local.get $p)))
            (i32.store (i32.add (local.get $idx) (i32.shl (local.get $at) (i32.const 2))) (i32.add (local.get $b) (i32.const 2)))
            (i32.store (i32.add (local.get $cnt) (i32.shl (local.get $at) (i32.const 2))) (local.get $c))
            (local.set $at (i32.add (local.get $at) (i32.ne (local.get $c) (i32.const 0))))
            (local.set $c (i32.load offset=12 (local.get $p)))
            (i32.store (i32.add (local.get $idx) (i32.shl (local.get $at) (i32.const 2))) (i32.add (local.get $b) (i32.const 3)))
            (i32.store (i32.add (local.get $cnt) (i32.shl (local.get $at) (i32.const 2))) (local.get $c))
            (local.set $at (i32.add (local.get $at) (i32.ne (local.get $c) (i32.const 0))))
            (v128.store (local.get $p) (v128.const i32x4 0 0 0 0))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br $groups)))
    (local.get $at))

  ;; Pass 2 over the n float32 at `data`, by the byte marks[bits >>> shift] of each value (0 for about
  ;; 98% of them): bit 0 set, the value is binned here (the histogram's own rule, HistogramBuilder.add:
  ;; bin floor((v - lo) scale), at most bins - 1, then moved down while v < edges[i] and up while
  ;; v >= edges[i + 1]; values outside [lo, hi] left out) by adding 1 to the int32 at bin + 4 i;
  ;; bit 1 set, its index k (int32, ascending) is written to idx. Answers how many indices. Four
  ;; values at a time, with one branch per four (rarely taken); inside it no branch per value for the
  ;; indices: each is written, and the write position moves on only for one to report.
  (func (export "marked") (param $data i32) (param $n i32) (param $marks i32) (param $idx i32) (param $shift i32)
    (param $edges i32) (param $bin i32) (param $bins i32) (param $lo f64) (param $hi f64) (param $scale f64) (result i32)
    (local $k i32) (local $at i32) (local $p i32) (local $quads i32)
    (local $m0 i32) (local $m1 i32) (local $m2 i32) (local $m3 i32)
    (local.set $k (i32.const 0))
    (local.set $at (local.get $idx))
    (local.set $p (local.get $data))
    (local.set $quads (i32.and (local.get $n) (i32.const -4)))
    (block $quadsDone
      (loop $quad
        (br_if $quadsDone (i32.ge_u (local.get $k) (local.get $quads)))
        (local.set $m0 (i32.load8_u (i32.add (local.get $marks) (i32.shr_u (i32.load (local.get $p)) (local.get $shift)))))
        (local.set $m1 (i32.load8_u (i32.add (local.get $marks) (i32.shr_u (i32.load offset=4 (local.get $p)) (local.get $shift)))))
        (local.set $m2 (i32.load8_u (i32.add (local.get $marks) (i32.shr_u (i32.load offset=8 (local.get $p)) (local.get $shift)))))
        (local.set $m3 (i32.load8_u (i32.add (local.get $marks) (i32.shr_u (i32.load offset=12 (local.get $p)) (local.get $shift)))))
        (if (i32.or (i32.or (local.get $m0) (local.get $m1)) (i32.or (local.get $m2) (local.get $m3)))
          (then
            (if (i32.and (i32.or (i32.or (local.get $m0) (local.get $m1)) (i32.or (local.get $m2) (local.get $m3))) (i32.const 1))
              (then
                (if (i32.and (local.get $m0) (i32.const 1))
                  (then (call $binOne (f32.load (local.get $p)) (local.get $edges) (local.get $bin) (local.get $bins) (local.get $lo) (local.get $hi) (local.get $scale))))
                (if (i32.and (local.get $m1) (i32.const 1))
                  (then (call $binOne (f32.load offset=4 (local.get $p)) (local.get $edges) (local.get $bin) (local.get $bins) (local.get $lo) (local.get $hi) (local.get $scale))))
                (if (i32.and (local.get $m2) (i32.const 1))
                  (then (call $binOne (f32.load offset=8 (local.get $p)) (local.get $edges) (local.get $bin) (local.get $bins) (local.get $lo) (local.get $hi) (local.get $scale))))
                (if (i32.and (local.get $m3) (i32.const 1))
                  (then (call $binOne (f32.load offset=12 (local.get $p)) (local.get $edges) (local.get $bin) (local.get $bins) (local.get $lo) (local.get $hi) (local.get $scale))))))
            (i32.store (local.get $at) (local.get $k))
            (local.set $at (i32.add (local.get $at) (i32.and (i32.shl (local.get $m0) (i32.const 1)) (i32.const 4))))
            (i32.store (local.get $at) (i32.add (local.get $k) (i32.const 1)))
            (local.set $at (i32.add (local.get $at) (i32.and (i32.shl (local.get $m1) (i32.const 1)) (i32.const 4))))
            (i32.store (local.get $at) (i32.add (local.get $k) (i32.const 2)))
            (local.set $at (i32.add (local.get $at) (i32.and (i32.shl (local.get $m2) (i32.const 1)) (i32.const 4))))
            (i32.store (local.get $at) (i32.add (local.get $k) (i32.const 3)))
            (local.set $at (i32.add (local.get $at) (i32.and (i32.shl (local.get $m3) (i32.const 1)) (i32.const 4))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $quad)))
    (block $done
      (loop $values
        (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
        (local.set $m0 (i32.load8_u (i32.add (local.get $marks) (i32.shr_u (i32.load (local.get $p)) (local.get $shift)))))
        (if (i32.and (local.get $m0) (i32.const 1))
          (then (call $binOne (f32.load (local.get $p)) (local.get $edges) (local.get $bin) (local.get $bins) (local.get $lo) (local.get $hi) (local.get $scale))))
        (i32.store (local.get $at) (local.get $k))
        (local.set $at (i32.add (local.get $at) (i32.and (i32.shl (local.get $m0) (i32.const 1)) (i32.const 4))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $values)))
    (i32.shr_u (i32.sub (local.get $at) (local.get $idx)) (i32.const 2)))

  ;; One value of pass 2 into the histogram at `bin` (int32 counts) with `bins` bins between the
  ;; float64 `edges`: see "marked".
  (func $binOne (param $x f32) (param $edges i32) (param $bin i32) (param $bins i32) (param $lo f64) (param $hi f64) (param $scale f64)
    (local $v f64) (local $i i32) (local $last i32) (local $a i32)
    (local.set $v (f64.promote_f32 (local.get $x)))
    (if (i32.eqz (i32.and (f64.ge (local.get $v) (local.get $lo)) (f64.le (local.get $v) (local.get $hi)))) (then (return)))
    (local.set $last (i32.sub (local.get $bins) (i32.const 1)))
    (local.set $i (i32.trunc_sat_f64_s (f64.floor (f64.mul (f64.sub (local.get $v) (local.get $lo)) (local.get $scale)))))
    (if (i32.gt_s (local.get $i) (local.get $last)) (then (local.set $i (local.get $last))))
    (block $downDone
      (loop $down
        (br_if $downDone (i32.le_s (local.get $i) (i32.const 0)))
        (br_if $downDone (f64.ge (local.get $v) (f64.load (i32.add (local.get $edges) (i32.shl (local.get $i) (i32.const 3))))))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br $down)))
    (block $upDone
      (loop $up
        (br_if $upDone (i32.ge_s (local.get $i) (local.get $last)))
        (br_if $upDone (f64.lt (local.get $v) (f64.load offset=8 (i32.add (local.get $edges) (i32.shl (local.get $i) (i32.const 3))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $up)))
    (local.set $a (i32.add (local.get $bin) (i32.shl (local.get $i) (i32.const 2))))
    (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1))))

  ;; Adds 1 to the int32 at t + 262144 j + 4 x for each 16-bit little-endian pattern x of the `n`
  ;; elements at `data` (n a multiple of 4), element k going to table j = k mod 4: four tables, so runs
  ;; of one pattern (a tensor's zeros) do not wait on one counter. Four elements per 8-byte load.
  (func (export "count16") (param $data i32) (param $n i32) (param $t i32)
    (local $p i32) (local $end i32) (local $w i64) (local $a i32)
    (local.set $p (local.get $data))
    (local.set $end (i32.add (local.get $data) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $w (i64.load (local.get $p)))
        (local.set $a (i32.add (local.get $t)
          (i32.shl (i32.and (i32.wrap_i64 (local.get $w)) (i32.const 0xffff)) (i32.const 2))))
        (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
        (local.set $a (i32.add (local.get $t)
          (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $w) (i64.const 16))) (i32.const 0xffff)) (i32.const 2))))
        (i32.store offset=262144 (local.get $a) (i32.add (i32.load offset=262144 (local.get $a)) (i32.const 1)))
        (local.set $a (i32.add (local.get $t)
          (i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get $w) (i64.const 32))) (i32.const 0xffff)) (i32.const 2))))
        (i32.store offset=524288 (local.get $a) (i32.add (i32.load offset=524288 (local.get $a)) (i32.const 1)))
        (local.set $a (i32.add (local.get $t)
          (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $w) (i64.const 48))) (i32.const 2))))
        (i32.store offset=786432 (local.get $a) (i32.add (i32.load offset=786432 (local.get $a)) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $quads))))
)
