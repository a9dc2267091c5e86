import { createHash } from 'node:crypto';
import type { tf } from '@vqlm/runtime';
import { ContextEncoderBase, type ContextEncoderBaseOptions } from './context-encoder-base.js';
import { EncoderError } from './errors.js';
import type { ViT } from './vit.js';

/** Options of {@link TfjsContextEncoder}. */
export interface TfjsContextEncoderOptions extends ContextEncoderBaseOptions {
  /** The frozen tower (create it with `trainable: false`); owned by the encoder afterwards. */
  readonly vit: ViT;
  /** Cache id; default `tfjs-vit-<SHA-256 of config, input size and weights, 16 hex>`. */
  readonly id?: string;
}

/**
 * {@link ContextEncoder} whose frozen tower is a tfjs {@link ViT}. Frames of
 * `imageSize`² are fed as they are (position embeddings are resampled when
 * that differs from the ViT's trained size). The ViT is never updated.
 */
export class TfjsContextEncoder extends ContextEncoderBase {
  readonly id: string;
  readonly vit: ViT;

  private constructor(options: TfjsContextEncoderOptions, id: string) {
    const size = options.imageSize ?? 448;
    super(options, options.vit.numTokens(size, size), options.vit.config.hiddenSize);
    this.vit = options.vit;
    this.id = id;
  }

  /** Builds the encoder; hashes the tower's weights for the default id. Throws `E_ARG` for a trainable ViT or a size it cannot take. */
  static async create(options: TfjsContextEncoderOptions): Promise<TfjsContextEncoder> {
    const { vit } = options;
    if (vit.trainable) throw new EncoderError('E_ARG', 'vit: the context tower must be frozen (new ViT(config, { trainable: false }))');
    const size = options.imageSize ?? 448;
    if (size % vit.config.patchSize !== 0) {
      throw new EncoderError('E_ARG', `imageSize: ${size} is not a multiple of the ViT's patch size ${vit.config.patchSize}`);
    }
    let id = options.id;
    if (!id) {
      const hash = createHash('sha256').update(JSON.stringify({ config: vit.config, size, normalization: options.normalization }));
      for (const [name, t] of vit.params.entries()) {
        hash.update(name);
        const values = (await t.data()) as Float32Array;
        hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      }
      id = `tfjs-vit-${hash.digest('hex').slice(0, 16)}`;
    }
    return new TfjsContextEncoder(options, id);
  }

  protected computeFeatures(pixels: tf.Tensor): Promise<tf.Tensor> {
    return Promise.resolve(this.vit.forward(pixels));
  }

  protected disposeTower(): Promise<void> {
    this.vit.dispose();
    return Promise.resolve();
  }
}
