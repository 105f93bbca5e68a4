// Plain-text formatting for terminal output: sizes, counts, statistics and aligned tables.

import { printable } from './io';

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 949792 -> "927.5 KiB"; below 1 KiB the exact count. */
export function humanBytes(bytes: number): string {
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} bytes` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** 236224 -> "236,224" (fixed locale, so output is the same on every machine). */
export function grouped(n: number): string {
  // Integers (every count we print) are grouped by hand: toLocaleString loads locale data on its
  // first call and dominates the table of a 100,000-tensor checkpoint.
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let out = digits.slice(0, digits.length % 3 || 3);
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
}

/** Four significant digits; exponent form outside [1e-3, 1e5). null -> "-". */
export function num(x: number | null): string {
  if (x === null) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(4)));
  return x.toExponential(3);
}

export function percent(fraction: number | null): string {
  return fraction === null ? '-' : `${(fraction * 100).toFixed(1)}%`;
}

/** Shortens untrusted text for a table cell and makes it printable. */
export function cell(text: string, max = 80): string {
  const p = printable(text);
  return p.length > max ? `${p.slice(0, max - 1)}…` : p;
}

export type Align = 'left' | 'right';

export interface Column {
  readonly title: string;
  readonly align: Align;
}

/** Columns padded to their widest cell, two spaces apart, no trailing spaces. */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  // A reduce, not a spread: a spread of 200,000 rows into Math.max overflows the call stack.
  const widths = columns.map((c, i) => rows.reduce((w, r) => Math.max(w, r[i].length), c.title.length));
  const last = columns.length - 1;
  // Built by concatenation, the last cell unpadded: a 100,000-row table allocates a few strings a
  // row, not an array of padded cells and their join.
  const line = (cells: readonly string[]): string => {
    let out = '';
    for (let i = 0; i <= last; i++) {
      const text = cells[i];
      if (i > 0) out += '  ';
      out += columns[i].align === 'right' ? text.padStart(widths[i]) : i === last ? text : text.padEnd(widths[i]);
    }
    // trimEnd only where the last character may be white space (it leaves the rest as they are).
    const c = out.charCodeAt(out.length - 1);
    return c > 0x20 && c < 0x7f ? out : out.trimEnd();
  };
  const lines = new Array<string>(rows.length + 1);
  lines[0] = line(columns.map((c) => c.title));
  for (let r = 0; r < rows.length; r++) lines[r + 1] = line(rows[r]);
  return lines.join('\n') + '\n';
}
