// Statistics and spectra already computed survive closing and reopening a checkpoint in the same
// window. They live here, in the extension, not in the worker: a worker serves one open document
// and ends with it (its thread and file handles go too), while these results are small plain data
// the document holds anyway. A file is known by its path, size and modification time (and each
// shard's, for a sharded model): a file changed on disk starts afresh. Bounded: the least recently
// closed files go first.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { SpectrumView, TensorStatsView } from '../../webview/protocol';

export interface CachedResults {
  readonly stats: ReadonlyMap<string, TensorStatsView>;
  readonly spectra: ReadonlyMap<string, SpectrumView>;
}

/** Most files kept, and most tensors (statistics plus spectra) over all of them. */
const MAX_FILES = 16;
const MAX_TENSORS = 200_000;

/** Path, size and mtime of the file and its shards: a key that changes when any of them does. */
export async function fileIdentity(file: string, shards: readonly string[] = []): Promise<string | undefined> {
  const folder = path.dirname(file);
  const files = [file, ...shards.map((s) => path.resolve(folder, s)).filter((s) => s !== file)];
  try {
    const parts = await Promise.all(
      files.map(async (f) => {
        const s = await stat(f);
        return `${f}\u0000${s.size}\u0000${s.mtimeMs}`;
      }),
    );
    return parts.join('\u0001');
  } catch {
    return undefined;
  }
}

export class StatsCache {
  /** In order of last use: the first is the next to go. */
  private readonly files = new Map<string, CachedResults>();

  /** What was computed for this identity in this window (removed from the cache: the document holds it now). */
  take(identity: string): CachedResults | undefined {
    const found = this.files.get(identity);
    this.files.delete(identity);
    return found;
  }

  put(identity: string, results: CachedResults): void {
    this.files.delete(identity);
    if (results.stats.size + results.spectra.size === 0) return;
    this.files.set(identity, { stats: new Map(results.stats), spectra: new Map(results.spectra) });
    let tensors = 0;
    for (const r of this.files.values()) tensors += r.stats.size + r.spectra.size;
    for (const [key, r] of this.files) {
      if (this.files.size <= MAX_FILES && tensors <= MAX_TENSORS) break;
      this.files.delete(key);
      tensors -= r.stats.size + r.spectra.size;
    }
  }
}
