// The CLI in a process of its own, for tests that must survive a hang (the parent kills it after a
// limit): `node --import tsx test/unit/helpers/cli-child.ts ARGS...` runs `mimicry ARGS...` as
// src/cli/main.ts does, on this process's stdout, stderr and exit status.
//
// `... cli-child.ts --batch JSON` runs several command lines one after the other (JSON: an array
// of argument lists), each with its own captured stdout and stderr, and prints one JSON array of
// { code, stdout, stderr }: one process start for many commands.
import { runCli } from '../../../src/cli/main';

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function batch(runs: readonly (readonly string[])[]): Promise<Captured[]> {
  const results: Captured[] = [];
  for (const args of runs) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s), isTTY: false },
    });
    results.push({ code, stdout, stderr });
  }
  return results;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] !== '--batch') return runCli(argv, { stdout: process.stdout, stderr: process.stderr });
  const runs = JSON.parse(argv[1] ?? '[]') as string[][];
  process.stdout.write(JSON.stringify(await batch(runs)));
  return 0;
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
