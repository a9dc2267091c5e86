import { createRng, tf } from '@vqlm/runtime';
import { checkFloatTensor, checkInteger, shapeText } from './check.js';
import { HeadError } from './errors.js';
import type { TrainableHead } from './head.js';
import { normalValues, ParameterSet } from './parameters.js';
import { poolFrameTokens, TOKEN_POOLINGS } from './pooling.js';
import type { TokenPooling } from './pooling.js';

/** Configuration of a {@link QualityHead}. */
export interface QualityHeadConfig {
  /** D: width of each context and pixel token. */
  readonly dim: number;
  /** Width of the hidden layer; default D. */
  readonly hidden?: number;
  /** How the Th context and Tl pixel tokens of a frame are pooled; default `mean`. */
  readonly pooling?: TokenPooling;
  /** Seed of the initial weights (runtime's sfc32 generator); default 0. */
  readonly seed?: number;
}

/**
 * CP-LLM's quality regression head (§3.1.4): per key frame, the context
 * tokens [Th, D] and pixel tokens [Tl, D] are pooled (mean over tokens by
 * default) and concatenated to a [2D] vector, a 2-layer MLP
 * (Linear 2D → H, ReLU, Linear H → 1) gives one raw score per frame, and the
 * video score is the mean of the M frame scores.
 *
 * Raw scores are unbounded; map them to the 1–5 MOS scale with a fitted
 * {@link Calibration} (`applyCalibration`).
 *
 * Weights (see {@link TrainableHead}): `fc1.kernel` [2D, H], `fc1.bias` [H],
 * `fc2.kernel` [H, 1], `fc2.bias` [1]. Initialisation (seeded): He-normal
 * `fc1.kernel` (std √(2 / 2D)), LeCun-normal `fc2.kernel` (std √(1 / H)),
 * zero biases.
 */
export class QualityHead implements TrainableHead {
  /** The resolved configuration (defaults filled in). */
  readonly config: Readonly<Required<QualityHeadConfig>>;
  private readonly params = new ParameterSet('QualityHead');

  constructor(config: QualityHeadConfig) {
    const where = 'QualityHead';
    const dim = checkInteger(where, 'config.dim', config?.dim, 1);
    const hidden = checkInteger(where, 'config.hidden', config.hidden ?? dim, 1);
    const seed = checkInteger(where, 'config.seed', config.seed ?? 0, 0);
    const pooling = config.pooling ?? 'mean';
    if (!TOKEN_POOLINGS.includes(pooling)) {
      throw new HeadError('E_HEAD_ARG', `${where}: config.pooling must be one of ${TOKEN_POOLINGS.join(', ')}, got ${String(pooling)}`);
    }
    this.config = Object.freeze({ dim, hidden, pooling, seed });
    const rng = createRng(seed);
    const input = 2 * dim;
    this.params.add('fc1.kernel', [input, hidden], normalValues(rng, input * hidden, Math.sqrt(2 / input)));
    this.params.add('fc1.bias', [hidden], new Float32Array(hidden));
    this.params.add('fc2.kernel', [hidden, 1], normalValues(rng, hidden, Math.sqrt(1 / hidden)));
    this.params.add('fc2.bias', [1], new Float32Array(1));
  }

  get trainableVariables(): readonly tf.Variable[] {
    return this.params.list();
  }

  /**
   * Raw score of each row of pooled features: the MLP alone.
   * @param features shape [N, 2D] (or [B, N, 2D]), float32
   * @returns shape [N] (or [B, N])
   * @throws {HeadError} `E_HEAD_SHAPE` when the last dim is not 2D.
   */
  scoreFeatures(features: tf.Tensor): tf.Tensor {
    this.params.assertLive();
    const width = 2 * this.config.dim;
    checkFloatTensor('QualityHead.scoreFeatures', 'features', features, [null, width], [null, null, width]);
    return tf.tidy(() => {
      const flat = tf.reshape(features, [-1, width]);
      const hidden = tf.relu(tf.add(tf.matMul(flat, this.params.get('fc1.kernel')), this.params.get('fc1.bias')));
      const out = tf.add(tf.matMul(hidden, this.params.get('fc2.kernel')), this.params.get('fc2.bias'));
      return tf.reshape(out, features.shape.slice(0, -1));
    });
  }

  /**
   * Raw score of each key frame.
   * @param context context tokens, shape [M, Th, D] (or [B, M, Th, D]), float32
   * @param pixel pixel tokens, shape [M, Tl, D] (or [B, M, Tl, D]), float32
   * @returns shape [M] (or [B, M])
   * @throws {HeadError} `E_HEAD_SHAPE` when a shape does not match the config
   *   or the two inputs disagree on B, M or D.
   */
  frameScores(context: tf.Tensor, pixel: tf.Tensor): tf.Tensor {
    this.params.assertLive();
    const where = 'QualityHead.frameScores';
    const d = this.config.dim;
    checkFloatTensor(where, 'context', context, [null, null, d], [null, null, null, d]);
    checkFloatTensor(where, 'pixel', pixel, [...context.shape.slice(0, -2), null, d]);
    if (context.shape.slice(0, -2).some((n) => n < 1)) {
      throw new HeadError('E_HEAD_SHAPE', `${where}: context needs M ≥ 1 frames, got ${shapeText(context.shape)}`);
    }
    return tf.tidy(() => this.scoreFeatures(poolFrameTokens(context, pixel, this.config.pooling)));
  }

  /**
   * Raw video score: the mean of the M frame scores.
   * @param context shape [M, Th, D] (or [B, M, Th, D]), float32
   * @param pixel shape [M, Tl, D] (or [B, M, Tl, D]), float32
   * @returns scalar [] (or [B])
   */
  videoScore(context: tf.Tensor, pixel: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mean(this.frameScores(context, pixel), -1));
  }

  weightShapes(): Record<string, number[]> {
    return this.params.shapes();
  }

  getWeights(): Record<string, tf.Tensor> {
    return this.params.weights();
  }

  setWeights(weights: Readonly<Record<string, tf.Tensor>>): void {
    this.params.assign(weights);
  }

  dispose(): void {
    this.params.dispose();
  }
}
