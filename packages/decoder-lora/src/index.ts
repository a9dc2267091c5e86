export { DecoderError } from './decoder-error.js';
export type { DecoderErrorCode } from './decoder-error.js';
export { createGemmaConfig, parseGemmaConfig, toHfGemmaConfig, validateGemmaConfig } from './gemma-config.js';
export type { GemmaActivation, GemmaConfig, GemmaConfigInit } from './gemma-config.js';
export {
  GEMMA_LINEAR_MODULES,
  expectedGemmaTensors,
  initGemmaWeights,
  isTransposedInDecoder,
  layerNormNames,
  linearModulePath,
  linearShape,
  readGemmaWeights,
  validateGemmaWeights,
} from './gemma-weights.js';
export type { GemmaLinearName, GemmaWeights, NormalSource, TensorSource, WeightLayout } from './gemma-weights.js';
export { GemmaDecoder } from './gemma-decoder.js';
export type { DecoderInput, KvCache } from './gemma-decoder.js';
export { loadGemmaCheckpoint, readGemmaConfig, saveGemmaCheckpoint } from './checkpoint.js';
export type { LoadGemmaOptions, SaveGemmaOptions } from './checkpoint.js';
export { DEFAULT_LORA_CONFIG, LoraAdapter, parsePeftAdapterConfig, peftTensorName, resolveLoraConfig, toPeftAdapterConfig } from './lora.js';
export type { LoraConfig, UniformSource } from './lora.js';
export { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadLoraAdapter, saveLoraAdapter } from './lora-io.js';
export { generate, generateAsync, penalizeRepeats, sampleToken } from './generate.js';
export type { GenerateOptions, GenerateResult, GeneratedToken, LogitsRequest } from './generate.js';
export { MASKED_BIAS, extendPrefixLmLayout, prefixLmBias } from './layout.js';
export { SPECIAL_TOKENS, TextTokenizer, buildWordPieceTokenizer, joinSplitPunctuation, loadTokenizer, saveTokenizer } from './tokenizer.js';
export type { BuildTokenizerOptions, EncodeOptions, TokenizerFiles } from './tokenizer.js';
