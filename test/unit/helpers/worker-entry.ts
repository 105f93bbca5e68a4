// Worker entries are TypeScript: a CommonJS bootstrap registers tsx inside the worker first, so
// unit tests run the engine's workers without a build.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export function tsWorkerEntry(tsFile: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mimicry-boot-'));
  const entry = path.join(dir, 'worker.cjs');
  writeFileSync(entry, `require(${JSON.stringify(require.resolve('tsx/cjs'))});\nrequire(${JSON.stringify(path.resolve(tsFile))});\n`);
  return entry;
}
