// Pure parsing and validation of a safetensors header, rule for rule as the reference
// implementation (huggingface/safetensors, safetensors/src/tensor.rs) plus duplicate-key and
// nesting checks that JSON.parse does not do. No I/O here: the reader feeds the bytes.
//
// The header is untrusted and up to 100 MB, so it is never handed to JSON.parse: JSON.parse builds
// every value before anything can be checked (100 MB of `[],` is tens of millions of arrays, tens
// of seconds and gigabytes; 20 MB of `[` took 6 s and 1 GB to be refused). Instead, two linear
// passes over the bytes:
// 1. scanJsonBytes: the JSON grammar, the nesting depth and duplicate keys, building nothing per
//    value (keys are compared as bytes where they stand); it stops at the first problem, so a deep
//    header fails at its 129th bracket.
// 2. JsonReader walks the checked bytes and builds only what the format defines (names, dtype,
//    shape, data_offsets, metadata strings), entry by entry, stopping at the first bad one;
//    anything else, such as unknown fields of an entry, is skipped without being built.

import { isUtf8 } from 'node:buffer';
import { SafetensorsError } from './errors';
import { DTYPES, isDType } from './dtypes';
import { RecentShapes } from './recentShapes';
import type { DType, SafetensorsHeader, TensorInfo } from './types';

/** The reference refuses headers over 100 MB (MAX_HEADER_SIZE). */
export const MAX_HEADER_SIZE = 100_000_000;
/** serde_json's default recursion limit; a real header nests 3 levels. */
export const MAX_JSON_DEPTH = 128;
/** No framework loads more dimensions (numpy 64, PyTorch fewer); far more is a hostile header. */
export const MAX_DIMENSIONS = 1024;
export const METADATA_KEY = '__metadata__';
const METADATA_KEY_BYTES = new TextEncoder().encode(METADATA_KEY);
const DTYPE_KEY = new TextEncoder().encode('dtype');
const SHAPE_KEY = new TextEncoder().encode('shape');
const OFFSETS_KEY = new TextEncoder().encode('data_offsets');

/**
 * Header length N from the first 8 bytes (u64 little-endian), checked against the limit and the
 * file size before anything is allocated for the header.
 */
export function readHeaderLength(file: string, fileBytes: number, prefix: Uint8Array): number {
  if (fileBytes < 8 || prefix.byteLength < 8) {
    throw new SafetensorsError(file, 'file-too-small', `${fileBytes} bytes`);
  }
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER_SIZE) {
    const n = (BigInt(hi) << 32n) | BigInt(lo);
    throw new SafetensorsError(file, 'header-too-large', `header length ${n}`);
  }
  if (8 + lo > fileBytes) {
    throw new SafetensorsError(file, 'header-past-end', `header length ${lo}, file ${fileBytes} bytes`);
  }
  return lo;
}

// --- pass 1: the JSON grammar, depth and duplicate keys, over UTF-8 bytes -------------------------

export interface JsonProblem {
  readonly ok: false;
  readonly problem: 'not-json' | 'too-deep' | 'duplicate-key';
  readonly detail: string;
}

export type JsonCheck = { readonly ok: true; readonly value: unknown } | JsonProblem;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** A byte for a message: the character when it is printable ASCII, its code otherwise. */
function describeByte(c: number): string {
  return c > 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** The string a JSON string token [start, end) stands for (the bytes are known to be valid). */
function decodeString(b: Uint8Array, start: number, end: number, escaped: boolean): string {
  if (escaped) return JSON.parse(utf8.decode(b.subarray(start, end))) as string;
  const len = end - start - 2;
  if (len <= 32) {
    // Short ASCII (most names and every field name) without a decoder call.
    let ascii = true;
    for (let k = start + 1; k < end - 1; k++) if (b[k] >= 0x80) ascii = false;
    if (ascii) return String.fromCharCode.apply(null, b.subarray(start + 1, end - 1) as unknown as number[]);
  }
  return utf8.decode(b.subarray(start + 1, end - 1));
}

/**
 * A string as bytes that are equal exactly when the strings are: UTF-8, with a lone surrogate (a
 * key can hold one through a \u escape) encoded as its own three bytes (WTF-8). For well-formed
 * text this is plain UTF-8, so an unescaped key's bytes compare as they are.
 */
function wtf8(s: string): Uint8Array {
  const out: number[] = [];
  for (let k = 0; k < s.length; k++) {
    let c = s.charCodeAt(k);
    if (c >= 0xd800 && c <= 0xdbff && k + 1 < s.length) {
      const d = s.charCodeAt(k + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        k++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

/** Per process, so no header can be made of keys that all fall in one slot. */
const HASH_SEED = (Math.random() * 2 ** 32) >>> 0;

function hashBytes(b: Uint8Array, from: number, to: number): number {
  let h = HASH_SEED ^ 0x811c9dc5;
  for (let k = from; k < to; k++) h = Math.imul(h ^ b[k], 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Objects with up to this many keys compare each new key with the others; bigger ones hash. */
const FEW_KEYS = 8;
const SMALL_TABLE = 32;

/**
 * The keys of one open object, for the duplicate check, held as positions in the text (no string
 * per key). A reference is one more than the position of an unescaped key's first byte (it ends at
 * the next quote), or minus one minus the index of an escaped key's WTF-8 bytes. The first few
 * keys are compared directly (a tensor entry has three); past that, an open-addressing table of
 * (reference, hash) pairs. Reused from object to object at the same depth.
 */
class KeySet {
  private readonly few = new Int32Array(FEW_KEYS);
  private table: Int32Array | undefined;
  private count = 0;
  private readonly escaped: Uint8Array[] = [];

  constructor(private readonly b: Uint8Array) {}

  reset(): void {
    this.count = 0;
    this.table = undefined;
    if (this.escaped.length > 0) this.escaped.length = 0;
  }

  /** Is the key referred to by `ref` equal to bytes [from, to) of `bytes`? */
  private equals(ref: number, bytes: Uint8Array, from: number, to: number): boolean {
    const len = to - from;
    if (ref < 0) {
      const other = this.escaped[-ref - 1];
      if (other.length !== len) return false;
      for (let k = 0; k < len; k++) if (other[k] !== bytes[from + k]) return false;
      return true;
    }
    const b = this.b;
    const start = ref - 1;
    // An unescaped key holds no quote: it is as long as `len` when its quote comes right after.
    if (start + len >= b.length || b[start + len] !== QUOTE) return false;
    for (let k = 0; k < len; k++) if (b[start + k] !== bytes[from + k]) return false;
    return true;
  }

  /** Adds a key: bytes [from, to) of `bytes`, referred to by `ref`; false when it is already there. */
  private add(ref: number, bytes: Uint8Array, from: number, to: number): boolean {
    if (this.table === undefined) {
      const few = this.few;
      for (let k = 0; k < this.count; k++) if (this.equals(few[k], bytes, from, to)) return false;
      if (this.count < FEW_KEYS) {
        few[this.count++] = ref;
        return true;
      }
      this.table = new Int32Array(2 * SMALL_TABLE);
      for (let k = 0; k < this.count; k++) this.place(few[k], this.hashOf(few[k]));
    }
    const table = this.table;
    const mask = (table.length >> 1) - 1;
    const h = hashBytes(bytes, from, to);
    let slot = h & mask;
    for (;;) {
      const other = table[2 * slot];
      if (other === 0) break;
      if (table[2 * slot + 1] === h && this.equals(other, bytes, from, to)) return false;
      slot = (slot + 1) & mask;
    }
    table[2 * slot] = ref;
    table[2 * slot + 1] = h;
    if (++this.count * 2 > mask + 1) this.grow();
    return true;
  }

  /** The hash of a key already held, from its reference. */
  private hashOf(ref: number): number {
    if (ref < 0) {
      const key = this.escaped[-ref - 1];
      return hashBytes(key, 0, key.length);
    }
    let end = ref - 1;
    while (this.b[end] !== QUOTE) end++;
    return hashBytes(this.b, ref - 1, end);
  }

  private place(ref: number, h: number): void {
    const table = this.table as Int32Array;
    const mask = (table.length >> 1) - 1;
    let slot = h & mask;
    while (table[2 * slot] !== 0) slot = (slot + 1) & mask;
    table[2 * slot] = ref;
    table[2 * slot + 1] = h;
  }

  /** An unescaped key: the bytes [from, to) of the text, between its quotes. */
  addRaw(from: number, to: number): boolean {
    return this.add(from + 1, this.b, from, to);
  }

  /** An escaped key, as its WTF-8 bytes. */
  addEscaped(key: Uint8Array): boolean {
    this.escaped.push(key);
    if (this.add(-this.escaped.length, key, 0, key.length)) return true;
    this.escaped.pop();
    return false;
  }

  private grow(): void {
    const old = this.table as Int32Array;
    this.table = new Int32Array(old.length * 2);
    for (let s = 0; s < old.length; s += 2) if (old[s] !== 0) this.place(old[s], old[s + 1]);
  }
}

/** Set by scanString: whether the string just scanned holds an escape. */
let stringEscaped = false;

/** End (after the closing quote) of the string opening at `start`, or -1 - (where it fails). */
function scanString(b: Uint8Array, n: number, start: number): number {
  stringEscaped = false;
  let j = start + 1;
  for (;;) {
    if (j >= n) return -1 - n;
    const c = b[j];
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) {
      stringEscaped = true;
      const e = j + 1 < n ? b[j + 1] : -1;
      if (e === 0x75 /* u */) {
        for (let k = j + 2; k < j + 6; k++) if (k >= n || !isHex(b[k])) return -1 - Math.min(k, n);
        j += 6;
      } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        j += 2;
      } else {
        return -1 - Math.min(j + 1, n);
      }
    } else if (c < 0x20) {
      return -1 - j;
    } else {
      j++;
    }
  }
}

/** End of the number starting at `start`, or -1 - (where it fails). */
function scanNumber(b: Uint8Array, n: number, start: number): number {
  let j = start;
  if (b[j] === MINUS) j++;
  if (j < n && b[j] === 0x30) j++;
  else if (j < n && isDigit(b[j])) while (j < n && isDigit(b[j])) j++;
  else return -1 - j;
  if (j < n && b[j] === 0x2e /* . */) {
    j++;
    if (!(j < n && isDigit(b[j]))) return -1 - j;
    while (j < n && isDigit(b[j])) j++;
  }
  if (j < n && (b[j] === 0x65 || b[j] === 0x45) /* e E */) {
    j++;
    if (j < n && (b[j] === 0x2b || b[j] === MINUS)) j++;
    if (!(j < n && isDigit(b[j]))) return -1 - j;
    while (j < n && isDigit(b[j])) j++;
  }
  return j;
}

/** End of the literal `word` at `start`, or -1 - (where it fails). */
function scanLiteral(b: Uint8Array, n: number, start: number, word: string): number {
  for (let k = 0; k < word.length; k++) if (start + k >= n || b[start + k] !== word.charCodeAt(k)) return -1 - (start + k);
  return start + word.length;
}

function bytesEqual(a: Uint8Array, aFrom: number, aTo: number, b: Uint8Array): boolean {
  if (aTo - aFrom !== b.length) return false;
  for (let k = 0; k < b.length; k++) if (a[aFrom + k] !== b[k]) return false;
  return true;
}

const OBJECT_KIND = 1;
const ARRAY_KIND = 2;
/** Containers this shallow and this long get their end recorded, so pass 2 skips them at once. */
const RECORD_DEPTH = 3;
const RECORD_BYTES = 4096;

/** What one pass over a JSON text found. */
export interface JsonScan {
  /** The first problem, if any. */
  readonly problem: JsonProblem | undefined;
  /** Where the value of the top-level object's `rootKey` member begins, or -1. */
  readonly rootKeyAt: number;
  /** Ends of the long containers near the top (start -> end), for JsonReader. */
  readonly ends: ReadonlyMap<number, number>;
}

const EXPECT_VALUE = 0;
const EXPECT_KEY = 1;
const AFTER_VALUE = 2;

/**
 * One pass over `b` (valid UTF-8): is it one JSON text (RFC 8259, exactly what JSON.parse
 * accepts), nested at most MAX_JSON_DEPTH levels, with no key twice in any object? The first
 * problem found is returned; a deep or broken document stops at the byte where it goes wrong.
 * Nothing is built per value: keys are compared as bytes where they stand. With `rootKey` (UTF-8),
 * also finds where the value of that member of the top-level object begins.
 */
export function scanJsonBytes(b: Uint8Array, rootKey?: Uint8Array): JsonScan {
  const n = b.length;
  const kinds = new Uint8Array(MAX_JSON_DEPTH);
  const opens = new Int32Array(MAX_JSON_DEPTH);
  const keys: KeySet[] = [];
  const lastKey = new Int32Array(2 * MAX_JSON_DEPTH);
  const lastEscaped = new Uint8Array(MAX_JSON_DEPTH);
  const ends = new Map<number, number>();
  let rootKeyAt = -1;
  let depth = 0;
  let i = 0;
  let state = EXPECT_VALUE;

  // The helpers below capture only constants: a captured `let` would live in a context object,
  // and every access to it in the loop would be a memory load.
  const fail = (at: number): JsonScan => ({
    problem: {
      ok: false,
      problem: 'not-json',
      detail: at >= n ? `unexpected end of JSON at byte ${n}` : `unexpected ${describeByte(b[at])} at byte ${at}`,
    },
    rootKeyAt: -1,
    ends,
  });
  const duplicate = (depth: number): JsonScan => {
    const key = (d: number): string => decodeString(b, lastKey[2 * d], lastKey[2 * d + 1], lastEscaped[d] === 1);
    let path = '';
    for (let d = 0; d < depth - 1; d++) if (kinds[d] === OBJECT_KIND) path += `${JSON.stringify(key(d))}.`;
    const detail = `key ${path}${JSON.stringify(key(depth - 1))} appears twice`;
    return { problem: { ok: false, problem: 'duplicate-key', detail }, rootKeyAt: -1, ends };
  };

  for (;;) {
    while (i < n && isWs(b[i])) i++;
    if (state === EXPECT_KEY) {
      if (i >= n || b[i] !== QUOTE) return fail(i);
      const end = scanString(b, n, i);
      if (end < 0) return fail(-1 - end);
      const d = depth - 1;
      const escapedKey = stringEscaped ? wtf8(decodeString(b, i, end, true)) : undefined;
      lastKey[2 * d] = i;
      lastKey[2 * d + 1] = end;
      lastEscaped[d] = escapedKey ? 1 : 0;
      if (!(escapedKey ? keys[d].addEscaped(escapedKey) : keys[d].addRaw(i + 1, end - 1))) return duplicate(depth);
      const atRoot =
        d === 0 &&
        rootKey !== undefined &&
        (escapedKey ? bytesEqual(escapedKey, 0, escapedKey.length, rootKey) : bytesEqual(b, i + 1, end - 1, rootKey));
      i = end;
      while (i < n && isWs(b[i])) i++;
      if (i >= n || b[i] !== COLON) return fail(i);
      i++;
      if (atRoot) {
        while (i < n && isWs(b[i])) i++;
        rootKeyAt = i;
      }
      state = EXPECT_VALUE;
    } else if (state === EXPECT_VALUE) {
      if (i >= n) return fail(i);
      const c = b[i];
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (depth >= MAX_JSON_DEPTH) {
          return {
            problem: { ok: false, problem: 'too-deep', detail: `more than ${MAX_JSON_DEPTH} levels of nesting` },
            rootKeyAt: -1,
            ends,
          };
        }
        const isObject = c === OPEN_OBJECT;
        kinds[depth] = isObject ? OBJECT_KIND : ARRAY_KIND;
        opens[depth] = i;
        if (isObject) (keys[depth] ??= new KeySet(b)).reset();
        depth++;
        i++;
        state = isObject ? EXPECT_KEY : EXPECT_VALUE;
        while (i < n && isWs(b[i])) i++;
        if (i < n && b[i] === (isObject ? CLOSE_OBJECT : CLOSE_ARRAY)) state = AFTER_VALUE; // empty: closed below
      } else {
        let end: number;
        if (c === QUOTE) end = scanString(b, n, i);
        else if (c === MINUS || isDigit(c)) end = scanNumber(b, n, i);
        else if (c === 0x74) end = scanLiteral(b, n, i, 'true');
        else if (c === 0x66) end = scanLiteral(b, n, i, 'false');
        else if (c === 0x6e) end = scanLiteral(b, n, i, 'null');
        else return fail(i);
        if (end < 0) return fail(-1 - end);
        i = end;
        // The common case at once: the next element of an array follows right away.
        if (i < n && b[i] === COMMA && depth > 0 && kinds[depth - 1] === ARRAY_KIND) i++;
        else state = AFTER_VALUE;
      }
    } else {
      // A value ended (or a container is empty): a separator, a close, or the end of the text.
      if (depth === 0) return i === n ? { problem: undefined, rootKeyAt, ends } : fail(i);
      if (i >= n) return fail(i);
      const s = b[i];
      const kind = kinds[depth - 1];
      if (s === COMMA) {
        i++;
        state = kind === OBJECT_KIND ? EXPECT_KEY : EXPECT_VALUE;
      } else if ((s === CLOSE_OBJECT && kind === OBJECT_KIND) || (s === CLOSE_ARRAY && kind === ARRAY_KIND)) {
        depth--;
        i++;
        if (depth < RECORD_DEPTH && i - opens[depth] > RECORD_BYTES) ends.set(opens[depth], i);
      } else {
        return fail(i);
      }
    }
  }
}

/** The first problem of the JSON text `b` (valid UTF-8), if any; see scanJsonBytes. */
export function checkJsonBytes(b: Uint8Array): JsonProblem | undefined {
  return scanJsonBytes(b).problem;
}

const encoder = new TextEncoder();

/** Lone surrogates are written as \u escapes, so the text encodes to UTF-8 without loss. */
function wellFormed(text: string): string {
  return text.replace(
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    (s) => `\\u${s.charCodeAt(0).toString(16)}`,
  );
}

/**
 * JSON.parse plus what it does not check: duplicate keys in any object (JSON.parse silently keeps
 * the last) and nesting deeper than MAX_JSON_DEPTH. The structure is checked first, in one linear
 * pass, so a hostile text is refused before JSON.parse builds anything.
 */
export function parseJsonChecked(text: string): JsonCheck {
  const problem = checkJsonBytes(encoder.encode(wellFormed(text)));
  if (problem) return problem;
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    // Not expected (the check above is the grammar JSON.parse implements), but never a crash.
    return { ok: false, problem: 'not-json', detail: e instanceof Error ? e.message : String(e) };
  }
}

// --- pass 2: walking checked JSON ------------------------------------------------------------------

export type JsonType = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

/**
 * Reads values out of bytes that checkJsonBytes accepted: positions are byte offsets of a value's
 * first byte. Nothing is checked again and nothing is built that is not asked for.
 */
export class JsonReader {
  /** Whether the string last passed by stringEnd holds an escape. */
  lastEscaped = false;
  /** Where the array last read whole by numbers() ends. */
  lastEnd = -1;
  /** The same bytes as a Buffer: its native UTF-8 slice is the fastest way to a string. */
  private readonly buf: Buffer;
  constructor(
    readonly bytes: Uint8Array,
    /** Ends of long containers found by scanJsonBytes, to skip them without reading them again. */
    private readonly ends: ReadonlyMap<number, number> = new Map(),
  ) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  ws(i: number): number {
    const b = this.bytes;
    while (i < b.length && isWs(b[i])) i++;
    return i;
  }

  type(i: number): JsonType {
    const c = this.bytes[i];
    if (c === OPEN_OBJECT) return 'object';
    if (c === OPEN_ARRAY) return 'array';
    if (c === QUOTE) return 'string';
    if (c === 0x74 || c === 0x66) return 'boolean';
    if (c === 0x6e) return 'null';
    return 'number';
  }

  /** End (after the closing quote) of the string at `i`; sets lastEscaped. */
  stringEnd(i: number): number {
    const b = this.bytes;
    let escaped = false;
    let j = i + 1;
    for (;;) {
      const c = b[j];
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        j += 2;
      } else j++;
    }
    this.lastEscaped = escaped;
    return j + 1;
  }

  /** End (exclusive) of the value at `i`. */
  end(i: number): number {
    const b = this.bytes;
    const c = b[i];
    if (c === QUOTE) return this.stringEnd(i);
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const known = this.ends.get(i);
      if (known !== undefined) return known;
      let depth = 0;
      let j = i;
      for (;;) {
        const d = b[j];
        if (d === QUOTE) {
          j = this.stringEnd(j);
          continue;
        }
        if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
        else if ((d === CLOSE_OBJECT || d === CLOSE_ARRAY) && --depth === 0) return j + 1;
        j++;
      }
    }
    let j = i;
    while (j < b.length) {
      const d = b[j];
      if (d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY || isWs(d)) break;
      j++;
    }
    return j;
  }

  string(i: number): string {
    return this.stringAt(i, this.stringEnd(i), this.lastEscaped);
  }

  /** The string a string token [start, end) stands for. */
  stringAt(start: number, end: number, escaped: boolean): string {
    // Unescaped, the bytes between the quotes are the string's UTF-8 (checked before the scan).
    return escaped ? decodeString(this.bytes, start, end, true) : this.buf.toString('utf8', start + 1, end - 1);
  }

  /** Calls `fn(key, valueStart)` for each member of the object at `i`, in the order written. */
  members(i: number, fn: (key: string, value: number) => void): void {
    this.memberKeys(i, (from, to, escaped, value) => fn(this.stringAt(from, to, escaped), value));
  }

  /**
   * Up to `limit` elements of the array at `i` into out[0], out[1], ...: each number as Number()
   * reads its text, anything else as -1. Returns how many elements the array has, counted up to
   * limit + 1 (so a caller knows there are more without reading them); min(that, limit) were
   * written, and `out` is not shortened (a scratch array keeps its room: emptying one frees it, and
   * every write after allocates again). When the whole array was read, lastEnd is where it ends;
   * else -1.
   */
  numbers(i: number, limit: number, out: number[]): number {
    const b = this.bytes;
    this.lastEnd = -1;
    let j = this.ws(i + 1);
    if (b[j] === CLOSE_ARRAY) {
      this.lastEnd = j + 1;
      return 0;
    }
    for (let count = 0; ;) {
      if (count === limit) return count + 1;
      const c = b[j];
      let end: number;
      if (c === MINUS || isDigit(c)) {
        // The common case, plain digits, read where they stand.
        let v = 0;
        let k = j;
        while (k < b.length && isDigit(b[k]) && k - j < 15) v = v * 10 + (b[k++] - 0x30);
        const d = b[k];
        if (k > j && (k >= b.length || d === COMMA || d === CLOSE_ARRAY || isWs(d))) {
          out[count] = v;
          end = k;
        } else {
          end = this.end(j);
          out[count] = Number(utf8.decode(b.subarray(j, end)));
        }
      } else {
        out[count] = -1;
        end = this.end(j);
      }
      count++;
      j = this.ws(end);
      if (b[j] !== COMMA) {
        this.lastEnd = j + 1; // past the closing bracket
        return count;
      }
      j = this.ws(j + 1);
    }
  }

  /**
   * Calls `fn(keyStart, keyEnd, escaped, valueStart)` for each member of the object at `i`: the
   * key as the bounds of its token (quotes included), for callers that need not decode every key.
   */
  memberKeys(i: number, fn: (keyStart: number, keyEnd: number, escaped: boolean, value: number) => void): void {
    const b = this.bytes;
    let j = this.ws(i + 1);
    if (b[j] === CLOSE_OBJECT) return;
    for (;;) {
      const keyEnd = this.stringEnd(j);
      const value = this.ws(this.ws(keyEnd) + 1); // past the colon
      fn(j, keyEnd, this.lastEscaped, value);
      j = this.ws(this.end(value));
      if (b[j] !== COMMA) return;
      j = this.ws(j + 1);
    }
  }

  /** Whether the key token [start, end) stands for `word` (plain ASCII). */
  keyIs(start: number, end: number, escaped: boolean, word: Uint8Array): boolean {
    if (escaped) return decodeString(this.bytes, start, end, true) === utf8.decode(word);
    return bytesEqual(this.bytes, start + 1, end - 1, word);
  }

  /** The value at `i` as compact JSON text for a message, cut short past `max` characters. */
  text(i: number, max = 200): string {
    const end = this.end(i);
    if (end - i <= max * 4) {
      const compact = JSON.stringify(JSON.parse(utf8.decode(this.bytes.subarray(i, end))));
      if (compact.length <= max) return compact;
      return `${compact.slice(0, max - 1)}…`;
    }
    return `${utf8.decode(this.bytes.subarray(i, i + max - 1))}…`;
  }
}

/** How a JSON value's type reads in a message: as typeof would say it, and null as null. */
function typeWord(t: JsonType): string {
  return t === 'array' ? 'object' : t;
}

// --- the header ------------------------------------------------------------------------------------

function isOffset(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parse and validate a header. `headerBytes` holds (at least) the N header bytes that follow the
 * 8-byte length; `fileBytes` is the size of the whole file. Throws SafetensorsError naming the rule.
 */
export function parseHeader(file: string, fileBytes: number, headerBytes: Uint8Array, headerLength: number): SafetensorsHeader {
  if (fileBytes < 8) throw new SafetensorsError(file, 'file-too-small', `${fileBytes} bytes`);
  if (!Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > MAX_HEADER_SIZE) {
    throw new SafetensorsError(file, 'header-too-large', `header length ${headerLength}`);
  }
  if (8 + headerLength > fileBytes || headerBytes.byteLength < headerLength) {
    throw new SafetensorsError(file, 'header-past-end', `header length ${headerLength}, file ${fileBytes} bytes`);
  }
  const bytes = headerBytes.subarray(0, headerLength);
  if (!isUtf8(bytes)) throw new SafetensorsError(file, 'header-not-utf8');
  const { problem, rootKeyAt: metadataAt, ends } = scanJsonBytes(bytes, METADATA_KEY_BYTES);
  if (problem) {
    const rule = problem.problem === 'not-json' ? 'header-not-json' : problem.problem === 'too-deep' ? 'header-too-deep' : 'duplicate-key';
    throw new SafetensorsError(file, rule, problem.detail);
  }
  const json = new JsonReader(bytes, ends);
  const root = json.ws(0);
  const rootType = json.type(root);
  if (rootType !== 'object') {
    throw new SafetensorsError(file, 'header-not-object', `got ${rootType === 'array' ? 'an array' : rootType}`);
  }

  const dataStart = 8 + headerLength;
  const metadata = parseMetadata(file, json, metadataAt);
  // Each entry is built as it is reached, so a bad one stops the walk there.
  const tensors: TensorInfo[] = [];
  json.members(root, (name, value) => {
    if (name !== METADATA_KEY) tensors.push(parseEntry(file, name, json, value, dataStart));
  });

  // Contiguity, as the reference: sort by offsets, the first begins at 0, each where the last ended.
  // Writers put the entries in the order of their bytes, so the sort is usually not needed.
  if (!inOffsetOrder(tensors)) tensors.sort(byOffsets);
  let expected = 0;
  for (const t of tensors) {
    const begin = t.fileOffset - dataStart;
    const end = begin + t.bytes;
    if (begin !== expected) {
      const what =
        begin < expected
          ? `overlaps the previous tensor (begins at ${begin}, previous ends at ${expected})`
          : `leaves a gap (begins at ${begin}, expected ${expected})`;
      throw new SafetensorsError(file, 'offsets-not-contiguous', `tensor ${JSON.stringify(t.name)} ${what}`);
    }
    expected = end;
  }
  if (dataStart + expected !== fileBytes) {
    throw new SafetensorsError(
      file,
      'data-area-mismatch',
      `tensors end at data byte ${expected}, data area is ${fileBytes - dataStart} bytes`,
    );
  }
  return { file, fileBytes, headerLength, dataStart, metadata, tensors };
}

function byOffsets(a: TensorInfo, b: TensorInfo): number {
  // By data_offsets (begin, then end), then name; within one header the begin is fileOffset less the
  // same data start, and equal begins order their ends as their sizes.
  return a.fileOffset - b.fileOffset || a.bytes - b.bytes || (a.name < b.name ? -1 : 1);
}

function inOffsetOrder(tensors: readonly TensorInfo[]): boolean {
  for (let k = 1; k < tensors.length; k++) if (byOffsets(tensors[k - 1], tensors[k]) > 0) return false;
  return true;
}

function parseMetadata(file: string, json: JsonReader, at: number): Record<string, string> {
  // The reference reads it as Option<HashMap<String, String>>: absent and null both mean none.
  if (at < 0 || json.type(at) === 'null') return {};
  if (json.type(at) !== 'object') throw new SafetensorsError(file, 'invalid-metadata', 'not an object');
  // Null prototype while filling, so a "__proto__" key stays a key; the spread keeps it own.
  const out = Object.create(null) as Record<string, string>;
  json.members(at, (k, v) => {
    const t = json.type(v);
    if (t !== 'string') {
      throw new SafetensorsError(file, 'invalid-metadata', `value of ${JSON.stringify(k)} is ${typeWord(t)}, not a string`);
    }
    out[k] = json.string(v);
  });
  return { ...out };
}

/** Quoted dtype names as bytes, to find an entry's dtype without building a string. */
const DTYPE_NAMES: readonly { readonly dtype: DType; readonly bytes: Uint8Array }[] = (Object.keys(DTYPES) as DType[]).map((dtype) => ({
  dtype,
  bytes: new TextEncoder().encode(dtype),
}));

let lastDtype = DTYPE_NAMES[0];

/** The dtype a string token [start, end) names, or undefined when it names none. */
function dtypeOf(json: JsonReader, start: number, end: number, escaped: boolean): DType | undefined {
  if (escaped) {
    const s = json.stringAt(start, end, true);
    return isDType(s) ? s : undefined;
  }
  // Most headers hold one or two dtypes: the last one found is tried first.
  if (bytesEqual(json.bytes, start + 1, end - 1, lastDtype.bytes)) return lastDtype.dtype;
  for (const d of DTYPE_NAMES) {
    if (bytesEqual(json.bytes, start + 1, end - 1, d.bytes)) {
      lastDtype = d;
      return d.dtype;
    }
  }
  return undefined;
}

const dimsScratch: number[] = [];
const offsetsScratch: number[] = [];

/** Equal shapes of neighbouring entries are one frozen array. */
const recentShapes = new RecentShapes(16);

function parseEntry(file: string, name: string, json: JsonReader, at: number, dataStart: number): TensorInfo {
  const b = json.bytes;
  if (b[at] !== OPEN_OBJECT) throw new SafetensorsError(file, 'invalid-entry', `tensor ${JSON.stringify(name)} is not an object`);
  let dtype: DType | undefined;
  let dtypeAt = -1;
  let shapeAt = -1;
  let offsetsAt = -1;
  let dims: number[] | undefined;
  let rank = 0;
  const offsets = offsetsScratch;
  let offsetCount = 0;
  // Field names are compared where they stand: an entry may hold any number of unknown fields (no
  // key is there twice: the scan refused that). The three fields are read as they are passed.
  let j = json.ws(at + 1);
  if (b[j] !== CLOSE_OBJECT) {
    for (;;) {
      const keyEnd = json.stringEnd(j);
      const escaped = json.lastEscaped;
      const v = json.ws(json.ws(keyEnd) + 1); // past the colon
      let end = -1;
      if (json.keyIs(j, keyEnd, escaped, DTYPE_KEY)) {
        dtypeAt = v;
        if (b[v] === QUOTE) {
          end = json.stringEnd(v);
          dtype = dtypeOf(json, v, end, json.lastEscaped);
        }
      } else if (json.keyIs(j, keyEnd, escaped, SHAPE_KEY)) {
        shapeAt = v;
        if (b[v] === OPEN_ARRAY) {
          // One element past the limit is read, so a longer shape is refused without reading the rest.
          // Read into scratch (its first `rank` elements); the shape kept is recentShapes' own array.
          rank = Math.min(json.numbers(v, MAX_DIMENSIONS + 1, dimsScratch), MAX_DIMENSIONS + 1);
          dims = dimsScratch;
          end = json.lastEnd;
        }
      } else if (json.keyIs(j, keyEnd, escaped, OFFSETS_KEY)) {
        offsetsAt = v;
        if (b[v] === OPEN_ARRAY) {
          offsetCount = json.numbers(v, 3, offsets); // a third element is enough to refuse
          end = json.lastEnd;
        }
      }
      j = json.ws(end >= 0 ? end : json.end(v));
      if (b[j] !== COMMA) break;
      j = json.ws(j + 1);
    }
  }
  if (dtypeAt < 0 || shapeAt < 0 || offsetsAt < 0) {
    const missing = [dtypeAt < 0 && 'dtype', shapeAt < 0 && 'shape', offsetsAt < 0 && 'data_offsets'].filter(Boolean);
    throw new SafetensorsError(file, 'invalid-entry', `tensor ${JSON.stringify(name)} has no ${missing.join(', ')}`);
  }
  if (b[dtypeAt] !== QUOTE) throw new SafetensorsError(file, 'invalid-entry', `tensor ${JSON.stringify(name)}: dtype is not a string`);
  if (dims === undefined) throw new SafetensorsError(file, 'invalid-entry', `tensor ${JSON.stringify(name)}: shape is not a list`);
  if (b[offsetsAt] !== OPEN_ARRAY) {
    throw new SafetensorsError(file, 'invalid-entry', `tensor ${JSON.stringify(name)}: data_offsets is not a list`);
  }
  if (dtype === undefined) {
    const given = json.string(dtypeAt);
    throw new SafetensorsError(file, 'unknown-dtype', `tensor ${JSON.stringify(name)}: ${JSON.stringify(given)}`);
  }
  for (let k = 0; k < rank; k++) {
    if (!isOffset(dims[k]))
      throw new SafetensorsError(file, 'invalid-shape', `tensor ${JSON.stringify(name)}: shape ${json.text(shapeAt)}`);
    if (k === MAX_DIMENSIONS) {
      throw new SafetensorsError(file, 'too-many-dimensions', `tensor ${JSON.stringify(name)}: more than ${MAX_DIMENSIONS} dimensions`);
    }
  }
  const begin = offsets[0];
  const end = offsets[1];
  if (offsetCount !== 2 || !isOffset(begin) || !isOffset(end)) {
    throw new SafetensorsError(file, 'invalid-data-offsets', `tensor ${JSON.stringify(name)}: data_offsets ${json.text(offsetsAt)}`);
  }
  if (end < begin) throw new SafetensorsError(file, 'offsets-reversed', `tensor ${JSON.stringify(name)}: data_offsets [${begin}, ${end}]`);
  const params = elementCount(file, name, dims, rank);
  const bytes = byteSize(file, name, dtype, params);
  if (end - begin !== bytes) {
    throw new SafetensorsError(
      file,
      'size-mismatch',
      `tensor ${JSON.stringify(name)}: ${dtype} ${JSON.stringify(dims.slice(0, rank))} needs ${bytes} bytes, data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return new HeaderTensor(name, dtype, recentShapes.get(dims, 0, rank), params, bytes, file, dataStart + begin, dataStart);
}

/**
 * A tensor as its header lists it. Its data offsets are worked out when asked for: a pair kept per
 * tensor was 100,000 arrays for a 100,000-tensor header (0.47 -> 0.41 s of its cold parse here).
 */
class HeaderTensor implements TensorInfo {
  constructor(
    readonly name: string,
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly params: number,
    readonly bytes: number,
    readonly file: string,
    readonly fileOffset: number,
    /** 8 + N, where the file's data area begins. */
    private readonly dataStart: number,
  ) {}

  get dataOffsets(): readonly [number, number] {
    const begin = this.fileOffset - this.dataStart;
    return [begin, begin + this.bytes];
  }
}

/** Product of dims, refused as soon as a partial product passes 2^53 (the reference's checked_mul). */
function elementCount(file: string, name: string, dims: readonly number[], rank: number): number {
  let count = 1;
  for (let k = 0; k < rank; k++) {
    count *= dims[k];
    if (count > Number.MAX_SAFE_INTEGER) {
      const shape = JSON.stringify(dims.slice(0, rank));
      throw new SafetensorsError(file, 'element-count-overflow', `tensor ${JSON.stringify(name)}: shape ${shape}`);
    }
  }
  return count;
}

function byteSize(file: string, name: string, dtype: DType, count: number): number {
  const bits = count * DTYPES[dtype].bits;
  if (bits > Number.MAX_SAFE_INTEGER) {
    throw new SafetensorsError(file, 'element-count-overflow', `tensor ${JSON.stringify(name)}: ${count} elements of ${dtype}`);
  }
  if (bits % 8 !== 0) {
    throw new SafetensorsError(
      file,
      'misaligned-bits',
      `tensor ${JSON.stringify(name)}: ${count} elements of ${DTYPES[dtype].bits}-bit ${dtype}`,
    );
  }
  return bits / 8;
}
