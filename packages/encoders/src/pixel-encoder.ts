import { tf } from '@vqlm/runtime';
import { EncoderError, checkInteger } from './errors.js';
import { SIGLIP_NORMALIZATION, normalizePixels, type Normalization, type PixelInput } from './frames.js';
import { layerNorm } from './layers.js';
import { ParamStore } from './params.js';
import { Projector } from './projector.js';
import { ViT, type VitConfig } from './vit.js';

/** Options of a {@link PixelEncoder}. */
export interface PixelEncoderOptions {
  /** The trainable ViT over each patch (its `imageSize` is the patch side, 224 in CP-LLM). */
  readonly vit: VitConfig;
  /** D: model width after the projector. */
  readonly outputDim: number;
  /** Pixel normalisation (default mean = std = 0.5). */
  readonly normalization?: Normalization;
  /** Initialiser seed. */
  readonly seed?: number;
}

/**
 * The low-level (pixel) branch of CP-LLM (§3.1.2): a trainable ViT encodes
 * each of the K native-resolution patches of a frame, `[M·K, Tq, Dq]`; a
 * linear layer maps to D; tokens are averaged over the K patches and layer-
 * normalised, giving `[M, Tl, D]` with Tl = Tq.
 *
 * Parameters: the ViT's (`vit`), the projector's (`projector`) and the final
 * layer norm (`norm.gamma`, `norm.beta` in `params`).
 */
export class PixelEncoder {
  readonly vit: ViT;
  readonly projector: Projector;
  readonly params: ParamStore;
  readonly normalization: Normalization;
  readonly outputDim: number;

  constructor(options: PixelEncoderOptions) {
    checkInteger('outputDim', options.outputDim);
    const seed = options.seed ?? 0;
    this.vit = new ViT(options.vit, { trainable: true, seed });
    this.projector = new Projector(options.vit.hiddenSize, options.outputDim, { seed: seed + 100_003 });
    this.params = new ParamStore(true, seed + 200_003);
    this.params.create('norm.gamma', [options.outputDim], { kind: 'ones' });
    this.params.create('norm.beta', [options.outputDim], { kind: 'zeros' });
    this.normalization = options.normalization ?? SIGLIP_NORMALIZATION;
    this.outputDim = options.outputDim;
  }

  /** Patch side S in pixels. */
  get patchSize(): number {
    return this.vit.config.imageSize;
  }

  /** Tl: tokens per frame. */
  get numTokens(): number {
    return this.vit.numTokens();
  }

  /**
   * @param patches shape `[M, K, S, S, 3]`, values 0..255 (a {@link U8Batch} or a tensor)
   * @returns shape `[M, Tl, D]`, float32
   */
  forward(patches: PixelInput): tf.Tensor {
    if (this.params.isDisposed) throw new EncoderError('E_DISPOSED', 'pixel encoder used after dispose()');
    const s = this.patchSize;
    return tf.tidy(() => {
      const pixels = normalizePixels('patches', patches, ['M', 'K', s, s, 3], this.normalization);
      const [m, k] = pixels.shape;
      const tokens = this.vit.forward(tf.reshape(pixels, [m * k, s, s, 3]));
      const projected = this.projector.apply(tokens);
      const pooled = tf.mean(tf.reshape(projected, [m, k, this.numTokens, this.outputDim]), 1);
      return layerNorm(pooled, this.params.get('norm.gamma'), this.params.get('norm.beta'), 1e-6);
    });
  }

  /** Every trainable variable: ViT, projector, final layer norm. */
  trainableVariables(): tf.Variable[] {
    return [...this.vit.trainableVariables(), ...this.projector.trainableVariables(), ...this.params.variables()];
  }

  dispose(): void {
    this.vit.dispose();
    this.projector.dispose();
    this.params.dispose();
  }
}
