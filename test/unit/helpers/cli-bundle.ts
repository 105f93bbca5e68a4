// The real CLI as `npm run build` bundles it (esbuild.config.mjs's node options), but into a test's
// own folder: `npm run build` starts by removing dist/, which would pull the bundle from under
// tests running beside this one.
import { join } from 'node:path';
import { build } from 'esbuild';

/** Bundles src/cli/main.ts to `<dir>/cli.js` and returns that path. */
export async function bundleCli(dir: string): Promise<string> {
  const outfile = join(dir, 'cli.js');
  await build({
    entryPoints: ['src/cli/main.ts'],
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
