import { extendPrefixLmLayout, generateAsync, linearModulePath, prefixLmBias, type GemmaConfig, type GemmaDecoder, type GemmaLinearName, type GenerateOptions, type GenerateResult } from '@vqlm/decoder-lora';
import { OnnxGraphBuilder } from '@vqlm/encoders';
import { tf, type OnnxSession } from '@vqlm/runtime';
import { ModelError, shapeText } from './errors.js';
import { onnxLabel, openBundleOnnx, sameNames, type FloatBatch } from './onnx-scorer.js';

/** Names of the decoder graph's inputs and output. */
export const ONNX_DECODER_NAMES = Object.freeze({
  prefixEmbeds: 'prefix_embeds',
  inputIds: 'input_ids',
  positionIds: 'position_ids',
  attentionBias: 'attention_bias',
  slidingBias: 'sliding_attention_bias',
  logits: 'logits',
  /** Optional output ({@link DecoderOnnxOptions.hiddenStates}): final-norm hidden states of every new position. */
  hiddenStates: 'hidden_states',
  /** Per layer i: `past_key_i` / `past_value_i` in, `present_key_i` / `present_value_i` out. */
  pastKey: (layer: number) => `past_key_${layer}`,
  pastValue: (layer: number) => `past_value_${layer}`,
  presentKey: (layer: number) => `present_key_${layer}`,
  presentValue: (layer: number) => `present_value_${layer}`,
});

/** Whether a decoder's even layers use a sliding window (Gemma 2 with `slidingWindow`). */
function usesSliding(config: GemmaConfig): boolean {
  return config.slidingWindow !== null && config.modelType === 'gemma2';
}

/** A decoder's linear weight `[in, out]` with its LoRA update folded in (when adapters are attached and not merged). */
async function foldedLinear(decoder: GemmaDecoder, layer: number, name: GemmaLinearName): Promise<{ data: Float32Array; dims: number[] }> {
  const path = linearModulePath(layer, name);
  const base = decoder.storedWeights().get(`${path}.weight`);
  if (!base) throw new ModelError('E_MODEL_ARG', `decoder: no tensor ${path}.weight`);
  const adapter = decoder.merged ? undefined : decoder.loraAdapters().get(path);
  const folded = adapter ? tf.tidy(() => tf.add(base, tf.transpose(adapter.delta()))) : base;
  try {
    return { data: (await folded.data()) as Float32Array, dims: folded.shape };
  } finally {
    if (folded !== base) folded.dispose();
  }
}

/**
 * Largest decoder {@link decoderToOnnx} writes: its weights go inline into one protobuf message,
 * which cannot exceed 2 GiB (ONNX's external-data format is not written here).
 */
export const MAX_ONNX_DECODER_BYTES = 2 ** 31 - 2 ** 24;

/** Bytes of a decoder's float32 weights in an ONNX export (LoRA folded in adds nothing). */
export function onnxDecoderBytes(decoder: GemmaDecoder): number {
  let count = 0;
  for (const tensor of decoder.storedWeights().values()) count += tensor.size;
  return count * 4;
}
/** Options of {@link decoderToOnnx}. */
export interface DecoderOnnxOptions {
  /** Refuse larger weights (default {@link MAX_ONNX_DECODER_BYTES}, the most one file can hold). */
  readonly maxBytes?: number;
  /**
   * Also output `hidden_states [B, L, D]`: the final-norm hidden states of every new position,
   * prefix included (as `GemmaDecoder.hiddenStates`), for a head on the decoder such as
   * LMM-VQA's level head. Default false.
   */
  readonly hiddenStates?: boolean;
}

/**
 * A Gemma decoder (with its LoRA adapters folded into the base weights) as an ONNX model (opset
 * 17) for prefix-LM generation in ONNX Runtime, with a KV cache. Each call runs L = P + T new
 * positions after S₀ cached ones (S = S₀ + L). Inputs: `prefix_embeds [B, P, D]` (visual tokens
 * and prompt; P = 0 after the first call), `input_ids [B, T]` (int64), `position_ids [B, L]`
 * (int64, RoPE positions), `attention_bias [B, 1, L, S]` (0 where attention is allowed,
 * `MASKED_BIAS` elsewhere: `@vqlm/decoder-lora` `prefixLmBias`), for Gemma 2 with a sliding
 * window `sliding_attention_bias` of the same shape for its even layers, and per layer
 * `past_key_i` / `past_value_i [B, Hkv, S₀, hd]` (S₀ = 0 on the first call). Outputs: `logits
 * [B, T, V]` of the token positions (as `GemmaDecoder.forward`) and `present_key_i` /
 * `present_value_i [B, Hkv, S, hd]`, and with `hiddenStates` also `hidden_states [B, L, D]`.
 * @throws ModelError `E_MODEL_ARG` when the weights exceed `maxBytes`.
 */
export async function decoderToOnnx(decoder: GemmaDecoder, options: DecoderOnnxOptions = {}): Promise<Uint8Array> {
  const bytes = onnxDecoderBytes(decoder);
  if (bytes > (options.maxBytes ?? MAX_ONNX_DECODER_BYTES)) {
    throw new ModelError('E_MODEL_ARG', `decoder: ${(bytes / 2 ** 30).toFixed(2)} GiB of weights do not fit in one ONNX file (2 GiB protobuf limit; external data is not written); describe with this decoder in tfjs`);
  }
  const c = decoder.config;
  const names = ONNX_DECODER_NAMES;
  const d = c.hiddenSize;
  const hd = c.headDim;
  const heads = c.numAttentionHeads;
  const kvHeads = c.numKeyValueHeads;
  const stored = decoder.storedWeights();
  const tensor = async (hint: string, name: string, transform?: (x: tf.Tensor) => tf.Tensor): Promise<string> => {
    const value = stored.get(name);
    if (!value) throw new ModelError('E_MODEL_ARG', `decoder: no tensor ${name}`);
    const out = transform ? tf.tidy(() => transform(value)) : value;
    try {
      return g.floats(hint, (await out.data()) as Float32Array, out.shape);
    } finally {
      if (out !== value) out.dispose();
    }
  };
  const g = new OnnxGraphBuilder();
  const prefix = g.input({ name: names.prefixEmbeds, dtype: 'float32', dims: ['batch', 'prefix', d] });
  const ids = g.input({ name: names.inputIds, dtype: 'int64', dims: ['batch', 'tokens'] });
  const positions = g.input({ name: names.positionIds, dtype: 'int64', dims: ['batch', 'new'] });
  const bias = g.input({ name: names.attentionBias, dtype: 'float32', dims: ['batch', 1, 'new', 'total'] });
  const sliding = usesSliding(c) ? g.input({ name: names.slidingBias, dtype: 'float32', dims: ['batch', 1, 'new', 'total'] }) : null;
  const past = Array.from({ length: c.numHiddenLayers }, (_, i) => ({
    key: g.input({ name: names.pastKey(i), dtype: 'float32', dims: ['batch', kvHeads, 'past', hd] }),
    value: g.input({ name: names.pastValue(i), dtype: 'float32', dims: ['batch', kvHeads, 'past', hd] }),
  }));
  // Token embeddings: the table is stored [D, V] (it is also the output projection); × √D as HF Gemma.
  const table = await tensor('embed_tokens', 'model.embed_tokens.weight');
  const gathered = g.node('Transpose', [g.node('Gather', [table, ids], { axis: { int: 1 } })], { perm: { ints: [1, 2, 0] } });
  const tokens = g.node('Mul', [gathered, g.floats('embed_scale', [Math.fround(Math.sqrt(d))], [])]);
  let x = g.node('Concat', [prefix, tokens], { axis: { int: 1 } });
  // RoPE tables from the positions: angle = position · θ^(−2i/hd), both halves alike.
  const half = hd / 2;
  const invFreq = Array.from({ length: hd }, (_, i) => 1 / c.ropeTheta ** ((2 * (i % half)) / hd));
  const angles = g.node('Mul', [g.node('Unsqueeze', [g.node('Cast', [positions], { to: { int: 1 } }), g.ints('rope_axes', [1, 3])]), g.floats('inv_freq', invFreq, [hd])]);
  const cos = g.node('Cos', [angles]);
  const sin = g.node('Sin', [angles]);
  const lastAxis = g.ints('last_axis', [-1]);
  const [zero, mid, end] = [g.ints('rope_zero', [0]), g.ints('rope_half', [half]), g.ints('rope_end', [hd])];
  /** `x·cos + rotate_half(x)·sin` on `[B, H, S, hd]`, rotate_half(x) = [−x₂, x₁]. */
  const rope = (v: string): string => {
    const first = g.node('Slice', [v, zero, mid, lastAxis]);
    const second = g.node('Slice', [v, mid, end, lastAxis]);
    return g.node('Add', [g.node('Mul', [v, cos]), g.node('Mul', [g.node('Concat', [g.node('Neg', [second]), first], { axis: { int: -1 } }), sin])]);
  };
  const eps = g.floats('rms_eps', [c.rmsNormEps], []);
  const one = g.floats('one', [1], []);
  const rmsNorm = async (v: string, name: string): Promise<string> => {
    const variance = g.node('ReduceMean', [g.node('Mul', [v, v])], { axes: { ints: [-1] }, keepdims: { int: 1 } });
    const normed = g.node('Div', [v, g.node('Sqrt', [g.node('Add', [variance, eps])])]);
    return g.node('Mul', [normed, await tensor(name.replace(/\W/g, '_'), name, (w) => tf.add(w, 1))]);
  };
  const linear = async (v: string, layer: number, name: GemmaLinearName): Promise<string> => {
    const w = await foldedLinear(decoder, layer, name);
    return g.node('MatMul', [v, g.floats(`l${layer}_${name}`, w.data, w.dims)]);
  };
  /** `tanh(v / cap) · cap`, or `v` when the cap is null; `cap` is a scalar initializer. */
  const softcap = (v: string, cap: string | null): string => (cap === null ? v : g.node('Mul', [g.node('Tanh', [g.node('Div', [v, cap])]), cap]));
  const attnCap = c.attnLogitSoftcapping === null ? null : g.floats('attn_cap', [c.attnLogitSoftcapping], []);
  const finalCap = c.finalLogitSoftcapping === null ? null : g.floats('final_cap', [c.finalLogitSoftcapping], []);
  const halfF = g.floats('half', [0.5], []);
  const exact = c.activation === 'gelu_exact';
  const invSqrt2 = exact ? g.floats('inv_sqrt2', [Math.SQRT1_2], []) : '';
  const cube = exact ? '' : g.floats('gelu_cube', [0.044715], []);
  const tanhScale = exact ? '' : g.floats('gelu_k', [Math.sqrt(2 / Math.PI)], []);
  const gelu = (v: string): string => {
    const inner = exact ? g.node('Erf', [g.node('Mul', [v, invSqrt2])]) : g.node('Tanh', [g.node('Mul', [g.node('Add', [v, g.node('Mul', [g.node('Mul', [g.node('Mul', [v, v]), v]), cube])]), tanhScale])]);
    return g.node('Mul', [g.node('Mul', [v, g.node('Add', [inner, one])]), halfF]);
  };
  const scale = g.floats('attention_scale', [1 / Math.sqrt(c.queryPreAttnScalar)], []);
  const qShape = g.ints('q_shape', [0, 0, heads, hd]);
  const kvShape = g.ints('kv_shape', [0, 0, kvHeads, hd]);
  const groupedShape = g.ints('grouped_shape', [0, kvHeads, -1, hd]);
  const scoresShape = g.ints('scores_shape', [0, heads, -1, 0]);
  const groupedScoresShape = g.ints('grouped_scores_shape', [0, kvHeads, -1, 0]);
  const contextShape = g.ints('context_shape', [0, heads, -1, hd]);
  const mergedShape = g.ints('merged_shape', [0, 0, heads * hd]);
  const toHeads = (v: string, shape: string): string => g.node('Transpose', [g.node('Reshape', [v, shape])], { perm: { ints: [0, 2, 1, 3] } });
  const gemma2 = c.modelType === 'gemma2';
  for (let layer = 0; layer < c.numHiddenLayers; layer += 1) {
    const p = `model.layers.${layer}`;
    const h = await rmsNorm(x, `${p}.input_layernorm.weight`);
    const q = rope(toHeads(await linear(h, layer, 'q_proj'), qShape));
    const k = g.node('Concat', [past[layer].key, rope(toHeads(await linear(h, layer, 'k_proj'), kvShape))], { axis: { int: 2 } });
    const v = g.node('Concat', [past[layer].value, toHeads(await linear(h, layer, 'v_proj'), kvShape)], { axis: { int: 2 } });
    g.output(k, { name: names.presentKey(layer), dtype: 'float32', dims: ['batch', kvHeads, 'total', hd] });
    g.output(v, { name: names.presentValue(layer), dtype: 'float32', dims: ['batch', kvHeads, 'total', hd] });
    // Query heads grouped by their KV head (HF repeat_kv): [B, Hkv, groups·S, hd].
    let scores = g.node('MatMul', [g.node('Reshape', [q, groupedShape]), g.node('Transpose', [k], { perm: { ints: [0, 1, 3, 2] } })]);
    scores = softcap(g.node('Mul', [scores, scale]), attnCap);
    const mask = sliding !== null && layer % 2 === 0 ? sliding : bias;
    const probs = g.node('Softmax', [g.node('Add', [g.node('Reshape', [scores, scoresShape]), mask])], { axis: { int: -1 } });
    const context = g.node('MatMul', [g.node('Reshape', [probs, groupedScoresShape]), v]);
    const merged = g.node('Reshape', [g.node('Transpose', [g.node('Reshape', [context, contextShape])], { perm: { ints: [0, 2, 1, 3] } }), mergedShape]);
    let attn = await linear(merged, layer, 'o_proj');
    if (gemma2) attn = await rmsNorm(attn, `${p}.post_attention_layernorm.weight`);
    x = g.node('Add', [x, attn]);
    const m = await rmsNorm(x, gemma2 ? `${p}.pre_feedforward_layernorm.weight` : `${p}.post_attention_layernorm.weight`);
    let mlp = await linear(g.node('Mul', [gelu(await linear(m, layer, 'gate_proj')), await linear(m, layer, 'up_proj')]), layer, 'down_proj');
    if (gemma2) mlp = await rmsNorm(mlp, `${p}.post_feedforward_layernorm.weight`);
    x = g.node('Add', [x, mlp]);
  }
  // Logits of the token positions only: drop the first P positions. The final norm works per
  // position, so it runs on the text positions alone unless every position's state is an output.
  const prefixLength = g.node('Slice', [g.node('Shape', [prefix]), g.ints('one_i', [1]), g.ints('two_i', [2])]);
  const textPositions = (v: string): string => g.node('Slice', [v, prefixLength, g.ints('end', [Number.MAX_SAFE_INTEGER]), g.ints('seq_axis', [1])]);
  let textNormed: string;
  if (options.hiddenStates) {
    const normed = await rmsNorm(x, 'model.norm.weight');
    g.output(normed, { name: names.hiddenStates, dtype: 'float32', dims: ['batch', 'new', d] });
    textNormed = textPositions(normed);
  } else {
    textNormed = await rmsNorm(textPositions(x), 'model.norm.weight');
  }
  const logits = softcap(g.node('MatMul', [textNormed, table]), finalCap);
  g.output(logits, { name: names.logits, dtype: 'float32', dims: ['batch', 'tokens', c.vocabSize] });
  return g.toBytes({ graphName: 'vqlm_gemma_decoder', metadata: { 'vqlm.model_type': c.modelType, 'vqlm.vocab_size': String(c.vocabSize), 'vqlm.hidden_size': String(d) } });
}

/** Input of {@link OnnxDecoder.logits}. */
export interface OnnxDecoderInput {
  /** `[B, P, D]`, P ≥ 1. */
  readonly prefixEmbeddings: FloatBatch;
  /** `[B, P]`: false hides that prefix position (default all visible). */
  readonly prefixMask?: readonly (readonly boolean[])[];
  /** `[B, T]`, T ≥ 1. */
  readonly tokenIds: readonly (readonly number[])[];
}

/** Keys and values of the positions run so far, with each row's positions and visibility. */
interface OnnxKvCache {
  readonly prefixVisible: readonly (readonly boolean[])[];
  readonly positions: number[][];
  readonly visible: boolean[][];
  keys: FloatBatch[];
  values: FloatBatch[];
}

/**
 * A decoder exported by {@link decoderToOnnx}, in ONNX Runtime: prefix-LM logits and generation
 * with a KV cache (greedy or sampled, as `@vqlm/decoder-lora` `generate`).
 */
export class OnnxDecoder {
  readonly session: OnnxSession;
  readonly config: GemmaConfig;
  /** Whether the export has the `hidden_states` output ({@link hiddenStates}). */
  readonly hasHiddenStates: boolean;

  private constructor(session: OnnxSession, config: GemmaConfig) {
    this.session = session;
    this.config = config;
    this.hasHiddenStates = session.outputNames.includes(ONNX_DECODER_NAMES.hiddenStates);
  }

  /**
   * Opens an export for a decoder of `config`, checking its inputs and outputs.
   * @throws ModelError `E_BUNDLE_IO` naming the file when it cannot be opened or does not fit.
   */
  static async create(file: string | Uint8Array, config: GemmaConfig): Promise<OnnxDecoder> {
    const label = onnxLabel(file, 'decoder ONNX');
    const session = await openBundleOnnx(file, 'decoder ONNX');
    const n = ONNX_DECODER_NAMES;
    const layers = Array.from({ length: config.numHiddenLayers }, (_, i) => i);
    const inputs = [n.prefixEmbeds, n.inputIds, n.positionIds, n.attentionBias, ...(usesSliding(config) ? [n.slidingBias] : []), ...layers.flatMap((i) => [n.pastKey(i), n.pastValue(i)])];
    const outputs = [n.logits, ...layers.flatMap((i) => [n.presentKey(i), n.presentValue(i)])];
    if (session.outputNames.includes(n.hiddenStates)) outputs.push(n.hiddenStates);
    const vocab = session.outputs.find((o) => o.name === n.logits)?.shape?.[2];
    const dim = session.inputs.find((i) => i.name === n.prefixEmbeds)?.shape?.[2];
    if (!sameNames(session.inputNames, inputs) || !sameNames(session.outputNames, outputs) || vocab !== config.vocabSize || dim !== config.hiddenSize) {
      await session.dispose();
      throw new ModelError(
        'E_BUNDLE_IO',
        `${label}: expected a decoder export of ${config.numHiddenLayers} layers with inputs [${inputs.slice(0, 4).join(', ')}, …], D = ${config.hiddenSize} and logits over ${config.vocabSize} tokens, got inputs [${session.inputNames.join(', ')}] (D = ${String(dim)}) and logits over ${String(vocab)}`,
      );
    }
    return new OnnxDecoder(session, config);
  }

  private checkPrefix(input: Omit<OnnxDecoderInput, 'tokenIds'>): { b: number; p: number; mask: readonly (readonly boolean[])[] } {
    const prefix = input.prefixEmbeddings;
    const [b, p, d] = prefix?.dims ?? [];
    if (prefix?.dims.length !== 3 || b < 1 || p < 1 || d !== this.config.hiddenSize || prefix.data.length !== b * p * d) {
      throw new ModelError('E_MODEL_ARG', `prefixEmbeddings: expected shape [B, P, ${this.config.hiddenSize}] with B, P ≥ 1, got ${shapeText(prefix?.dims ?? [])}`);
    }
    const mask = input.prefixMask ?? Array.from({ length: b }, () => new Array<boolean>(p).fill(true));
    if (mask.length !== b || mask.some((row) => row.length !== p)) {
      throw new ModelError('E_MODEL_ARG', `prefixMask: expected shape [${b}, ${p}], got [${mask.length}, ${mask[0]?.length ?? 0}]`);
    }
    return { b, p, mask };
  }

  private checkTokens(tokenIds: readonly (readonly number[])[], b: number): number {
    const t = tokenIds?.[0]?.length ?? 0;
    const v = this.config.vocabSize;
    if (!Array.isArray(tokenIds) || tokenIds.length !== b || t < 1 || tokenIds.some((row: readonly number[]) => row.length !== t || row.some((id: number) => !Number.isInteger(id) || id < 0 || id >= v))) {
      throw new ModelError('E_MODEL_ARG', `tokenIds: expected ${b} rows of one length ≥ 1 with ids in [0, ${v}), got rows of lengths [${(tokenIds ?? []).map((r: readonly number[]) => r.length).join(', ')}]`);
    }
    return t;
  }

  /**
   * Runs `tokenIds` (after `prefix` on the first call) on top of `cache`, which it extends;
   * returns the logits `[B, T, V]` and, when exported, the hidden states `[B, P + T, D]`.
   */
  private async run(cache: OnnxKvCache, prefix: FloatBatch, tokenIds: readonly (readonly number[])[]): Promise<{ logits: FloatBatch; hidden?: FloatBatch }> {
    const n = ONNX_DECODER_NAMES;
    const b = cache.positions.length;
    const t = tokenIds[0].length;
    const start = cache.positions[0].length;
    const l = prefix.dims[1] + t;
    const s = start + l;
    const positionIds = new BigInt64Array(b * l);
    const full = new Float32Array(b * l * s);
    const window = usesSliding(this.config) ? this.config.slidingWindow : null;
    const sliding = window === null ? null : new Float32Array(b * l * s);
    const prefixLength = cache.prefixVisible[0].length;
    for (let row = 0; row < b; row += 1) {
      extendPrefixLmLayout(cache.positions[row], cache.visible[row], cache.prefixVisible[row], s);
      for (let i = 0; i < l; i += 1) positionIds[row * l + i] = BigInt(cache.positions[row][start + i]);
      prefixLmBias(cache.visible[row], prefixLength, start, l, null, full, row * l * s);
      if (sliding) prefixLmBias(cache.visible[row], prefixLength, start, l, window, sliding, row * l * s);
    }
    const feeds: Record<string, FloatBatch | { data: BigInt64Array; dims: number[] }> = {
      [n.prefixEmbeds]: prefix,
      [n.inputIds]: { data: BigInt64Array.from(tokenIds.flat(), (id) => BigInt(id)), dims: [b, t] },
      [n.positionIds]: { data: positionIds, dims: [b, l] },
      [n.attentionBias]: { data: full, dims: [b, 1, l, s] },
      ...(sliding ? { [n.slidingBias]: { data: sliding, dims: [b, 1, l, s] } } : {}),
    };
    cache.keys.forEach((key, i) => {
      feeds[n.pastKey(i)] = key;
      feeds[n.pastValue(i)] = cache.values[i];
    });
    const out = await this.session.run(feeds);
    const logits = out[n.logits];
    if (!logits || logits.dims.join() !== [b, t, this.config.vocabSize].join()) {
      throw new ModelError('E_MODEL_ARG', `logits: expected shape ${shapeText([b, t, this.config.vocabSize])}, got ${logits ? shapeText(logits.dims) : 'nothing'}`);
    }
    cache.keys = cache.keys.map((_, i) => out[n.presentKey(i)]);
    cache.values = cache.values.map((_, i) => out[n.presentValue(i)]);
    return { logits, hidden: out[n.hiddenStates] };
  }

  /** An empty cache for B rows whose prefix has visibility `mask`. */
  private cache(mask: readonly (readonly boolean[])[]): OnnxKvCache {
    const { numHiddenLayers: layers, numKeyValueHeads: hkv, headDim: hd } = this.config;
    const b = mask.length;
    const empty = (): FloatBatch => ({ data: new Float32Array(0), dims: [b, hkv, 0, hd] });
    return { prefixVisible: mask, positions: mask.map(() => []), visible: mask.map(() => []), keys: Array.from({ length: layers }, empty), values: Array.from({ length: layers }, empty) };
  }

  /**
   * Logits `[B, T, V]` of the token positions, as `GemmaDecoder.forward`.
   * @throws ModelError `E_MODEL_ARG` naming the input and both shapes.
   */
  async logits(input: OnnxDecoderInput): Promise<FloatBatch> {
    const { b, mask } = this.checkPrefix(input);
    this.checkTokens(input.tokenIds, b);
    return (await this.run(this.cache(mask), input.prefixEmbeddings, input.tokenIds)).logits;
  }

  /**
   * Final-norm hidden states `[B, P + T, D]` of every position, prefix included, as
   * `GemmaDecoder.hiddenStates` (a hidden prefix position's row is computed but sees nothing).
   * @throws ModelError `E_MODEL_ARG` naming the input and both shapes, or when the export has no
   *   `hidden_states` output (export with `decoderToOnnx(decoder, { hiddenStates: true })`).
   */
  async hiddenStates(input: OnnxDecoderInput): Promise<FloatBatch> {
    if (!this.hasHiddenStates) throw new ModelError('E_MODEL_ARG', `decoder: this export has no ${ONNX_DECODER_NAMES.hiddenStates} output; export it with decoderToOnnx(decoder, { hiddenStates: true })`);
    const { b, p, mask } = this.checkPrefix(input);
    const t = this.checkTokens(input.tokenIds, b);
    const { hidden } = await this.run(this.cache(mask), input.prefixEmbeddings, input.tokenIds);
    const expected = [b, p + t, this.config.hiddenSize];
    if (!hidden || hidden.dims.join() !== expected.join()) {
      throw new ModelError('E_MODEL_ARG', `${ONNX_DECODER_NAMES.hiddenStates}: expected shape ${shapeText(expected)}, got ${hidden ? shapeText(hidden.dims) : 'nothing'}`);
    }
    return hidden;
  }

  /**
   * Generation after a prefix, as `@vqlm/decoder-lora` `generate` (same options and result; the
   * same tokens for greedy decoding, up to float rounding between the engines), with a KV cache.
   * @throws ModelError `E_MODEL_ARG` naming the input and both shapes.
   */
  async generate(prefix: Omit<OnnxDecoderInput, 'tokenIds'>, options: Omit<GenerateOptions, 'prefixEmbeddings' | 'prefixMask' | 'useCache'>): Promise<GenerateResult> {
    const { b, mask } = this.checkPrefix(prefix);
    this.checkTokens(options.startTokenIds, b);
    const v = this.config.vocabSize;
    const cache = this.cache(mask);
    const none: FloatBatch = { data: new Float32Array(0), dims: [b, 0, this.config.hiddenSize] };
    return generateAsync(
      async ({ next, sequences }) => {
        const ids = next === null ? sequences : next.map((id) => [id]);
        const { logits } = await this.run(cache, next === null ? prefix.prefixEmbeddings : none, ids);
        const t = ids[0].length;
        return ids.map((_, row) => logits.data.slice((row * t + t - 1) * v, (row * t + t) * v));
      },
      v,
      options,
    );
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
