// The `mimicry` executable (dist/cli.js): runs the CLI bundle beside it (dist/cliMain.js) through
// V8's code cache. Most of a command's start-up is V8 compiling that 3.6 MB bundle; a run after the
// first loads the compiled code instead (`--help`: 0.26 s -> 0.17 s here, with `node -e 0` at 0.11).
// The cache is written once the run is over, so it holds every function the run compiled, not only
// the top level (the v8-compile-cache package writes it right after compiling: 0.22 s here). It lives in a folder of the user's own (mode 0700) in the OS temp folder, one file per
// bundle (a new build's or another Node's replaces it); V8 checks it against the source and ignores
// one that does not match.
// MIMICRY_COMPILE_CACHE names another folder; MIMICRY_COMPILE_CACHE=off turns it off.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { Script } from 'node:vm';
import { writeFileAtomicSync } from '../mimicry/io/atomicFile';

type Main = { main(): void };

/** The cache folder, made if missing; undefined when turned off or not ours alone. */
function cacheFolder(): string | undefined {
  const asked = process.env.MIMICRY_COMPILE_CACHE;
  if (asked === 'off') return undefined;
  const uid = process.getuid?.();
  const dir = asked || path.join(os.tmpdir(), `mimicry-compile-cache${uid === undefined ? '' : `-${uid}`}`);
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

function run(bundle: string): void {
  const source = readFileSync(bundle, 'utf8');
  const dir = cacheFolder();
  const hash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);
  // <the bundle's path>-<its build and this Node>: a new build's cache replaces the old one's.
  const prefix = `${hash(bundle)}-`;
  const key = `${prefix}${hash(`${source.length}\0${statSync(bundle).mtimeMs}\0${process.version}\0${process.arch}`)}`;
  const cacheFile = dir && path.join(dir, `${key}.v8cache`);
  const cachedData = cacheFile ? readOrUndefined(cacheFile) : undefined;
  // The function node wraps every CommonJS module in.
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n})`;
  const script = new Script(wrapped, { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  if (cacheFile && (!cachedData || script.cachedDataRejected)) {
    process.once('exit', () => {
      try {
        // Whole or not at all: another run may be reading it.
        writeFileAtomicSync(cacheFile, script.createCachedData());
        for (const f of readdirSync(dir))
          if (f.startsWith(prefix) && f.endsWith('.v8cache') && f !== `${key}.v8cache`) rmSync(path.join(dir, f));
      } catch {
        // A cache that cannot be written only makes the next start slower.
      }
    });
  }
  const module = { exports: {} as Main, filename: bundle, id: bundle };
  const load = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: unknown,
    filename: string,
    dirname: string,
  ) => void;
  load(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
  module.exports.main();
}

run(path.join(__dirname, 'cliMain.js'));
