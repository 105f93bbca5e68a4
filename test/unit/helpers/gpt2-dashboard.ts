// The dashboard data of one real run (the bundled GPT-2, authors' preset, n = 1, 4 probes), made
// once per test file: registers the before/after hooks and returns a getter for the data.
import { before, after } from 'node:test';
import { openCheckpoint } from '../../../src/mimicry/safetensors/reader';
import type { Checkpoint } from '../../../src/mimicry/safetensors/types';
import { ReconstructSessionJob } from '../../../src/mimicry/worker/reconstruct/job';
import type { DashboardData } from '../../../src/mimicry/dashboard/types';

export function gpt2DashboardData(): () => DashboardData {
  let ck: Checkpoint | undefined;
  let data: DashboardData | undefined;
  before(async () => {
    ck = await openCheckpoint('test/fixtures/real/capp-gpt2-4layer.safetensors');
    const job = new ReconstructSessionJob(ck);
    data = await job.run({ preset: 'paper', templates: 1, probes: 4 }, 1024, {
      signal: new AbortController().signal,
      onFit: () => undefined,
      onPhase: () => undefined,
    });
    await job.dropResult();
  });
  after(() => ck?.close());
  return () => {
    if (!data) throw new Error('the dashboard data is made in before()');
    return data;
  };
}
