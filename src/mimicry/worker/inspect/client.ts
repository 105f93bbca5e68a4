// Host side of the inspector's worker: the worker channel's host, opened on one checkpoint.
import { WorkerHost } from '../channel/host';
import type { InspectService } from './protocol';

/** A cancelled job that has not stopped after this long (a long synchronous SVD) ends the worker. */
const CANCEL_GRACE_MS = 750;

export type InspectHost = WorkerHost<InspectService, 'open'>;

/** `factors`: a LoRA adapter's factors get their own spectra instead of their layer update's. */
export function inspectHost(entry: string, checkpointPath: string, execArgv?: readonly string[], factors = false): InspectHost {
  return new WorkerHost<InspectService, 'open'>({
    entry,
    name: 'mimicry-engine',
    ...(execArgv ? { execArgv } : {}),
    open: { method: 'open', params: { path: checkpointPath, ...(factors ? { factors } : {}) } },
    cancelGraceMs: () => CANCEL_GRACE_MS,
    closedMessage: 'the inspector was closed',
  });
}
