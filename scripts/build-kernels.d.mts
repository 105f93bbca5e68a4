// Types of build-kernels.mjs for the TypeScript that imports it (test/unit/linalg-kernels.test.ts).
export const WABT: string;
/** kernels.wat's text with every relaxed multiply-add written as a multiply and an add. */
export function unfuse(text: string): string;
export function compileKernels(source?: string, text?: string | null): Buffer;
export function kernelsModuleText(bytes: Buffer, source?: string, prefix?: string, plain?: Buffer | null): string;
/** The bucket shifts statsKernels.wat's shift-taking kernels are compiled for as constants. */
export const STATS_SHIFTS: readonly number[];
/** statsKernels.wat's text with a `name_shift` copy of each shift-taking kernel for every shift. */
export function specializeShifts(text: string, shifts?: readonly number[]): string;
