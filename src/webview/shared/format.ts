// Number and size formatting for the dashboards (pure; unit-tested).

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> "1.5 KiB"; exact bytes below 1 KiB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${BYTE_UNITS[unit]}`;
}

/**
 * An output's size on disk next to its source's: "m.recast.safetensors 22.1 MiB (0.50x of source 44.1 MiB)";
 * without a source size (or for a report, `ratio` false), the name and size alone.
 */
export function formatSizeAgainst(name: string, bytes: number, sourceBytes?: number, ratio = true): string {
  const size = `${name} ${formatBytes(bytes)}`;
  if (!ratio || sourceBytes === undefined || !(sourceBytes > 0)) return size;
  return `${size} (${(bytes / sourceBytes).toFixed(2)}x of source ${formatBytes(sourceBytes)})`;
}

/** 124439808 -> "124.4M"; below 10,000 the exact count with separators. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  if (abs < 10_000) return n.toLocaleString('en-US');
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [size, suffix] of units) {
    if (abs >= size) {
      const v = n / size;
      return `${Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1)}${suffix}`;
    }
  }
  return String(n);
}

/** Exact integer with thousands separators. */
export function formatInteger(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—';
}

/** `[768, 3, 16, 16]` -> "768 × 3 × 16 × 16"; a 0-d tensor -> "scalar". */
export function formatShape(shape: readonly number[]): string {
  return shape.length === 0 ? 'scalar' : shape.join(' × ');
}

/** Statistic values: 4 significant digits, exponent form for very small or large magnitudes. */
export function formatNumber(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined) return '—';
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '−Inf';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1e5 || abs < 1e-3) return x.toExponential(digits - 1).replace('e+', 'e');
  return Number(x.toPrecision(digits)).toString();
}

/** 0.1234 -> "12.34%". */
export function formatPercent(fraction: number | null | undefined, digits = 2): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—';
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** `1, 'tensor'` -> "1 tensor", `52, 'tensor'` -> "52 tensors"; `shown` is the number as displayed (default: with separators). */
export function plural(n: number, singular: string, shown: string = formatInteger(n), many = `${singular}s`): string {
  return `${shown} ${n === 1 ? singular : many}`;
}

/**
 * A long name split for a middle ellipsis: the head may be cut (CSS `text-overflow: ellipsis`), the
 * tail always shows. The tail is the last dotted segments that fit in `tailChars` (at least one), so
 * what tells names apart (`lora_A.weight` vs `lora_B.weight`) stays in view.
 */
export function splitForMiddleEllipsis(name: string, tailChars = 28): [head: string, tail: string] {
  let cut = name.length;
  for (;;) {
    const dot = name.lastIndexOf('.', cut - 1);
    if (dot <= 0) break;
    if (name.length - dot > tailChars && cut < name.length) break;
    cut = dot;
    if (name.length - cut > tailChars) break;
  }
  // A name without dots (or one whose last segment alone is long) keeps its last tailChars characters.
  if (cut === name.length) cut = Math.max(0, name.length - tailChars);
  return [name.slice(0, cut), name.slice(cut)];
}

/**
 * Round axis bounds and step for [lo, hi]: a 1-2-5 step giving about `ticks` intervals, and bounds
 * that are multiples of it and cover the range (so every tick label is a round number).
 */
export function niceAxis(lo: number, hi: number, ticks = 5): { min: number; max: number; step: number } {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { min: 0, max: 1, step: 0.2 };
  if (hi < lo) [lo, hi] = [hi, lo];
  let span = hi - lo;
  if (span === 0) span = Math.abs(lo) || 1;
  const raw = span / Math.max(1, ticks);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const f = raw / magnitude;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude;
  // Float noise (0.30000000000000004) would show in labels: round bounds to the step's decimals.
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  const round = (x: number): number => Number(x.toFixed(Math.min(20, decimals)));
  let min = round(Math.floor(lo / step) * step);
  let max = round(Math.ceil(hi / step) * step);
  if (max === min) {
    min = round(min - step);
    max = round(max + step);
  }
  return { min, max, step };
}
