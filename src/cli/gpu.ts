// `mimicry gpu [--json] [--size N]`: the GPU WebGPU finds here (vendor, architecture, description,
// software or not), its buffer limits, and a short float32 matrix-product throughput.
import type { Command } from 'commander';
import { describeDevice } from '../mimicry/gpu/webgpu';
import { releaseGpu } from '../mimicry/recast/tfjs';
import { probeGpu, SHOWN_LIMITS, type GpuProbe } from '../mimicry/gpu/probe';
import { CliError, EXIT_USAGE, printable, type CliIO } from './io';
import { positiveInt } from './flags';

interface GpuFlags {
  readonly json?: boolean;
  readonly size?: number;
}

const mib = (bytes: number) => (bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`);

export function renderGpu(p: GpuProbe): string {
  const { adapter: a, matmul: m } = p;
  const lines = [
    `adapter: ${describeDevice(a.device, a.software)}`,
    `  vendor: ${a.device.vendor || '-'}; architecture: ${a.device.architecture || '-'}; description: ${a.device.description || '-'}`,
    a.software
      ? '  a software adapter (the CPU): --backend auto does not use it; --backend webgpu does, slowly'
      : '  a hardware adapter: --backend auto runs the optimizer on it',
    'limits:',
    ...SHOWN_LIMITS.filter((k) => a.limits[k] !== undefined).map(
      (k) => `  ${k}: ${/Size$/.test(k) ? mib(a.limits[k]) : String(a.limits[k])}`,
    ),
    `matmul ${m.size} x ${m.size} float32: ${m.gflops.toFixed(1)} GFLOP/s (${m.products} products in ${m.seconds.toFixed(2)} s); ` +
      `largest error against float64 ${m.relError.toExponential(1)} (relative)`,
  ];
  return lines.map(printable).join('\n') + '\n';
}

async function run(flags: GpuFlags, io: CliIO): Promise<void> {
  let probe: GpuProbe;
  try {
    probe = await probeGpu(flags.size ?? 1024);
  } catch (e) {
    throw new CliError(`no usable GPU: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, EXIT_USAGE);
  } finally {
    releaseGpu(); // the GPU instance would keep the process alive
  }
  io.stdout.write(flags.json ? JSON.stringify(probe, null, 2) + '\n' : renderGpu(probe));
}

export function registerGpu(program: Command, io: CliIO): void {
  program
    .command('gpu')
    .description('show the GPU adapter WebGPU finds, its limits and a short matrix-product throughput')
    .option('--size <n>', 'side of the square matrices multiplied (default 1024)', positiveInt)
    .option('--json', 'print the adapter, limits and figure as JSON')
    .action((flags: GpuFlags) => run(flags, io));
}
