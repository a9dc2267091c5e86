import { DecoderError } from './decoder-error.js';

/** Activation of the GeGLU MLP. `gelu_tanh` is the tanh approximation Gemma uses. */
export type GemmaActivation = 'gelu_tanh' | 'gelu_exact';

/**
 * A Gemma decoder's architecture, in camelCase, resolved from an HF `config.json`
 * (Gemma 1 `model_type: "gemma"` or Gemma 2 `"gemma2"`).
 *
 * D = `hiddenSize`, V = `vocabSize`, H = `numAttentionHeads`,
 * Hkv = `numKeyValueHeads` (1 = multi-query), hd = `headDim`.
 */
export interface GemmaConfig {
  modelType: 'gemma' | 'gemma2';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  activation: GemmaActivation;
  /** Attention scores are multiplied by `queryPreAttnScalar ** -0.5` (Gemma 1: `headDim`). */
  queryPreAttnScalar: number;
  /** Gemma 2: `tanh(s / cap) * cap` on attention scores; null = off. */
  attnLogitSoftcapping: number | null;
  /** Gemma 2: `tanh(l / cap) * cap` on the output logits; null = off. */
  finalLogitSoftcapping: number | null;
  /** Gemma 2: window of the sliding-window layers (even layer indices); null = every layer global. */
  slidingWindow: number | null;
  maxPositionEmbeddings: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  padTokenId: number | null;
}

/** A partial config; missing fields take Gemma defaults. Used to build tiny test models. */
export type GemmaConfigInit = Partial<GemmaConfig> &
  Pick<GemmaConfig, 'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numHiddenLayers' | 'numAttentionHeads'>;

function positiveInt(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new DecoderError('INVALID_CONFIG', `config field '${field}' must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function positiveNumber(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new DecoderError('INVALID_CONFIG', `config field '${field}' must be a positive number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function optionalPositive(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  return positiveNumber(value, field);
}

function optionalTokenId(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  const id = Array.isArray(value) ? (value[0] as unknown) : value;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
    throw new DecoderError('INVALID_CONFIG', `config field '${field}' must be a token id, got ${JSON.stringify(value)}`);
  }
  return id;
}

function parseActivation(value: unknown): GemmaActivation {
  if (value === undefined || value === null) return 'gelu_tanh';
  if (value === 'gelu_pytorch_tanh' || value === 'gelu_tanh' || value === 'gelu_new' || value === 'gelu_fast') return 'gelu_tanh';
  if (value === 'gelu') return 'gelu_exact';
  throw new DecoderError('INVALID_CONFIG', `config field 'hidden_activation' must be a GELU variant, got ${JSON.stringify(value)}`);
}

/** Checks a resolved config's internal consistency (e.g. heads divisible by KV heads). */
export function validateGemmaConfig(config: GemmaConfig): GemmaConfig {
  for (const field of ['vocabSize', 'hiddenSize', 'intermediateSize', 'numHiddenLayers', 'numAttentionHeads', 'numKeyValueHeads', 'headDim', 'maxPositionEmbeddings'] as const) {
    positiveInt(config[field], field);
  }
  if (config.headDim % 2 !== 0) {
    throw new DecoderError('INVALID_CONFIG', `config field 'headDim' must be even for rotary embeddings, got ${config.headDim}`);
  }
  if (config.numAttentionHeads % config.numKeyValueHeads !== 0) {
    throw new DecoderError(
      'INVALID_CONFIG',
      `config field 'numAttentionHeads' (${config.numAttentionHeads}) must be a multiple of 'numKeyValueHeads' (${config.numKeyValueHeads})`,
    );
  }
  positiveNumber(config.rmsNormEps, 'rmsNormEps');
  positiveNumber(config.ropeTheta, 'ropeTheta');
  positiveNumber(config.queryPreAttnScalar, 'queryPreAttnScalar');
  return config;
}

/** Fills a partial config with Gemma defaults (Gemma 1 unless `modelType: 'gemma2'`). */
export function createGemmaConfig(init: GemmaConfigInit): GemmaConfig {
  const headDim = init.headDim ?? Math.floor(init.hiddenSize / init.numAttentionHeads);
  return validateGemmaConfig({
    modelType: 'gemma',
    numKeyValueHeads: init.numAttentionHeads,
    headDim,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    activation: 'gelu_tanh',
    queryPreAttnScalar: headDim,
    attnLogitSoftcapping: null,
    finalLogitSoftcapping: null,
    slidingWindow: null,
    maxPositionEmbeddings: 8192,
    bosTokenId: null,
    eosTokenId: null,
    padTokenId: null,
    ...init,
  });
}

/**
 * Resolves an HF Gemma `config.json` object (Gemma 1 or 2 fields) into a {@link GemmaConfig}.
 * @throws DecoderError `INVALID_CONFIG` naming the offending field.
 */
export function parseGemmaConfig(json: unknown): GemmaConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new DecoderError('INVALID_CONFIG', 'config must be a JSON object');
  }
  const c = json as Record<string, unknown>;
  const modelType = c.model_type ?? 'gemma';
  if (modelType !== 'gemma' && modelType !== 'gemma2') {
    throw new DecoderError('INVALID_CONFIG', `config field 'model_type' must be 'gemma' or 'gemma2', got ${JSON.stringify(modelType)}`);
  }
  if (c.tie_word_embeddings === false) {
    throw new DecoderError('INVALID_CONFIG', "config field 'tie_word_embeddings' must be true: the decoder ties its output to the embedding");
  }
  const hiddenSize = positiveInt(c.hidden_size, 'hidden_size');
  const numAttentionHeads = positiveInt(c.num_attention_heads, 'num_attention_heads');
  const headDim = c.head_dim === undefined ? Math.floor(hiddenSize / numAttentionHeads) : positiveInt(c.head_dim, 'head_dim');
  const isGemma2 = modelType === 'gemma2';
  return validateGemmaConfig({
    modelType,
    vocabSize: positiveInt(c.vocab_size, 'vocab_size'),
    hiddenSize,
    intermediateSize: positiveInt(c.intermediate_size, 'intermediate_size'),
    numHiddenLayers: positiveInt(c.num_hidden_layers, 'num_hidden_layers'),
    numAttentionHeads,
    numKeyValueHeads: c.num_key_value_heads === undefined ? numAttentionHeads : positiveInt(c.num_key_value_heads, 'num_key_value_heads'),
    headDim,
    rmsNormEps: c.rms_norm_eps === undefined ? 1e-6 : positiveNumber(c.rms_norm_eps, 'rms_norm_eps'),
    ropeTheta: c.rope_theta === undefined ? 10000 : positiveNumber(c.rope_theta, 'rope_theta'),
    activation: parseActivation(c.hidden_activation),
    queryPreAttnScalar: c.query_pre_attn_scalar === undefined || c.query_pre_attn_scalar === null ? headDim : positiveNumber(c.query_pre_attn_scalar, 'query_pre_attn_scalar'),
    attnLogitSoftcapping: optionalPositive(c.attn_logit_softcapping, 'attn_logit_softcapping'),
    finalLogitSoftcapping: optionalPositive(c.final_logit_softcapping, 'final_logit_softcapping'),
    slidingWindow: isGemma2 ? optionalPositive(c.sliding_window, 'sliding_window') : null,
    maxPositionEmbeddings: c.max_position_embeddings === undefined ? 8192 : positiveInt(c.max_position_embeddings, 'max_position_embeddings'),
    bosTokenId: optionalTokenId(c.bos_token_id, 'bos_token_id'),
    eosTokenId: optionalTokenId(c.eos_token_id, 'eos_token_id'),
    padTokenId: optionalTokenId(c.pad_token_id, 'pad_token_id'),
  });
}

/** Writes a {@link GemmaConfig} back as an HF `config.json` object. */
export function toHfGemmaConfig(config: GemmaConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {
    architectures: [config.modelType === 'gemma2' ? 'Gemma2ForCausalLM' : 'GemmaForCausalLM'],
    model_type: config.modelType,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numHiddenLayers,
    num_attention_heads: config.numAttentionHeads,
    num_key_value_heads: config.numKeyValueHeads,
    head_dim: config.headDim,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    hidden_activation: config.activation === 'gelu_tanh' ? 'gelu_pytorch_tanh' : 'gelu',
    query_pre_attn_scalar: config.queryPreAttnScalar,
    max_position_embeddings: config.maxPositionEmbeddings,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
  };
  if (config.attnLogitSoftcapping !== null) json.attn_logit_softcapping = config.attnLogitSoftcapping;
  if (config.finalLogitSoftcapping !== null) json.final_logit_softcapping = config.finalLogitSoftcapping;
  if (config.slidingWindow !== null) json.sliding_window = config.slidingWindow;
  if (config.bosTokenId !== null) json.bos_token_id = config.bosTokenId;
  if (config.eosTokenId !== null) json.eos_token_id = config.eosTokenId;
  if (config.padTokenId !== null) json.pad_token_id = config.padTokenId;
  return json;
}
