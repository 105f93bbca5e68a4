// Scoped resources for tests: a temporary folder, an open checkpoint; released whatever happens.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../../../src/mimicry/safetensors/reader';
import type { Checkpoint } from '../../../src/mimicry/safetensors/types';

export async function inTempDir<T>(fn: (dir: string) => Promise<T>, prefix = 'mimicry-test-'): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The checkpoint at `file`, opened for `fn` and closed afterwards whatever happens. */
export async function withCheckpoint<T>(file: string, fn: (ck: Checkpoint) => Promise<T>): Promise<T> {
  const ck = await openCheckpoint(file);
  try {
    return await fn(ck);
  } finally {
    await ck.close();
  }
}
