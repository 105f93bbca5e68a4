// Parsers of the CLI's number flags: a bad value is a usage error (commander prints it; runCli exits
// with status 2).
import { InvalidArgumentError } from 'commander';
import { parsePositiveInt } from '../mimicry/positiveInt';

export function positiveInt(value: string): number {
  const n = parsePositiveInt(value);
  if (n === undefined) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

export function nonNegativeInt(value: string): number {
  if (/^0+$/.test(value.trim())) return 0;
  const n = parsePositiveInt(value);
  if (n === undefined) throw new InvalidArgumentError(`expected an integer >= 0, got "${value}"`);
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number >= 0, got "${value}"`);
  return n;
}
