// Filtering and sorting of the tensor table (pure; unit-tested).
import type { TensorRow, TensorStatsView } from '../protocol';
import { naturalCompare } from '../../mimicry/naming/naturalCompare';

export type SortKey = 'order' | 'name' | 'dtype' | 'shape' | 'params' | 'bytes' | 'std';
export interface SortState {
  readonly key: SortKey;
  readonly descending: boolean;
}

/**
 * Every whitespace-separated term must occur in the name (case-insensitive); a term like `dtype:bf16`
 * matches the dtype instead.
 */
export function matchesQuery(row: TensorRow, terms: readonly string[]): boolean {
  const name = row.name.toLowerCase();
  for (const term of terms) {
    if (term.startsWith('dtype:')) {
      if (row.dtype.toLowerCase() !== term.slice(6)) return false;
    } else if (!name.includes(term)) return false;
  }
  return true;
}

export function parseQuery(query: string): string[] {
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter((t) => t.length > 0);
}

/** Indices into `rows` of the rows to show, filtered and sorted; ties keep file order. */
export function viewOf(rows: readonly TensorRow[], query: string, sort: SortState, stats: ReadonlyMap<string, TensorStatsView>): number[] {
  const terms = parseQuery(query);
  const out: number[] = [];
  for (let i = 0; i < rows.length; i++) if (terms.length === 0 || matchesQuery(rows[i], terms)) out.push(i);
  if (sort.key === 'order') return sort.descending ? out.reverse() : out;
  const sign = sort.descending ? -1 : 1;
  const cmp = comparator(sort.key, rows, stats);
  return out.sort((a, b) => {
    const c = cmp(a, b);
    // Missing values (stats not computed) stay at the end whichever the direction.
    if (Number.isNaN(c)) return a - b;
    if (c === Infinity || c === -Infinity) return c > 0 ? 1 : -1;
    return c !== 0 ? sign * c : a - b;
  });
}

function comparator(
  key: Exclude<SortKey, 'order'>,
  rows: readonly TensorRow[],
  stats: ReadonlyMap<string, TensorStatsView>,
): (a: number, b: number) => number {
  switch (key) {
    case 'name':
      // Natural order: h.2 before h.10.
      return (a, b) => naturalCompare(rows[a].name, rows[b].name);
    case 'dtype':
      return (a, b) => naturalCompare(rows[a].dtype, rows[b].dtype);
    case 'shape':
      return (a, b) => rows[a].shape.length - rows[b].shape.length || compareShapes(rows[a].shape, rows[b].shape);
    case 'params':
      return (a, b) => rows[a].params - rows[b].params;
    case 'bytes':
      return (a, b) => rows[a].bytes - rows[b].bytes;
    case 'std':
      return (a, b) => {
        const x = stats.get(rows[a].name)?.std ?? null;
        const y = stats.get(rows[b].name)?.std ?? null;
        if (x === null && y === null) return Number.NaN;
        if (x === null) return Infinity;
        if (y === null) return -Infinity;
        return x - y;
      };
  }
}

function compareShapes(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}
