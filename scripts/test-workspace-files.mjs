// The files scripts/make-test-workspace.mjs generates, and what they hold: the test suites
// (bundled, CommonJS) import these constants, so this module has no import.meta and no I/O.
/** What each generated file holds; the test suites assert against these. */
export const WORKSPACE_FILES = {
  real: {
    'real/capp-gpt2-4layer.safetensors': 52,
    'real/peft-gpt2-lora-12layer.safetensors': 25,
    'real/mlx-qwen05b-lora-4layer.safetensors': 16,
    'real/tinygrad-mnist-cnn.safetensors': 20,
  },
  /** A PEFT LoRA adapter of GPT-2 (36 layers, 72 factors) with its adapter_config.json beside it. */
  adapter: 'family/math/adapter_model.safetensors',
  adapterTensors: 72,
  /** The GPT-2 LoRA family's adapter folders (math first: the adapter above), as the Family dashboard compares them. */
  family: ['family/math', 'family/medical', 'family/shakespeare-cattn/checkpoint-1000', 'family/shakespeare-cattn/checkpoint-7500'],
  /** What the family's report says: its shared layers and banks. */
  familySharedLayers: 12,
  familyBanks: 1,
  /** A stand-in GPT-2 base for the family's shared layers (h.{0..11}.attn.c_attn.weight [768, 2304], generated): the full-weights chart. */
  familyBase: 'bases/gpt2-cattn-base.safetensors',
  shardedIndex: 'sharded/model.safetensors.index.json',
  shardedTensors: 5,
  hostile: 'hostile/hostile-names.safetensors',
  hostileName: '<img src=x onerror=alert(1)>',
  hostileTensors: 3,
  corruptHugeHeader: 'corrupt/huge-header.safetensors',
  corruptNotJson: 'corrupt/not-json-header.safetensors',
  /** 10,241 small F32 tensors: model.layers.{0..5119}.{weight,bias}, then lm_head.weight last. */
  many: 'big/many-10k.safetensors',
  manyLayers: 5120,
  manyTensors: 10241,
};
