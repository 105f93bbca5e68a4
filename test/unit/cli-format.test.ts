// The CLI's aligned table (src/cli/format.ts): checked against the plain definition (every cell
// padded to its column's widest, two spaces apart, trailing white space trimmed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { table, type Column } from '../../src/cli/format';

function reference(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((t, i) => (columns[i].align === 'right' ? t.padStart(widths[i]) : t.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [columns.map((c) => c.title), ...rows].map(line).join('\n') + '\n';
}

test('table: alignment, widths, trailing white space, any last column', () => {
  const rows = [
    ['a', 'F32', '[2, 3]', '6', ''],
    ['longer.name', 'BF16', '[]', '1', 'x'],
    ['ends in nbsp\u00a0', '', '[1]', '12,345', 'tail  '],
    ['', '', '', '', '\u3000'],
  ];
  for (const lastAlign of ['left', 'right'] as const) {
    const columns: Column[] = [
      { title: 'name', align: 'left' },
      { title: 'dtype', align: 'left' },
      { title: 'shape', align: 'left' },
      { title: 'params', align: 'right' },
      { title: 'note', align: lastAlign },
    ];
    assert.equal(table(columns, rows), reference(columns, rows));
    const firstTwo = columns.slice(0, 2);
    const narrow = rows.map((r) => r.slice(0, 2));
    assert.equal(table(firstTwo, narrow), reference(firstTwo, narrow)); // a left-aligned last column, unpadded
  }
  assert.equal(table([{ title: 'n', align: 'right' }], []), 'n\n');
});
