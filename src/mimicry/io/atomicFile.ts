// Whole small files (reports, chart images) written atomically: a temporary file in the same
// folder, fsynced, then renamed over the target; on any error the temporary file is removed.
//
// Every temporary file the project writes (these, the safetensors writer's, the template scratch)
// is named `.<name>.<pid>.<12 hex>.tmp`, so a later run can recognise those of a process that was
// killed before it could clean up (removeStaleTemps) and remove them, and nothing else.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

/** A fresh temporary file name for `name` (cut to 100 characters) owned by this process. */
export function tempName(name: string): string {
  return `.${name.slice(0, 100)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** The temporary file of an atomic write of `target`: in its folder, so the rename stays on one file system. */
export function tempPathFor(target: string): string {
  const t = path.resolve(target);
  return path.join(path.dirname(t), tempName(path.basename(t)));
}

const TEMP_NAME = /^\.(.+)\.([1-9][0-9]{0,9})\.[0-9a-f]{12}\.tmp$/;

/** The name and owner of one of our temporary files (tempName's pattern exactly); undefined for anything else. */
export function parseTempName(fileName: string): { readonly name: string; readonly pid: number } | undefined {
  const m = TEMP_NAME.exec(fileName);
  return m ? { name: m[1], pid: Number(m[2]) } : undefined;
}

/** Whether a process with this id exists. Only "no such process" (ESRCH) counts as gone: a process of another user is alive. */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes from `dir` our temporary files (tempName's pattern, narrowed by `accept` on the name part)
 * whose process no longer exists; returns the paths removed. Only plain files are removed (never a
 * link or a folder), nothing that does not match, nothing of a live process; an unreadable folder
 * is left alone.
 */
export async function removeStaleTemps(dir: string, accept: (name: string) => boolean = () => true): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const f of names) {
    const t = parseTempName(f);
    if (!t || !accept(t.name) || processAlive(t.pid)) continue;
    const file = path.join(dir, f);
    try {
      if (!(await lstat(file)).isFile()) continue;
      await unlink(file);
      removed.push(file);
    } catch {
      // gone meanwhile (another run cleaned it) or not ours to remove: leave it
    }
  }
  return removed;
}

export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const target = path.resolve(file);
  const tmp = tempPathFor(target);
  const h = await open(tmp, 'wx');
  try {
    await h.writeFile(data);
    await h.sync();
    await h.close();
    await rename(tmp, target);
  } catch (e) {
    await h.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** writeFileAtomic, blocking: for where nothing can be awaited (a process's `exit` handler). */
export function writeFileAtomicSync(file: string, data: Uint8Array): void {
  const target = path.resolve(file);
  const tmp = tempPathFor(target);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    for (let done = 0; done < data.byteLength;) done += writeSync(fd, data, done);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, target);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
    try {
      unlinkSync(tmp);
    } catch {
      // renamed or gone
    }
    throw e;
  }
}
