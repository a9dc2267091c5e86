import { tf } from '@vqlm/runtime';
import { EncoderError, checkShape, type DimSpec } from './errors.js';

/**
 * A batch of 8-bit RGB pixels in row-major order, e.g. frames `[M, H, W, 3]`
 * or patches `[M, K, H, W, 3]` as decoded by `@vqlm/video-io`.
 */
export interface U8Batch {
  readonly data: Uint8Array;
  readonly dims: readonly number[];
}

/** Pixels as a {@link U8Batch} or as a tfjs tensor of values in 0..255 (any dtype). */
export type PixelInput = U8Batch | tf.Tensor;

/** Per-channel normalisation applied after scaling 0..255 to 0..1: `(x / 255 - mean) / std`. */
export interface Normalization {
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/** SigLIP's normalisation (also the HF ViT default): mean = std = 0.5, i.e. pixels to [-1, 1]. */
export const SIGLIP_NORMALIZATION: Normalization = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

/** ImageNet normalisation used by many ViT checkpoints. */
export const IMAGENET_NORMALIZATION: Normalization = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

/** Shape of a {@link PixelInput}. */
export function pixelShape(input: PixelInput): number[] {
  return input instanceof tf.Tensor ? input.shape.slice() : input.dims.slice();
}

/**
 * Checks the shape of `input` against `expected` (last dim must be 3) and
 * returns a float32 tensor of the same shape, normalised per channel.
 * Throws `EncoderError` (`E_SHAPE`) naming `argument`.
 */
export function normalizePixels(
  argument: string,
  input: PixelInput,
  expected: readonly DimSpec[],
  normalization: Normalization,
): tf.Tensor {
  const dims = pixelShape(input);
  checkShape(argument, dims, expected);
  if (!(input instanceof tf.Tensor)) {
    const size = dims.reduce((a, b) => a * b, 1);
    if (input.data.length !== size) {
      throw new EncoderError(
        'E_SHAPE',
        `${argument}: data holds ${input.data.length} bytes but shape [${dims.join(', ')}] needs ${size}`,
      );
    }
  }
  const scale = normalization.std.map((s) => 1 / (255 * s));
  const shift = normalization.mean.map((m, c) => -m / normalization.std[c]);
  return tf.tidy(() => {
    const raw =
      input instanceof tf.Tensor ? tf.cast(input, 'float32') : tf.tensor(Float32Array.from(input.data), dims, 'float32');
    return tf.add(tf.mul(raw, tf.tensor1d(scale)), tf.tensor1d(shift));
  });
}
