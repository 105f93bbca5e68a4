// Entry of dist/familyWorker.js: the task-family analysis in a worker thread, so comparing members
// never blocks the extension host. Serves FamilyService (./protocol.ts) over the worker channel.
import { analyzeFamily } from '../../family/analyze';
import { writeTaskBank } from '../../family/bank';
import { loadFamily, type LoadedFamily } from '../../family/members';
import { serve } from '../channel/serve';
import type { FamilyService } from './protocol';

let family: LoadedFamily | undefined;
/** Each bank's Gram of the last analysis: the bank export reuses them instead of reading every update again. */
let grams = new Map<string, Float64Array>();
let analyzedTemplates: number | undefined;

function current(): LoadedFamily {
  if (!family) throw new Error('no family is open');
  return family;
}

serve<FamilyService>(
  {
    async open({ paths, base }) {
      await family?.close();
      family = undefined;
      grams = new Map();
      family = await loadFamily(paths, base === undefined ? {} : { base });
      return {
        members: family.members.map((m) => ({ name: m.name, path: m.path, kind: m.kind, step: m.step })),
        base: family.base?.path ?? null,
      };
    },
    async analyze(params, { signal, progress }) {
      const next = new Map<string, Float64Array>();
      progress({ message: 'comparing the members', fraction: 0 });
      const report = await analyzeFamily(current(), {
        ...params,
        signal,
        onProgress: (done, total) => progress({ message: `${done} of ${total} banks compared`, fraction: done / Math.max(1, total) }),
        onGram: (bank, g) => next.set(bank, g),
      });
      grams = next;
      analyzedTemplates = params.templates;
      return report;
    },
    async exportBank({ file, templates }, { signal, progress }) {
      const t = templates ?? analyzedTemplates;
      let last = 0;
      const bank = await writeTaskBank(current(), file, {
        ...(t === undefined ? {} : { templates: t }),
        grams: t === analyzedTemplates ? grams : undefined,
        signal,
        onWrite: (p) => {
          const now = Date.now();
          if (now - last < 100 && p.bytes < p.totalBytes) return;
          last = now;
          progress({ message: `${p.tensors} of ${p.totalTensors} tensors`, fraction: p.totalBytes > 0 ? p.bytes / p.totalBytes : 1 });
        },
      });
      return {
        path: bank.path,
        bytes: bank.bytes,
        membersBytes: bank.membersBytes,
        denseBytes: bank.denseBytes,
        banks: bank.banks,
        templateValues: bank.templateValues,
        coefficientValues: bank.coefficientValues,
      };
    },
  },
  async () => {
    await family?.close();
    family = undefined;
  },
);
