// The WebGPU adapter (Dawn: Vulkan on Linux and Windows, Metal on macOS, D3D12 on Windows) and
// TensorFlow.js' webgpu backend on it. The backend is registered here with a device this module
// asks for (the adapter's largest buffer limits), never by tfjs-backend-webgpu's own
// navigator.gpu check, so no browser globals are faked and a failed start leaves nothing behind.
import type * as tfCore from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { loadDawn } from './dawn';

/** The adapter as reported in recast.method.device (docs/FORMAT.md section 2.5). */
export interface GpuDevice {
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
}

export interface AdapterReport {
  readonly device: GpuDevice;
  /** lavapipe/llvmpipe, SwiftShader, WARP: a CPU pretending to be a GPU. */
  readonly software: boolean;
  readonly limits: Readonly<Record<string, number>>;
  readonly features: readonly string[];
}

interface AdapterInfoLike {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|\bwarp\b/i;

/** True for a software rasterizer: the adapter says it is a fallback, or its names say so. */
export function isSoftwareAdapter(info: AdapterInfoLike): boolean {
  if (info.isFallbackAdapter === true) return true;
  if ((info.architecture ?? '').toLowerCase() === 'software') return true;
  return [info.vendor, info.device, info.description].some((s) => SOFTWARE_NAMES.test(s ?? ''));
}

/** One line naming the adapter: `mesa llvmpipe: Mesa 25.0.7 (software)`. */
export function describeDevice(d: GpuDevice, software?: boolean): string {
  const parts = [d.vendor, d.architecture && d.architecture !== 'software' ? d.architecture : '', d.description].filter((s) => s);
  return `${parts.join(' ') || 'unnamed adapter'}${software ? ' (software)' : ''}`;
}

/** Why no GPU: `absent` (no binding, no adapter, only a software one) is normal; `failed` is worth a line. */
export class GpuUnavailable extends Error {
  constructor(
    readonly kind: 'absent' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

let gpu: GPU | null = null;
/** What gpuInstance put on globalThis.navigator, to take it back on release. */
let placedNavigator: 'navigator' | 'gpu' | null = null;

function gpuInstance(): GPU {
  if (gpu) return gpu;
  let dawn;
  try {
    dawn = loadDawn();
  } catch (e) {
    throw new GpuUnavailable(/^no dawn\.node/.test((e as Error).message) ? 'absent' : 'failed', (e as Error).message);
  }
  // tfjs-backend-webgpu reads GPUBufferUsage, GPUMapMode, ... as globals, and its backend's
  // constructor refuses to run unless navigator.gpu exists.
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) Object.assign(globalThis, { [k]: v });
  gpu = dawn.create([]);
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    placedNavigator = 'navigator';
  } else if (g.navigator.gpu === undefined) {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
    placedNavigator = 'gpu';
  }
  return gpu;
}

function dropGpuInstance(): void {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (placedNavigator === 'navigator') delete g.navigator;
  else if (placedNavigator === 'gpu' && g.navigator) delete g.navigator.gpu;
  placedNavigator = null;
  gpu = null;
}

function limitsOf(adapter: GPUAdapter): Record<string, number> {
  const out: Record<string, number> = {};
  // GPUSupportedLimits' fields are prototype getters: for...in sees them, Object.keys does not.
  for (const k in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

// adapter.info is newer than the @webgpu/types that tfjs-backend-webgpu pulls in.
const infoOf = (adapter: GPUAdapter): AdapterInfoLike & GPUAdapterInfo =>
  (adapter as GPUAdapter & { info: AdapterInfoLike & GPUAdapterInfo }).info;

/** The high-performance adapter and what it is; throws an Error saying why in one line when there is none. */
export async function requestAdapter(): Promise<{ adapter: GPUAdapter; report: AdapterReport }> {
  const adapter = await gpuInstance().requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new GpuUnavailable('absent', 'no GPU adapter (no Vulkan, Metal or D3D12 driver answered)');
  const info = infoOf(adapter);
  const device: GpuDevice = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    description: info.description || info.device || '',
  };
  return { adapter, report: { device, software: isSoftwareAdapter(info), limits: limitsOf(adapter), features: [...adapter.features] } };
}

/** The live webgpu backend's device, and what went wrong with it (a lost device, an uncaptured error). */
export interface WebGpuState {
  readonly report: AdapterReport;
  /** Largest single buffer, and largest storage binding, the device was granted. */
  readonly maxBufferSize: number;
  readonly maxBindingSize: number;
  lost: string | null;
  error: string | null;
  readonly gpuDevice: GPUDevice;
}

let state: WebGpuState | null = null;

/** The webgpu backend's state while it is registered, else null. */
export function webGpuState(): WebGpuState | null {
  return state;
}

/**
 * Registers and selects tfjs' webgpu backend on the adapter. A software adapter is refused unless
 * `allowSoftware`. Throws an Error saying why in one line; the tfjs backend is then unchanged.
 */
export async function startWebGpu(tf: typeof tfCore, allowSoftware: boolean): Promise<WebGpuState> {
  if (state && (state.lost !== null || state.error !== null)) releaseWebGpu(tf);
  if (!state) {
    const { adapter, report } = await requestAdapter();
    if (report.software && !allowSoftware)
      throw new GpuUnavailable(
        'absent',
        `the only adapter is a software one (${describeDevice(report.device)}); --backend webgpu uses it anyway`,
      );
    const mod = await import('@tensorflow/tfjs-backend-webgpu');
    const lim = report.limits;
    const wanted = [
      'maxBufferSize',
      'maxStorageBufferBindingSize',
      'maxComputeWorkgroupStorageSize',
      'maxComputeWorkgroupsPerDimension',
      'maxComputeWorkgroupSizeX',
      'maxComputeInvocationsPerWorkgroup',
    ];
    const requiredLimits: Record<string, number> = {};
    for (const k of wanted) if (lim[k] !== undefined) requiredLimits[k] = lim[k];
    const gpuDevice = await adapter.requestDevice({ requiredLimits });
    const st: WebGpuState = {
      report,
      maxBufferSize: gpuDevice.limits.maxBufferSize,
      maxBindingSize: gpuDevice.limits.maxStorageBufferBindingSize,
      lost: null,
      error: null,
      gpuDevice,
    };
    void gpuDevice.lost.then((info) => {
      if (state === st) st.lost = `the GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''})`;
    });
    gpuDevice.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      st.error ??= `the GPU reported an error (${ev.error.message.split('\n')[0]})`;
    };
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    const backend: () => WebGPUBackend = () => new mod.WebGPUBackend(gpuDevice, infoOf(adapter));
    // Priority 0: tfjs must never pick it by itself.
    tf.registerBackend('webgpu', backend, 0);
    state = st;
  }
  if (state.report.software && !allowSoftware)
    throw new GpuUnavailable(
      'absent',
      `the only adapter is a software one (${describeDevice(state.report.device)}); --backend webgpu uses it anyway`,
    );
  if (!(await tf.setBackend('webgpu'))) {
    const st = state;
    releaseWebGpu(tf);
    throw new GpuUnavailable('failed', `tfjs' webgpu backend did not start on ${describeDevice(st.report.device)}`);
  }
  return state;
}

/**
 * Drops the backend and its device; the GPU instance stays for the next startWebGpu. A process
 * makes one instance and drops it once, at its end (closeWebGpu): the only crash of Dawn seen here
 * (a test file dying mid-way in CI) came from a file that dropped and remade the instance.
 */
export function releaseWebGpu(tf: typeof tfCore): void {
  const st = state;
  state = null;
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  if (st) {
    st.gpuDevice.onuncapturederror = null;
    st.gpuDevice.destroy();
  }
}

/** releaseWebGpu, then drops the GPU instance too, which otherwise keeps the process alive. */
export function closeWebGpu(tf: typeof tfCore): void {
  releaseWebGpu(tf);
  dropGpuInstance();
}
