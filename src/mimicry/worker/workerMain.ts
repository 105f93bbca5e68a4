// Entry of dist/worker.js: the engine in a worker thread, so reading and math never block the
// extension host. It opens one checkpoint by path and serves jobs (see ./protocol.ts).

import { parentPort } from 'node:worker_threads';
import type { Checkpoint } from '../safetensors/types';
import { openCheckpoint } from '../safetensors/reader';
import { overviewOf } from './overview';
import type { HostToWorker, WorkerToHost } from './protocol';
import { computeSpectrumOf, computeStatsOf, toWorkerError } from './jobs';

if (!parentPort) throw new Error('workerMain must run inside a worker thread');
const port = parentPort;

const post = (m: WorkerToHost): void => port.postMessage(m);
const jobs = new Map<number, AbortController>();
let checkpoint: Checkpoint | undefined;

/** Progress at most every 100 ms per job: enough for a smooth bar, cheap for the host. */
function throttle(jobId: number): (name: string, fraction: number, extra?: { done?: number; total?: number }) => void {
  let last = 0;
  return (name, fraction, extra = {}) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    post({ type: 'progress', jobId, name, fraction, ...extra });
  };
}

function throttled(jobId: number, name: string): (fraction: number) => void {
  const report = throttle(jobId);
  return (fraction) => report(name, fraction);
}

async function runJob(jobId: number, names: readonly string[], work: (ckpt: Checkpoint, name: string, signal: AbortSignal, index: number) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  jobs.set(jobId, controller);
  try {
    const ckpt = checkpoint;
    for (let i = 0; i < names.length; i++) {
      if (controller.signal.aborted) break;
      const name = names[i];
      try {
        if (!ckpt) throw new Error('no checkpoint is open');
        await work(ckpt, name, controller.signal, i);
      } catch (err) {
        const error = toWorkerError(err, controller.signal);
        post({ type: 'tensorFailed', jobId, name, error });
        if (error.cancelled) break;
      }
    }
  } finally {
    jobs.delete(jobId);
    post({ type: 'done', jobId, cancelled: controller.signal.aborted });
  }
}

async function handle(msg: HostToWorker): Promise<void> {
  switch (msg.type) {
    case 'open':
      try {
        checkpoint = await openCheckpoint(msg.path);
        post({ type: 'opened', ...overviewOf(checkpoint) });
      } catch (err) {
        post({ type: 'openFailed', error: toWorkerError(err) });
      }
      return;
    case 'stats':
      return runJob(msg.jobId, [msg.name], async (ckpt, name, signal) => {
        const stats = await computeStatsOf(ckpt, name, msg.bins, signal, throttled(msg.jobId, name));
        post({ type: 'stats', jobId: msg.jobId, name, stats });
      });
    case 'statsBatch': {
      const total = msg.names.length;
      const report = throttle(msg.jobId);
      return runJob(msg.jobId, msg.names, async (ckpt, name, signal, i) => {
        const progress = (fraction: number): void => report(name, fraction, { done: i, total });
        progress(0);
        const stats = await computeStatsOf(ckpt, name, msg.bins, signal, progress);
        post({ type: 'stats', jobId: msg.jobId, name, stats });
      });
    }
    case 'spectrum':
      return runJob(msg.jobId, [msg.name], async (ckpt, name, signal) => {
        const spectrum = await computeSpectrumOf(ckpt, name, msg.maxDim, signal, throttled(msg.jobId, name));
        post({ type: 'spectrum', jobId: msg.jobId, name, spectrum });
      });
    case 'cancel':
      jobs.get(msg.jobId)?.abort();
      return;
    case 'close':
      for (const c of jobs.values()) c.abort();
      await checkpoint?.close().catch(() => undefined);
      checkpoint = undefined;
      port.close();
      return;
  }
}

port.on('message', (msg: HostToWorker) => {
  void handle(msg);
});
