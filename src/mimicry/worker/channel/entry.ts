// Where a pool's worker script is: dist/<name>.js beside the running bundle, or, when the engine runs
// from its TypeScript source (unit tests, the bench under tsx), <name>.ts beside the calling module,
// loaded through tsx. Callers pass their own __dirname and __filename: in the bundle every module's
// is dist/'s, in the source each module's own folder.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export interface WorkerEntry {
  readonly entry: string;
  readonly execArgv?: readonly string[];
}

export function siblingWorkerEntry(dir: string, name: string, callerFile: string): WorkerEntry | null {
  const fromSource = callerFile.endsWith('.ts');
  const entry = path.join(dir, `${name}${fromSource ? '.ts' : '.js'}`);
  if (!existsSync(entry)) return null;
  if (!fromSource) return { entry };
  try {
    const loader = 'tsx/cjs'; // a runtime name: only tests and the bench run from source
    return { entry, execArgv: ['--require', require.resolve(loader)] };
  } catch {
    return null;
  }
}
