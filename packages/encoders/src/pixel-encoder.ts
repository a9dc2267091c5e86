import { tf } from '@vqlm/runtime';
import { EncoderError, checkInteger } from './errors.js';
import { SIGLIP_NORMALIZATION, normalizePixels, type Normalization, type PixelInput } from './frames.js';
import { layerNorm } from './layers.js';
import { ParamStore } from './params.js';
import { Projector } from './projector.js';
import { ViT, type VitConfig } from './vit.js';

/**
 * What the pixel ViT sees of a patch: `rgb`, the normalised pixels (CP-LLM), or `highpass`, the
 * normalised pixels minus their 3×3 local mean, times {@link HIGHPASS_GAIN}: the fine detail that
 * compression removes or adds (blocking, ringing, lost texture), without the patch's brightness
 * and colour. A fixed input filter for encoders trained from scratch on little data, in the manner
 * of the local normalisation of CNN-IQA (Kang et al., CVPR 2014); it has no parameters.
 */
export const PIXEL_INPUTS = ['rgb', 'highpass'] as const;
export type PixelInputKind = (typeof PIXEL_INPUTS)[number];

/** Scale of the `highpass` residual, so that ordinary texture spans about the range of normalised pixels (−1..1). */
export const HIGHPASS_GAIN = 4;

/**
 * The `highpass` input: `gain · (x − mean₃ₓ₃(x))` per channel, where the mean over a 3×3
 * neighbourhood leaves out positions outside the image (so a flat image gives zeros everywhere).
 * @param pixels `[N, H, W, C]`, float32
 */
export function highPassResidual(pixels: tf.Tensor4D, gain: number = HIGHPASS_GAIN): tf.Tensor4D {
  if (!(pixels instanceof tf.Tensor) || pixels.rank !== 4) {
    throw new EncoderError('E_SHAPE', `pixels: expected shape [N, H, W, C], got ${pixels instanceof tf.Tensor ? `[${pixels.shape.join(', ')}]` : String(pixels)}`);
  }
  if (!Number.isFinite(gain)) throw new EncoderError('E_ARG', `gain: expected a finite number, got ${String(gain)}`);
  return tf.tidy(() => tf.mul(tf.sub(pixels, tf.avgPool(pixels, 3, 1, 'same')), gain));
}

/** Options of a {@link PixelEncoder}. */
export interface PixelEncoderOptions {
  /** The trainable ViT over each patch (its `imageSize` is the patch side, 224 in CP-LLM). */
  readonly vit: VitConfig;
  /** D: model width after the projector. */
  readonly outputDim: number;
  /** Pixel normalisation (default mean = std = 0.5). */
  readonly normalization?: Normalization;
  /** What the ViT sees of a patch (default `rgb`, as in CP-LLM); see {@link PIXEL_INPUTS}. */
  readonly input?: PixelInputKind;
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
  readonly input: PixelInputKind;

  constructor(options: PixelEncoderOptions) {
    checkInteger('outputDim', options.outputDim);
    const input = options.input ?? 'rgb';
    if (!PIXEL_INPUTS.includes(input)) throw new EncoderError('E_ARG', `input: expected one of ${PIXEL_INPUTS.join(', ')}, got ${String(input)}`);
    this.input = input;
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
   * The ViT's input: patches normalised, then filtered by {@link input}.
   * @param patches shape `[M, K, S, S, 3]`, values 0..255 (a {@link U8Batch} or a tensor)
   * @param argument the name errors give the patches
   * @returns shape `[M·K, S, S, 3]`, float32
   */
  vitInput(patches: PixelInput, argument = 'patches'): tf.Tensor4D {
    const s = this.patchSize;
    return tf.tidy(() => {
      const pixels = normalizePixels(argument, patches, ['M', 'K', s, s, 3], this.normalization);
      const [m, k] = pixels.shape;
      const flat = tf.reshape<tf.Rank.R4>(pixels, [m * k, s, s, 3]);
      return this.input === 'highpass' ? highPassResidual(flat) : flat;
    });
  }

  /**
   * @param patches shape `[M, K, S, S, 3]`, values 0..255 (a {@link U8Batch} or a tensor)
   * @returns shape `[M, Tl, D]`, float32
   */
  forward(patches: PixelInput): tf.Tensor {
    if (this.params.isDisposed) throw new EncoderError('E_DISPOSED', 'pixel encoder used after dispose()');
    return tf.tidy(() => {
      const vitInput = this.vitInput(patches);
      const [m, k] = patches instanceof tf.Tensor ? patches.shape : patches.dims;
      const tokens = this.vit.forward(vitInput);
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
