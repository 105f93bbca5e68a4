// The bundled real checkpoints (test/fixtures/real, sources in its MANIFEST.md) and how many
// tensors each holds, counted independently from their headers when they were added.
export const REAL = 'test/fixtures/real';

export const REAL_TENSOR_COUNTS: Readonly<Record<string, number>> = {
  'capp-gpt2-4layer.safetensors': 52,
  'peft-gpt2-lora-12layer.safetensors': 25,
  'mlx-qwen05b-lora-4layer.safetensors': 16,
  'tinygrad-mnist-cnn.safetensors': 20,
};
