// The header's hand scanner (src/mimicry/safetensors/header.ts reads entries where they stand in the
// bytes) against JSON.parse of the same text, over many random valid headers written in every way
// JSON allows: fields in any order, whitespace anywhere, escaped field names and dtypes, unknown
// fields holding nested values, non-ASCII names, metadata anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHeader } from '../../src/mimicry/safetensors/header';
import { rng } from './helpers/rng';

const DTYPE_BYTES: Record<string, number> = { F32: 4, BF16: 2, F16: 2, U8: 1, I64: 8, F64: 8, BOOL: 1, I32: 4 };
const NAME_PARTS = ['model', 'layers', '0', '11', 'self_attn', 'q_proj', 'weight', 'caf\u00e9', '\u{1F600}', 'a"b', 'c\\d', 'x/y', ''];

/** A string as a JSON token, some of its characters written as \u escapes. */
function escaped(s: string, random: () => number, rate: number): string {
  let out = '"';
  for (const ch of s) {
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch.length === 1 && random() < rate) out += `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function ws(random: () => number): string {
  return random() < 0.7 ? '' : [' ', '\n', '\t', '\r\n  '][Math.floor(random() * 4)];
}

interface Made {
  readonly text: string;
  readonly dataBytes: number;
}

function makeHeader(random: () => number): Made {
  const count = Math.floor(random() * 12);
  const names = new Set<string>();
  while (names.size < count) {
    const parts = Array.from({ length: 1 + Math.floor(random() * 4) }, () => NAME_PARTS[Math.floor(random() * NAME_PARTS.length)]);
    const name = parts.join('.');
    if (name !== '__metadata__') names.add(name);
  }
  const dtypes = Object.keys(DTYPE_BYTES);
  const entries = [...names].map((name) => {
    const dtype = dtypes[Math.floor(random() * dtypes.length)];
    const shape = Array.from({ length: Math.floor(random() * 4) }, () => Math.floor(random() * 5));
    return { name, dtype, shape, bytes: shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype] };
  });
  // The data in an order of its own: offsets follow a shuffled order, the text another.
  const dataOrder = [...entries].sort(() => random() - 0.5);
  const offsets = new Map<string, [number, number]>();
  let at = 0;
  for (const e of dataOrder) {
    offsets.set(e.name, [at, at + e.bytes]);
    at += e.bytes;
  }
  const members = entries.map((e) => {
    const [begin, end] = offsets.get(e.name) as [number, number];
    const fields = [
      `${escaped('dtype', random, 0.2)}${ws(random)}:${ws(random)}${escaped(e.dtype, random, 0.2)}`,
      `${escaped('shape', random, 0.2)}:${ws(random)}[${e.shape.map((d) => `${ws(random)}${d}${ws(random)}`).join(',')}]`,
      `${escaped('data_offsets', random, 0.2)}:[${ws(random)}${begin},${ws(random)}${end}${ws(random)}]`,
    ];
    if (random() < 0.3) fields.push(`"extra":${ws(random)}[1,{"dtype":"F32","shape":[[]]},"x",null,true,-2.5e3]`);
    if (random() < 0.2) fields.push(`"sh\\u0061pe_not":{"data_offsets":[0,1]}`);
    fields.sort(() => random() - 0.5);
    return `${escaped(e.name, random, 0.1)}${ws(random)}:${ws(random)}{${ws(random)}${fields.join(`${ws(random)},${ws(random)}`)}${ws(random)}}`;
  });
  if (random() < 0.5) {
    const meta = `"__metadata__":{"format":${escaped('pt', random, 0.3)},${escaped('k\u00e9', random, 0.5)}:"v"}`;
    members.splice(Math.floor(random() * (members.length + 1)), 0, meta);
  }
  return { text: `${ws(random)}{${ws(random)}${members.join(`${ws(random)},${ws(random)}`)}${ws(random)}}${ws(random)}`, dataBytes: at };
}

test('entries read where they stand in the bytes are what JSON.parse reads, in every way JSON allows writing them', () => {
  const random = rng(12);
  for (let c = 0; c < 400; c++) {
    const { text, dataBytes } = makeHeader(random);
    const bytes = new TextEncoder().encode(text);
    const header = parseHeader('x.safetensors', 8 + bytes.length + dataBytes, bytes, bytes.length);
    // The reference: JSON.parse, then the format's definitions.
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const expected = Object.entries(parsed)
      .filter(([k]) => k !== '__metadata__')
      .map(([name, v]) => {
        const e = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
        return { name, dtype: e.dtype, shape: e.shape, dataOffsets: e.data_offsets };
      })
      .sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1] || (a.name < b.name ? -1 : 1));
    assert.deepEqual(
      header.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], dataOffsets: [...t.dataOffsets] })),
      expected,
      text,
    );
    assert.deepEqual(header.metadata, (parsed.__metadata__ as Record<string, string> | undefined) ?? {}, text);
  }
});
