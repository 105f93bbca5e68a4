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
import { describeDevice, GpuUnavailable, closeWebGpu, startWebGpu, webGpuState, type GpuDevice } from '../gpu/webgpu';

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

/** Lines a caller shows the user (CLI: stderr): a software adapter forced, a GPU passed over and why. */
type NoteListener = (line: string) => void;
const noteListeners = new Set<NoteListener>();

/** Subscribes to backend notes; returns the unsubscribe. */
export function onBackendNote(fn: NoteListener): () => void {
  noteListeners.add(fn);
  return () => noteListeners.delete(fn);
}

function note(line: string): void {
  for (const fn of noteListeners) fn(line);
}

const message = (e: unknown) => (e instanceof Error ? e.message.split('\n')[0] : String(e));

async function useWebGpu(allowSoftware: boolean): Promise<string> {
  let st;
  try {
    st = await startWebGpu(tf, allowSoftware);
  } catch (e) {
    // requestDevice and the like reject with DOMExceptions: every reason becomes one line.
    throw e instanceof GpuUnavailable ? e : new GpuUnavailable('failed', message(e));
  }
  if (st.report.software) note(`webgpu runs on a software adapter, ${describeDevice(st.report.device)}: slow, for testing only`);
  return 'webgpu';
}

const loaders: Record<Exclude<Backend, 'auto'>, () => Promise<string>> = {
  webgpu: () => useWebGpu(true),
  wasm: useWasm,
  cpu: useCpu,
  'tfjs-node': () => useNode('@tensorflow/tfjs-node'),
  'tfjs-node-gpu': () => useNode('@tensorflow/tfjs-node-gpu'),
};

let current: { asked: Backend; name: string } | null = null;

/** Where `auto` looks, in order; webgpu only on a hardware adapter. */
export const AUTO_ORDER = ['webgpu', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;

/**
 * tfjs ready on `backend`; `auto` tries AUTO_ORDER. Returns the name in use. A GPU backend asked
 * for (or tried by auto) that cannot start is noted in one line with the reason; auto goes on.
 */
export async function loadTf(backend: Backend): Promise<{ tf: Tf; name: string }> {
  if (current && current.asked === backend && tf.getBackend() === current.name && gpuProblem() === null) return { tf, name: current.name };
  // PROD: no debug checks and no console banners (the cpu backend's would land in --json output).
  tf.env().set('PROD', true);
  let name: string | null = null;
  if (backend === 'auto' || backend === 'webgpu' || backend === 'tfjs-node-gpu') {
    // A GPU asked for that cannot be used: one line with the reason, then the rest of auto's order.
    const order = backend === 'auto' ? AUTO_ORDER : [backend, ...AUTO_ORDER.filter((b) => b !== backend && b !== 'webgpu')];
    const tried: string[] = [];
    for (const b of order) {
      try {
        name = b === 'webgpu' ? await useWebGpu(backend === 'webgpu') : await loaders[b]();
        break;
      } catch (e) {
        const why = e instanceof BackendError ? (e.detail ?? e.message) : message(e);
        tried.push(`${b}: ${why}`);
        const quiet = backend === 'auto' && (b !== 'webgpu' || (e instanceof GpuUnavailable && e.kind === 'absent'));
        if (!quiet && (b === 'webgpu' || b === backend)) note(`${b} cannot be used: ${why}; trying the next backend`);
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

/** The adapter of the webgpu backend while it is the one in use, for recast.method.device. */
export function activeGpuDevice(): GpuDevice | null {
  const st = webGpuState();
  return st && tf.getBackend() === 'webgpu' ? st.report.device : null;
}

/** What went wrong with the GPU in use (device lost, uncaptured error), or null. */
function gpuProblem(): string | null {
  const st = webGpuState();
  return st && tf.getBackend() === 'webgpu' ? (st.lost ?? st.error) : null;
}

/**
 * Lowers (never raises) the device's buffer limit, in bytes: for tests of the tiled and chunked
 * routes on a small limit (README, GPU section). Read here only.
 */
export const LIMIT_OVERRIDE_ENV = 'MIMICRY_GPU_MAX_BINDING_BYTES';

/**
 * The largest buffer a tensor may take on the webgpu backend: the smaller of the device's
 * maxBufferSize and maxStorageBufferBindingSize (lowered by LIMIT_OVERRIDE_ENV); Infinity on other
 * backends, or before the GPU has started.
 */
export function gpuBufferLimit(backend: string): number {
  const st = webGpuState();
  if (backend !== 'webgpu' || !st) return Number.POSITIVE_INFINITY;
  const limit = Math.min(st.maxBufferSize, st.maxBindingSize);
  const asked = Number(process.env[LIMIT_OVERRIDE_ENV]);
  return Number.isSafeInteger(asked) && asked > 0 ? Math.min(limit, asked) : limit;
}

/**
 * On the webgpu backend: refuses a bank whose indivisible unit (`bytes`: what cannot be split
 * further into chunks, `what` names it) exceeds the device's buffer limit, with both numbers.
 * Other backends: nothing to check.
 */
export function assertFitsDevice(backend: string, bytes: number, what: string): void {
  const st = webGpuState();
  const limit = gpuBufferLimit(backend);
  if (!st || bytes <= limit) return;
  const size = (b: number) => (b < 2 ** 20 ? `${b} bytes` : `${(b / 2 ** 20).toFixed(1)} MiB`);
  throw new BackendError(
    'gpu-bank-too-large',
    `${what}: a buffer of ${size(bytes)} is needed, the GPU allows ${size(limit)} ` +
      `(${describeDevice(st.report.device)}); use smaller groups (--blocks-per-group) or --backend wasm`,
  );
}

/**
 * Reads a tensor back; on the webgpu backend a lost device or a GPU error fails the run
 * (rule gpu-device-lost) instead of handing back zeros.
 */
export async function readBack(t: tf.Tensor): Promise<Float32Array> {
  let data: Float32Array;
  try {
    data = (await t.data()) as Float32Array;
  } catch (e) {
    // A failed read on the GPU: the device's lost promise may settle a moment after the failure.
    if (gpuProblem() === null && webGpuState() && tf.getBackend() === 'webgpu') await new Promise((r) => setTimeout(r, 50));
    const p = gpuProblem();
    if (p !== null) throw new BackendError('gpu-device-lost', p);
    throw e;
  }
  const p = gpuProblem();
  if (p !== null) throw new BackendError('gpu-device-lost', p);
  return data;
}

/** Frees the GPU (device and instance) so a CLI process can exit; the next loadTf starts it again. */
export function releaseGpu(): void {
  if (current?.name === 'webgpu') current = null;
  closeWebGpu(tf);
}
