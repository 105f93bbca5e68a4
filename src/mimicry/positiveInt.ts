// The one check for a positive integer: counts, sizes and limits given as engine options, VS Code
// settings, CLI flags, form fields or file metadata all pass or fail it alike.

/** An integer >= 1 that a double holds exactly: 0, 1.5, NaN, 2 ** 53 and non-numbers fail. */
export function isPositiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

/**
 * A positive integer written in decimal digits, spaces around allowed ("12"); undefined for anything
 * else ("0", "-1", "+12", "1.0", "1e3", "0x10", "").
 */
export function parsePositiveInt(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return isPositiveInt(n) ? n : undefined;
}
