// Loads a CommonJS bundle (dist/*.js) through V8's code cache: most of a process's or worker's start
// is V8 compiling a 3 MB bundle, and a start after the first loads the compiled code instead (the
// CLI's `--help` 0.26 -> 0.17 s with `node -e 0` at 0.11; the inspector's worker answers `open` in
// 51 ms instead of 106). `save()` writes the cache once the code it should hold has run: it holds
// every function compiled so far, not only the top level (the v8-compile-cache package writes it
// right after compiling: `--help` 0.22 s here). The cache lives in a folder of the user's own (mode
// 0700) in the OS temp folder, one file per bundle (a new build's or another Node's replaces it);
// V8 checks it against the source and ignores one that does not match (then `save()` writes it anew).
// MIMICRY_COMPILE_CACHE names another folder; MIMICRY_COMPILE_CACHE=off turns it off.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { Script } from 'node:vm';
import { writeFileAtomicSync } from './atomicFile';

/** Whether the cache is turned off (MIMICRY_COMPILE_CACHE=off). */
export function codeCacheOff(): boolean {
  return process.env.MIMICRY_COMPILE_CACHE === 'off';
}

/** The cache folder, made if missing; undefined when turned off or not ours alone. */
function cacheFolder(): string | undefined {
  if (codeCacheOff()) return undefined;
  const uid = process.getuid?.();
  const dir = process.env.MIMICRY_COMPILE_CACHE || path.join(os.tmpdir(), `mimicry-compile-cache${uid === undefined ? '' : `-${uid}`}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Compiled code runs as this user: a folder someone else owns or can write to is not used.
    const st = statSync(dir);
    if (uid !== undefined && (st.uid !== uid || (st.mode & 0o022) !== 0)) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

function readOrUndefined(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

export interface LoadedBundle {
  /** What the bundle put in module.exports. */
  readonly exports: unknown;
  /** Writes the cache when there was none or V8 refused it (blocking; errors are ignored). */
  save(): void;
}

/** Runs `bundle` as node runs a CommonJS module, compiled from the cache when it has one. */
export function loadBundle(bundle: string): LoadedBundle {
  const source = readFileSync(bundle, 'utf8');
  const dir = cacheFolder();
  const hash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);
  // <the bundle's path>-<its build and this Node>: a new build's cache replaces the old one's.
  const prefix = `${hash(bundle)}-`;
  const name = `${prefix}${hash(`${source.length}\0${statSync(bundle).mtimeMs}\0${process.version}\0${process.arch}`)}.v8cache`;
  const cacheFile = dir && path.join(dir, name);
  const cachedData = cacheFile ? readOrUndefined(cacheFile) : undefined;
  // The function node wraps every CommonJS module in.
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n})`;
  const script = new Script(wrapped, { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  let pending = Boolean(dir && cacheFile && (!cachedData || script.cachedDataRejected));
  const module = { exports: {} as unknown, filename: bundle, id: bundle };
  const load = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: unknown,
    filename: string,
    dirname: string,
  ) => void;
  load(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
  return {
    get exports() {
      return module.exports;
    },
    save() {
      if (!pending || !dir || !cacheFile) return;
      pending = false;
      try {
        // Whole or not at all: another process may be reading it.
        writeFileAtomicSync(cacheFile, script.createCachedData());
        for (const f of readdirSync(dir)) if (f.startsWith(prefix) && f.endsWith('.v8cache') && f !== name) rmSync(path.join(dir, f));
      } catch {
        // A cache that cannot be written only makes the next start slower.
      }
    },
  };
}
