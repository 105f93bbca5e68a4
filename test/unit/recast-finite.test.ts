import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstNonFinite } from '../../src/mimicry/recast/stream';
import { Random } from '../../src/mimicry/recast/random';

/** float32 values from their bit patterns. */
function fromBits(...bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

function plainFirstNonFinite(values: Float32Array): number {
  return values.findIndex((v) => !Number.isFinite(v));
}

test('firstNonFinite: every non-finite pattern at every position, against a Number.isFinite scan', () => {
  // NaN (quiet, signalling, negative, all ones), +Inf, -Inf.
  const specials = [0x7fc00000, 0x7f800001, 0xffc00000, 0xffffffff, 0x7f800000, 0xff800000];
  const rng = new Random(11);
  for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 13, 1001]) {
    const base = rng.normals(n, 3);
    assert.equal(firstNonFinite(base), -1, `n = ${n}, all finite`);
    for (let at = 0; at < n; at++) {
      const x = base.slice();
      new Uint32Array(x.buffer)[at] = specials[at % specials.length];
      // A second one later: the first is the one named.
      if (at + 3 < n) x[at + 3] = Number.POSITIVE_INFINITY;
      assert.equal(firstNonFinite(x), at, `n = ${n}, at ${at}`);
      assert.equal(firstNonFinite(x), plainFirstNonFinite(x));
    }
  }
  assert.equal(firstNonFinite(new Float32Array(0)), -1);
});

test('firstNonFinite: the largest, smallest and signed-zero finite values are finite; a view at an offset is read from its start', () => {
  // +-max float32, +-smallest subnormal, +-smallest normal, +0, -0, 1.
  const edge = fromBits(0x7f7fffff, 0xff7fffff, 0x00000001, 0x80000001, 0x00800000, 0x80800000, 0, 0x80000000, 0x3f800000);
  assert.equal(firstNonFinite(edge), -1);
  const backing = new Float32Array([Number.NaN, 1, 2, 3, 4, 5, Number.NEGATIVE_INFINITY]);
  assert.equal(firstNonFinite(backing.subarray(1, 6)), -1);
  assert.equal(firstNonFinite(backing.subarray(1)), 5);
});
