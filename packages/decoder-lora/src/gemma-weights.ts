import { tf } from '@vqlm/runtime';
import { DecoderError, formatShape } from './decoder-error.js';
import type { GemmaConfig } from './gemma-config.js';

/** Base weights keyed by HF tensor name (`model.layers.0.self_attn.q_proj.weight`, ...). Plain tensors, never variables. */
export type GemmaWeights = Map<string, tf.Tensor>;

/** The linear modules of one decoder layer that LoRA can target, with their HF module path inside the layer. */
export const GEMMA_LINEAR_MODULES = {
  q_proj: 'self_attn.q_proj',
  k_proj: 'self_attn.k_proj',
  v_proj: 'self_attn.v_proj',
  o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj',
  up_proj: 'mlp.up_proj',
  down_proj: 'mlp.down_proj',
} as const;

/** One of `q_proj`, `k_proj`, `v_proj`, `o_proj`, `gate_proj`, `up_proj`, `down_proj`. */
export type GemmaLinearName = keyof typeof GEMMA_LINEAR_MODULES;

/** HF module path of a linear module, e.g. `model.layers.3.self_attn.q_proj`. */
export function linearModulePath(layer: number, name: GemmaLinearName): string {
  return `model.layers.${layer}.${GEMMA_LINEAR_MODULES[name]}`;
}

/** `[out, in]` of a linear module (HF / PyTorch layout). */
export function linearShape(config: GemmaConfig, name: GemmaLinearName): [number, number] {
  const D = config.hiddenSize;
  const qDim = config.numAttentionHeads * config.headDim;
  const kvDim = config.numKeyValueHeads * config.headDim;
  switch (name) {
    case 'q_proj':
      return [qDim, D];
    case 'k_proj':
    case 'v_proj':
      return [kvDim, D];
    case 'o_proj':
      return [D, qDim];
    case 'gate_proj':
    case 'up_proj':
      return [config.intermediateSize, D];
    case 'down_proj':
      return [D, config.intermediateSize];
  }
}

/** Names of the RMSNorm weights of one layer: Gemma 1 has two, Gemma 2 four. */
export function layerNormNames(config: GemmaConfig): string[] {
  return config.modelType === 'gemma2'
    ? ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm']
    : ['input_layernorm', 'post_attention_layernorm'];
}

/**
 * Every tensor a checkpoint of this config must hold, with its expected shape, in HF naming:
 * `model.embed_tokens.weight` `[V, D]`, per layer the seven linear weights and the norms `[D]`,
 * `model.norm.weight` `[D]`. The output projection is tied to the embedding.
 */
export function expectedGemmaTensors(config: GemmaConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [config.vocabSize, config.hiddenSize]);
  for (let layer = 0; layer < config.numHiddenLayers; layer += 1) {
    for (const name of Object.keys(GEMMA_LINEAR_MODULES) as GemmaLinearName[]) {
      shapes.set(`${linearModulePath(layer, name)}.weight`, linearShape(config, name));
    }
    for (const norm of layerNormNames(config)) {
      shapes.set(`model.layers.${layer}.${norm}.weight`, [config.hiddenSize]);
    }
  }
  shapes.set('model.norm.weight', [config.hiddenSize]);
  return shapes;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Checks that `weights` holds every tensor of `config` with the right shape.
 * @throws DecoderError `MISSING_TENSOR` or `TENSOR_SHAPE` naming the tensor (and both shapes).
 */
export function validateGemmaWeights(config: GemmaConfig, weights: GemmaWeights, layout: WeightLayout = 'hf'): void {
  for (const [name, hfShape] of expectedGemmaTensors(config)) {
    const shape = layout === 'transposed' && isTransposedInDecoder(name) ? [...hfShape].reverse() : hfShape;
    const tensor = weights.get(name);
    if (tensor === undefined) {
      throw new DecoderError('MISSING_TENSOR', `checkpoint is missing tensor '${name}' (expected shape ${formatShape(shape)})`);
    }
    if (!sameShape(tensor.shape, shape)) {
      throw new DecoderError(
        'TENSOR_SHAPE',
        `tensor '${name}' has shape ${formatShape(tensor.shape)}, expected ${formatShape(shape)}`,
      );
    }
  }
}

/**
 * `'hf'`: matrices as HF stores them (`[out, in]`, embedding `[V, D]`). `'transposed'`: the decoder's
 * own layout, matrices `[in, out]` and embedding `[D, V]` (norm weights are the same in both).
 */
export type WeightLayout = 'hf' | 'transposed';

/** Whether the decoder stores this tensor transposed (linear weights and the embedding). */
export function isTransposedInDecoder(name: string): boolean {
  return name === 'model.embed_tokens.weight' || name.endsWith('_proj.weight');
}

/** Minimal reader interface (what `openSafetensors` of `@vqlm/runtime` returns). */
export interface TensorSource {
  readonly names: readonly string[];
  info(name: string): { shape: readonly number[] };
  read(name: string): Promise<Float32Array>;
}

/**
 * Reads the base weights of `config` from a tensor source one tensor at a time (so peak memory is
 * the weights plus one tensor), checking every name and shape before reading it. `layout` `'transposed'`
 * returns the decoder's own layout (see {@link WeightLayout}); pass it on to `GemmaDecoder`.
 * Tensors not used by the decoder (e.g. a vision tower in the same file) are skipped.
 * @throws DecoderError `MISSING_TENSOR` / `TENSOR_SHAPE` naming the tensor.
 */
export async function readGemmaWeights(config: GemmaConfig, source: TensorSource, layout: WeightLayout = 'hf'): Promise<GemmaWeights> {
  const available = new Set(source.names);
  const expected = expectedGemmaTensors(config);
  for (const [name, shape] of expected) {
    if (!available.has(name)) {
      throw new DecoderError('MISSING_TENSOR', `checkpoint is missing tensor '${name}' (expected shape ${formatShape(shape)})`);
    }
    const actual = source.info(name).shape;
    if (!sameShape(actual, shape)) {
      throw new DecoderError('TENSOR_SHAPE', `tensor '${name}' has shape ${formatShape(actual)}, expected ${formatShape(shape)}`);
    }
  }
  const weights: GemmaWeights = new Map();
  try {
    for (const [name, shape] of expected) {
      const data = await source.read(name);
      const tensor = tf.tensor(data, shape, 'float32');
      if (layout === 'transposed' && isTransposedInDecoder(name)) {
        // Transposed as it is read, so the transient copy is one tensor, not the whole model.
        weights.set(name, tf.transpose(tensor));
        tensor.dispose();
      } else {
        weights.set(name, tensor);
      }
    }
  } catch (error) {
    for (const tensor of weights.values()) tensor.dispose();
    throw error;
  }
  return weights;
}

/** Source of random numbers for {@link initGemmaWeights} (e.g. `createRng(seed)` of `@vqlm/runtime`). */
export interface NormalSource {
  normal(): number;
}

/**
 * Fresh random base weights (HF `_init_weights`: normal with std `initializerRange` for
 * linear and embedding weights, zeros for the `(1 + w)` RMSNorm weights).
 */
export function initGemmaWeights(config: GemmaConfig, rng: NormalSource, initializerRange = 0.02): GemmaWeights {
  const weights: GemmaWeights = new Map();
  for (const [name, shape] of expectedGemmaTensors(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (shape.length === 2) {
      for (let i = 0; i < size; i += 1) data[i] = rng.normal() * initializerRange;
    }
    weights.set(name, tf.tensor(data, shape, 'float32'));
  }
  return weights;
}
