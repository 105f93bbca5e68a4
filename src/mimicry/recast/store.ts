// Where finished templates wait until they are written: memory for small jobs, a scratch file
// beside the output for exports, so only one group's weights are ever held at a time.
import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';

export interface TemplateStore {
  put(bank: string, templates: Float32Array): Promise<void>;
  get(bank: string): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export class MemoryTemplateStore implements TemplateStore {
  private readonly data = new Map<string, Float32Array>();
  put(bank: string, templates: Float32Array): Promise<void> {
    this.data.set(bank, templates);
    return Promise.resolve();
  }
  get(bank: string): Promise<Float32Array> {
    const t = this.data.get(bank);
    return t ? Promise.resolve(t) : Promise.reject(new Error(`no templates for bank ${bank}`));
  }
  dispose(): Promise<void> {
    this.data.clear();
    return Promise.resolve();
  }
}

/** Appends each bank's float32 templates to one hidden scratch file in `dir`; removed by dispose(). */
export class FileTemplateStore implements TemplateStore {
  private handle: FileHandle | undefined;
  private readonly where = new Map<string, { offset: number; length: number }>();
  private end = 0;
  readonly file: string;

  constructor(dir: string) {
    this.file = path.join(dir, `.recast-templates.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
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

  async get(bank: string): Promise<Float32Array> {
    const w = this.where.get(bank);
    if (!w || !this.handle) throw new Error(`no templates for bank ${bank}`);
    const out = new Float32Array(w.length);
    const bytes = new Uint8Array(out.buffer);
    let done = 0;
    while (done < bytes.byteLength) {
      const { bytesRead } = await this.handle.read(bytes, done, bytes.byteLength - done, w.offset + done);
      if (bytesRead === 0) throw new Error(`scratch file ${this.file} is shorter than expected`);
      done += bytesRead;
    }
    return out;
  }

  async dispose(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (h) await h.close().catch(() => undefined);
    await unlink(this.file).catch(() => undefined);
  }
}
