// Loads TensorFlow.js with the backend asked for. tfjs-node(-gpu) are optional (their install
// downloads libtensorflow), so they are imported by a runtime name and never bundled.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { BackendError } from './errors';
// Named imports, not bare ones: the node builds of these packages are not listed as having side
// effects, so a bundler would drop a bare import and with it the backend's registration.
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { Backend } from './types';

export type Tf = typeof tf;

const WASM_FILE = 'tfjs-backend-wasm.wasm';

/** Folders that may hold the .wasm binaries: next to the bundle (dist/wasm), or the package itself. */
function wasmDirs(): string[] {
  const dirs: string[] = [];
  if (process.env.MIMICRY_WASM_DIR) dirs.push(process.env.MIMICRY_WASM_DIR);
  if (typeof __dirname === 'string') dirs.push(path.join(__dirname, 'wasm'), path.join(__dirname, '..', 'wasm'));
  try {
    dirs.push(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')));
  } catch {
    // not resolvable from a bundle without node_modules: dist/wasm covers that
  }
  dirs.push(path.join(process.cwd(), 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist'));
  return dirs;
}

async function useWasm(): Promise<string> {
  const dir = wasmDirs().find((d) => fs.existsSync(path.join(d, WASM_FILE)));
  if (!dir) throw new BackendError('backend-unavailable', `the wasm backend needs ${WASM_FILE}; looked in ${wasmDirs().join(', ')}`);
  setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
  // The emscripten glue installs process-wide handlers that rethrow every unhandled rejection;
  // in a host process (the extension's) that would turn someone else's stray promise into a crash.
  const emitter: NodeJS.EventEmitter = process;
  const events = ['uncaughtException', 'unhandledRejection'];
  const before = events.map((e) => new Set(emitter.listeners(e)));
  try {
    if (!(await tf.setBackend('wasm'))) throw new BackendError('backend-failed', 'wasm');
    await tf.ready();
  } finally {
    events.forEach((e, i) => {
      for (const l of emitter.listeners(e)) if (!before[i].has(l)) emitter.removeListener(e, l as (...args: unknown[]) => void);
    });
  }
  return 'wasm';
}

async function useCpu(): Promise<string> {
  if (!tf.findBackendFactory('cpu')) tf.registerBackend('cpu', () => new MathBackendCPU(), 1);
  if (!(await tf.setBackend('cpu'))) throw new BackendError('backend-failed', 'cpu');
  return 'cpu';
}

async function useNode(pkg: string): Promise<string> {
  const spec: string = pkg; // a runtime name: not bundled, optional
  try {
    await (import(spec) as Promise<unknown>);
  } catch (e) {
    throw new BackendError(
      'backend-unavailable',
      `${pkg} is not installed or failed to load (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
    );
  }
  if (!(await tf.setBackend('tensorflow'))) throw new BackendError('backend-failed', `${pkg} loaded but its backend did not start`);
  return pkg;
}

const loaders: Record<Exclude<Backend, 'auto'>, () => Promise<string>> = {
  wasm: useWasm,
  cpu: useCpu,
  'tfjs-node': () => useNode('@tensorflow/tfjs-node'),
  'tfjs-node-gpu': () => useNode('@tensorflow/tfjs-node-gpu'),
};

let current: { asked: Backend; name: string } | null = null;

/** tfjs ready on `backend`; `auto` tries tfjs-node-gpu, tfjs-node, wasm, then cpu. Returns the name in use. */
export async function loadTf(backend: Backend): Promise<{ tf: Tf; name: string }> {
  if (current && current.asked === backend && tf.getBackend()) return { tf, name: current.name };
  // PROD: no debug checks and no console banners (the cpu backend's would land in --json output).
  tf.env().set('PROD', true);
  let name: string | null = null;
  if (backend === 'auto') {
    const tried: string[] = [];
    for (const b of ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const) {
      try {
        name = await loaders[b]();
        break;
      } catch (e) {
        tried.push(`${b}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (name === null) throw new BackendError('backend-unavailable', `no TensorFlow.js backend could start:\n  ${tried.join('\n  ')}`);
  } else {
    name = await loaders[backend]();
  }
  await tf.ready();
  current = { asked: backend, name };
  return { tf, name };
}
