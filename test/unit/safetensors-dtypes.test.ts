// Decoders against hand-derived bit patterns, encoders at the tie cases, the fast and the
// portable (DataView) paths against each other, and optionally numpy as an independent check.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import {
  ALL_DTYPES,
  DTYPES,
  byteLengthOf,
  decode,
  decodePortable,
  encodeBF16,
  encodeF16,
  encodeF32,
  encodeF64,
  isDecodable,
  isDType,
  numberToBF16Bits,
  numberToF16Bits,
  f16BitsToNumber,
  bf16BitsToNumber,
  f8e4m3BitsToNumber,
  f8e5m2BitsToNumber,
} from '../../src/mimicry/safetensors/dtypes';
import type { DType } from '../../src/mimicry/safetensors/types';
import { bytesOf } from './helpers/safetensors-craft';

/** Little-endian bytes of 16-bit patterns. */
function u16le(...bits: number[]): Uint8Array {
  const out = new Uint8Array(bits.length * 2);
  bits.forEach((b, i) => new DataView(out.buffer).setUint16(2 * i, b, true));
  return out;
}
function u16sOf(bytes: Uint8Array): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.byteLength / 2 }, (_, i) => dv.getUint16(2 * i, true));
}
/** Compare with Object.is per element, so -0 and NaN are checked too. */
function sameValues(actual: ArrayLike<number>, expected: readonly number[]): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.ok(Object.is(actual[i], expected[i]), `[${i}]: ${actual[i]} !== ${expected[i]}`);
}
function both(dtype: DType, bytes: Uint8Array, expected: readonly number[]): void {
  sameValues(decode(dtype, bytes), expected);
  sameValues(decodePortable(dtype, bytes), expected);
}

describe('dtype table', () => {
  test('lists every dtype of the reference with its bits', () => {
    const bits = Object.fromEntries(ALL_DTYPES.map((d) => [d, DTYPES[d].bits]));
    assert.deepEqual(bits, {
      BOOL: 8,
      F4: 4,
      F6_E2M3: 6,
      F6_E3M2: 6,
      U8: 8,
      I8: 8,
      F8_E5M2: 8,
      F8_E4M3: 8,
      F8_E8M0: 8,
      I16: 16,
      U16: 16,
      F16: 16,
      BF16: 16,
      I32: 32,
      U32: 32,
      F32: 32,
      C64: 64,
      F64: 64,
      I64: 64,
      U64: 64,
    });
  });

  test('marks F8_E8M0, F4, F6_* and C64 as not decoded, everything else as decoded', () => {
    assert.deepEqual(
      ALL_DTYPES.filter((d) => !isDecodable(d)),
      ['F4', 'F6_E2M3', 'F6_E3M2', 'F8_E8M0', 'C64'],
    );
    for (const d of ALL_DTYPES.filter((x) => !isDecodable(x))) assert.throws(() => decode(d, new Uint8Array(8)), TypeError);
  });

  test('isDType and byteLengthOf', () => {
    assert.equal(isDType('BF16'), true);
    assert.equal(isDType('bf16'), false);
    assert.equal(isDType('toString'), false);
    assert.equal(byteLengthOf('F4', 6), 3);
    assert.equal(byteLengthOf('F4', 3), undefined);
    assert.equal(byteLengthOf('F6_E3M2', 4), 3);
    assert.equal(byteLengthOf('F6_E3M2', 2), undefined);
    assert.equal(byteLengthOf('C64', 3), 24);
    assert.equal(byteLengthOf('F64', 2 ** 51), undefined); // 2^57 bits: beyond exact integers
  });

  test('refuses a byte count that is not a whole number of elements', () => {
    assert.throws(() => decode('F32', new Uint8Array(6)), RangeError);
    assert.throws(() => decode('BF16', new Uint8Array(3)), RangeError);
  });
});

describe('decoders (hand-derived bit patterns)', () => {
  test('BF16', () => {
    both('BF16', u16le(0x3f80, 0xc000, 0x0000, 0x8000, 0x7f80, 0xff80, 0x4049, 0x0001, 0x7f7f), [
      1,
      -2,
      0,
      -0,
      Infinity,
      -Infinity,
      3.140625,
      2 ** -133,
      3.3895313892515355e38,
    ]);
    assert.ok(Number.isNaN(decode('BF16', u16le(0x7fc0))[0]));
    assert.ok(Number.isNaN(decode('BF16', u16le(0xff81))[0]));
    assert.equal(bf16BitsToNumber(0x3f80), 1);
  });

  test('F16', () => {
    both('F16', u16le(0x3c00, 0x7c00, 0xfc00, 0x0001, 0x03ff, 0x0400, 0x7bff, 0xc000, 0x8000, 0x3555, 0x3800), [
      1,
      Infinity,
      -Infinity,
      2 ** -24,
      1023 * 2 ** -24,
      2 ** -14,
      65504,
      -2,
      -0,
      0.333251953125,
      0.5,
    ]);
    for (const nan of [0x7e00, 0x7c01, 0xfe00, 0xffff]) assert.ok(Number.isNaN(decode('F16', u16le(nan))[0]));
    assert.equal(f16BitsToNumber(0x0001), 2 ** -24);
  });

  test('F8_E4M3 (fn: no infinities, 0x7F/0xFF NaN, bias 7, subnormals)', () => {
    both('F8_E4M3', new Uint8Array([0x38, 0x7e, 0x01, 0x07, 0x08, 0xb8, 0x80, 0xfe, 0x00, 0x78]), [
      1,
      448,
      2 ** -9,
      7 * 2 ** -9,
      2 ** -6,
      -1,
      -0,
      -448,
      0,
      256,
    ]);
    assert.ok(Number.isNaN(decode('F8_E4M3', new Uint8Array([0x7f]))[0]));
    assert.ok(Number.isNaN(decode('F8_E4M3', new Uint8Array([0xff]))[0]));
    for (let b = 0; b < 256; b++) assert.ok(Number.isFinite(f8e4m3BitsToNumber(b)) || (b & 0x7f) === 0x7f, `0x${b.toString(16)}`);
  });

  test('F8_E5M2 (bias 15, infinities)', () => {
    both('F8_E5M2', new Uint8Array([0x3c, 0x7c, 0xfc, 0x01, 0x7b, 0xc0, 0x04]), [1, Infinity, -Infinity, 2 ** -16, 57344, -2, 2 ** -14]);
    for (const nan of [0x7d, 0x7e, 0x7f, 0xff]) assert.ok(Number.isNaN(f8e5m2BitsToNumber(nan)));
  });

  test('integers at their extremes', () => {
    both('U8', new Uint8Array([0, 255, 7]), [0, 255, 7]);
    both('I8', new Uint8Array([0x80, 0x7f, 0xff]), [-128, 127, -1]);
    both('BOOL', new Uint8Array([0, 1, 2, 255]), [0, 1, 1, 1]);
    both('I16', u16le(0x8000, 0x7fff, 0xffff), [-32768, 32767, -1]);
    both('U16', u16le(0xffff, 0), [65535, 0]);
    const i32 = new Uint8Array(12);
    const dv32 = new DataView(i32.buffer);
    dv32.setInt32(0, -(2 ** 31), true);
    dv32.setInt32(4, 2 ** 31 - 1, true);
    dv32.setInt32(8, 16777217, true); // 2^24 + 1: exact only in float64
    both('I32', i32, [-(2 ** 31), 2 ** 31 - 1, 16777217]);
    both('U32', new Uint8Array([255, 255, 255, 255, 1, 0, 0, 1]), [2 ** 32 - 1, 2 ** 24 + 1]);
    assert.ok(decode('I32', i32) instanceof Float64Array);
  });

  test('64-bit integers become float64: exact to 2^53, rounded to nearest beyond', () => {
    const i64 = (...v: bigint[]): Uint8Array => bytesOf(BigInt64Array.from(v));
    both('I64', i64(-(2n ** 63n), 2n ** 63n - 1n, -1n, 2n ** 53n - 1n, 2n ** 53n + 1n, 2n ** 53n + 3n, -(2n ** 53n) - 1n), [
      -(2 ** 63),
      2 ** 63,
      -1,
      2 ** 53 - 1,
      2 ** 53,
      2 ** 53 + 4,
      -(2 ** 53),
    ]);
    const u64 = bytesOf(BigUint64Array.from([2n ** 64n - 1n, 0n, 2n ** 32n + 5n]));
    both('U64', u64, [2 ** 64, 0, 2 ** 32 + 5]);
    // Against Number(BigInt) (also round to nearest) on random patterns.
    fc.assert(
      fc.property(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), (v) => {
        sameValues(decode('I64', i64(v)), [Number(v)]);
        sameValues(decodePortable('I64', i64(v)), [Number(v)]);
      }),
      { numRuns: 300 },
    );
  });

  test('F32 and F64 from aligned and unaligned bytes', () => {
    const values = [1.5, -0, Infinity, 3.4028234663852886e38, 2 ** -149];
    const f32 = bytesOf(Float32Array.from(values));
    const shifted = new Uint8Array(f32.byteLength + 1);
    shifted.set(f32, 1);
    sameValues(decode('F32', f32), values);
    sameValues(decode('F32', shifted.subarray(1)), values);
    sameValues(decodePortable('F32', shifted.subarray(1)), values);
    const f64 = bytesOf(Float64Array.from([Math.PI, -1e300, 5e-324]));
    const s64 = new Uint8Array(f64.byteLength + 3);
    s64.set(f64, 3);
    sameValues(decode('F64', s64.subarray(3)), [Math.PI, -1e300, 5e-324]);
  });

  test('fast and portable paths agree on random bytes for every decoded dtype, at any offset', () => {
    const decodable = ALL_DTYPES.filter(isDecodable);
    fc.assert(
      fc.property(fc.constantFrom(...decodable), fc.uint8Array({ maxLength: 64 }), fc.nat(7), (dtype, raw, shift) => {
        const size = DTYPES[dtype].bits / 8;
        const n = raw.length - (raw.length % size);
        const buf = new Uint8Array(n + shift);
        buf.set(raw.subarray(0, n), shift);
        const bytes = buf.subarray(shift);
        const a = decode(dtype, bytes);
        const b = decodePortable(dtype, bytes);
        assert.equal(a.constructor, b.constructor);
        sameValues(a, Array.from(b));
      }),
      { numRuns: 400 },
    );
  });
});

describe('encoders (round to nearest, ties to even)', () => {
  test('BF16 ties and specials', () => {
    const f = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0];
    const cases: Array<[number, number]> = [
      [f(0x3f808000), 0x3f80], // exactly halfway, 0x3F80 is even: down
      [f(0x3f818000), 0x3f82], // exactly halfway, 0x3F81 is odd: up
      [f(0x3f808001), 0x3f81], // above halfway
      [f(0x3f807fff), 0x3f80], // below halfway
      [f(0x7f7f8000), 0x7f80], // halfway between max and the next (odd) step: up to +Inf
      [f(0x7f7f7fff), 0x7f7f],
      [f(0x00008000), 0x0000], // subnormal tie: even
      [f(0x00018000), 0x0002],
      [1, 0x3f80],
      [-2, 0xc000],
      [-0, 0x8000],
      [Infinity, 0x7f80],
      [-Infinity, 0xff80],
      [NaN, 0x7fc0],
      [-NaN, 0x7fc0], // JS has a single NaN value; -NaN is NaN
      [1e39, 0x7f80], // beyond float32, rounds to infinity
      [1e-50, 0x0000],
    ];
    for (const [x, bits] of cases) {
      assert.equal(numberToBF16Bits(x), bits, `${x}`);
      assert.deepEqual(u16sOf(encodeBF16([x])), [bits], `${x} (array)`);
    }
    assert.deepEqual(
      u16sOf(encodeBF16(Float32Array.from(cases.map((c) => c[0])))),
      cases.map((c) => c[1]),
    );
    assert.deepEqual(u16sOf(encodeBF16(new Float32Array(new Uint32Array([0xffc00001]).buffer))), [0xffc0]); // negative NaN keeps its sign
  });

  test('BF16 rounds float64 values directly, not through float32 (no double rounding)', () => {
    const x = 1 + 2 ** -8 + 2 ** -30; // just above the tie; via float32 it would become the tie and round down
    assert.equal(Math.fround(x), 1 + 2 ** -8);
    assert.equal(numberToBF16Bits(x), 0x3f81);
    assert.deepEqual(u16sOf(encodeBF16(Float64Array.of(x))), [0x3f81]);
  });

  test('F16 ties and specials', () => {
    const cases: Array<[number, number]> = [
      [1 + 2 ** -11, 0x3c00], // halfway, even: down
      [1 + 3 * 2 ** -11, 0x3c02], // halfway, odd: up
      [1 + 2 ** -11 + 2 ** -40, 0x3c01],
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00], // halfway between max and 2^16: up to infinity
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // halfway between 0 and the smallest subnormal: even (0)
      [3 * 2 ** -25, 0x0002],
      [2 ** -25 + 2 ** -40, 0x0001],
      [2 ** -14, 0x0400],
      [2 ** -14 - 2 ** -25, 0x0400], // largest subnormal + half step rounds up to the smallest normal
      [-2, 0xc000],
      [-0, 0x8000],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [NaN, 0x7e00],
      [1 / 3, 0x3555],
    ];
    for (const [x, bits] of cases) assert.equal(numberToF16Bits(x), bits, `${x}`);
    assert.deepEqual(
      u16sOf(encodeF16(cases.map((c) => c[0]))),
      cases.map((c) => c[1]),
    );
  });

  test('F16 and BF16 encoders invert the decoders on every finite pattern', () => {
    for (let bits = 0; bits < 65536; bits++) {
      const h = f16BitsToNumber(bits);
      if (!Number.isNaN(h)) assert.equal(numberToF16Bits(h), bits);
      const b = bf16BitsToNumber(bits);
      if (!Number.isNaN(b)) assert.equal(numberToBF16Bits(b), bits);
    }
  });

  test('BF16: the float32 bit trick and the float64 path agree on random float32 values', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (x) => {
        assert.deepEqual(encodeBF16(Float32Array.of(x)), encodeBF16([x]));
      }),
      { numRuns: 2000 },
    );
  });

  test('encoders round-trip through the decoders within half a unit in the last place', () => {
    fc.assert(
      fc.property(fc.double({ min: -60000, max: 60000, noNaN: true }), (x) => {
        const h = decode('F16', encodeF16([x]))[0];
        const ulp = Math.max(2 ** (Math.floor(Math.log2(Math.abs(x) || 2 ** -14)) - 10), 2 ** -24);
        assert.ok(Math.abs(h - x) <= ulp / 2, `${x} -> ${h}`);
      }),
      { numRuns: 1000 },
    );
  });

  test('F32 and F64 encoders are little-endian and exact', () => {
    assert.deepEqual([...encodeF32([1, -2])], [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    assert.deepEqual([...encodeF64([1])], [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    sameValues(decode('F32', encodeF32([0.1, NaN, -Infinity])), [Math.fround(0.1), NaN, -Infinity]);
    sameValues(decode('F64', encodeF64([0.1, -0])), [0.1, -0]);
  });
});

describe('cross-check against numpy (independent implementation)', () => {
  const numpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  const skip = numpy.status === 0 ? false : 'python3 with numpy is not available here';

  test('F16 decoding of all 65536 patterns and F16 encoding of random float64s', { skip }, () => {
    const all = u16le(...Array.from({ length: 65536 }, (_, i) => i));
    const xs = fc.sample(fc.double({ min: -70000, max: 70000, noNaN: true }), { numRuns: 3000, seed: 42 });
    xs.push(65520, 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11);
    const script = [
      'import sys, numpy as np',
      'data = sys.stdin.buffer.read()',
      'h = np.frombuffer(data[:131072], dtype="<f2").astype("<f4")',
      'x = np.frombuffer(data[131072:], dtype="<f8").astype("<f2")',
      'sys.stdout.buffer.write(h.tobytes() + x.tobytes())',
    ].join('\n');
    const input = new Uint8Array(all.byteLength + xs.length * 8);
    input.set(all);
    input.set(encodeF64(xs), all.byteLength);
    const r = spawnSync('python3', ['-c', script], { input, maxBuffer: 1 << 24 });
    assert.equal(r.status, 0, r.stderr?.toString());
    const out = new Uint8Array(r.stdout);
    // Values compared (NaN as NaN: numpy keeps NaN payloads, a JS number cannot).
    sameValues(decode('F16', all), Array.from(new Float32Array(out.slice(0, 65536 * 4).buffer)));
    assert.deepEqual(encodeF16(xs), out.subarray(65536 * 4));
  });
});
