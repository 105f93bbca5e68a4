// Host side of the reconstruction worker: the worker channel's host, opened on one checkpoint.
import { WorkerHost } from '../channel/host';
import type { MethodName } from '../channel/protocol';
import type { ReconstructService } from './protocol';

/** A cancelled fit that has not stopped after this long (a long synchronous group fit) ends the worker. */
const RUN_CANCEL_GRACE_MS = 1500;
/** Exports stop between tensors; they get longer, so their writer removes its temporary file. */
const EXPORT_CANCEL_GRACE_MS = 10_000;

export type ReconstructHost = WorkerHost<ReconstructService, 'open'>;

/** `execArgv` lets tests run the TypeScript entry under tsx; `factors` fits a LoRA adapter's stored factors. */
export function reconstructHost(entry: string, checkpointPath: string, execArgv?: readonly string[], factors = false): ReconstructHost {
  return new WorkerHost<ReconstructService, 'open'>({
    entry,
    name: 'mimicry-reconstruct',
    ...(execArgv ? { execArgv } : {}),
    open: { method: 'open', params: { path: checkpointPath, ...(factors ? { factors } : {}) } },
    cancelGraceMs: (method: MethodName<ReconstructService>) => (method === 'export' ? EXPORT_CANCEL_GRACE_MS : RUN_CANCEL_GRACE_MS),
    closedMessage: 'the dashboard was closed',
  });
}
