#!/usr/bin/env node
// Installs code-server (a real VS Code workbench + extension host from npm) into a git-ignored
// cache, once per version, following shared/docs/TESTING.md. code-server is NOT a devDependency:
// its install script refuses Node versions other than the one it was built for, and several of
// its install steps download binaries that this network cannot reach, so we drive each step.
//
// Usage: node scripts/setup-code-server.mjs [--force]
//   env MIMICRY_CODE_SERVER_CACHE: cache root (default <repo>/.vscode-test)
// Prints the entry point (…/out/node/entry.js) as its last line. Idempotent: a marker file
// written at the very end says the install is complete; a half-done install is resumed.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  writeFileSync,
  readFileSync,
  copyFileSync,
  chmodSync,
  rmSync,
  symlinkSync,
  lstatSync,
  statSync,
} from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.100.3';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function codeServerPaths(version = CODE_SERVER_VERSION) {
  const cacheRoot = resolve(process.env.MIMICRY_CODE_SERVER_CACHE || join(repoRoot, '.vscode-test'));
  const dir = join(cacheRoot, `code-server-${version}`);
  const pkg = join(dir, 'node_modules', 'code-server');
  return {
    dir,
    pkg,
    vscode: join(pkg, 'lib', 'vscode'),
    entry: join(pkg, 'out', 'node', 'entry.js'),
    marker: join(dir, '.mimicry-setup-complete'),
  };
}

/** Native modules of lib/vscode whose install scripts were skipped by --ignore-scripts. */
const VSCODE_NATIVE = ['kerberos', 'node-pty', '@parcel/watcher', '@vscode/deviceid', '@vscode/spdlog', 'native-watchdog'];
/** Debian packages the native builds and the browser need (installed by .ci/run). */
const DEBIAN_HINT = 'apt-get install -y libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config ripgrep chromium';

function log(msg) {
  console.log(`[setup-code-server] ${msg}`);
}

function sh(cmd, args, cwd, env = {}) {
  log(
    `$ (cd ${cwd} && ${Object.entries(env)
      .map(([k, v]) => `${k}=${v} `)
      .join('')}${cmd} ${args.join(' ')})`,
  );
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    throw new Error(
      `command failed (exit ${r.status ?? r.signal}): ${cmd} ${args.join(' ')} in ${cwd}\n` +
        `If a native module failed to build, the Debian packages may be missing: ${DEBIAN_HINT}`,
    );
  }
}

/** A step records its own marker so an interrupted setup resumes where it stopped. */
function step(paths, name, fn) {
  const m = join(paths.dir, `.step-${name}`);
  if (existsSync(m)) {
    log(`step ${name}: already done`);
    return;
  }
  log(`step ${name}: running`);
  fn();
  writeFileSync(m, new Date().toISOString() + '\n');
}

/** A directory lock: two runners (or two engineers) must not install into one cache at once. */
function withLock(dir, fn) {
  const lock = join(dir, '.lock');
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let holder = NaN;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        /* being created */
      }
      let alive = false;
      if (holder > 0)
        try {
          process.kill(holder, 0);
          alive = true;
        } catch {
          alive = false;
        }
      // A lock whose pid file never appeared is stale after a minute.
      const stale = holder > 0 ? !alive : Date.now() - statSync(lock).mtimeMs > 60_000;
      if (stale) {
        log(`removing stale lock of pid ${holder}`);
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lock} (held by pid ${holder})`);
      log(`waiting for another setup (pid ${holder}) to finish...`);
      spawnSync('sleep', ['5']);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export function setupCodeServer({ force = false, version = CODE_SERVER_VERSION } = {}) {
  const paths = codeServerPaths(version);
  if (!force && existsSync(paths.marker)) {
    log(`code-server ${version} already set up in ${paths.dir}`);
    return paths;
  }
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== 20) log(`warning: code-server ${version} is verified on Node 20, this is Node ${process.versions.node}`);
  mkdirSync(paths.dir, { recursive: true });
  return withLock(paths.dir, () => {
    if (force) {
      log('--force: removing the previous install');
      for (const f of ['node_modules', 'package-lock.json', '.mimicry-setup-complete'])
        rmSync(join(paths.dir, f), { recursive: true, force: true });
      for (const s of ['install', 'vscode-deps', 'vscode-native', 'ripgrep', 'asar', 'extensions-deps', 'argon2'])
        rmSync(join(paths.dir, `.step-${s}`), { force: true });
    }
    if (existsSync(paths.marker)) return paths; // another process finished while we waited
    // Its own package.json, so npm installs here and never walks up into the repository's.
    const ownPkg = join(paths.dir, 'package.json');
    if (!existsSync(ownPkg))
      writeFileSync(
        ownPkg,
        JSON.stringify({ name: 'mimicry-code-server-cache', private: true, description: `code-server ${version} for tests` }, null, 2) +
          '\n',
      );
    const npm = 'npm';
    const quiet = ['--no-audit', '--no-fund', '--loglevel=error'];

    step(paths, 'install', () => sh(npm, ['install', '--ignore-scripts', ...quiet, `code-server@${version}`], paths.dir));
    step(paths, 'vscode-deps', () => sh(npm, ['install', '--omit=dev', '--ignore-scripts', ...quiet], paths.vscode));
    // node-pty's install runs `npx node-gyp`; npm_config_yes lets npx proceed without a prompt.
    step(paths, 'vscode-native', () => sh(npm, ['rebuild', ...VSCODE_NATIVE, ...quiet], paths.vscode, { npm_config_yes: 'true' }));
    // @vscode/ripgrep's install downloads from GitHub: use Debian's rg instead.
    step(paths, 'ripgrep', () => {
      const rg = '/usr/bin/rg';
      if (!existsSync(rg)) throw new Error(`${rg} is missing (search in the workbench needs it): apt-get install -y ripgrep`);
      const dest = join(paths.vscode, 'node_modules', '@vscode', 'ripgrep', 'bin', 'rg');
      mkdirSync(dirname(dest), { recursive: true });
      log(`copy ${rg} -> ${dest}`);
      copyFileSync(rg, dest);
      chmodSync(dest, 0o755);
    });
    // The server resolves some modules through node_modules.asar (the desktop layout).
    step(paths, 'asar', () => {
      const link = join(paths.vscode, 'node_modules.asar');
      log(`ln -sfn node_modules ${link}`);
      try {
        if (lstatSync(link)) rmSync(link, { recursive: true, force: true });
      } catch {
        /* absent */
      }
      symlinkSync('node_modules', link);
    });
    step(paths, 'extensions-deps', () =>
      sh(npm, ['install', '--omit=dev', '--ignore-scripts', ...quiet], join(paths.vscode, 'extensions')),
    );
    // argon2's prebuilt binary download fails here: build it from source.
    step(paths, 'argon2', () => sh(npm, ['rebuild', 'argon2', ...quiet], paths.dir, { npm_config_build_from_source: 'true' }));

    verify(paths);
    writeFileSync(paths.marker, JSON.stringify({ version, node: process.versions.node, at: new Date().toISOString() }) + '\n');
    log(`code-server ${version} is set up in ${paths.dir}`);
    return paths;
  });
}

/** Loads each native module once, so a broken build fails here, not as a blank workbench later. */
function verify(paths) {
  const mods = ['node-pty', '@parcel/watcher', '@vscode/spdlog', 'native-watchdog', 'kerberos', '@vscode/deviceid'];
  const code = mods.map((m) => `require(${JSON.stringify(m)});`).join('') + 'console.log("native modules load")';
  sh(process.execPath, ['-e', code], paths.vscode);
  sh(process.execPath, ['-e', 'require("argon2"); console.log("argon2 loads")'], paths.dir);
  // --config inside the cache: the first start otherwise writes ~/.config/code-server/config.yaml.
  sh(process.execPath, [paths.entry, '--config', join(paths.dir, 'config.yaml'), '--version'], paths.dir);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const paths = setupCodeServer({ force: process.argv.includes('--force') });
    console.log(paths.entry);
  } catch (e) {
    console.error(`[setup-code-server] FAILED: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
