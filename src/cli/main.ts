// The `mimicry` command line: a registry of subcommands over the engine. Each subcommand lives in
// its own file and registers itself here; runCli is what tests call in-process.

import { Command, CommanderError } from 'commander';
import packageJson from '../../package.json';
import { CliError, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, printable, toCliError, type CliIO } from './io';
import { registerCurve } from './curve';
import { registerFamily } from './family';
import { registerGpu } from './gpu';
import { registerInspect } from './inspect';
import { registerMetrics } from './metrics';
import { registerRebuild } from './rebuild';
import { registerReconstruct } from './reconstruct';

/** Builds a fresh program writing to `io` (commander keeps state, so one per run). */
export function createProgram(io: CliIO): Command {
  const program = new Command('mimicry')
    .description('Inspect .safetensors checkpoints and rebuild their layers as shared templates (RECAST Neural Mimicry)')
    .version(packageJson.version, '-V, --version')
    // Never let commander call process.exit: runCli turns its errors into a status.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`mimicry: ${s.replace(/^error: /, '')}`),
    });
  registerInspect(program, io);
  registerReconstruct(program, io);
  registerCurve(program, io);
  registerMetrics(program, io);
  registerRebuild(program, io);
  registerGpu(program, io);
  registerFamily(program, io);
  return program;
}

/** Runs the CLI on `argv` (the user's arguments, without node and the script) and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (e) {
    // Help and version end in a CommanderError with status 0; usage errors were already printed.
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    const err = e instanceof CliError ? e : toCliError(e, '');
    io.stderr.write(`mimicry: ${printable(err.message)}\n`);
    if (err.exitCode === EXIT_INTERNAL && process.env.MIMICRY_DEBUG && e instanceof Error) io.stderr.write(`${e.stack ?? ''}\n`);
    return err.exitCode;
  }
}

/** Runs the CLI on this process's arguments and sets its exit status (the bundle's entry: src/cli/bin.ts). */
export function main(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_OK); // `mimicry inspect x | head` is not an error
  });
  void runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then((code) => {
    process.exitCode = code;
  });
}

// Also runnable itself (node dist/cliMain.js), but not when a test imports this module.
if (typeof require !== 'undefined' && require.main === module) main();
