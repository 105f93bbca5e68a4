// Streamed SHA-256 of a whole file (docs/FORMAT.md recast.source): never the whole file in memory.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import * as path from 'node:path';

export interface FileDigest {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

const DIGEST_CHUNK = 1 << 20;

/** One buffer read into again and again: a read stream would allocate a new one per chunk. */
export async function digestFile(file: string, signal?: AbortSignal): Promise<FileDigest> {
  const hash = createHash('sha256');
  const handle = await open(file, 'r');
  try {
    const bytes = (await handle.stat()).size;
    const buf = new Uint8Array(Math.min(DIGEST_CHUNK, Math.max(1, bytes)));
    for (let at = 0; at < bytes;) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buf, 0, Math.min(buf.byteLength, bytes - at), at);
      if (bytesRead === 0) throw new Error(`${file} shrank while its SHA-256 was computed`);
      hash.update(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
    return { file: path.basename(file), bytes, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}
