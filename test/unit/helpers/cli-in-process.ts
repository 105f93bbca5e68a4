// `mimicry ARGS...` in this process, as src/cli/main.ts runs it, with its output captured.
import type { CliIO } from '../../../src/cli/io';
import { runCli } from '../../../src/cli/main';

export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
  const code = await runCli(args, io);
  return { code, out, err };
}
