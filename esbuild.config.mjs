// Bundles every entry point: extension host, worker, CLI (node, CommonJS) and webviews (browser, IIFE).
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

/** @type {esbuild.BuildOptions} */
const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: process.argv.includes('--verbose') ? 'info' : 'warning',
  target: 'es2022',
};

const node = {
  ...common,
  platform: 'node',
  format: 'cjs',
  external: ['vscode', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
};

const builds = [
  { ...node, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { inspectWorker: 'src/mimicry/worker/inspect/main.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { reconstructWorker: 'src/mimicry/worker/reconstruct/main.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { familyWorker: 'src/mimicry/worker/family/main.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { statsWorker: 'src/mimicry/stats/statsWorker.ts' }, outdir: 'dist' },
  // Starts the workers above through V8's code cache (WorkerHost uses it when it is there).
  { ...node, entryPoints: { bundleLoader: 'src/mimicry/worker/channel/bundleLoader.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { paperWorker: 'src/mimicry/recast/paperWorker.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { entropyWorker: 'src/mimicry/recast/entropyWorker.ts' }, outdir: 'dist' },
  // The executable turns on V8's code cache and then loads the CLI bundle beside it (src/cli/bin.ts).
  { ...node, entryPoints: { cli: 'src/cli/bin.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
  { ...node, entryPoints: { cliMain: 'src/cli/main.ts' }, outdir: 'dist' },
  {
    ...common,
    platform: 'browser',
    format: 'iife',
    entryPoints: { inspector: 'src/webview/inspector/main.ts' },
    outdir: 'dist/webview',
  },
  {
    ...common,
    platform: 'browser',
    format: 'iife',
    entryPoints: { dashboard: 'src/webview/dashboard/main.ts' },
    outdir: 'dist/webview',
  },
  {
    ...common,
    platform: 'browser',
    format: 'iife',
    entryPoints: { family: 'src/webview/family/main.ts' },
    outdir: 'dist/webview',
  },
];

// tfjs' wasm backend loads its .wasm binaries from disk next to the bundle.
function copyAssets() {
  const wasmDir = 'node_modules/@tensorflow/tfjs-backend-wasm/dist';
  mkdirSync('dist/wasm', { recursive: true });
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
    if (existsSync(`${wasmDir}/${f}`)) cpSync(`${wasmDir}/${f}`, `dist/wasm/${f}`);
  }
  const codicons = 'node_modules/@vscode/codicons/dist/codicon.css';
  if (existsSync(codicons)) {
    mkdirSync(dirname('dist/codicons/x'), { recursive: true });
    cpSync('node_modules/@vscode/codicons/dist', 'dist/codicons', { recursive: true });
  }
}

if (watch) {
  for (const b of builds) (await esbuild.context(b)).watch();
  copyAssets();
} else {
  // A fresh dist/: a bundle renamed or removed must not linger (and be packaged).
  rmSync('dist', { recursive: true, force: true });
  await Promise.all(builds.map((b) => esbuild.build(b)));
  copyAssets();
}
