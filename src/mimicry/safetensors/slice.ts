// A page of a tensor's values, for the inspector's values view: a window of rows and columns of a
// 2-D slice, read with ranged reads of those rows only (never the whole tensor), and each value
// written out in the tensor's own precision.
//
// The slice: a tensor of rank >= 2 is viewed as matrices [shape[-2], shape[-1]], one per choice of
// the leading indices (`lead`, one per leading dimension); rank 1 is one column of shape[0] rows;
// rank 0 is one value (1 x 1).
//
// Values as text: the shortest decimal that reads back as the same value in the tensor's dtype
// (F32: to float32, F16 and BF16: to their 16 bits, F64: JavaScript's own shortest), so nothing is
// lost and nothing invented; -0 keeps its sign; NaN, inf and -inf as numpy prints them; integers
// as integers (I64 and U64 from their 64 bits, exact beyond 2^53); BOOL as True / False. F8 values
// are written as their float32 (they are exact in it).

import { bf16BitsToNumber, decode, DTYPES, f16BitsToNumber, numberToBF16Bits, numberToF16Bits } from './dtypes';
import { SafetensorsError } from './errors';
import type { Checkpoint, DType, TensorInfo } from './types';

/** Which part of which 2-D slice. */
export interface SliceRequest {
  /** Indices of the leading dimensions (rank - 2 of them; none for rank 0, 1 and 2). */
  readonly lead: readonly number[];
  /** First row and column shown. */
  readonly row: number;
  readonly col: number;
  /** Rows and columns wanted (fewer come back at the slice's end). */
  readonly rows: number;
  readonly cols: number;
}

/** The most cells one page holds. */
export const MAX_PAGE_CELLS = 4096;

export interface ValuesPage {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly lead: readonly number[];
  /** The slice's size. */
  readonly sliceRows: number;
  readonly sliceCols: number;
  /** This page: its first row and column, and its values as text, row by row. */
  readonly row: number;
  readonly col: number;
  readonly cells: readonly (readonly string[])[];
  /** The page as CSV (one line per row) and as a numpy literal (`np.array([...], dtype=np....)`). */
  readonly csv: string;
  readonly numpy: string;
}

/** The slice's rows and columns for a shape. */
export function sliceShape(shape: readonly number[]): { rows: number; cols: number; leadDims: readonly number[] } {
  if (shape.length === 0) return { rows: 1, cols: 1, leadDims: [] };
  if (shape.length === 1) return { rows: shape[0], cols: 1, leadDims: [] };
  return { rows: shape[shape.length - 2], cols: shape[shape.length - 1], leadDims: shape.slice(0, -2) };
}

function outOfRange(t: TensorInfo, what: string): SafetensorsError {
  return new SafetensorsError(t.file, 'index-out-of-range', `${what} of ${JSON.stringify(t.name)} [${t.shape.join(', ')}]`);
}

const isIndex = (v: unknown, below: number): boolean => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) < below;

/** Reads one page of `t`'s values (see the header). Indices outside the shape are an `index-out-of-range` error. */
export async function readValuesPage(ckpt: Checkpoint, t: TensorInfo, req: SliceRequest): Promise<ValuesPage> {
  const info = DTYPES[t.dtype];
  if (!info.decodable) throw new SafetensorsError(t.file, 'dtype-not-decoded', `${t.dtype} of ${JSON.stringify(t.name)}`);
  const { rows: R, cols: C, leadDims } = sliceShape(t.shape);
  if (!Array.isArray(req.lead) || req.lead.length !== leadDims.length)
    throw outOfRange(t, `${leadDims.length} leading indices are needed, got ${Array.isArray(req.lead) ? req.lead.length : 'none'}`);
  req.lead.forEach((i, d) => {
    if (!isIndex(i, leadDims[d])) throw outOfRange(t, `index ${String(i)} of dimension ${d} (size ${leadDims[d]})`);
  });
  if (
    !Number.isSafeInteger(req.rows) ||
    !Number.isSafeInteger(req.cols) ||
    req.rows < 1 ||
    req.cols < 1 ||
    req.rows * req.cols > MAX_PAGE_CELLS
  )
    throw outOfRange(t, `a page of ${req.rows} x ${req.cols} (1 to ${MAX_PAGE_CELLS} cells)`);
  const empty = R === 0 || C === 0;
  if (!empty && !isIndex(req.row, R)) throw outOfRange(t, `row ${String(req.row)} (rows 0 to ${R - 1})`);
  if (!empty && !isIndex(req.col, C)) throw outOfRange(t, `column ${String(req.col)} (columns 0 to ${C - 1})`);
  const rows = empty ? 0 : Math.min(req.rows, R - req.row);
  const cols = empty ? 0 : Math.min(req.cols, C - req.col);
  const size = info.bits / 8;
  // Element index of (lead, r, c): ((lead flattened) * R + r) * C + c.
  let leadFlat = 0;
  req.lead.forEach((i, d) => (leadFlat = leadFlat * leadDims[d] + i));
  const first = (leadFlat * R + req.row) * C + req.col;
  const cells: string[][] = [];
  if (rows > 0) {
    const span = (rows - 1) * C + cols;
    if (span * size <= 1 << 20) {
      // Rows close together: one read from the first cell to the last.
      const bytes = await ckpt.readBytes(t, first * size, (first + span) * size);
      for (let r = 0; r < rows; r++) cells.push(formatValues(t.dtype, bytes.subarray(r * C * size, (r * C + cols) * size)));
    } else {
      for (let r = 0; r < rows; r++) {
        const at = first + r * C;
        cells.push(formatValues(t.dtype, await ckpt.readBytes(t, at * size, (at + cols) * size)));
      }
    }
  }
  return {
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    lead: [...req.lead],
    sliceRows: R,
    sliceCols: C,
    row: empty ? 0 : req.row,
    col: empty ? 0 : req.col,
    cells,
    csv: toCsv(cells),
    numpy: toNumpy(cells, t.dtype),
  };
}

/** The values of raw little-endian bytes of `dtype` as text (see the header). */
export function formatValues(dtype: DType, bytes: Uint8Array): string[] {
  const n = bytes.byteLength / (DTYPES[dtype].bits / 8);
  const out = new Array<string>(n);
  if (dtype === 'I64' || dtype === 'U64') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) out[i] = String(dtype === 'I64' ? view.getBigInt64(8 * i, true) : view.getBigUint64(8 * i, true));
    return out;
  }
  const values = decode(dtype, bytes);
  const kind = DTYPES[dtype].kind;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (kind === 'bool') out[i] = v !== 0 ? 'True' : 'False';
    else if (kind !== 'float') out[i] = String(v);
    else out[i] = floatText(v, dtype);
  }
  return out;
}

/** Whether `x` reads back as `v` in `dtype`. */
function readsBack(x: number, v: number, dtype: DType): boolean {
  switch (dtype) {
    case 'F16':
      return f16BitsToNumber(numberToF16Bits(x)) === v;
    case 'BF16':
      return bf16BitsToNumber(numberToBF16Bits(x)) === v;
    case 'F64':
      return x === v;
    default:
      return Math.fround(x) === v;
  }
}

/** The shortest decimal that reads back as v in `dtype`. */
export function floatText(v: number, dtype: DType): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  if (dtype === 'F64') return String(v);
  for (let p = 1; p < 17; p++) {
    const x = Number(v.toPrecision(p));
    if (readsBack(x, v, dtype)) return String(x);
  }
  return String(v);
}

function toCsv(cells: readonly (readonly string[])[]): string {
  return cells.map((row) => row.join(',')).join('\n') + (cells.length > 0 ? '\n' : '');
}

/** numpy's name for a dtype's values; BF16 and F8 values are exact in float32. */
const NUMPY_DTYPE: Partial<Record<DType, string>> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'float32',
  F8_E4M3: 'float32',
  F8_E5M2: 'float32',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U64: 'uint64',
  U32: 'uint32',
  U16: 'uint16',
  U8: 'uint8',
  BOOL: 'bool_',
};

function numpyCell(s: string): string {
  return s === 'nan' ? 'np.nan' : s === 'inf' ? 'np.inf' : s === '-inf' ? '-np.inf' : s;
}

function toNumpy(cells: readonly (readonly string[])[], dtype: DType): string {
  const rows = cells.map((row) => `[${row.map(numpyCell).join(', ')}]`);
  const np = NUMPY_DTYPE[dtype] ?? 'float64';
  const note = np === 'float32' && dtype !== 'F32' ? `  # ${dtype} values, exact in float32` : '';
  return `np.array([${rows.join(',\n          ')}], dtype=np.${np})${note}\n`;
}
