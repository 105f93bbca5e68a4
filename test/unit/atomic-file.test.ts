// Whole files written atomically (io/atomicFile.ts), the promised and the blocking form: the target
// holds the new bytes, no temporary file is left, and a write that fails leaves the old file as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/mimicry/io/atomicFile';

for (const [label, write] of [
  ['writeFileAtomic', (f: string, d: Uint8Array) => writeFileAtomic(f, d)],
  ['writeFileAtomicSync', async (f: string, d: Uint8Array) => writeFileAtomicSync(f, d)],
] as const) {
  test(`${label}: replaces the file whole and leaves no temporary file; a failed write changes nothing`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mimicry-atomic-'));
    try {
      const file = join(dir, 'cache.bin');
      writeFileSync(file, 'old');
      const data = Uint8Array.from({ length: 1 << 20 }, (_, i) => i & 0xff);
      await write(file, data);
      assert.deepEqual(readFileSync(file), Buffer.from(data));
      assert.deepEqual(readdirSync(dir), ['cache.bin']);
      // A folder where the file should be: the rename fails, the folder stays, no temporary file is left.
      const blocked = join(dir, 'blocked');
      mkdirSync(join(blocked, 'inside'), { recursive: true });
      await assert.rejects(write(blocked, data));
      assert.deepEqual(readdirSync(dir).sort(), ['blocked', 'cache.bin']);
      assert.deepEqual(readdirSync(blocked), ['inside']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
