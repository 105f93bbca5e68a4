// A WebAssembly module committed as base64 (kernelsWasm.ts, statsKernelsWasm.ts, written by
// scripts/build-kernels.mjs), instantiated with no imports; null where it cannot be (no WebAssembly
// SIMD here), so callers keep their JavaScript loops.

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function instantiateEmbedded<Exports>(b64: string): Exports | null {
  try {
    return new WebAssembly.Instance(new WebAssembly.Module(decode(b64)), {}).exports as unknown as Exports;
  } catch {
    return null;
  }
}
