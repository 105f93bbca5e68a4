// The real CLI and workers as `npm run build` bundles them (esbuild.config.mjs's node options), but
// into a test's own folder: `npm run build` starts by removing dist/, which would pull the bundle
// from under tests running beside this one. The bench bundles its pool workers with it too.
import { join } from 'node:path';
import { build } from 'esbuild';

/** Bundles one entry point (src/...) to `outfile` as the build does. */
export async function bundleEntry(entry: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'es2022',
    logLevel: 'error',
    external: ['vscode', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
  });
  return outfile;
}

/** Bundles src/cli/main.ts to `<dir>/cli.js` and returns that path. */
export function bundleCli(dir: string): Promise<string> {
  return bundleEntry('src/cli/main.ts', join(dir, 'cli.js'));
}
