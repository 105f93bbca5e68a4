// Finds and loads Dawn's Node binding (dawn.node, shipped prebuilt per platform inside the npm
// package `webgpu`). The package's own entry is an ES module that a CommonJS bundle cannot
// require, so the binary is loaded directly: next to the bundle (a packaged .vsix carries its
// platform's copy in dist/dawn/<platform>-<arch>/), or from node_modules/webgpu/dist/.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface DawnModule {
  create(flags: string[]): GPU;
  /** GPUBufferUsage, GPUMapMode, ...: tfjs-backend-webgpu reads these as globals. */
  readonly globals: Record<string, unknown>;
}

/** `linux-x64`, `darwin-universal`, `win32-arm64`: the package's folder names. */
export function dawnPlatform(platform: string = process.platform, arch: string = process.arch): string {
  return platform === 'darwin' ? 'darwin-universal' : `${platform}-${arch}`;
}

/** Where dawn.node may be; MIMICRY_DAWN_NODE (a file) replaces the search (tests use it). */
export function dawnCandidates(): string[] {
  const explicit = process.env.MIMICRY_DAWN_NODE;
  if (explicit !== undefined) return [explicit];
  const plat = dawnPlatform();
  const out: string[] = [];
  if (typeof __dirname === 'string')
    out.push(path.join(__dirname, 'dawn', plat, 'dawn.node'), path.join(__dirname, '..', 'dawn', plat, 'dawn.node'));
  try {
    out.push(path.join(path.dirname(require.resolve('webgpu/package.json')), 'dist', plat, 'dawn.node'));
  } catch {
    // a bundle without node_modules: dist/dawn covers that
  }
  out.push(path.join(process.cwd(), 'node_modules', 'webgpu', 'dist', plat, 'dawn.node'));
  return [...new Set(out)];
}

let loaded: DawnModule | null = null;

/** Loads dawn.node once per thread; throws an Error whose message says why in one line. */
export function loadDawn(): DawnModule {
  if (loaded) return loaded;
  const candidates = dawnCandidates();
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) throw new Error(`no dawn.node for ${dawnPlatform()} (looked in ${candidates.join(', ')})`);
  // process.dlopen, not require: a runtime path that no bundler tries to follow.
  const holder: { exports: unknown } = { exports: {} };
  try {
    process.dlopen(holder, file);
  } catch (e) {
    throw new Error(`dawn.node failed to load (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`, { cause: e });
  }
  const m = holder.exports as Partial<DawnModule>;
  if (typeof m.create !== 'function' || typeof m.globals !== 'object' || m.globals === null)
    throw new Error(`${file} is not Dawn's Node binding (no create/globals)`);
  loaded = m as DawnModule;
  return loaded;
}
