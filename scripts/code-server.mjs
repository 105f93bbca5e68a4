// Shared by the extension-host runner (test/vscode/run.mjs) and the browser end-to-end tests
// (Playwright Test: playwright.config.mjs, test/e2e/global-setup.mjs): package the extension,
// start code-server on a free loopback port, drive Chromium, and make sure every child process
// dies with us, whatever way we exit.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, writeFileSync, readFileSync, statSync, readdirSync, createWriteStream, cpSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupCodeServer } from './setup-code-server.mjs';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CHROMIUM = process.env.MIMICRY_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

const log = (msg) => console.log(`[code-server] ${msg}`);

// ---- cleanup: every process we start is registered here and killed on any exit ----------------
const cleanups = [];
let cleaning = false;
export function onCleanup(fn) {
  cleanups.push(fn);
  handleSignals();
}
export async function cleanupAll() {
  if (cleaning) return;
  cleaning = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (e) {
      console.error(`cleanup failed: ${e instanceof Error ? e.message : e}`);
    }
  }
}
/** Kills a detached child and its whole process group (code-server forks the extension host etc). */
function killGroup(child, signal = 'SIGTERM') {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* gone */
    }
  }
}
process.on('exit', () => {
  for (const fn of cleanups) {
    try {
      fn(true);
    } catch {
      /* best effort */
    }
  }
});
// Ctrl-C and kill: clean up, then exit. Installed when a runner starts its watchdog or registers
// its first cleanup, so that merely importing this module (Playwright's workers do, through the
// specs) leaves signals to whoever handles them.
let signals = 'ours';
function handleSignals() {
  if (signals !== 'ours') return;
  signals = 'installed';
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      void cleanupAll().finally(() => process.exit(130));
    });
  }
}
/**
 * For a runner that handles SIGINT/SIGTERM itself and then stops what it started (Playwright Test:
 * it interrupts the tests and runs the global teardown): exiting from our own handler would cut
 * that short. Call before watchdog() and the first onCleanup; the cleanup at process exit stays.
 */
export function leaveSignalsToRunner() {
  if (signals === 'installed') throw new Error('leaveSignalsToRunner() must come before watchdog() and the first onCleanup()');
  signals = 'runner';
}

/** A hard upper bound on a whole runner: never hang forever, even if a promise never settles. */
export function watchdog(ms, what) {
  handleSignals();
  const t = setTimeout(() => {
    console.error(`[watchdog] ${what} did not finish within ${Math.round(ms / 1000)} s: stopping`);
    void cleanupAll().finally(() => process.exit(124));
  }, ms);
  t.unref();
}

export function requireChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing (${CHROMIUM}); the code-server layers need it. Install it with:\n  apt-get install -y chromium`);
  }
}

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

function newestMtime(paths) {
  let newest = 0;
  const visit = (p) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) visit(join(p, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of paths) visit(p);
  return newest;
}

/**
 * The packaged .vsix (what users install), rebuilt with `npm run package` when any source is newer.
 * Falls back to the built folder only when packaging fails, and says so loudly.
 * env MIMICRY_VSIX: use this .vsix as is.
 */
export function prepareExtension() {
  if (process.env.MIMICRY_VSIX) return { kind: 'vsix', path: resolve(process.env.MIMICRY_VSIX) };
  const vsix = join(repoRoot, 'neural-mimicry.vsix');
  const inputs = ['src', 'media', 'package.json', 'esbuild.config.mjs', '.vscodeignore', 'README.md', 'LICENSE'].map((p) =>
    join(repoRoot, p),
  );
  if (existsSync(vsix) && statSync(vsix).mtimeMs >= newestMtime(inputs)) {
    log(`using ${vsix} (newer than its sources)`);
    return { kind: 'vsix', path: vsix };
  }
  log('$ npm run package');
  const r = spawnSync('npm', ['run', 'package'], { cwd: repoRoot, stdio: 'inherit', input: '' });
  if (r.status === 0 && existsSync(vsix)) return { kind: 'vsix', path: vsix };
  console.warn('\n[code-server] WARNING: `npm run package` failed; testing the built folder instead of the .vsix\n');
  const b = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: 'inherit' });
  if (b.status !== 0 || !existsSync(join(repoRoot, 'dist', 'extension.js'))) {
    throw new Error('the extension does not build (npm run build): nothing to test');
  }
  return { kind: 'folder', path: repoRoot };
}

/**
 * Installs the extension under test into extensionsDir, from its .vsix through code-server itself,
 * plus any other .vsix given (the test harness). Only extensions listed in the folder's
 * extensions.json load; the first install creates that list from the folders already there, so a
 * built folder (the fallback when packaging fails) is copied in before anything is installed.
 */
export function installExtension(entry, extensionsDir, userDataDir, ext, otherVsix = []) {
  mkdirSync(extensionsDir, { recursive: true });
  if (ext.kind === 'folder') {
    const pkg = JSON.parse(readFileSync(join(ext.path, 'package.json'), 'utf8'));
    const dest = join(extensionsDir, `${pkg.publisher}.${pkg.name}-${pkg.version}`);
    log(`copy ${ext.path} -> ${dest} (package.json, dist, media)`);
    mkdirSync(dest, { recursive: true });
    for (const f of ['package.json', 'dist', 'media', 'README.md', 'LICENSE']) {
      if (existsSync(join(ext.path, f))) cpSync(join(ext.path, f), join(dest, f), { recursive: true });
    }
  }
  const vsixes = [...(ext.kind === 'vsix' ? [ext.path] : []), ...otherVsix];
  if (vsixes.length === 0) return;
  const args = [
    entry,
    '--config',
    join(userDataDir, 'config.yaml'),
    '--user-data-dir',
    userDataDir,
    '--extensions-dir',
    extensionsDir,
    ...vsixes.flatMap((v) => ['--install-extension', v]),
    '--force',
  ];
  log(`$ code-server --extensions-dir ${extensionsDir} ${vsixes.map((v) => `--install-extension ${v}`).join(' ')}`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`installing ${vsixes.join(', ')} failed (exit ${r.status ?? r.signal})`);
}

/**
 * Starts code-server on a free loopback port and resolves when it listens.
 * Returns { url, port, stop(), logFile }. Its output goes to logFile (and is echoed on failure).
 */
export async function startCodeServer({ userDataDir, extensionsDir, workspace, logFile, env = {}, timeoutMs = 120_000 }) {
  const { entry } = setupCodeServer();
  const port = await freePort();
  mkdirSync(userDataDir, { recursive: true });
  // Quiet, deterministic workbench: no welcome page, trust prompts, tours or update checks.
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  writeFileSync(
    join(userDataDir, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'security.workspace.trust.enabled': false,
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'window.restoreWindows': 'none',
        'workbench.editor.restoreViewState': false,
        'files.hotExit': 'off',
        'chat.commandCenter.enabled': false,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
      },
      null,
      2,
    ),
  );
  const args = [
    entry,
    '--config',
    join(userDataDir, 'config.yaml'),
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--extensions-dir',
    extensionsDir,
    '--user-data-dir',
    userDataDir,
    workspace,
  ];
  log(`$ node ${args.join(' ')}`);
  const out = createWriteStream(logFile);
  const child = spawn(process.execPath, args, {
    detached: true, // own process group: we kill code-server, its extension host and pty host together
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let text = '';
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    killGroup(child, 'SIGTERM');
    const exited = new Promise((r) => child.once('exit', r));
    const t = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 7000))]);
    clearTimeout(t);
    killGroup(child, 'SIGKILL');
  };
  onCleanup((sync) => (sync ? killGroup(child, 'SIGKILL') : stop()));
  const onData = (d) => {
    out.write(d);
    if (text.length < 200_000) text += d.toString();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const url = `http://127.0.0.1:${port}/`;
  await new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`code-server did not listen within ${timeoutMs / 1000} s:\n${text.slice(-4000)}`)), timeoutMs);
    const check = () => {
      if (text.includes('HTTP server listening')) {
        clearTimeout(t);
        res();
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', (code, sig) => {
      clearTimeout(t);
      rej(new Error(`code-server exited (${code ?? sig}) before listening:\n${text.slice(-4000)}`));
    });
  });
  log(`listening on ${url} (log: ${logFile})`);
  return { url, port, stop, logFile, output: () => text };
}

/** Chromium through playwright-core (no browser download): the system build, headless. */
export async function launchChromium() {
  requireChromium();
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  onCleanup(async (sync) => {
    if (!sync) await browser.close().catch(() => undefined);
  });
  return browser;
}

/** Opens the workbench on a folder and waits until it has rendered. */
export async function openWorkbench(browser, url, folder, { width = 1400, height = 900 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const target = `${url}?folder=${encodeURIComponent(folder)}`;
  log(`browser -> ${target}`);
  await page.goto(target, { waitUntil: 'domcontentloaded', timeout: 60_000 });
  await page.waitForSelector('div.monaco-workbench', { timeout: 90_000 });
  return page;
}

/** The counts scripts/test-all.mjs asked for (env MIMICRY_RESULTS names the file), if it did. */
export function writeCounts(r) {
  const file = process.env.MIMICRY_RESULTS;
  if (file) writeFileSync(file, JSON.stringify({ passed: r.passed, failed: r.failed, skipped: r.skipped }) + '\n');
}

/** Runs a test layer's main() and exits with its status; a crash is one failure, after cleanup. */
export function runLayer(label, main) {
  main().then(
    (code) => process.exit(code),
    async (err) => {
      console.error(`[${label}] ERROR: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      writeCounts({ passed: 0, failed: 1, skipped: 0 });
      await cleanupAll();
      process.exit(1);
    },
  );
}
