// Every validation rule of the header, each with a crafted file that breaks exactly that rule,
// and the quirks of real writers that must be accepted.
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { openCheckpoint, readHeader } from '../../src/mimicry/safetensors/reader';
import { parseHeader, readHeaderLength, parseJsonChecked, MAX_HEADER_SIZE } from '../../src/mimicry/safetensors/header';
import type { SafetensorsRule } from '../../src/mimicry/safetensors/errors';
import { craft, entry, tempDir, rejectsWithRule, throwsWithRule, openFdCount } from './helpers/safetensors-craft';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const f32 = (name: string, shape: number[], begin: number, end: number): Record<string, object> => ({
  [name]: entry('F32', shape, begin, end),
});

interface BadCase {
  readonly what: string;
  readonly rule: SafetensorsRule;
  readonly bytes: Uint8Array;
}

const nested = (depth: number): string => `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`;

const badCases: BadCase[] = [
  // first 8 bytes and header bounds
  { what: 'empty file', rule: 'file-too-small', bytes: new Uint8Array(0) },
  { what: '7-byte file', rule: 'file-too-small', bytes: new Uint8Array([2, 0, 0, 0, 0, 0, 0]) },
  { what: 'N = 100,000,001', rule: 'header-too-large', bytes: craft('{}', 0, { length: BigInt(MAX_HEADER_SIZE + 1) }) },
  { what: 'N = 2^64 - 1', rule: 'header-too-large', bytes: craft('{}', 0, { length: 2n ** 64n - 1n }) },
  { what: 'N = 2^32 (high word set)', rule: 'header-too-large', bytes: craft('{}', 0, { length: 2n ** 32n }) },
  { what: 'N past the end of the file', rule: 'header-past-end', bytes: craft('{}', 0, { length: 3n }) },
  { what: 'N = 100,000,000 in a tiny file', rule: 'header-past-end', bytes: craft('{}', 0, { length: BigInt(MAX_HEADER_SIZE) }) },
  // header text
  { what: 'invalid UTF-8 byte', rule: 'header-not-utf8', bytes: craft(new Uint8Array([0x7b, 0xff, 0x7d])) },
  {
    what: 'truncated UTF-8 sequence',
    rule: 'header-not-utf8',
    bytes: craft(new Uint8Array([0x7b, 0x22, 0xe2, 0x82, 0x22, 0x3a, 0x31, 0x7d])),
  },
  {
    what: 'UTF-16 surrogate encoded in UTF-8',
    rule: 'header-not-utf8',
    bytes: craft(new Uint8Array([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d])),
  },
  { what: 'not JSON', rule: 'header-not-json', bytes: craft('{not json}') },
  { what: 'empty header (N = 0)', rule: 'header-not-json', bytes: craft('') },
  { what: 'truncated JSON', rule: 'header-not-json', bytes: craft('{"a":') },
  { what: 'NUL padding instead of spaces', rule: 'header-not-json', bytes: craft(new Uint8Array([0x7b, 0x7d, 0, 0, 0, 0, 0, 0])) },
  { what: 'byte-order mark before the JSON', rule: 'header-not-json', bytes: craft(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])) },
  { what: '129 levels of nesting', rule: 'header-too-deep', bytes: craft(nested(128)) },
  { what: '100,000 nested arrays', rule: 'header-too-deep', bytes: craft(nested(100_000)) },
  { what: 'array at top level', rule: 'header-not-object', bytes: craft('[]') },
  { what: 'string at top level', rule: 'header-not-object', bytes: craft('"x"') },
  { what: 'null at top level', rule: 'header-not-object', bytes: craft('null') },
  { what: 'number at top level', rule: 'header-not-object', bytes: craft('42') },
  {
    what: 'duplicate tensor name',
    rule: 'duplicate-key',
    bytes: craft('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1),
  },
  {
    what: 'duplicate tensor name spelled with an escape',
    rule: 'duplicate-key',
    bytes: craft('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1),
  },
  {
    what: 'duplicate field inside an entry',
    rule: 'duplicate-key',
    bytes: craft('{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1),
  },
  {
    what: 'duplicate __metadata__',
    rule: 'duplicate-key',
    bytes: craft('{"__metadata__":{},"__metadata__":{"x":"y"}}'),
  },
  { what: 'duplicate metadata key', rule: 'duplicate-key', bytes: craft('{"__metadata__":{"k":"1","k":"2"}}') },
  // entries
  { what: 'entry is a number', rule: 'invalid-entry', bytes: craft({ a: 3 }) },
  { what: 'entry is an array', rule: 'invalid-entry', bytes: craft({ a: ['F32', [1], [0, 4]] }, 4) },
  { what: 'entry without dtype', rule: 'invalid-entry', bytes: craft({ a: { shape: [1], data_offsets: [0, 4] } }, 4) },
  { what: 'entry without shape', rule: 'invalid-entry', bytes: craft({ a: { dtype: 'F32', data_offsets: [0, 4] } }, 4) },
  { what: 'entry without data_offsets', rule: 'invalid-entry', bytes: craft({ a: { dtype: 'F32', shape: [1] } }, 4) },
  { what: 'dtype is a number', rule: 'invalid-entry', bytes: craft({ a: { dtype: 32, shape: [1], data_offsets: [0, 4] } }, 4) },
  { what: 'shape is a number', rule: 'invalid-entry', bytes: craft({ a: { dtype: 'F32', shape: 1, data_offsets: [0, 4] } }, 4) },
  {
    what: 'data_offsets is an object',
    rule: 'invalid-entry',
    bytes: craft({ a: { dtype: 'F32', shape: [1], data_offsets: { 0: 0 } } }, 4),
  },
  { what: 'unknown dtype', rule: 'unknown-dtype', bytes: craft({ a: entry('F128', [1], 0, 16) }, 16) },
  { what: 'dtype in lower case', rule: 'unknown-dtype', bytes: craft({ a: entry('f32', [1], 0, 4) }, 4) },
  { what: 'negative dim', rule: 'invalid-shape', bytes: craft(f32('a', [-1], 0, 4), 4) },
  { what: 'fractional dim', rule: 'invalid-shape', bytes: craft(f32('a', [1.5], 0, 4), 4) },
  { what: 'dim as a string', rule: 'invalid-shape', bytes: craft('{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}', 4) },
  { what: 'dim null', rule: 'invalid-shape', bytes: craft('{"a":{"dtype":"F32","shape":[null],"data_offsets":[0,4]}}', 4) },
  {
    what: 'dim beyond 2^53',
    rule: 'invalid-shape',
    bytes: craft('{"a":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,1]}}', 1),
  },
  { what: 'one offset', rule: 'invalid-data-offsets', bytes: craft({ a: { dtype: 'F32', shape: [1], data_offsets: [4] } }, 4) },
  { what: 'three offsets', rule: 'invalid-data-offsets', bytes: craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, 4) },
  { what: 'negative offset', rule: 'invalid-data-offsets', bytes: craft(f32('a', [1], -4, 0), 4) },
  { what: 'fractional offset', rule: 'invalid-data-offsets', bytes: craft(f32('a', [1], 0, 4.5), 4) },
  {
    what: 'offsets as strings',
    rule: 'invalid-data-offsets',
    bytes: craft('{"a":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}}', 4),
  },
  { what: 'element count over 2^53', rule: 'element-count-overflow', bytes: craft({ a: entry('U8', [2 ** 31, 2 ** 31, 2 ** 31], 0, 0) }) },
  // The reference multiplies left to right with checked_mul: a trailing 0 does not save it.
  { what: 'overflow before a zero dim', rule: 'element-count-overflow', bytes: craft({ a: entry('U8', [2 ** 32, 2 ** 32, 0], 0, 0) }) },
  { what: 'bit count over 2^53', rule: 'element-count-overflow', bytes: craft({ a: entry('F64', [2 ** 50], 0, 0) }) },
  { what: 'F4 with an odd element count', rule: 'misaligned-bits', bytes: craft({ a: entry('F4', [3], 0, 2) }, 2) },
  { what: 'F6_E2M3 with 5 elements (30 bits)', rule: 'misaligned-bits', bytes: craft({ a: entry('F6_E2M3', [5], 0, 4) }, 4) },
  { what: 'F6_E3M2 with 2 elements (12 bits)', rule: 'misaligned-bits', bytes: craft({ a: entry('F6_E3M2', [2], 0, 2) }, 2) },
  { what: 'span shorter than dtype x count', rule: 'size-mismatch', bytes: craft(f32('a', [2], 0, 4), 4) },
  { what: 'span longer than dtype x count', rule: 'size-mismatch', bytes: craft(f32('a', [1], 0, 8), 8) },
  { what: 'F4 span wrong', rule: 'size-mismatch', bytes: craft({ a: entry('F4', [4], 0, 4) }, 4) },
  { what: '0-d tensor with an empty span', rule: 'size-mismatch', bytes: craft(f32('a', [], 0, 0)) },
  { what: 'reversed offsets', rule: 'offsets-reversed', bytes: craft({ a: entry('U8', [0], 4, 0) }, 4) },
  { what: 'first tensor not at 0', rule: 'offsets-not-contiguous', bytes: craft(f32('a', [1], 4, 8), 8) },
  { what: 'gap between tensors', rule: 'offsets-not-contiguous', bytes: craft({ ...f32('a', [1], 0, 4), ...f32('b', [1], 8, 12) }, 12) },
  { what: 'overlapping tensors', rule: 'offsets-not-contiguous', bytes: craft({ ...f32('a', [2], 0, 8), ...f32('b', [1], 4, 8) }, 8) },
  {
    what: 'two tensors on the same bytes',
    rule: 'offsets-not-contiguous',
    bytes: craft({ ...f32('a', [1], 0, 4), ...f32('b', [1], 0, 4) }, 4),
  },
  { what: 'data area one byte longer', rule: 'data-area-mismatch', bytes: craft(f32('a', [1], 0, 4), 5) },
  { what: 'data area one byte shorter', rule: 'data-area-mismatch', bytes: craft(f32('a', [1], 0, 4), 3) },
  { what: 'no tensors but data bytes', rule: 'data-area-mismatch', bytes: craft('{}', 1) },
  { what: 'metadata value a number', rule: 'invalid-metadata', bytes: craft({ __metadata__: { a: 1 } }) },
  { what: 'metadata value null', rule: 'invalid-metadata', bytes: craft({ __metadata__: { a: null } }) },
  { what: 'metadata value an object', rule: 'invalid-metadata', bytes: craft({ __metadata__: { a: { b: 'c' } } }) },
  { what: 'metadata an array', rule: 'invalid-metadata', bytes: craft({ __metadata__: ['a'] }) },
  { what: 'metadata a string', rule: 'invalid-metadata', bytes: craft({ __metadata__: 'format=pt' }) },
];

describe('safetensors validation: one crafted file per rule', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir();
  });
  after(() => tmp.cleanup());

  badCases.forEach((c, i) => {
    test(`${c.rule}: ${c.what}`, async () => {
      const file = await tmp.file(`bad-${i}.safetensors`, c.bytes);
      await rejectsWithRule(openCheckpoint(file), c.rule, file);
      await rejectsWithRule(readHeader(file), c.rule, file);
    });
  });

  test('every rule of the header has a crafted case', () => {
    const headerRules: SafetensorsRule[] = [
      'file-too-small',
      'header-too-large',
      'header-past-end',
      'header-not-utf8',
      'header-not-json',
      'header-too-deep',
      'header-not-object',
      'duplicate-key',
      'invalid-entry',
      'unknown-dtype',
      'invalid-shape',
      'invalid-data-offsets',
      'element-count-overflow',
      'misaligned-bits',
      'size-mismatch',
      'offsets-reversed',
      'offsets-not-contiguous',
      'data-area-mismatch',
      'invalid-metadata',
    ];
    const covered = new Set(badCases.map((c) => c.rule));
    assert.deepEqual(
      headerRules.filter((r) => !covered.has(r)),
      [],
    );
  });

  test('rejected files leave no file handle open', async (t) => {
    // Earlier tests' handles may still be closing: settle them; a leak is more descriptors than before.
    await new Promise((r) => setTimeout(r, 100));
    const before = openFdCount(tmp.dir);
    if (before === undefined) return t.skip('no /proc/self/fd on this platform');
    for (let round = 0; round < 3; round++) {
      for (const i of badCases.keys()) {
        await openCheckpoint(await tmp.file(`bad-${i}.safetensors`)).then(
          () => assert.fail('should have been refused'),
          () => undefined,
        );
      }
    }
    assert.ok((openFdCount(tmp.dir) ?? 0) <= before, `${openFdCount(tmp.dir)} descriptors open, ${before} before`);
  });

  test('messages say the rule in plain words and name the tensor', async () => {
    const file = await tmp.file('msg.safetensors', craft(f32('layer.weight', [2], 0, 4), 4));
    const e = await rejectsWithRule(openCheckpoint(file), 'size-mismatch', file);
    assert.match(e.message, /does not match dtype size times element count/);
    assert.match(e.message, /"layer\.weight"/);
  });

  test('a huge N is refused from the first 8 bytes, before any allocation', () => {
    const prefix = craft('{}', 0, { length: 2n ** 63n }).subarray(0, 8);
    throwsWithRule(() => readHeaderLength('x.safetensors', 16, prefix), 'header-too-large', 'x.safetensors');
    assert.equal(readHeaderLength('x.safetensors', 10, craft('{}').subarray(0, 8)), 2);
  });
});

describe('parseHeader (pure)', () => {
  const parse = (bytes: Uint8Array): ReturnType<typeof parseHeader> => {
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    return parseHeader('mem.safetensors', bytes.byteLength, bytes.subarray(8), n);
  };

  test('checks its arguments like the reader does', () => {
    throwsWithRule(() => parseHeader('m', 7, new Uint8Array(0), 0), 'file-too-small', 'm');
    throwsWithRule(() => parseHeader('m', 200_000_000, new Uint8Array(0), MAX_HEADER_SIZE + 1), 'header-too-large', 'm');
    throwsWithRule(() => parseHeader('m', 10, enc('{}'), 4), 'header-past-end', 'm');
    throwsWithRule(() => parseHeader('m', 20, enc('{}'), 4), 'header-past-end', 'm'); // fewer bytes than N given
  });

  test('resolves offsets, params, bytes and the absolute position of each tensor', () => {
    const h = parse(craft({ __metadata__: { format: 'pt' }, b: entry('F16', [2, 3], 0, 12), a: entry('I64', [], 12, 20) }, 20));
    assert.equal(h.headerLength, h.dataStart - 8);
    assert.equal(h.fileBytes, 8 + h.headerLength + 20);
    assert.deepEqual(h.metadata, { format: 'pt' });
    assert.deepEqual(
      h.tensors.map((t) => [t.name, t.dtype, t.shape, t.dataOffsets, t.params, t.bytes, t.fileOffset - h.dataStart, t.file]),
      [
        ['b', 'F16', [2, 3], [0, 12], 6, 12, 0, 'mem.safetensors'],
        ['a', 'I64', [], [12, 20], 1, 8, 12, 'mem.safetensors'],
      ],
    );
  });

  test('accepts a header length that is not a multiple of 8 and no padding', () => {
    const bytes = craft(f32('a', [1], 0, 4), 4);
    assert.notEqual((bytes.byteLength - 12) % 8, 0);
    assert.equal(parse(bytes).tensors.length, 1);
  });

  test('accepts a header padded with trailing spaces', () => {
    const bytes = craft(f32('a', [1], 0, 4), 4, { pad: 7 });
    const h = parse(bytes);
    assert.equal(new TextDecoder().decode(bytes.subarray(h.dataStart - 7, h.dataStart)), ' '.repeat(7));
    assert.equal(h.tensors[0].fileOffset, bytes.byteLength - 4);
  });

  test('accepts unsorted keys and data not in name order; tensors come in offset order', () => {
    const h = parse(craft({ z: entry('U8', [1], 2, 3), a: entry('U8', [2], 0, 2), m: entry('U8', [1], 3, 4) }, 4));
    assert.deepEqual(
      h.tensors.map((t) => t.name),
      ['a', 'z', 'm'],
    );
  });

  test('accepts 0-d tensors (one element)', () => {
    const h = parse(craft({ s: entry('F64', [], 0, 8) }, 8));
    assert.equal(h.tensors[0].params, 1);
    assert.equal(h.tensors[0].bytes, 8);
  });

  test('accepts empty tensors (a zero dim, begin == end), anywhere in the data', () => {
    const h = parse(
      craft({ e1: entry('F32', [0], 0, 0), e2: entry('BF16', [3, 0, 2], 0, 0), x: entry('U8', [2], 0, 2), e3: entry('F4', [0], 2, 2) }, 2),
    );
    assert.deepEqual(
      h.tensors.map((t) => [t.name, t.params, t.bytes]),
      [
        ['e1', 0, 0],
        ['e2', 0, 0],
        ['x', 2, 2],
        ['e3', 0, 0],
      ],
    );
  });

  test("accepts a file with no tensors, with or without metadata (the reference's own vectors)", () => {
    assert.deepEqual(parse(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])).tensors, []);
    const h = parse(craft('{"__metadata__":{"framework":"pt"}}', 0, { pad: 5 }));
    assert.deepEqual(h.metadata, { framework: 'pt' });
  });

  test('accepts sub-byte dtypes that fill whole bytes', () => {
    const h = parse(craft({ a: entry('F4', [2, 3], 0, 3), b: entry('F6_E2M3', [4], 3, 6), c: entry('F6_E3M2', [8], 6, 12) }, 12));
    assert.deepEqual(
      h.tensors.map((t) => t.bytes),
      [3, 3, 6],
    );
  });

  test('__metadata__ null means no metadata, as the reference (mlx writes it)', () => {
    assert.deepEqual(parse(craft('{"__metadata__":null}')).metadata, {});
  });

  test('ignores unknown fields in an entry, as the reference', () => {
    const h = parse(craft({ a: { ...entry('U8', [1], 0, 1), extra: { deep: [1, 2] } } }, 1));
    assert.equal(h.tensors[0].params, 1);
  });

  test('keeps names with escapes, unicode and tricky keys', () => {
    const names = ['caf\u00e9', '\u{1F600}.w', 'quote"and\\slash', '__proto__', 'constructor', ''];
    // Built as text: assigning '__proto__' on an object literal would set its prototype instead.
    const text = `{${names.map((n, i) => `${JSON.stringify(n)}:${JSON.stringify(entry('U8', [1], i, i + 1))}`).join(',')}}`;
    const h = parse(craft(text, names.length));
    assert.deepEqual(
      h.tensors.map((t) => t.name),
      names,
    );
    assert.deepEqual(parse(craft({ __metadata__: { __proto__x: '1', 'k"\\': '\u00e9' } })).metadata, { __proto__x: '1', 'k"\\': '\u00e9' });
    const meta = parse(craft('{"__metadata__":{"__proto__":"p","constructor":"c"}}')).metadata;
    assert.deepEqual(Object.entries(meta), [
      ['__proto__', 'p'],
      ['constructor', 'c'],
    ]);
    assert.equal(Object.getPrototypeOf(meta), Object.prototype);
  });
});

describe('parseJsonChecked', () => {
  test('finds duplicates in nested objects but not equal keys in different objects', () => {
    assert.equal(parseJsonChecked('{"a":{"x":1},"b":{"x":1}}').ok, true);
    const r = parseJsonChecked('{"a":{"x":1},"b":{"y":[{"k":1,"k":2}]}}');
    assert.ok(!r.ok && r.problem === 'duplicate-key');
  });

  test('strings that look like structure do not confuse the scan', () => {
    const r = parseJsonChecked(String.raw`{"a\"{[,":"}]\\","b":["\"a\"","a"],"a\"{[":1}`);
    assert.equal(r.ok, true);
    const d = parseJsonChecked(String.raw`{"x\\":1,"x\u005c":2}`);
    assert.ok(!d.ok && d.problem === 'duplicate-key');
  });

  test('deep nesting is refused without a stack overflow (JSON.parse itself copes with it here)', () => {
    const depth = 1_000_000;
    const r = parseJsonChecked('['.repeat(depth) + ']'.repeat(depth));
    assert.ok(!r.ok && r.problem === 'too-deep');
    assert.equal(parseJsonChecked('['.repeat(128) + ']'.repeat(128)).ok, true);
  });
});
