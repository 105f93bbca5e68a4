// Host side of the task-family worker: the worker channel's host, opened on one family.
import { WorkerHost } from '../channel/host';
import type { MethodName } from '../channel/protocol';
import type { FamilyOpenParams, FamilyService } from './protocol';

/** The analysis stops between banks and layers; a bank's fit is short. */
const ANALYZE_CANCEL_GRACE_MS = 3000;
/** The bank's writer stops between tensors and removes its temporary file. */
const EXPORT_CANCEL_GRACE_MS = 10_000;

export type FamilyHost = WorkerHost<FamilyService, 'open'>;

/** `execArgv` lets tests run the TypeScript entry under tsx. */
export function familyHost(entry: string, family: FamilyOpenParams, execArgv?: readonly string[]): FamilyHost {
  return new WorkerHost<FamilyService, 'open'>({
    entry,
    name: 'mimicry-family',
    ...(execArgv ? { execArgv } : {}),
    open: { method: 'open', params: family },
    cancelGraceMs: (method: MethodName<FamilyService>) => (method === 'exportBank' ? EXPORT_CANCEL_GRACE_MS : ANALYZE_CANCEL_GRACE_MS),
    closedMessage: 'the family dashboard was closed',
  });
}
