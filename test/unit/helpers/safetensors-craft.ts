// Helpers for the safetensors tests: hand-crafted files (valid or broken) and temporary folders.
import { mkdtemp, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import assert from 'node:assert/strict';
import { SafetensorsError, type SafetensorsRule } from '../../../src/mimicry/safetensors/errors';

export interface CraftOptions {
  /** Value written as the 8-byte length instead of the real header length. */
  readonly length?: bigint;
  /** Pad the header text with this many spaces (counted in the length). */
  readonly pad?: number;
}

/** Bytes of a safetensors file from a header (object, JSON text, or raw bytes) and a data area. */
export function craft(header: object | string | Uint8Array, data: Uint8Array | number = 0, opts: CraftOptions = {}): Uint8Array {
  const raw =
    header instanceof Uint8Array
      ? header
      : new TextEncoder().encode((typeof header === 'string' ? header : JSON.stringify(header)) + ' '.repeat(opts.pad ?? 0));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + raw.byteLength + body.byteLength);
  new DataView(out.buffer).setBigUint64(0, opts.length ?? BigInt(raw.byteLength), true);
  out.set(raw, 8);
  out.set(body, 8 + raw.byteLength);
  return out;
}

/** A header entry. */
export function entry(dtype: string, shape: number[], begin: number, end: number): object {
  return { dtype, shape, data_offsets: [begin, end] };
}

export async function tempDir(): Promise<{
  dir: string;
  file: (name: string, bytes?: Uint8Array | string) => Promise<string>;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(path.join(tmpdir(), 'st-test-'));
  return {
    dir,
    async file(name, bytes) {
      const p = path.join(dir, name);
      if (bytes !== undefined) await writeFile(p, bytes);
      return p;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Open file descriptors of this process (Linux; all, or those on `under`), or undefined where /proc is not there. */
export function openFdCount(under?: string): number | undefined {
  try {
    const fds = readdirSync('/proc/self/fd');
    if (under === undefined) return fds.length;
    const real = realpathSync(under);
    // Only descriptors on `under` (a file, or anything inside a folder): the process's own (worker
    // pipes, the test runner's sockets) come and go on their own schedule.
    let n = 0;
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        continue; // closed between the listing and the read
      }
      if (target === real || target.startsWith(real + path.sep)) n++;
    }
    return n;
  } catch {
    return undefined;
  }
}

/** Assert that `promise` rejects with a SafetensorsError of `rule` about `file`, message naming both. */
export async function rejectsWithRule(promise: Promise<unknown>, rule: SafetensorsRule, file?: string): Promise<SafetensorsError> {
  let caught: unknown;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  return checkRule(caught, rule, file);
}

export function throwsWithRule(fn: () => unknown, rule: SafetensorsRule, file?: string): SafetensorsError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  return checkRule(caught, rule, file);
}

function checkRule(caught: unknown, rule: SafetensorsRule, file: string | undefined): SafetensorsError {
  assert.ok(
    caught instanceof SafetensorsError,
    `expected SafetensorsError(${rule}), got ${caught instanceof Error ? caught.stack : String(caught)}`,
  );
  assert.equal(caught.rule, rule, caught.message);
  if (file !== undefined) {
    assert.equal(caught.file, file);
    assert.ok(caught.message.includes(file), caught.message);
  }
  assert.ok(caught.message.includes(rule), caught.message);
  return caught;
}

/** Bytes of a typed array (for exact comparisons that treat NaN payloads as bits). */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
