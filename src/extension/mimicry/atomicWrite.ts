// Small files the host writes itself (reports, chart images): to a temporary file, then renamed.
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const target = path.resolve(file);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
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

/** `data:image/png;base64,...` -> bytes; null when it is not a PNG data URL. */
export function pngFromDataUrl(url: string): Uint8Array | null {
  const m = /^data:image\/png;base64,([A-Za-z0-9+/=]+)$/.exec(url);
  return m ? Buffer.from(m[1], 'base64') : null;
}
