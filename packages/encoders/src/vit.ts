import { tf } from '@vqlm/runtime';
import { EncoderError, checkInteger, checkShape } from './errors.js';
import {
  bilinearGridMatrix,
  createBlockParams,
  layerNorm,
  matMul,
  transformerBlock,
  type BlockConfig,
  type GeluKind,
} from './layers.js';
import { ParamStore } from './params.js';

/** Architecture of a {@link ViT}. */
export interface VitConfig {
  /** Side of the square input the position embeddings were trained for (pixels). */
  readonly imageSize: number;
  /** Side of one square patch (pixels); `imageSize` must be a multiple. */
  readonly patchSize: number;
  /** Input channels (3 for RGB). */
  readonly channels: number;
  /** Token width. */
  readonly hiddenSize: number;
  /** Number of transformer blocks. */
  readonly numLayers: number;
  /** Attention heads; must divide `hiddenSize`. */
  readonly numHeads: number;
  /** Hidden width of each block's MLP. */
  readonly mlpDim: number;
  /** Layer-norm epsilon (HF ViT 1e-12, SigLIP 1e-6). */
  readonly layerNormEps: number;
  /** GELU flavour (HF ViT `exact`, SigLIP `tanh`). */
  readonly gelu: GeluKind;
  /** Prepend a learned class token (ViT) or not (SigLIP). */
  readonly classToken: boolean;
}

/** Named architectures, from a test-sized model to ViT-B/16 and SigLIP So400m/14 at 448. */
export const VIT_PRESETS = {
  /** A few-thousand-parameter model for tests: 32×32 input, 8×8 patches, width 32, 2 blocks. */
  micro: { imageSize: 32, patchSize: 8, channels: 3, hiddenSize: 32, numLayers: 2, numHeads: 2, mlpDim: 64, layerNormEps: 1e-6, gelu: 'exact', classToken: true },
  /** ViT-Ti/16 (5.7 M parameters). */
  tiny: { imageSize: 224, patchSize: 16, channels: 3, hiddenSize: 192, numLayers: 12, numHeads: 3, mlpDim: 768, layerNormEps: 1e-12, gelu: 'exact', classToken: true },
  /** ViT-S/16 (22 M parameters). */
  small: { imageSize: 224, patchSize: 16, channels: 3, hiddenSize: 384, numLayers: 12, numHeads: 6, mlpDim: 1536, layerNormEps: 1e-12, gelu: 'exact', classToken: true },
  /** ViT-B/16 (86 M parameters), HF `google/vit-base-patch16-224`. */
  base: { imageSize: 224, patchSize: 16, channels: 3, hiddenSize: 768, numLayers: 12, numHeads: 12, mlpDim: 3072, layerNormEps: 1e-12, gelu: 'exact', classToken: true },
  /** SigLIP So400m/14 vision tower at 448 (PaliGemma's; CP-LLM's context encoder). */
  'siglip-so400m-448': { imageSize: 448, patchSize: 14, channels: 3, hiddenSize: 1152, numLayers: 27, numHeads: 16, mlpDim: 4304, layerNormEps: 1e-6, gelu: 'tanh', classToken: false },
} as const satisfies Record<string, VitConfig>;

/** Name of a preset in {@link VIT_PRESETS}. */
export type VitPreset = keyof typeof VIT_PRESETS;

/** A preset's config with some fields replaced; validated. Throws `E_ARG` for an unknown preset or bad sizes. */
export function vitConfig(preset: VitPreset, overrides: Partial<VitConfig> = {}): VitConfig {
  const base = (VIT_PRESETS as Record<string, VitConfig>)[preset];
  if (!base) {
    throw new EncoderError('E_ARG', `preset: unknown ViT preset "${preset}" (known: ${Object.keys(VIT_PRESETS).join(', ')})`);
  }
  const config = { ...base, ...overrides };
  validateVitConfig(config);
  return config;
}

/** Throws `EncoderError` (`E_ARG`) when the sizes in `c` do not fit together. */
export function validateVitConfig(c: VitConfig): void {
  for (const key of ['imageSize', 'patchSize', 'channels', 'hiddenSize', 'numLayers', 'numHeads', 'mlpDim'] as const) {
    checkInteger(`config.${key}`, c[key]);
  }
  if (c.imageSize % c.patchSize !== 0) {
    throw new EncoderError('E_ARG', `config.imageSize: ${c.imageSize} is not a multiple of patchSize ${c.patchSize}`);
  }
  if (c.hiddenSize % c.numHeads !== 0) {
    throw new EncoderError('E_ARG', `config.numHeads: ${c.numHeads} does not divide hiddenSize ${c.hiddenSize}`);
  }
  if (!(c.layerNormEps > 0)) throw new EncoderError('E_ARG', `config.layerNormEps: expected > 0, got ${c.layerNormEps}`);
  if (c.gelu !== 'exact' && c.gelu !== 'tanh') {
    throw new EncoderError('E_ARG', `config.gelu: expected "exact" or "tanh", got "${String(c.gelu)}"`);
  }
}

/** Options of a {@link ViT}. */
export interface VitOptions {
  /** Parameters as `tf.Variable`s (true, default) or frozen plain tensors. */
  readonly trainable?: boolean;
  /** Seed of the initialiser (truncated normal, std 0.02). */
  readonly seed?: number;
}

/**
 * Vision transformer in tfjs: patch embedding (a patch-sized, patch-strided
 * convolution computed as reshape + matmul), learned position embeddings
 * (bilinearly interpolated when the input grid differs from the trained one),
 * optional class token, pre-norm blocks with multi-head attention and a GELU
 * MLP, and a final layer norm.
 *
 * Internal parameter names: `patch.weight [p·p·C, H]` (rows ordered
 * row-in-patch, column-in-patch, channel), `patch.bias [H]`, `cls [1, H]`,
 * `pos [N(+1), H]`, `blocks.i.{ln1,ln2}.{gamma,beta}`,
 * `blocks.i.attn.{q,k,v,out}.{weight [H, H] (in, out), bias}`,
 * `blocks.i.mlp.fc1.weight [H, F]`, `blocks.i.mlp.fc2.weight [F, H]`,
 * `norm.{gamma,beta}`.
 */
export class ViT {
  readonly config: VitConfig;
  readonly params: ParamStore;
  private readonly block: BlockConfig;
  private readonly resamplers = new Map<string, tf.Tensor>();

  constructor(config: VitConfig, options: VitOptions = {}) {
    validateVitConfig(config);
    this.config = { ...config };
    this.block = config;
    const p = new ParamStore(options.trainable ?? true, options.seed ?? 0);
    this.params = p;
    const h = config.hiddenSize;
    const grid = config.imageSize / config.patchSize;
    p.create('patch.weight', [config.patchSize * config.patchSize * config.channels, h], { kind: 'normal', std: 0.02 });
    p.create('patch.bias', [h], { kind: 'zeros' });
    if (config.classToken) p.create('cls', [1, h], { kind: 'normal', std: 0.02 });
    p.create('pos', [grid * grid + (config.classToken ? 1 : 0), h], { kind: 'normal', std: 0.02 });
    for (let i = 0; i < config.numLayers; i++) createBlockParams(p, `blocks.${i}`, config);
    p.create('norm.gamma', [h], { kind: 'ones' });
    p.create('norm.beta', [h], { kind: 'zeros' });
  }

  /** Whether the parameters are `tf.Variable`s. */
  get trainable(): boolean {
    return this.params.trainable;
  }

  /** Tokens produced for an `height × width` input: `(height/p)·(width/p)` (+1 with a class token). */
  numTokens(height = this.config.imageSize, width = this.config.imageSize): number {
    const p = this.config.patchSize;
    return (height / p) * (width / p) + (this.config.classToken ? 1 : 0);
  }

  /** Trainable variables (empty when frozen). */
  trainableVariables(): tf.Variable[] {
    return this.params.variables();
  }

  /**
   * Position embeddings for a `gridH × gridW` patch grid, `[T, H]`; the
   * trained grid is resampled bilinearly (half-pixel centres) as a fixed
   * linear map, so gradients reach the trained embeddings on every backend.
   */
  positionEmbeddings(gridH: number, gridW: number): tf.Tensor {
    const trained = this.config.imageSize / this.config.patchSize;
    const pos = this.params.get('pos');
    if (gridH === trained && gridW === trained) return tf.clone(pos);
    const key = `${gridH}x${gridW}`;
    let resampler = this.resamplers.get(key);
    if (!resampler) {
      resampler = tf.keep(tf.tensor2d(bilinearGridMatrix(trained, trained, gridH, gridW), [gridH * gridW, trained * trained]));
      this.resamplers.set(key, resampler);
    }
    const r = resampler;
    return tf.tidy(() => {
      const cls = this.config.classToken ? 1 : 0;
      const grid = matMul(r, tf.slice(pos, [cls, 0], [trained * trained, -1]));
      return cls ? tf.concat([tf.slice(pos, [0, 0], [1, -1]), grid], 0) : grid;
    });
  }

  /**
   * Encodes normalised pixels.
   * @param pixels shape `[B, H, W, C]`, float32, already normalised; H and W multiples of the patch size.
   * @returns tokens `[B, T, hiddenSize]`, T = (H/p)·(W/p) (+1: the class token comes first).
   */
  forward(pixels: tf.Tensor): tf.Tensor {
    const c = this.config;
    const { B, H, W } = checkShape('pixels', pixels.shape, ['B', 'H', 'W', c.channels]);
    if (H % c.patchSize !== 0 || W % c.patchSize !== 0) {
      throw new EncoderError(
        'E_SHAPE',
        `pixels: expected shape [B, H, W, ${c.channels}] with H and W multiples of ${c.patchSize}, got [${pixels.shape.join(', ')}]`,
      );
    }
    const p = this.params;
    return tf.tidy(() => {
      const ps = c.patchSize;
      const gh = H / ps;
      const gw = W / ps;
      // [B, gh, ps, gw, ps·C] → [B·gh, gw, ps, ps·C] → rows of one patch each.
      const rows = tf.reshape(pixels, [B * gh, ps, gw, ps * c.channels]);
      const patches = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [B * gh * gw, ps * ps * c.channels]);
      let x = tf.reshape(tf.add(matMul(patches, p.get('patch.weight')), p.get('patch.bias')), [B, gh * gw, c.hiddenSize]);
      if (c.classToken) {
        const cls = tf.tile(tf.reshape(p.get('cls'), [1, 1, c.hiddenSize]), [B, 1, 1]);
        x = tf.concat([cls, x], 1);
      }
      x = tf.add(x, this.positionEmbeddings(gh, gw));
      for (let i = 0; i < c.numLayers; i++) x = transformerBlock(x, p, `blocks.${i}`, this.block);
      return layerNorm(x, p.get('norm.gamma'), p.get('norm.beta'), c.layerNormEps);
    });
  }

  /** Frees parameters and cached resampling matrices. */
  dispose(): void {
    this.params.dispose();
    for (const r of this.resamplers.values()) r.dispose();
    this.resamplers.clear();
  }
}
