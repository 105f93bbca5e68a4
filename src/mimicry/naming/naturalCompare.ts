// Natural order for tensor names: digit runs compare as numbers, so `h.2` comes before `h.10`.
// One comparator for every place that sorts names (inspector table, prefix tree, CLI, dashboards).

// A fixed locale keeps the order the same on every machine; `numeric` is the natural order.
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/** Natural order of two names; names the collator calls equal fall back to code-unit order (a total order). */
export function naturalCompare(a: string, b: string): number {
  const c = collator.compare(a, b);
  if (c !== 0) return c;
  return a < b ? -1 : a > b ? 1 : 0;
}
