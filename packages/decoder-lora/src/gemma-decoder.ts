import { createRng, matMul, tf } from '@vqlm/runtime';
import { DecoderError, formatShape } from './decoder-error.js';
import type { GemmaConfig } from './gemma-config.js';
import { isTransposedInDecoder, validateGemmaWeights, linearModulePath, linearShape, type GemmaLinearName, type GemmaWeights, type WeightLayout } from './gemma-weights.js';
import { extendPrefixLmLayout, prefixLmBias } from './layout.js';
import { LoraAdapter, resolveLoraConfig, type LoraConfig } from './lora.js';

let variableCounter = 0;

const isStoredTransposed = isTransposedInDecoder;

/** Additive attention bias of a hidden (masked) key; finite so a row with no visible key stays finite. */

/** Input of {@link GemmaDecoder.forward}. B = batch, P = prefix length, T = output tokens, D = hidden size. */
export interface DecoderInput {
  /** Prefix embeddings `[B, P, D]` in the decoder's hidden space (visual tokens, prompt via {@link GemmaDecoder.embedTokens}); attended bidirectionally. Not rescaled. */
  prefixEmbeddings?: tf.Tensor3D | null;
  /** Output token ids `[B, T]` (int32), attended causally; position t's logits predict token t + 1. */
  tokenIds: tf.Tensor2D | number[][];
  /** `[B, P]`: false hides that prefix position from every query (as if it were absent; later positions keep their rotary positions contiguous). */
  prefixMask?: tf.Tensor2D | boolean[][] | null;
  /** Training forward: LoRA dropout active. Default false. */
  training?: boolean;
}

/**
 * Per-layer key/value cache of a running generation. Keys and values are `[B, Hkv, S, hd]`.
 * Create with {@link GemmaDecoder.prefill}; extend with {@link GemmaDecoder.decodeStep}; `dispose()` when done.
 */
export interface KvCache {
  readonly keys: tf.Tensor4D[];
  readonly values: tf.Tensor4D[];
  /** P of the prefix the cache was started with. */
  readonly prefixLength: number;
  /** `[B][S]`: whether each cached position is visible. */
  readonly visible: boolean[][];
  /** `[B][S]`: rotary position of each cached position. */
  readonly positions: number[][];
  /** S, the number of cached positions. */
  readonly length: number;
  dispose(): void;
}

interface MutableCache {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
  prefixLength: number;
  visible: boolean[][];
  positions: number[][];
  length: number;
  dispose(): void;
}

function makeCache(prefixLength: number, batch: number): MutableCache {
  const cache: MutableCache = {
    keys: [],
    values: [],
    prefixLength,
    visible: Array.from({ length: batch }, () => []),
    positions: Array.from({ length: batch }, () => []),
    length: 0,
    dispose() {
      for (const t of cache.keys) t.dispose();
      for (const t of cache.values) t.dispose();
      cache.keys = [];
      cache.values = [];
    },
  };
  return cache;
}

function gelu(x: tf.Tensor, exact: boolean): tf.Tensor {
  if (exact) return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
  // tanh approximation (PyTorch `gelu(approximate="tanh")`).
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

function softcap(x: tf.Tensor, cap: number | null): tf.Tensor {
  return cap === null ? x : tf.mul(tf.tanh(tf.div(x, cap)), cap);
}

function toIdRows(ids: tf.Tensor2D | number[][], vocabSize: number): number[][] {
  let rows: number[][];
  if (Array.isArray(ids)) {
    rows = ids;
    const width = rows[0]?.length ?? 0;
    if (rows.length === 0 || width === 0 || rows.some((r) => !Array.isArray(r) || r.length !== width)) {
      throw new DecoderError('SHAPE_MISMATCH', `tokenIds must be a non-empty rectangular [B, T] array, got rows of lengths [${rows.map((r) => (Array.isArray(r) ? r.length : -1)).join(', ')}]`);
    }
  } else {
    if (ids.rank !== 2 || ids.shape[0] === 0 || ids.shape[1] === 0) {
      throw new DecoderError('SHAPE_MISMATCH', `tokenIds must have shape [B, T] with B, T > 0, got ${formatShape(ids.shape)}`);
    }
    if (ids.dtype !== 'int32') {
      throw new DecoderError('INVALID_ARGUMENT', `tokenIds must be int32, got ${ids.dtype}`);
    }
    rows = ids.arraySync();
  }
  for (const row of rows) {
    for (const id of row) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new DecoderError('INVALID_ARGUMENT', `tokenIds holds ${id}, outside the vocabulary [0, ${vocabSize})`);
      }
    }
  }
  return rows;
}

/**
 * A Gemma (1 or 2) decoder in tfjs with optional LoRA adapters and prefix-LM attention
 * (CP-LLM Fig. 4b): bidirectional over the prefix, causal over the output tokens.
 *
 * Numerics follow HF transformers: token embeddings × √D, RMSNorm `x·(1 + w)` in float32,
 * rotary embeddings (`rope_theta`, rotate-half layout), grouped/multi-query attention, GeGLU MLP,
 * Gemma 2 attention / final logit soft-capping and sliding-window layers, output tied to the embedding.
 * Base weights are plain tensors (frozen); only LoRA adapters are variables.
 */
export class GemmaDecoder {
  readonly config: GemmaConfig;
  private readonly weights: GemmaWeights;
  private readonly adapters = new Map<string, LoraAdapter>();
  private loraConfigValue: LoraConfig | null = null;
  private mergedValue = false;
  private dropoutRng = createRng(0);
  private disposed = false;
  /** Whether the base weights are trainable variables (pre-training a small base from scratch). */
  readonly trainBase: boolean;

  /**
   * @param weights base weights in HF naming (see `expectedGemmaTensors`); the decoder takes ownership.
   * @param options.trainBase make the base weights trainable variables too (default false: the base is
   *   frozen plain tensors and only LoRA adapters train). Used to pre-train a small base in this repo;
   *   merging adapters is refused while the base trains.
   * @param options.weightLayout `'hf'` (default) or `'transposed'` when `weights` come from
   *   `readGemmaWeights(config, source, 'transposed')` (saves a transient copy while loading).
   * @throws DecoderError `MISSING_TENSOR` / `TENSOR_SHAPE` naming the tensor.
   */
  constructor(config: GemmaConfig, weights: GemmaWeights, options: { trainBase?: boolean; weightLayout?: WeightLayout } = {}) {
    const layout = options.weightLayout ?? 'hf';
    validateGemmaWeights(config, weights, layout);
    this.config = config;
    this.trainBase = options.trainBase ?? false;
    // Matrices are stored transposed ([in, out]; embedding [D, V]): tfjs's wasm backend runs
    // matMul(x, W, false, true) several times slower than matMul(x, Wᵀ). One tensor at a time.
    for (const [name, tensor] of [...weights]) {
      let stored = tensor;
      if (layout === 'hf' && isStoredTransposed(name)) {
        stored = tf.transpose(tensor);
        tensor.dispose();
      }
      if (this.trainBase && !(stored instanceof tf.Variable)) {
        const variable = tf.variable(stored, true, `${name.replace(/\./g, '/')}_${variableCounter++}`);
        stored.dispose();
        stored = variable;
      }
      weights.set(name, stored);
    }
    this.weights = weights;
  }

  /**
   * A copy of base weight `name` in HF layout (e.g. `q_proj.weight` `[out, in]`, embedding `[V, D]`),
   * merged adapters included when merged. The caller disposes it.
   */
  weight(name: string): tf.Tensor {
    const tensor = this.stored(name);
    return isStoredTransposed(name) ? tf.transpose(tensor) : tf.clone(tensor);
  }

  /** HF names of the base weights. */
  weightNames(): string[] {
    return [...this.weights.keys()];
  }

  /**
   * The stored base tensors, owned by the decoder: matrices transposed to `[in, out]` and the embedding
   * to `[D, V]` (fast matmul on every backend). Plain tensors unless `trainBase`. Use {@link weight} for HF layout.
   */
  storedWeights(): ReadonlyMap<string, tf.Tensor> {
    return this.weights;
  }

  private stored(name: string): tf.Tensor {
    const tensor = this.weights.get(name);
    if (tensor === undefined) throw new DecoderError('MISSING_TENSOR', `decoder has no tensor '${name}'`);
    return tensor;
  }

  /** The attached LoRA config, or null. */
  get loraConfig(): LoraConfig | null {
    return this.loraConfigValue;
  }

  /** Whether the adapters are currently merged into the base weights. */
  get merged(): boolean {
    return this.mergedValue;
  }

  /** The attached adapters keyed by HF module path (`model.layers.0.self_attn.q_proj`). */
  loraAdapters(): ReadonlyMap<string, LoraAdapter> {
    return this.adapters;
  }

  /**
   * Attaches fresh LoRA adapters (A kaiming-uniform from `seed`, B = 0) to the target modules
   * of every layer. Replaces adapters already attached.
   */
  addLora(init: Partial<LoraConfig> = {}, seed = 0): LoraConfig {
    this.assertAlive();
    const config = resolveLoraConfig(init);
    this.removeLora();
    const rng = createRng(seed);
    for (let layer = 0; layer < this.config.numHiddenLayers; layer += 1) {
      for (const name of config.targetModules) {
        const [out, inFeatures] = linearShape(this.config, name);
        const path = linearModulePath(layer, name);
        this.adapters.set(path, new LoraAdapter(path, out, inFeatures, config, rng));
      }
    }
    this.loraConfigValue = config;
    this.dropoutRng = createRng(seed + 1);
    return config;
  }

  /** Detaches and disposes the adapters (unmerging first if merged). */
  removeLora(): void {
    if (this.mergedValue) this.unmergeLora();
    for (const adapter of this.adapters.values()) adapter.dispose();
    this.adapters.clear();
    this.loraConfigValue = null;
  }

  /** The trainable variables: every adapter's A and B (empty without LoRA). */
  trainableVariables(): tf.Variable[] {
    const vars: tf.Variable[] = [];
    if (this.trainBase) {
      for (const tensor of this.weights.values()) if (tensor instanceof tf.Variable) vars.push(tensor as tf.Variable);
    }
    for (const adapter of this.adapters.values()) vars.push(adapter.a, adapter.b);
    return vars;
  }

  /** Adds `scaling·B·A` into each adapted base weight; the forward then skips the adapter path. */
  mergeLora(): void {
    this.assertAlive();
    if (this.adapters.size === 0) throw new DecoderError('ADAPTER_STATE', 'mergeLora: no LoRA adapters attached');
    if (this.mergedValue) throw new DecoderError('ADAPTER_STATE', 'mergeLora: adapters are already merged');
    if (this.trainBase) throw new DecoderError('ADAPTER_STATE', 'mergeLora: the base weights are trainable (trainBase); merge into a frozen decoder');
    this.applyDeltas(1);
    this.mergedValue = true;
  }

  /**
   * PEFT's `merge_and_unload`: folds the adapters into the base weights for good and detaches them.
   * The result is a plain (frozen) base model that new adapters can be trained on.
   */
  mergeAndUnloadLora(): void {
    if (!this.mergedValue) this.mergeLora();
    for (const adapter of this.adapters.values()) adapter.dispose();
    this.adapters.clear();
    this.loraConfigValue = null;
    this.mergedValue = false;
  }

  /** Subtracts the merged updates again, restoring the base weights (up to float rounding). */
  unmergeLora(): void {
    this.assertAlive();
    if (!this.mergedValue) throw new DecoderError('ADAPTER_STATE', 'unmergeLora: adapters are not merged');
    this.applyDeltas(-1);
    this.mergedValue = false;
  }

  private applyDeltas(sign: 1 | -1): void {
    for (const [path, adapter] of this.adapters) {
      const name = `${path}.weight`;
      const old = this.stored(name);
      const updated = tf.tidy(() => {
        const delta = tf.transpose(adapter.delta());
        return sign === 1 ? tf.add(old, delta) : tf.sub(old, delta);
      });
      this.weights.set(name, updated);
      old.dispose();
    }
  }

  /**
   * Token embeddings scaled by √D (as HF Gemma does to its input embeddings).
   * @param tokenIds `[B, T]` int32
   * @returns `[B, T, D]`
   */
  embedTokens(tokenIds: tf.Tensor2D | number[][]): tf.Tensor3D {
    this.assertAlive();
    const rows = toIdRows(tokenIds, this.config.vocabSize);
    return this.embedRows(rows);
  }

  private embedRows(rows: number[][]): tf.Tensor3D {
    const B = rows.length;
    const T = rows[0].length;
    const D = this.config.hiddenSize;
    return tf.tidy(() => {
      const flat = tf.tensor1d(rows.flat(), 'int32');
      const gathered = tf.transpose(tf.gather(this.stored('model.embed_tokens.weight'), flat, 1));
      return tf.reshape(tf.mul(gathered, Math.fround(Math.sqrt(D))), [B, T, D]);
    });
  }

  /**
   * Prefix-LM forward.
   * @returns logits `[B, T, V]` for the output positions only.
   * @throws DecoderError `SHAPE_MISMATCH` naming the argument and both shapes.
   */
  forward(input: DecoderInput): tf.Tensor3D {
    this.assertAlive();
    return this.run(input, false, 'logits').logits;
  }

  /**
   * Final-norm hidden states of every position, prefix included.
   * @returns `[B, P + T, D]`
   */
  hiddenStates(input: DecoderInput): tf.Tensor3D {
    this.assertAlive();
    return this.run(input, false, 'hidden').logits;
  }

  /**
   * Runs the prefix and the first output tokens and keeps their keys/values for {@link decodeStep}.
   * @returns logits `[B, T, V]` of the output positions and the cache (dispose it).
   */
  prefill(input: Omit<DecoderInput, 'training'>): { logits: tf.Tensor3D; cache: KvCache } {
    this.assertAlive();
    const { logits, cache } = this.run({ ...input, training: false }, true, 'logits');
    return { logits, cache: cache! };
  }

  /**
   * Appends output tokens `[B, N]` to a cache and returns their logits `[B, N, V]`.
   */
  decodeStep(cache: KvCache, tokenIds: tf.Tensor2D | number[][]): tf.Tensor3D {
    this.assertAlive();
    const rows = toIdRows(tokenIds, this.config.vocabSize);
    const B = cache.visible.length;
    if (rows.length !== B) {
      throw new DecoderError('SHAPE_MISMATCH', `tokenIds has batch ${rows.length}, the cache has batch ${B}`);
    }
    const mutable = cache as MutableCache;
    const hidden = this.embedRows(rows);
    try {
      return this.runLayers(hidden, mutable, false);
    } finally {
      hidden.dispose();
    }
  }

  private run(input: DecoderInput, keepCache: boolean, head: 'logits' | 'hidden'): { logits: tf.Tensor3D; cache: MutableCache | null } {
    const rows = toIdRows(input.tokenIds, this.config.vocabSize);
    const B = rows.length;
    const D = this.config.hiddenSize;
    const prefix = input.prefixEmbeddings ?? null;
    let P = 0;
    if (prefix !== null) {
      if (prefix.rank !== 3 || prefix.shape[0] !== B || prefix.shape[2] !== D) {
        throw new DecoderError(
          'SHAPE_MISMATCH',
          `prefixEmbeddings must have shape [B, P, D] = [${B}, P, ${D}] (B from tokenIds ${formatShape([B, rows[0].length])}), got ${formatShape(prefix.shape)}`,
        );
      }
      P = prefix.shape[1];
    }
    let prefixVisible: boolean[][] = Array.from({ length: B }, () => new Array<boolean>(P).fill(true));
    if (input.prefixMask !== undefined && input.prefixMask !== null) {
      const mask = input.prefixMask;
      const shape = Array.isArray(mask) ? [mask.length, mask[0]?.length ?? 0] : mask.shape;
      const rect = Array.isArray(mask) ? mask.every((r) => Array.isArray(r) && r.length === P) : mask.rank === 2;
      if (!rect || shape[0] !== B || shape[1] !== P) {
        throw new DecoderError('SHAPE_MISMATCH', `prefixMask must have shape [B, P] = [${B}, ${P}], got ${formatShape(shape)}`);
      }
      prefixVisible = Array.isArray(mask) ? mask.map((r) => r.map(Boolean)) : (mask.arraySync() as unknown as (number | boolean)[][]).map((r) => r.map(Boolean));
    }
    const cache = makeCache(P, B);
    for (let b = 0; b < B; b += 1) extendPrefixLmLayout(cache.positions[b], cache.visible[b], prefixVisible[b], P);
    const hidden = tf.tidy(() => {
      const tokens = this.embedRows(rows);
      return prefix === null || P === 0 ? tokens : tf.concat([prefix, tokens], 1);
    });
    try {
      const logits = this.runLayers(hidden, cache, input.training ?? false, head === 'hidden' ? 0 : P, head);
      if (!keepCache) cache.dispose();
      return { logits, cache: keepCache ? cache : null };
    } catch (error) {
      cache.dispose();
      throw error;
    } finally {
      hidden.dispose();
    }
  }

  /**
   * Runs `hidden [B, L, D]` (the next L positions after those in `cache`) through every layer,
   * appending their keys/values to the cache, and returns logits of the last `L - skip` positions.
   */
  private runLayers(hidden: tf.Tensor3D, cache: MutableCache, training: boolean, skip = 0, head: 'logits' | 'hidden' = 'logits'): tf.Tensor3D {
    const c = this.config;
    const [B, L] = hidden.shape;
    const start = cache.length;
    const S = start + L;
    // Positions and visibility of the new (output) positions.
    for (let b = 0; b < B; b += 1) extendPrefixLmLayout(cache.positions[b], cache.visible[b], [], S);
    if (cache.positions[0].length !== S) {
      throw new DecoderError('INVALID_ARGUMENT', 'internal: cache bookkeeping out of step');
    }
    const usesSliding = c.slidingWindow !== null && c.modelType === 'gemma2';
    const { cos, sin } = this.rotary(cache.positions, start, L);
    const fullMask = this.attentionMask(cache, start, L, null);
    const slidingMask = usesSliding ? this.attentionMask(cache, start, L, c.slidingWindow) : null;
    const newKeys: tf.Tensor4D[] = [];
    const newValues: tf.Tensor4D[] = [];
    try {
      const logits = tf.tidy(() => {
        let x: tf.Tensor = hidden;
        for (let layer = 0; layer < c.numHiddenLayers; layer += 1) {
          const mask = slidingMask !== null && layer % 2 === 0 ? slidingMask : fullMask;
          x = this.layer(x as tf.Tensor3D, layer, cos, sin, mask, cache, training, newKeys, newValues);
        }
        let out = x;
        if (skip > 0) out = tf.slice(out, [0, skip, 0], [B, L - skip, c.hiddenSize]);
        const T = L - skip;
        const normed = this.rmsNorm(out, 'model.norm.weight');
        if (head === 'hidden') return normed as tf.Tensor3D;
        const flat = tf.reshape(normed, [B * T, c.hiddenSize]);
        const raw = matMul(flat, this.stored('model.embed_tokens.weight'));
        return tf.reshape<tf.Rank.R3>(softcap(raw, c.finalLogitSoftcapping), [B, T, c.vocabSize]);
      });
      for (let layer = 0; layer < c.numHiddenLayers; layer += 1) {
        cache.keys[layer]?.dispose();
        cache.values[layer]?.dispose();
        cache.keys[layer] = newKeys[layer];
        cache.values[layer] = newValues[layer];
      }
      cache.length = S;
      return logits;
    } catch (error) {
      for (const t of [...newKeys, ...newValues]) t.dispose();
      throw error;
    } finally {
      cos.dispose();
      sin.dispose();
      fullMask.dispose();
      slidingMask?.dispose();
    }
  }

  private layer(
    x: tf.Tensor3D,
    layer: number,
    cos: tf.Tensor,
    sin: tf.Tensor,
    mask: tf.Tensor,
    cache: MutableCache,
    training: boolean,
    newKeys: tf.Tensor4D[],
    newValues: tf.Tensor4D[],
  ): tf.Tensor3D {
    const c = this.config;
    const prefix = `model.layers.${layer}`;
    const gemma2 = c.modelType === 'gemma2';
    const attnIn = this.rmsNorm(x, `${prefix}.input_layernorm.weight`);
    let attnOut = this.attention(attnIn, layer, cos, sin, mask, cache, training, newKeys, newValues);
    if (gemma2) attnOut = this.rmsNorm(attnOut, `${prefix}.post_attention_layernorm.weight`);
    const afterAttn = tf.add(x, attnOut);
    const mlpIn = this.rmsNorm(afterAttn, gemma2 ? `${prefix}.pre_feedforward_layernorm.weight` : `${prefix}.post_attention_layernorm.weight`);
    let mlpOut = this.mlp(mlpIn, layer, training);
    if (gemma2) mlpOut = this.rmsNorm(mlpOut, `${prefix}.post_feedforward_layernorm.weight`);
    return tf.add<tf.Tensor3D>(afterAttn, mlpOut);
  }

  /** RMSNorm in Gemma's form: `x / sqrt(mean(x²) + eps) · (1 + w)`, in float32. */
  private rmsNorm(x: tf.Tensor, weightName: string): tf.Tensor {
    const variance = tf.mean(tf.square(x), -1, true);
    const normed = tf.mul(x, tf.rsqrt(tf.add(variance, this.config.rmsNormEps)));
    return tf.mul(normed, tf.add(this.stored(weightName), 1));
  }

  /** `x [B, L, in]` → `[B, L, out]` through base weight (+ LoRA when attached and not merged). */
  private linear(x: tf.Tensor, layer: number, name: GemmaLinearName, training: boolean): tf.Tensor {
    const [B, L, inFeatures] = x.shape;
    const path = linearModulePath(layer, name);
    const w = this.stored(`${path}.weight`);
    const flat = tf.reshape<tf.Rank.R2>(x, [B * L, inFeatures]);
    // @vqlm/runtime's matMul: on wasm its gradient avoids tfjs's slow transposed products.
    let y = matMul(flat, w) as tf.Tensor2D;
    const adapter = this.adapters.get(path);
    if (adapter !== undefined && !this.mergedValue) {
      y = tf.add(y, adapter.apply(flat, training, this.dropoutRng.int(2 ** 30)));
    }
    return tf.reshape(y, [B, L, w.shape[1] ?? 0]);
  }

  private mlp(x: tf.Tensor, layer: number, training: boolean): tf.Tensor {
    const gate = gelu(this.linear(x, layer, 'gate_proj', training), this.config.activation === 'gelu_exact');
    const up = this.linear(x, layer, 'up_proj', training);
    return this.linear(tf.mul(gate, up), layer, 'down_proj', training);
  }

  private attention(
    x: tf.Tensor,
    layer: number,
    cos: tf.Tensor,
    sin: tf.Tensor,
    mask: tf.Tensor,
    cache: MutableCache,
    training: boolean,
    newKeys: tf.Tensor4D[],
    newValues: tf.Tensor4D[],
  ): tf.Tensor {
    const c = this.config;
    const [B, L] = x.shape as [number, number, number];
    const H = c.numAttentionHeads;
    const Hkv = c.numKeyValueHeads;
    const hd = c.headDim;
    const groups = H / Hkv;
    const heads = (t: tf.Tensor, n: number): tf.Tensor4D => tf.transpose(tf.reshape(t, [B, L, n, hd]), [0, 2, 1, 3]);
    const q = this.rope(heads(this.linear(x, layer, 'q_proj', training), H), cos, sin);
    let k = this.rope(heads(this.linear(x, layer, 'k_proj', training), Hkv), cos, sin);
    let v = heads(this.linear(x, layer, 'v_proj', training), Hkv);
    const pastK = cache.keys[layer];
    const pastV = cache.values[layer];
    if (pastK !== undefined && pastV !== undefined) {
      k = tf.concat([pastK, k], 2);
      v = tf.concat([pastV, v], 2);
    }
    newKeys[layer] = tf.keep(k);
    newValues[layer] = tf.keep(v);
    const S = k.shape[2];
    // Group query heads by their KV head (HF repeat_kv: head h uses KV head floor(h / groups)).
    const qGrouped = tf.reshape(q, [B, Hkv, groups * L, hd]);
    let scores: tf.Tensor = matMul(qGrouped, tf.transpose(k, [0, 1, 3, 2]));
    scores = tf.mul(scores, 1 / Math.sqrt(c.queryPreAttnScalar));
    scores = softcap(scores, c.attnLogitSoftcapping);
    scores = tf.add(tf.reshape(scores, [B, H, L, S]), mask);
    const probs = tf.softmax(scores, -1);
    const context = matMul(tf.reshape(probs, [B, Hkv, groups * L, S]), v);
    const merged = tf.reshape(tf.transpose(tf.reshape(context, [B, H, L, hd]), [0, 2, 1, 3]), [B, L, H * hd]);
    return this.linear(merged, layer, 'o_proj', training);
  }

  private rope(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor4D {
    const half = this.config.headDim / 2;
    const [x1, x2] = tf.split(x, [half, half], -1);
    const rotated = tf.concat([tf.neg(x2), x1], -1);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  }

  /** cos/sin `[B, 1, L, hd]` for positions `start .. start + L - 1` of each batch row. */
  private rotary(positions: number[][], start: number, L: number): { cos: tf.Tensor; sin: tf.Tensor } {
    const hd = this.config.headDim;
    const half = hd / 2;
    const B = positions.length;
    const invFreq = new Float32Array(half);
    for (let i = 0; i < half; i += 1) invFreq[i] = 1 / this.config.ropeTheta ** ((2 * i) / hd);
    const cos = new Float32Array(B * L * hd);
    const sin = new Float32Array(B * L * hd);
    for (let b = 0; b < B; b += 1) {
      for (let l = 0; l < L; l += 1) {
        const pos = positions[b][start + l];
        const base = (b * L + l) * hd;
        for (let i = 0; i < half; i += 1) {
          const angle = Math.fround(pos * invFreq[i]);
          const cv = Math.cos(angle);
          const sv = Math.sin(angle);
          cos[base + i] = cv;
          cos[base + half + i] = cv;
          sin[base + i] = sv;
          sin[base + half + i] = sv;
        }
      }
    }
    return { cos: tf.tensor4d(cos, [B, 1, L, hd]), sin: tf.tensor4d(sin, [B, 1, L, hd]) };
  }

  /**
   * Additive mask `[B, 1, L, S]` for queries `start .. start + L - 1` over keys `0 .. S - 1`:
   * key j is visible to query i when j is visible and (j is in the prefix or j ≤ i),
   * and, for a sliding-window layer, |i − j| < window.
   */
  private attentionMask(cache: MutableCache, start: number, L: number, window: number | null): tf.Tensor {
    const B = cache.visible.length;
    const S = start + L;
    const data = new Float32Array(B * L * S);
    for (let b = 0; b < B; b += 1) prefixLmBias(cache.visible[b], cache.prefixLength, start, L, window, data, b * L * S);
    return tf.tensor4d(data, [B, 1, L, S]);
  }

  private assertAlive(): void {
    if (this.disposed) throw new DecoderError('ADAPTER_STATE', 'decoder was disposed');
  }

  /** Disposes the base weights and adapters. */
  dispose(): void {
    if (this.disposed) return;
    this.removeLora();
    for (const tensor of this.weights.values()) tensor.dispose();
    this.weights.clear();
    this.disposed = true;
  }
}
