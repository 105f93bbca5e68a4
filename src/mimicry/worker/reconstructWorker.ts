// Entry of dist/reconstructWorker.js: reconstruction in a worker thread, so fitting never blocks
// the extension host. One worker per dashboard (see ./reconstructProtocol.ts); the host can
// terminate it outright when a cancel does not stop a job in time.
import { parentPort } from 'node:worker_threads';
import * as path from 'node:path';
import { openCheckpoint } from '../safetensors/reader';
import type { Checkpoint } from '../safetensors/types';
import { RECAST_FORMAT } from '../recast/format';
import { planView } from '../dashboard/budget';
import { dashboardFromRecast } from '../dashboard/fromRecast';
import { fitFraction, ReconstructSessionJob, throttleProgress, throttleWrites } from './reconstructJob';
import type { FromReconstructWorker, ReconstructFailure, ToReconstructWorker } from './reconstructProtocol';

if (!parentPort) throw new Error('reconstructWorker must run inside a worker thread');
const port = parentPort;
const post = (m: FromReconstructWorker): void => port.postMessage(m);

let checkpoint: Checkpoint | undefined;
let session: ReconstructSessionJob | undefined;
let isRecast = false;
const jobs = new Map<number, AbortController>();

function failure(err: unknown, signal?: AbortSignal): ReconstructFailure {
  const cancelled = signal?.aborted === true || (err instanceof Error && err.name === 'AbortError');
  return { message: cancelled ? 'cancelled' : err instanceof Error ? err.message : String(err), cancelled };
}

async function job(id: number, work: (ck: Checkpoint, s: ReconstructSessionJob, signal: AbortSignal) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  jobs.set(id, controller);
  try {
    if (!checkpoint || !session) throw new Error('no checkpoint is open');
    await work(checkpoint, session, controller.signal);
  } catch (err) {
    post({ type: 'failed', id, error: failure(err, controller.signal) });
  } finally {
    jobs.delete(id);
  }
}

async function handle(msg: ToReconstructWorker): Promise<void> {
  switch (msg.type) {
    case 'open':
      try {
        checkpoint = await openCheckpoint(msg.path);
        session = new ReconstructSessionJob(checkpoint);
        isRecast = checkpoint.metadata.format === RECAST_FORMAT;
        post({
          type: 'opened',
          brief: {
            path: checkpoint.path,
            fileName: path.basename(checkpoint.path),
            tensorCount: checkpoint.tensors.length,
            params: checkpoint.tensors.reduce((a, t) => a + t.params, 0),
            totalBytes: checkpoint.totalBytes,
            isRecast,
          },
        });
      } catch (err) {
        post({ type: 'openFailed', error: failure(err) });
      }
      return;
    case 'plan':
      if (!checkpoint) return post({ type: 'plan', id: msg.id, outcome: { ok: false, error: 'no checkpoint is open' } });
      return post({ type: 'plan', id: msg.id, outcome: planView(checkpoint.tensors, msg.options) });
    case 'run':
      return job(msg.id, async (_ck, s, signal) => {
        const onFit = throttleProgress((event) => post({ type: 'progress', id: msg.id, phase: 'fit', event, fraction: fitFraction(event) }));
        const data = await s.run(msg.options, msg.spectrumMaxSide, {
          signal,
          onFit,
          onPhase: (phase, message) => post({ type: 'progress', id: msg.id, phase, message }),
        });
        post({ type: 'result', id: msg.id, data });
      });
    case 'load':
      return job(msg.id, async (ck, _s, signal) => {
        post({ type: 'result', id: msg.id, data: await dashboardFromRecast(ck, msg.spectrumMaxSide, signal) });
      });
    case 'export':
      return job(msg.id, async (_ck, s, signal) => {
        const name = path.basename(msg.file);
        post({ type: 'progress', id: msg.id, phase: 'write', message: name, fraction: 0 });
        const onProgress = throttleWrites((p) =>
          post({ type: 'progress', id: msg.id, phase: 'write', message: `${name}: ${p.tensors} of ${p.totalTensors} tensors`, fraction: p.totalBytes > 0 ? p.bytes / p.totalBytes : 1 }),
        );
        await s.export(msg.kind, msg.file, isRecast, { signal, onProgress });
        post({ type: 'exported', id: msg.id, file: msg.file });
      });
    case 'cancel':
      jobs.get(msg.id)?.abort();
      return;
    case 'close':
      for (const c of jobs.values()) c.abort();
      await session?.dropResult().catch(() => undefined);
      await checkpoint?.close().catch(() => undefined);
      checkpoint = undefined;
      port.close();
      return;
  }
}

port.on('message', (msg: ToReconstructWorker) => {
  void handle(msg);
});
