import { tf } from '@vqlm/runtime';
import { EncoderError, checkInteger, checkShape } from './errors.js';
import { SIGLIP_NORMALIZATION, normalizePixels, type Normalization, type PixelInput } from './frames.js';
import { createBlockParams, layerNorm, matMul, transformerBlock, type BlockConfig } from './layers.js';
import { ParamStore } from './params.js';
import { Projector } from './projector.js';

/** Sizes of a {@link TemporalEncoder}. */
export interface TemporalEncoderConfig {
  /** T: densely sampled frames per clip (multiple of `tubeletFrames`). */
  readonly numFrames: number;
  /** S: frame side in pixels (low resolution, 112 by default). */
  readonly imageSize: number;
  /** t: frames per tubelet (temporal kernel and stride). */
  readonly tubeletFrames: number;
  /** p: tubelet side in pixels (spatial kernel and stride). */
  readonly patchSize: number;
  /** C: token width (small, as in SlowFast's fast pathway). */
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly mlpDim: number;
  readonly layerNormEps: number;
  /** D: projector output width. */
  readonly outputDim: number;
}

/** Defaults: 16 frames of 112², tubelets 2×16×16, width 64, 2 blocks. */
export const TEMPORAL_ENCODER_DEFAULTS: Omit<TemporalEncoderConfig, 'outputDim'> = {
  numFrames: 16,
  imageSize: 112,
  tubeletFrames: 2,
  patchSize: 16,
  hiddenSize: 64,
  numLayers: 2,
  numHeads: 2,
  mlpDim: 128,
  layerNormEps: 1e-6,
};

/** Options of a {@link TemporalEncoder}. */
export interface TemporalEncoderOptions extends Partial<TemporalEncoderConfig> {
  readonly outputDim: number;
  readonly normalization?: Normalization;
  readonly seed?: number;
}

/**
 * The temporal branch of LMM-VQA: a SlowFast-style *fast pathway* — many
 * frames at low resolution and low channel width — built as a small video
 * transformer:
 * 1. tubelet embedding: each t×p×p block of pixels (a 3-D convolution with
 *    kernel = stride = (t, p, p)) → C, giving `[B, T/t, (S/p)², C]`;
 * 2. learned factorised position embeddings (temporal + spatial);
 * 3. `numLayers` pre-norm blocks of joint space-time attention;
 * 4. final layer norm, then mean over the spatial tokens of each time step:
 *    temporal tokens `[B, T/t, C]`;
 * 5. a trainable projector to D: `[B, T/t, D]`.
 */
export class TemporalEncoder {
  readonly config: TemporalEncoderConfig;
  readonly params: ParamStore;
  readonly projector: Projector;
  readonly normalization: Normalization;
  private readonly block: BlockConfig;

  constructor(options: TemporalEncoderOptions) {
    const { normalization, seed = 0, ...sizes } = options;
    const c: TemporalEncoderConfig = { ...TEMPORAL_ENCODER_DEFAULTS, ...sizes };
    for (const key of ['numFrames', 'imageSize', 'tubeletFrames', 'patchSize', 'hiddenSize', 'numLayers', 'numHeads', 'mlpDim', 'outputDim'] as const) {
      checkInteger(`config.${key}`, c[key]);
    }
    if (c.numFrames % c.tubeletFrames !== 0) {
      throw new EncoderError('E_ARG', `config.numFrames: ${c.numFrames} is not a multiple of tubeletFrames ${c.tubeletFrames}`);
    }
    if (c.imageSize % c.patchSize !== 0) {
      throw new EncoderError('E_ARG', `config.imageSize: ${c.imageSize} is not a multiple of patchSize ${c.patchSize}`);
    }
    if (c.hiddenSize % c.numHeads !== 0) {
      throw new EncoderError('E_ARG', `config.numHeads: ${c.numHeads} does not divide hiddenSize ${c.hiddenSize}`);
    }
    this.config = c;
    this.block = { ...c, gelu: 'exact' };
    this.normalization = normalization ?? SIGLIP_NORMALIZATION;
    const p = new ParamStore(true, seed);
    this.params = p;
    const h = c.hiddenSize;
    p.create('tubelet.weight', [c.tubeletFrames * c.patchSize * c.patchSize * 3, h], { kind: 'normal', std: 0.02 });
    p.create('tubelet.bias', [h], { kind: 'zeros' });
    p.create('pos.time', [this.numTokens, 1, h], { kind: 'normal', std: 0.02 });
    p.create('pos.space', [1, this.spatialTokens, h], { kind: 'normal', std: 0.02 });
    for (let i = 0; i < c.numLayers; i++) createBlockParams(p, `blocks.${i}`, this.block);
    p.create('norm.gamma', [h], { kind: 'ones' });
    p.create('norm.beta', [h], { kind: 'zeros' });
    this.projector = new Projector(h, c.outputDim, { seed: seed + 100_003 });
  }

  /** T/t: temporal tokens per clip. */
  get numTokens(): number {
    return this.config.numFrames / this.config.tubeletFrames;
  }

  /** (S/p)²: spatial positions per time step. */
  get spatialTokens(): number {
    return (this.config.imageSize / this.config.patchSize) ** 2;
  }

  /**
   * @param clips shape `[B, T, S, S, 3]`, values 0..255 (a single clip is `[1, T, S, S, 3]`)
   * @returns temporal tokens `[B, T/t, D]`
   */
  forward(clips: PixelInput): tf.Tensor {
    if (this.params.isDisposed) throw new EncoderError('E_DISPOSED', 'temporal encoder used after dispose()');
    const c = this.config;
    const p = this.params;
    return tf.tidy(() => {
      const pixels = normalizePixels('clips', clips, ['B', c.numFrames, c.imageSize, c.imageSize, 3], this.normalization);
      const b = pixels.shape[0];
      const nt = this.numTokens;
      const ns = this.spatialTokens;
      let x = tf.add(tf.add(this.embedTubelets(pixels), p.get('pos.time')), p.get('pos.space'));
      x = tf.reshape(x, [b, nt * ns, c.hiddenSize]);
      for (let i = 0; i < c.numLayers; i++) x = transformerBlock(x, p, `blocks.${i}`, this.block);
      x = layerNorm(x, p.get('norm.gamma'), p.get('norm.beta'), c.layerNormEps);
      const temporal = tf.mean(tf.reshape(x, [b, nt, ns, c.hiddenSize]), 2);
      return this.projector.apply(temporal);
    });
  }

  /**
   * Tubelet embedding alone (a 3-D convolution with kernel = stride = (t, p, p), as reshape + matmul).
   * @param pixels normalised, shape `[B, T, S, S, 3]`
   * @returns shape `[B, T/t, (S/p)², C]`
   */
  embedTubelets(pixels: tf.Tensor): tf.Tensor {
    const c = this.config;
    const { B: b } = checkShape('pixels', pixels.shape, ['B', c.numFrames, c.imageSize, c.imageSize, 3]);
    return tf.tidy(() => {
      const ps = c.patchSize;
      const g = c.imageSize / ps;
      const nt = this.numTokens;
      const ns = this.spatialTokens;
      const patchValues = ps * ps * 3;
      // Per-frame spatial patches [B·T·g·g, p·p·3] (row in patch, column, channel) …
      const rows = tf.reshape(pixels, [b * c.numFrames * g, ps, g, ps * 3]);
      const patches = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [b, nt, c.tubeletFrames, ns, patchValues]);
      // … grouped into tubelets [B·Nt·Ns, t·p·p·3] (frame in tubelet first).
      const tubelets = tf.reshape(tf.transpose(patches, [0, 1, 3, 2, 4]), [b * nt * ns, c.tubeletFrames * patchValues]);
      const x = tf.add(matMul(tubelets, this.params.get('tubelet.weight')), this.params.get('tubelet.bias'));
      return tf.reshape(x, [b, nt, ns, c.hiddenSize]);
    });
  }

  trainableVariables(): tf.Variable[] {
    return [...this.params.variables(), ...this.projector.trainableVariables()];
  }

  dispose(): void {
    this.params.dispose();
    this.projector.dispose();
  }
}
