import { createRng, tf } from '@vqlm/runtime';
import { checkFloatTensor, checkInteger } from './check.js';
import { HeadError } from './errors.js';
import type { TrainableHead } from './head.js';
import { normalValues, ParameterSet } from './parameters.js';

/** The five quality levels of Q-Align and LMM-VQA, worst first; level i + 1 on the 1–5 scale. */
export const QUALITY_LEVELS = Object.freeze(['bad', 'poor', 'fair', 'good', 'excellent'] as const);

/** One of {@link QUALITY_LEVELS}. */
export type QualityLevel = (typeof QUALITY_LEVELS)[number];

/**
 * Probability-weighted level, as Q-Align and LMM-VQA score: with
 * p = softmax(logits) over (bad, poor, fair, good, excellent),
 * score = Σ_i p_i · (i + 1), a value in [1, 5].
 *
 * @param logits shape [..., 5], float32 (e.g. the decoder's logits of the five
 *   level words, or {@link LevelHead.logits})
 * @returns shape [...] (the last axis removed)
 * @throws {HeadError} `E_HEAD_SHAPE` when the last dim is not 5.
 */
export function levelScoreFromLogits(logits: tf.Tensor): tf.Tensor {
  const where = 'levelScoreFromLogits';
  const rank = Math.max(1, (logits as { shape?: unknown[] } | undefined)?.shape?.length ?? 1);
  const lead: null[] = new Array<null>(rank - 1).fill(null);
  checkFloatTensor(where, 'logits', logits, [...lead, QUALITY_LEVELS.length]);
  return tf.tidy(() => tf.sum(tf.mul(tf.softmax(logits, -1), tf.tensor1d([1, 2, 3, 4, 5], 'float32')), -1));
}

/**
 * The level word of a score on the 1–5 scale, by five equal intervals of
 * width 0.8 (the split Q-Align uses to turn MOS into levels):
 * [1, 1.8) bad, [1.8, 2.6) poor, [2.6, 3.4) fair, [3.4, 4.2) good,
 * [4.2, 5] excellent. Scores outside [1, 5] take the nearest end's word.
 * @throws {HeadError} `E_HEAD_ARG` when `score` is not a finite number.
 */
export function levelFromScore(score: number): QualityLevel {
  if (typeof score !== 'number' || !Number.isFinite(score)) {
    throw new HeadError('E_HEAD_ARG', `levelFromScore: score must be a finite number, got ${String(score)}`);
  }
  const index = Math.min(4, Math.max(0, Math.floor((score - 1) / 0.8 + 1e-9)));
  return QUALITY_LEVELS[index];
}

/** Configuration of a {@link LevelHead}. */
export interface LevelHeadConfig {
  /** F: width of the input features (e.g. 2D for pooled frame tokens, or the LLM's hidden size). */
  readonly inputDim: number;
  /** Seed of the initial weights; default 0. */
  readonly seed?: number;
}

/**
 * A five-level classifier (LMM-VQA / Q-Align style): a linear layer from
 * features to logits over (bad, poor, fair, good, excellent); the score is
 * the probability-weighted level ({@link levelScoreFromLogits}), on 1–5.
 *
 * Weights: `proj.kernel` [F, 5] (LeCun-normal, std √(1 / F)), `proj.bias` [5]
 * (zero). Train it with cross-entropy on level labels (e.g. `@vqlm/losses`
 * `tokenCrossEntropy` with T = 1) or with a regression loss on `scores`.
 */
export class LevelHead implements TrainableHead {
  readonly config: Readonly<Required<LevelHeadConfig>>;
  private readonly params = new ParameterSet('LevelHead');

  constructor(config: LevelHeadConfig) {
    const where = 'LevelHead';
    const inputDim = checkInteger(where, 'config.inputDim', config?.inputDim, 1);
    const seed = checkInteger(where, 'config.seed', config.seed ?? 0, 0);
    this.config = Object.freeze({ inputDim, seed });
    const rng = createRng(seed);
    const levels = QUALITY_LEVELS.length;
    this.params.add('proj.kernel', [inputDim, levels], normalValues(rng, inputDim * levels, Math.sqrt(1 / inputDim)));
    this.params.add('proj.bias', [levels], new Float32Array(levels));
  }

  get trainableVariables(): readonly tf.Variable[] {
    return this.params.list();
  }

  /**
   * Level logits.
   * @param features shape [N, F] (or [B, N, F]), float32
   * @returns shape [N, 5] (or [B, N, 5])
   * @throws {HeadError} `E_HEAD_SHAPE` when the last dim is not F.
   */
  logits(features: tf.Tensor): tf.Tensor {
    this.params.assertLive();
    const f = this.config.inputDim;
    checkFloatTensor('LevelHead.logits', 'features', features, [null, f], [null, null, f]);
    return tf.tidy(() => {
      const flat = tf.reshape(features, [-1, f]);
      const out = tf.add(tf.matMul(flat, this.params.get('proj.kernel')), this.params.get('proj.bias'));
      return tf.reshape(out, [...features.shape.slice(0, -1), QUALITY_LEVELS.length]);
    });
  }

  /**
   * Probability-weighted level of each row, in [1, 5].
   * @param features shape [N, F] (or [B, N, F]), float32
   * @returns shape [N] (or [B, N])
   */
  scores(features: tf.Tensor): tf.Tensor {
    return tf.tidy(() => levelScoreFromLogits(this.logits(features)));
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
