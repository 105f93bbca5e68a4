// Where finished templates wait until they are written: memory for small jobs, a scratch file in
// the temp folder for exports, so only one group's weights are ever held at a time.
import { open, unlink, type FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeStaleTemps, tempName } from '../io/atomicFile';

/** The name part of the scratch file: `.recast-templates.<pid>.<hex>.tmp`. */
export const SCRATCH_NAME = 'recast-templates';

export interface TemplateStore {
  /** Keeps a copy: the caller may reuse `templates` as soon as this resolves. */
  put(bank: string, templates: Float32Array): Promise<void>;
  /** The bank's templates; in `into` (exactly their length) when given, which the caller may reuse. */
  get(bank: string, into?: Float32Array): Promise<Float32Array>;
  /** Values [from, from + into.length) of the bank's templates, in `into`: a bank read a part at a time. */
  read(bank: string, from: number, into: Float32Array): Promise<Float32Array>;
  /** Where a bank's float32 templates lie in a file other threads may read, when the store has one. */
  locate?(bank: string): TemplatesOnDisk | undefined;
  dispose(): Promise<void>;
}

/** Float32 values at a byte offset of a file (a FileTemplateStore's scratch). */
export interface TemplatesOnDisk {
  readonly file: string;
  readonly offset: number;
}

export class MemoryTemplateStore implements TemplateStore {
  private readonly data = new Map<string, Float32Array>();
  put(bank: string, templates: Float32Array): Promise<void> {
    this.data.set(bank, templates.slice());
    return Promise.resolve();
  }
  get(bank: string, into?: Float32Array): Promise<Float32Array> {
    const t = this.data.get(bank);
    if (!t) return Promise.reject(new Error(`no templates for bank ${bank}`));
    if (!into) return Promise.resolve(t);
    if (into.length !== t.length) return Promise.reject(new RangeError(`bank ${bank} has ${t.length} template values, not ${into.length}`));
    into.set(t);
    return Promise.resolve(into);
  }
  read(bank: string, from: number, into: Float32Array): Promise<Float32Array> {
    const t = this.data.get(bank);
    if (!t) return Promise.reject(new Error(`no templates for bank ${bank}`));
    if (from < 0 || from + into.length > t.length)
      return Promise.reject(new RangeError(`bank ${bank} has ${t.length} template values, not [${from}, ${from + into.length})`));
    into.set(t.subarray(from, from + into.length));
    return Promise.resolve(into);
  }
  dispose(): Promise<void> {
    this.data.clear();
    return Promise.resolve();
  }
}

/**
 * Appends each bank's float32 templates to one hidden scratch file in `dir` (the OS temp folder by
 * default); removed by dispose(). A killed process leaves it behind: see removeStaleScratch.
 */
export class FileTemplateStore implements TemplateStore {
  private handle: FileHandle | undefined;
  private readonly where = new Map<string, { offset: number; length: number }>();
  private end = 0;
  readonly file: string;

  constructor(dir: string = os.tmpdir()) {
    this.file = path.join(dir, tempName(SCRATCH_NAME));
  }

  async put(bank: string, templates: Float32Array): Promise<void> {
    this.handle ??= await open(this.file, 'wx+');
    const bytes = new Uint8Array(templates.buffer, templates.byteOffset, templates.byteLength);
    let done = 0;
    while (done < bytes.byteLength) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.byteLength - done, this.end + done);
      done += bytesWritten;
    }
    this.where.set(bank, { offset: this.end, length: templates.length });
    this.end += bytes.byteLength;
  }

  locate(bank: string): TemplatesOnDisk | undefined {
    const w = this.where.get(bank);
    return w && { file: this.file, offset: w.offset };
  }

  async get(bank: string, into?: Float32Array): Promise<Float32Array> {
    const w = this.where.get(bank);
    if (!w || !this.handle) throw new Error(`no templates for bank ${bank}`);
    if (into && into.length !== w.length) throw new RangeError(`bank ${bank} has ${w.length} template values, not ${into.length}`);
    return this.read(bank, 0, into ?? new Float32Array(w.length));
  }

  async read(bank: string, from: number, into: Float32Array): Promise<Float32Array> {
    const w = this.where.get(bank);
    if (!w || !this.handle) throw new Error(`no templates for bank ${bank}`);
    if (from < 0 || from + into.length > w.length)
      throw new RangeError(`bank ${bank} has ${w.length} template values, not [${from}, ${from + into.length})`);
    const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
    const at = w.offset + 4 * from;
    let done = 0;
    while (done < bytes.byteLength) {
      const { bytesRead } = await this.handle.read(bytes, done, bytes.byteLength - done, at + done);
      if (bytesRead === 0) throw new Error(`scratch file ${this.file} is shorter than expected`);
      done += bytesRead;
    }
    return into;
  }

  async dispose(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (h) await h.close().catch(() => undefined);
    await unlink(this.file).catch(() => undefined);
  }
}

/**
 * Removes the scratch files of processes that no longer exist from `dirs` (default: the OS temp
 * folder; older versions wrote them beside the output); returns the paths removed.
 */
export async function removeStaleScratch(dirs: readonly string[] = [os.tmpdir()]): Promise<string[]> {
  const removed: string[] = [];
  for (const dir of new Set(dirs.map((d) => path.resolve(d)))) removed.push(...(await removeStaleTemps(dir, (n) => n === SCRATCH_NAME)));
  return removed;
}
