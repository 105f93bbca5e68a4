// A bench case run in a process of its own (so its memory and its collector are its own): a
// TypeScript script under tsx that prints its result as one line `<prefix><json>` on stdout; its
// stderr (progress) goes straight through.
import { spawn } from 'node:child_process';

export function runChildCase<T>(script: string, args: readonly string[], prefix: string, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(prefix));
      if (code !== 0 || !line) reject(new Error(`the ${what} case failed (exit ${code}): ${out.slice(-500)}`));
      else resolve(JSON.parse(line.slice(prefix.length)) as T);
    });
  });
}
