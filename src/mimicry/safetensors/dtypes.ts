// Every safetensors dtype with its size, and fast little-endian decoders/encoders.
//
// Decoded output: Float64Array for F64, I64, U64, I32 and U32 (so 32-bit ints stay exact),
// Float32Array for the rest. I64/U64 become float64: exact up to 2^53 in magnitude, and beyond
// that rounded to the nearest float64 (never truncated). Decoders may return a view that shares
// memory with the input bytes (F32/F64 aligned on a little-endian host): copy before mutating.

import type { DType, DecodedValues } from './types';

export interface DTypeInfo {
  readonly dtype: DType;
  /** Bits per element (4 for F4, 6 for F6_*). */
  readonly bits: number;
  /** Whether `decode` turns it into numbers. */
  readonly decodable: boolean;
  readonly kind: 'float' | 'int' | 'uint' | 'bool' | 'complex';
  /** Decoded array type. */
  readonly output: 'f32' | 'f64' | 'none';
}

function info(dtype: DType, bits: number, kind: DTypeInfo['kind'], output: DTypeInfo['output']): DTypeInfo {
  return { dtype, bits, decodable: output !== 'none', kind, output };
}

/** The dtype table, in the reference implementation's order (increasing alignment). */
export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  BOOL: info('BOOL', 8, 'bool', 'f32'),
  F4: info('F4', 4, 'float', 'none'),
  F6_E2M3: info('F6_E2M3', 6, 'float', 'none'),
  F6_E3M2: info('F6_E3M2', 6, 'float', 'none'),
  U8: info('U8', 8, 'uint', 'f32'),
  I8: info('I8', 8, 'int', 'f32'),
  F8_E5M2: info('F8_E5M2', 8, 'float', 'f32'),
  F8_E4M3: info('F8_E4M3', 8, 'float', 'f32'),
  F8_E8M0: info('F8_E8M0', 8, 'float', 'none'),
  I16: info('I16', 16, 'int', 'f32'),
  U16: info('U16', 16, 'uint', 'f32'),
  F16: info('F16', 16, 'float', 'f32'),
  BF16: info('BF16', 16, 'float', 'f32'),
  I32: info('I32', 32, 'int', 'f64'),
  U32: info('U32', 32, 'uint', 'f64'),
  F32: info('F32', 32, 'float', 'f32'),
  C64: info('C64', 64, 'complex', 'none'),
  F64: info('F64', 64, 'float', 'f64'),
  I64: info('I64', 64, 'int', 'f64'),
  U64: info('U64', 64, 'uint', 'f64'),
};

export const ALL_DTYPES: readonly DType[] = Object.keys(DTYPES) as DType[];

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, value);
}

export function isDecodable(dtype: DType): boolean {
  return DTYPES[dtype].decodable;
}

/**
 * Bytes taken by `elements` elements, or undefined when bits*elements is not a whole number of
 * bytes (the reference's MisalignedSlice) or is beyond Number.MAX_SAFE_INTEGER.
 */
export function byteLengthOf(dtype: DType, elements: number): number | undefined {
  const bits = elements * DTYPES[dtype].bits;
  if (!Number.isSafeInteger(bits) || bits % 8 !== 0) return undefined;
  return bits / 8;
}

/** True when this machine stores numbers little-endian (typed-array views then match the file). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// Scalar decoders (bit patterns to numbers)

/** IEEE binary16. */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 0x1f) return man === 0 ? sign * Infinity : NaN;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** bfloat16: the top half of a float32. */
export function bf16BitsToNumber(b: number): number {
  scratchU32[0] = (b & 0xffff) << 16;
  return scratchF32[0];
}

/** F8_E4M3 "fn" (as in PyTorch float8_e4m3fn): bias 7, subnormals, no infinities, S.1111.111 is NaN. */
export function f8e4m3BitsToNumber(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >> 3) & 0xf;
  const man = b & 0x7;
  if (exp === 0xf && man === 0x7) return NaN;
  if (exp === 0) return sign * man * 2 ** -9;
  return sign * (1 + man / 8) * 2 ** (exp - 7);
}

/** F8_E5M2: bias 15, subnormals, infinities and NaNs like IEEE (the top byte of a binary16). */
export function f8e5m2BitsToNumber(b: number): number {
  return f16BitsToNumber((b & 0xff) << 8);
}

const scratchU32 = new Uint32Array(1);
const scratchF32 = new Float32Array(scratchU32.buffer);
const scratchF64 = new Float64Array(1);
const scratchF64Words = new Uint32Array(scratchF64.buffer);
const HI_WORD = HOST_LITTLE_ENDIAN ? 1 : 0;

// Lookup tables, built on first use (F16: 256 KiB).
let f16Table: Float32Array | undefined;
let e4m3Table: Float32Array | undefined;
let e5m2Table: Float32Array | undefined;

function table(size: number, fn: (bits: number) => number): Float32Array {
  const t = new Float32Array(size);
  for (let i = 0; i < size; i++) t[i] = fn(i);
  return t;
}

// ---------------------------------------------------------------------------------------------
// Array decoders

/** Element type view of `bytes`: zero-copy when aligned on a little-endian host, else a copy. */
function aligned<T>(bytes: Uint8Array, size: number, make: (buf: ArrayBufferLike, off: number, len: number) => T): T {
  const n = bytes.byteLength / size;
  if (bytes.byteOffset % size === 0) return make(bytes.buffer, bytes.byteOffset, n);
  const copy = bytes.slice();
  return make(copy.buffer, 0, n);
}

function elementCount(dtype: DType, bytes: Uint8Array): number {
  const size = DTYPES[dtype].bits / 8;
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  return bytes.byteLength / size;
}

/**
 * Decode little-endian bytes of `dtype` to numbers. Throws for dtypes that are not decodable
 * (check `isDecodable` first) and for a byte count that is not a whole number of elements.
 */
export function decode(dtype: DType, bytes: Uint8Array): DecodedValues {
  if (!DTYPES[dtype].decodable) throw new TypeError(`dtype ${dtype} is not decoded to numbers`);
  return HOST_LITTLE_ENDIAN ? decodeFast(dtype, bytes) : decodePortable(dtype, bytes);
}

/**
 * Decode into `out` (exactly as many elements as `bytes` holds), rounding to float32 where the
 * dtype is wider, so a caller can reuse one array. F32, F16 and BF16 decode in place; other
 * decodable dtypes go through decode().
 */
export function decodeFloat32Into(dtype: DType, bytes: Uint8Array, out: Float32Array): Float32Array {
  if (!DTYPES[dtype].decodable) throw new TypeError(`dtype ${dtype} is not decoded to numbers`);
  const n = elementCount(dtype, bytes);
  if (out.length !== n) throw new RangeError(`decodeFloat32Into: ${n} ${dtype} elements into an array of ${out.length}`);
  if (HOST_LITTLE_ENDIAN && dtype === 'BF16') {
    const src = aligned(bytes, 2, (b, o, l) => new Uint16Array(b, o, l));
    const outBits = new Uint32Array(out.buffer, out.byteOffset, n);
    for (let i = 0; i < n; i++) outBits[i] = src[i] << 16;
  } else if (HOST_LITTLE_ENDIAN && dtype === 'F16') {
    const src = aligned(bytes, 2, (b, o, l) => new Uint16Array(b, o, l));
    const t = (f16Table ??= table(65536, f16BitsToNumber));
    for (let i = 0; i < n; i++) out[i] = t[src[i]];
  } else if (HOST_LITTLE_ENDIAN && dtype === 'F32' && bytes.byteOffset % 4 === 0) {
    if (bytes.buffer !== out.buffer || bytes.byteOffset !== out.byteOffset) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
  } else {
    out.set(decode(dtype, bytes));
  }
  return out;
}

function decodeFast(dtype: DType, bytes: Uint8Array): DecodedValues {
  const n = elementCount(dtype, bytes);
  switch (dtype) {
    case 'F32':
      return aligned(bytes, 4, (b, o, l) => new Float32Array(b, o, l));
    case 'F64':
      return aligned(bytes, 8, (b, o, l) => new Float64Array(b, o, l));
    case 'BF16': {
      const src = aligned(bytes, 2, (b, o, l) => new Uint16Array(b, o, l));
      const out = new Float32Array(n);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) outBits[i] = src[i] << 16;
      return out;
    }
    case 'F16': {
      const src = aligned(bytes, 2, (b, o, l) => new Uint16Array(b, o, l));
      const t = (f16Table ??= table(65536, f16BitsToNumber));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = t[src[i]];
      return out;
    }
    case 'I16':
      return Float32Array.from(aligned(bytes, 2, (b, o, l) => new Int16Array(b, o, l)));
    case 'U16':
      return Float32Array.from(aligned(bytes, 2, (b, o, l) => new Uint16Array(b, o, l)));
    case 'I32':
      return Float64Array.from(aligned(bytes, 4, (b, o, l) => new Int32Array(b, o, l)));
    case 'U32':
      return Float64Array.from(aligned(bytes, 4, (b, o, l) => new Uint32Array(b, o, l)));
    case 'I64':
    case 'U64': {
      // hi * 2^32 and lo are exact doubles, so their sum is rounded once: correctly rounded.
      const words = aligned(bytes, 4, (b, o, l) => new Uint32Array(b, o, l));
      const out = new Float64Array(n);
      const signed = dtype === 'I64';
      for (let i = 0; i < n; i++) {
        const hi = signed ? words[2 * i + 1] | 0 : words[2 * i + 1];
        out[i] = hi * 4294967296 + words[2 * i];
      }
      return out;
    }
    default:
      return decodeBytewise(dtype, bytes);
  }
}

/** Endian-independent decoding through DataView; used on big-endian hosts, and in tests. */
export function decodePortable(dtype: DType, bytes: Uint8Array): DecodedValues {
  if (!DTYPES[dtype].decodable) throw new TypeError(`dtype ${dtype} is not decoded to numbers`);
  const n = elementCount(dtype, bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const f32 = (fn: (i: number) => number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = fn(i);
    return out;
  };
  const f64 = (fn: (i: number) => number): Float64Array => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = fn(i);
    return out;
  };
  switch (dtype) {
    case 'F32':
      return f32((i) => dv.getFloat32(4 * i, true));
    case 'F64':
      return f64((i) => dv.getFloat64(8 * i, true));
    case 'BF16': {
      // Through the bits (a native Uint32 view of the output), so NaN payloads survive as well.
      const out = new Float32Array(n);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) outBits[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'F16':
      return f32((i) => f16BitsToNumber(dv.getUint16(2 * i, true)));
    case 'I16':
      return f32((i) => dv.getInt16(2 * i, true));
    case 'U16':
      return f32((i) => dv.getUint16(2 * i, true));
    case 'I32':
      return f64((i) => dv.getInt32(4 * i, true));
    case 'U32':
      return f64((i) => dv.getUint32(4 * i, true));
    case 'I64':
      return f64((i) => dv.getInt32(8 * i + 4, true) * 4294967296 + dv.getUint32(8 * i, true));
    case 'U64':
      return f64((i) => dv.getUint32(8 * i + 4, true) * 4294967296 + dv.getUint32(8 * i, true));
    default:
      return decodeBytewise(dtype, bytes);
  }
}

/** One-byte dtypes: the same on every host. */
function decodeBytewise(dtype: DType, bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength;
  const out = new Float32Array(n);
  switch (dtype) {
    case 'U8':
      out.set(bytes);
      return out;
    case 'I8':
      out.set(new Int8Array(bytes.buffer, bytes.byteOffset, n));
      return out;
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = bytes[i] === 0 ? 0 : 1;
      return out;
    case 'F8_E4M3': {
      const t = (e4m3Table ??= table(256, f8e4m3BitsToNumber));
      for (let i = 0; i < n; i++) out[i] = t[bytes[i]];
      return out;
    }
    case 'F8_E5M2': {
      const t = (e5m2Table ??= table(256, f8e5m2BitsToNumber));
      for (let i = 0; i < n; i++) out[i] = t[bytes[i]];
      return out;
    }
    default:
      throw new TypeError(`dtype ${dtype} is not decoded to numbers`);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoders (numbers to little-endian bytes), round to nearest, ties to even, NaN/Inf preserved

/**
 * Round a float64 directly (no intermediate float32, which could round twice) to an IEEE-style
 * binary format with `expBits` exponent and `manBits` mantissa bits; returns the bit pattern.
 * Overflow goes to infinity, NaN to the quiet NaN with the sign kept.
 */
function roundToBits(x: number, expBits: number, manBits: number): number {
  const signBit = x < 0 || Object.is(x, -0) ? 1 << (expBits + manBits) : 0;
  const expMask = (1 << expBits) - 1;
  if (Number.isNaN(x)) return signBit | (expMask << manBits) | (1 << (manBits - 1));
  const a = Math.abs(x);
  const inf = signBit | (expMask << manBits);
  if (a === Infinity) return inf;
  if (a === 0) return signBit;
  const bias = (1 << (expBits - 1)) - 1;
  scratchF64[0] = a;
  const rawExp = (scratchF64Words[HI_WORD] >>> 20) & 0x7ff;
  if (rawExp === 0) return signBit; // float64 subnormal: far below every target's smallest value
  let e = Math.max(rawExp - 1023, 1 - bias);
  if (e > bias) return inf;
  // a / q is an exact power-of-two scaling; the integer part fits easily in 53 bits.
  const v = a * 2 ** (manBits - e);
  let m = Math.floor(v);
  const frac = v - m;
  if (frac > 0.5 || (frac === 0.5 && m % 2 === 1)) m += 1;
  const implicit = 1 << manBits;
  if (m === 2 * implicit) {
    m = implicit;
    e += 1;
    if (e > bias) return inf;
  }
  if (m < implicit) return signBit | m; // subnormal (only when e is the minimum exponent)
  return signBit | ((e + bias) << manBits) | (m - implicit);
}

/** float64 (or float32) value to the bit pattern of the nearest binary16, ties to even. */
export function numberToF16Bits(x: number): number {
  return roundToBits(x, 5, 10);
}

/** float64 (or float32) value to the bit pattern of the nearest bfloat16, ties to even. */
export function numberToBF16Bits(x: number): number {
  return roundToBits(x, 8, 7);
}

function u16Bytes(bits: Uint16Array): Uint8Array {
  if (!HOST_LITTLE_ENDIAN) {
    const out = new Uint8Array(bits.length * 2);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < bits.length; i++) dv.setUint16(2 * i, bits[i], true);
    return out;
  }
  return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
}

/** Values to little-endian float32 bytes (float64 inputs rounded to nearest even, as Math.fround). */
export function encodeF32(values: ArrayLike<number>): Uint8Array {
  const f = values instanceof Float32Array ? values : Float32Array.from(values);
  if (!HOST_LITTLE_ENDIAN) {
    const out = new Uint8Array(f.length * 4);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < f.length; i++) dv.setFloat32(4 * i, f[i], true);
    return out;
  }
  return new Uint8Array(f.buffer, f.byteOffset, f.byteLength).slice();
}

/**
 * The little-endian bytes of a Float32Array without copying on little-endian hosts: the result
 * shares memory with `values`, for writing a buffer that is about to be reused.
 */
export function f32Bytes(values: Float32Array): Uint8Array {
  return HOST_LITTLE_ENDIAN ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : encodeF32(values);
}

/** Values to little-endian float64 bytes. */
export function encodeF64(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat64(8 * i, values[i], true);
  return out;
}

/** Bits for `length` 16-bit values: in `out` (reused by the caller) when given and aligned, else new. */
function u16Out(length: number, out?: Uint8Array): Uint16Array {
  if (!out || !HOST_LITTLE_ENDIAN) return new Uint16Array(length);
  if (out.byteLength < 2 * length) throw new RangeError(`encode: ${out.byteLength} bytes cannot hold ${length} 16-bit values`);
  if (out.byteOffset % 2 !== 0) return new Uint16Array(length);
  return new Uint16Array(out.buffer, out.byteOffset, length);
}

/** Values to little-endian binary16 bytes (into `out` when given), rounded to nearest even directly from each value. */
export function encodeF16(values: ArrayLike<number>, out?: Uint8Array): Uint8Array {
  const bits = u16Out(values.length, out);
  for (let i = 0; i < values.length; i++) bits[i] = roundToBits(values[i], 5, 10);
  return u16Bytes(bits);
}

/** Values to little-endian bfloat16 bytes (into `out` when given), rounded to nearest even directly from each value. */
export function encodeBF16(values: ArrayLike<number>, out?: Uint8Array): Uint8Array {
  const bits = u16Out(values.length, out);
  if (values instanceof Float32Array) {
    // Exact float32 inputs: the classic bit trick (add 0x7FFF plus the lowest kept bit).
    const src = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < values.length; i++) {
      const u = src[i];
      bits[i] = (u & 0x7fffffff) > 0x7f800000 ? ((u >>> 16) & 0x8000) | 0x7fc0 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
    }
  } else {
    for (let i = 0; i < values.length; i++) bits[i] = roundToBits(values[i], 8, 7);
  }
  return u16Bytes(bits);
}

/** Values per step of roundFloat32To: the encoding goes through a buffer of this many 16-bit values. */
const ROUND_CHUNK = 1 << 16;

/**
 * float32 `values` rounded to F16 or BF16 (nearest, ties to even; beyond F16's range: infinity) and
 * decoded back into `out` (default: `values` itself, rounded in place): the float32 values a 16-bit
 * tensor of them holds, exactly. The encoding goes chunk by chunk through one small buffer, so
 * rounding a 7B-sized bank in place needs no second copy of it.
 */
export function roundFloat32To(dtype: 'F16' | 'BF16', values: Float32Array, out: Float32Array = values): Float32Array {
  if (out.length !== values.length) throw new RangeError(`roundFloat32To: ${values.length} values into an array of ${out.length}`);
  const bytes = new Uint8Array(2 * Math.min(ROUND_CHUNK, values.length));
  for (let at = 0; at < values.length; at += ROUND_CHUNK) {
    const end = Math.min(values.length, at + ROUND_CHUNK);
    const part = values.subarray(at, end);
    const into = bytes.subarray(0, 2 * (end - at));
    decodeFloat32Into(dtype, dtype === 'BF16' ? encodeBF16(part, into) : encodeF16(part, into), out.subarray(at, end));
  }
  return out;
}
