// One dense member from templates and coefficients, cast to the source dtype (docs/FORMAT.md rule).
// The dense export and the rebuild both go through here, so they agree byte for byte.
import { encodeBF16, encodeF16, encodeF32, f32Bytes } from '../safetensors/dtypes';
import { compose } from './compose';
import type { BankDType } from './grouping';
import type { Scratch } from './scratch';

export function bytesPerElement(dtype: BankDType): number {
  return dtype === 'F32' ? 4 : 2;
}

/**
 * compose() in float64, rounded once to float32, then to F16/BF16 with round-to-nearest-even.
 * With `scratch` the result lives in its slots (valid until the next call): for streaming writes.
 */
export function denseMember(
  templates: Float32Array,
  n: number,
  coefficients: Float32Array,
  dtype: BankDType,
  scratch?: Scratch,
): Uint8Array {
  const d = templates.length / n;
  const w = compose(templates, n, coefficients, scratch?.floats('dense', d));
  switch (dtype) {
    case 'F32':
      return scratch ? f32Bytes(w) : encodeF32(w);
    case 'F16':
      return encodeF16(w, scratch?.bytes('dense-encoded', 2 * d));
    case 'BF16':
      return encodeBF16(w, scratch?.bytes('dense-encoded', 2 * d));
  }
}

/** Holds the templates of the bank last asked for: members of one bank usually come together. */
export class BankCache {
  private name: string | null = null;
  private data: Float32Array | null = null;
  constructor(private readonly load: (bank: string) => Promise<Float32Array>) {}
  async get(bank: string): Promise<Float32Array> {
    if (this.name !== bank || !this.data) {
      this.data = null; // let the previous bank go before the next one is read
      this.data = await this.load(bank);
      this.name = bank;
    }
    return this.data;
  }
}
