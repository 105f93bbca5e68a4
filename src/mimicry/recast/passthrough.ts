// Tensors an export copies unchanged from its source, read one at a time into one reused buffer.
import type { StreamingTensor } from '../safetensors/writer';
import type { Checkpoint, TensorInfo } from '../safetensors/types';
import type { Scratch } from './scratch';

/** The writer takes each tensor's bytes before it asks for the next one, so one slot serves them all. */
export function copiedTensor(checkpoint: Checkpoint, t: TensorInfo, scratch: Scratch): StreamingTensor {
  return {
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    byteLength: t.bytes,
    bytes: () => checkpoint.readBytes(t, 0, t.bytes, scratch.bytes('copy', t.bytes)),
  };
}
