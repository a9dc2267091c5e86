import { tf } from '@vqlm/runtime';
import type { ContextEncodeOptions, ContextEncoder } from './context-encoder.js';
import { EncoderError, checkShape } from './errors.js';
import { contentHash, type FeatureKey } from './feature-cache.js';
import { normalizePixels, type Normalization, type U8Batch } from './frames.js';
import { Projector } from './projector.js';

/** Shared settings of the context encoders. */
export interface ContextEncoderBaseOptions {
  /** Input side S (default 448). */
  readonly imageSize?: number;
  /** Normalisation before the tower (default SigLIP's mean = std = 0.5). */
  readonly normalization?: Normalization;
  /** D: projector output width. */
  readonly outputDim: number;
  /** Seed of the projector's initialiser. */
  readonly seed?: number;
  /** Frames per tower call (default 4). */
  readonly batchSize?: number;
}

/**
 * Cache handling, shape checks and the projector, shared by the two
 * {@link ContextEncoder} implementations; subclasses supply the frozen tower.
 */
export abstract class ContextEncoderBase implements ContextEncoder {
  abstract readonly id: string;
  readonly imageSize: number;
  readonly normalization: Normalization;
  readonly outputDim: number;
  readonly numTokens: number;
  readonly featureDim: number;
  readonly projector: Projector;
  framesEncoded = 0;
  protected readonly batchSize: number;
  protected disposed = false;

  protected constructor(options: ContextEncoderBaseOptions, numTokens: number, featureDim: number) {
    this.imageSize = options.imageSize ?? 448;
    this.normalization = options.normalization ?? { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
    this.outputDim = options.outputDim;
    this.numTokens = numTokens;
    this.featureDim = featureDim;
    this.batchSize = options.batchSize ?? 4;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new EncoderError('E_ARG', `batchSize: expected an integer ≥ 1, got ${this.batchSize}`);
    }
    this.projector = new Projector(featureDim, options.outputDim, { seed: options.seed ?? 0 });
  }

  /**
   * Runs the frozen tower.
   * @param pixels normalised, shape `[B, S, S, 3]`
   * @returns shape `[B, Th, F]`
   */
  protected abstract computeFeatures(pixels: tf.Tensor): Promise<tf.Tensor>;

  protected abstract disposeTower(): Promise<void>;

  protected assertLive(): void {
    if (this.disposed) throw new EncoderError('E_DISPOSED', `context encoder ${this.id} used after dispose()`);
  }

  async features(frames: U8Batch, options: ContextEncodeOptions = {}): Promise<tf.Tensor> {
    this.assertLive();
    const s = this.imageSize;
    const { M } = checkShape('frames', frames.dims, ['M', s, s, 3]);
    const frameBytes = s * s * 3;
    if (frames.data.length !== M * frameBytes) {
      throw new EncoderError('E_SHAPE', `frames: data holds ${frames.data.length} bytes but shape [${frames.dims.join(', ')}] needs ${M * frameBytes}`);
    }
    const indices = options.frameIndices ?? Array.from({ length: M }, (_, i) => i);
    if (indices.length !== M) {
      throw new EncoderError('E_SHAPE', `frameIndices: expected shape [${M}], got [${indices.length}]`);
    }
    const frame = (i: number): Uint8Array => frames.data.subarray(i * frameBytes, (i + 1) * frameBytes);
    const perFrame = this.numTokens * this.featureDim;
    const out = new Float32Array(M * perFrame);
    const dims = [this.numTokens, this.featureDim];
    const { cache } = options;
    const keys: FeatureKey[] = [];
    let missing: number[] = [];
    if (cache) {
      for (let i = 0; i < M; i++) {
        const key = { encoderId: this.id, contentHash: options.contentHash ?? contentHash(frame(i)), frameIndex: indices[i] };
        keys.push(key);
        const hit = await cache.get(key, dims);
        if (hit) out.set(hit.data, i * perFrame);
        else missing.push(i);
      }
    } else {
      missing = Array.from({ length: M }, (_, i) => i);
    }
    for (let start = 0; start < missing.length; start += this.batchSize) {
      const chunk = missing.slice(start, start + this.batchSize);
      const bytes = new Uint8Array(chunk.length * frameBytes);
      chunk.forEach((i, j) => bytes.set(frame(i), j * frameBytes));
      const pixels = normalizePixels('frames', { data: bytes, dims: [chunk.length, s, s, 3] }, [chunk.length, s, s, 3], this.normalization);
      let features: tf.Tensor;
      try {
        features = await this.computeFeatures(pixels);
      } finally {
        pixels.dispose();
      }
      const values = (await features.data()) as Float32Array;
      features.dispose();
      this.framesEncoded += chunk.length;
      for (let j = 0; j < chunk.length; j++) {
        const row = values.subarray(j * perFrame, (j + 1) * perFrame);
        out.set(row, chunk[j] * perFrame);
        if (cache) await cache.put(keys[chunk[j]], { data: row.slice(), dims });
      }
    }
    return tf.tensor3d(out, [M, this.numTokens, this.featureDim]);
  }

  project(features: tf.Tensor): tf.Tensor {
    this.assertLive();
    checkShape('features', features.shape, ['M', this.numTokens, this.featureDim]);
    return this.projector.apply(features);
  }

  async encode(frames: U8Batch, options?: ContextEncodeOptions): Promise<tf.Tensor> {
    const features = await this.features(frames, options);
    try {
      return this.project(features);
    } finally {
      features.dispose();
    }
  }

  trainableVariables(): tf.Variable[] {
    return this.projector.trainableVariables();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.projector.dispose();
    await this.disposeTower();
  }
}
