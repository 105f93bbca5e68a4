// The files written for a dashboard's results, with their sizes on disk next to the source's.
import type { DashboardData, OutputFile } from './types';

/** `data` with `output` in its list of outputs, replacing an earlier one of the same kind. */
export function withOutput(data: DashboardData, output: OutputFile): DashboardData {
  return { ...data, outputs: [...(data.outputs ?? []).filter((o) => o.kind !== output.kind), output] };
}

/** Whether an output's size is compared with the source's: the checkpoints, not the reports. */
export function isCheckpointOutput(o: OutputFile): boolean {
  return o.kind === 'model' || o.kind === 'dense';
}
