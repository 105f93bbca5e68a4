// Streamed SHA-256 of a whole file (FORMAT.md recast.source): never the whole file in memory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';

export interface FileDigest {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

export async function digestFile(file: string, signal?: AbortSignal): Promise<FileDigest> {
  const hash = createHash('sha256');
  const stream = createReadStream(file, { highWaterMark: 1 << 20, signal });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return { file: path.basename(file), bytes: (await stat(file)).size, sha256: hash.digest('hex') };
}
