// Types of build-kernels.mjs for the TypeScript that imports it (test/unit/linalg-kernels.test.ts).
export const WABT: string;
/** kernels.wat's text with every relaxed multiply-add written as a multiply and an add. */
export function unfuse(text: string): string;
export function compileKernels(source?: string, text?: string | null): Buffer;
export function kernelsModuleText(bytes: Buffer, source?: string, prefix?: string, plain?: Buffer | null): string;
