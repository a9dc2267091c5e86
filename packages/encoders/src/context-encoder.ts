import type { tf } from '@vqlm/runtime';
import type { FeatureCache } from './feature-cache.js';
import type { Normalization, U8Batch } from './frames.js';
import type { Projector } from './projector.js';

/** Options of one {@link ContextEncoder} call. */
export interface ContextEncodeOptions {
  /** Disk cache of frozen features; frames found there are not encoded again. */
  readonly cache?: FeatureCache;
  /** Index of each frame in its video, length M (default 0..M−1). Part of the cache key. */
  readonly frameIndices?: readonly number[];
  /**
   * Content hash shared by the batch (e.g. the video file's hash). When
   * omitted, each frame's key uses the SHA-256 of its own bytes.
   */
  readonly contentHash?: string;
}

/**
 * The high-level (context) branch of CP-LLM: a frozen vision tower over
 * whole frames resized to `imageSize`² (448 by default; aspect ignored),
 * normalised with `normalization`, followed by a trainable linear projector
 * to the model width D. Implementations: {@link OnnxContextEncoder} (an ONNX
 * vision tower, e.g. SigLIP, under ONNX Runtime) and
 * {@link TfjsContextEncoder} (a frozen tfjs {@link ViT}).
 */
export interface ContextEncoder {
  /** Identifies model, weights and input size; the feature cache key uses it. */
  readonly id: string;
  /** Input side S (pixels); frames are `[M, S, S, 3]`. */
  readonly imageSize: number;
  readonly normalization: Normalization;
  /** Th: tokens per frame. */
  readonly numTokens: number;
  /** F: width of the frozen tower's tokens. */
  readonly featureDim: number;
  /** D: width after the projector. */
  readonly outputDim: number;
  /** The trainable projector `[.., F]` → `[.., D]`. */
  readonly projector: Projector;
  /** Frames encoded by the frozen tower so far (cache hits excluded). */
  readonly framesEncoded: number;

  /**
   * Frozen features (no gradient), from the cache where possible.
   * @param frames shape `[M, S, S, 3]`, uint8
   * @returns shape `[M, Th, F]`, float32
   */
  features(frames: U8Batch, options?: ContextEncodeOptions): Promise<tf.Tensor>;

  /**
   * Applies the trainable projector.
   * @param features shape `[M, Th, F]`
   * @returns shape `[M, Th, D]`
   */
  project(features: tf.Tensor): tf.Tensor;

  /**
   * `project(await features(frames))`.
   * @param frames shape `[M, S, S, 3]`, uint8
   * @returns shape `[M, Th, D]`, float32
   */
  encode(frames: U8Batch, options?: ContextEncodeOptions): Promise<tf.Tensor>;

  /** The projector's variables (the tower is frozen). */
  trainableVariables(): tf.Variable[];

  /** Frees the tower, its session and the projector. */
  dispose(): Promise<void>;
}
