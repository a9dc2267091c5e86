import type { PixelInput } from '@vqlm/encoders';
import { QUALITY_LEVELS, levelFromScore } from '@vqlm/heads';
import { maskedMse, multiTask, rankingHinge, tokenCrossEntropy } from '@vqlm/losses';
import { tf } from '@vqlm/runtime';
import { type CpLlm, type CpLlmViews } from './cp-llm.js';
import { ModelError } from './errors.js';
import type { LmmVqa } from './lmm-vqa.js';

/** Names of CP-LLM's loss parts: MSE on scores (Eq. 2), ranking hinge on pairs (Eq. 1), token cross-entropy on descriptions (Eq. 3). */
export const CP_LLM_LOSS_PARTS = ['mse', 'rank', 'ce'] as const;
export type CpLlmLossPart = (typeof CP_LLM_LOSS_PARTS)[number];

/** Label id that {@link cpLlmObjective} ignores in `labels` (padding). */
export const IGNORE_LABEL = -100;

/**
 * One training batch of B rows. A row is a single video (its second input is a hidden copy of the
 * first) or a pair of videos (both visible to the decoder).
 */
export interface CpLlmTrainBatch {
  readonly first: CpLlmViews;
  /** Second inputs `[B, …]`: the other video of a pair, a copy of the first for a single row. */
  readonly second: CpLlmViews;
  /** `[B]`: true for a pair row, false for a single row (its copy is hidden from the decoder). */
  readonly secondVisible: readonly boolean[];
  /** Decoder inputs `[B, T]`: start token, description, end token, padding. */
  readonly inputIds: number[][];
  /** Targets `[B, T]`: `inputIds` shifted left by one; {@link IGNORE_LABEL} where nothing is predicted. */
  readonly labels: number[][];
  /** `[B]`: target score of the first input (MOS or pseudo-MOS, 1–5) for the MSE part, or null (masked). */
  readonly scoreTargets: readonly (number | null)[];
  /** `[B]`: quality labels (higher is better) of the two inputs of a pair row for the ranking part, or null for a single row. */
  readonly rankLabels: readonly (readonly [number, number] | null)[];
}

/** Result of {@link cpLlmObjective}: the weighted total as a tensor, each part as a number. */
export interface CpLlmObjective {
  readonly total: tf.Scalar;
  readonly parts: Partial<Record<CpLlmLossPart, number>>;
}

/** Options of {@link cpLlmObjective}. */
export interface CpLlmObjectiveOptions {
  /** Weight of each part (the paper: all 1). A part with weight 0 is not computed. */
  readonly weights?: Partial<Record<CpLlmLossPart, number>>;
  /** Margin of the ranking hinge in score units (default 0: the paper's Eq. 1; see `rankingHinge`). */
  readonly rankMargin?: number;
}

function checkWeights(weights: Readonly<Record<string, number>>): void {
  for (const [name, w] of Object.entries(weights)) {
    if (!(Number.isFinite(w) && w >= 0)) throw new ModelError('E_MODEL_ARG', `weights.${name}: expected a finite number ≥ 0, got ${w}`);
  }
}

function checkLabels(batch: { readonly inputIds: readonly (readonly number[])[]; readonly labels: readonly (readonly number[])[] }): void {
  batch.labels.forEach((row, i) => {
    if (row.length !== batch.inputIds[i].length) throw new ModelError('E_MODEL_ARG', `batch.labels[${i}]: expected ${batch.inputIds[i].length} ids as in inputIds, got ${row.length}`);
  });
}

function checkRows(name: string, value: readonly unknown[] | undefined, b: number): void {
  if (!Array.isArray(value) || value.length !== b) {
    throw new ModelError('E_MODEL_ARG', `batch.${name}: expected ${b} rows, got ${Array.isArray(value) ? value.length : String(value)}`);
  }
}

/**
 * CP-LLM's multi-task objective on one batch (arXiv 2505.16025 §3.3): `w_mse·L_mse + w_rank·L_rank
 * + w_ce·L_ce`, where L_mse is the masked MSE between the first input's video score and its target,
 * L_rank the ranking hinge over the pair rows, and L_ce the description's token cross-entropy.
 * A part that has no rows in the batch (no targets, no pairs) is left out. Call it inside
 * `optimizer.minimize` (or `tf.tidy`): the intermediate tensors are needed by the backward pass
 * and are freed by that scope, not here.
 * @throws ModelError `E_MODEL_ARG` naming the batch field that does not fit.
 */
export function cpLlmObjective(model: CpLlm, batch: CpLlmTrainBatch, options: CpLlmObjectiveOptions = {}): CpLlmObjective {
  const b = batch?.inputIds?.length ?? 0;
  if (b === 0) throw new ModelError('E_MODEL_ARG', 'batch.inputIds: expected at least one row');
  for (const name of ['labels', 'scoreTargets', 'rankLabels', 'secondVisible'] as const) checkRows(name, batch[name], b);
  checkLabels(batch);
  batch.rankLabels.forEach((pair, i) => {
    if (pair !== null && !batch.secondVisible[i]) throw new ModelError('E_MODEL_ARG', `batch.rankLabels[${i}]: a single row (secondVisible false) cannot have rank labels`);
  });
  const weights = { mse: 1, rank: 1, ce: 1, ...options.weights };
  checkWeights(weights);
  const output = model.forward({ first: batch.first, second: batch.second, secondVisible: batch.secondVisible, targetTokenIds: batch.inputIds, training: true });
  const parts: Record<string, tf.Tensor> = {};
  const used: Record<string, number> = {};
  const targetRows = batch.scoreTargets.flatMap((t, i) => (t === null ? [] : [i]));
  if (weights.mse > 0 && targetRows.length > 0) {
    const target = tf.tensor1d(batch.scoreTargets.map((t) => t ?? 0), 'float32');
    const mask = tf.tensor1d(batch.scoreTargets.map((t) => (t === null ? 0 : 1)), 'float32');
    parts.mse = maskedMse(output.first.videoScores, target, mask);
    used.mse = weights.mse;
  }
  const pairRows = batch.rankLabels.flatMap((p, i) => (p === null ? [] : [i]));
  if (weights.rank > 0 && pairRows.length > 0 && output.second) {
    const rows = tf.tensor1d(pairRows, 'int32');
    const q1 = tf.tensor1d(pairRows.map((i) => batch.rankLabels[i]![0]), 'float32');
    const q2 = tf.tensor1d(pairRows.map((i) => batch.rankLabels[i]![1]), 'float32');
    const s1 = tf.gather(output.first.videoScores, rows);
    const s2 = tf.gather(output.second.videoScores, rows);
    parts.rank = rankingHinge(q1, q2, s1, s2, { margin: options.rankMargin ?? 0 });
    used.rank = weights.rank;
  }
  if (weights.ce > 0) {
    const labels = tf.tensor2d(batch.labels, undefined, 'int32');
    parts.ce = tokenCrossEntropy(output.logits, labels, { ignoreIndex: IGNORE_LABEL });
    used.ce = weights.ce;
  }
  if (Object.keys(parts).length === 0) throw new ModelError('E_MODEL_ARG', 'batch: no loss part has rows (no score targets, no pairs, and ce weight 0)');
  const result = multiTask(parts, used);
  return { total: result.total, parts: result.parts };
}

/** A batch of single-video descriptions for {@link cpLlmDescribeObjective}. */
export interface CpLlmDescribeBatch {
  /** Visual tokens `[B, N, D]` of the videos (`CpLlm.visualTokens`); the describe prompt is appended with its embeddings trained. */
  readonly visual: tf.Tensor3D;
  /** Decoder inputs `[B, T]`: start token, lead, description, padding. */
  readonly inputIds: number[][];
  /** Targets `[B, T]`: `inputIds` shifted left by one, {@link IGNORE_LABEL} on the lead and the padding. */
  readonly labels: number[][];
}

/**
 * The token cross-entropy of single-video descriptions on precomputed visual tokens: the loss of
 * a decoder-only phase with frozen encoders (`vqlm-train`'s describer). Equals
 * {@link cpLlmObjective}'s `ce` part on the same rows (weights mse 0, rank 0).
 * @throws ModelError `E_MODEL_ARG` naming a row whose shape does not fit.
 */
export function cpLlmDescribeObjective(model: CpLlm, batch: CpLlmDescribeBatch): CpLlmObjective {
  const visual = batch?.visual as tf.Tensor | undefined;
  if (!(visual instanceof tf.Tensor) || visual.rank !== 3) throw new ModelError('E_MODEL_ARG', `batch.visual: expected a [B, N, D] tensor, got ${visual instanceof tf.Tensor ? `[${visual.shape.join(', ')}]` : String(visual)}`);
  const b = visual.shape[0];
  checkRows('inputIds', batch.inputIds, b);
  checkRows('labels', batch.labels, b);
  checkLabels(batch);
  const prefix = model.describePrefix(visual as tf.Tensor3D);
  const logits = model.decoder.forward({ prefixEmbeddings: prefix, prefixMask: batch.inputIds.map(() => new Array<boolean>(prefix.shape[1]).fill(true)), tokenIds: batch.inputIds, training: true });
  const ce = tokenCrossEntropy(logits, tf.tensor2d(batch.labels, undefined, 'int32'), { ignoreIndex: IGNORE_LABEL });
  const result = multiTask({ ce }, { ce: 1 });
  return { total: result.total, parts: result.parts };
}

/**
 * Names of LMM-VQA's loss parts: token cross-entropy on the answer (`the quality score is 3.42.
 * the quality level is fair.`), cross-entropy of the level head against the target's level, and
 * MSE between the level head's probability-weighted score and the target.
 */
export const LMM_VQA_LOSS_PARTS = ['ce', 'level', 'mse'] as const;
export type LmmVqaLossPart = (typeof LMM_VQA_LOSS_PARTS)[number];

/** One LMM-VQA training batch of B single videos. */
export interface LmmVqaTrainBatch {
  /** Key frames `[B, M, S, S, 3]`, values 0..255 (or their `spatialFeatures`). */
  readonly frames?: PixelInput;
  /** The frozen spatial tower's tokens `[B, M, Tq, F]` (`LmmVqa.spatialFeatures`), instead of `frames`; required with a user's ONNX tower. */
  readonly spatialFeatures?: tf.Tensor;
  /** Clips `[B, T, s, s, 3]`, values 0..255. */
  readonly clip: PixelInput;
  /** Decoder inputs `[B, T']`: start token, answer, end token, padding. */
  readonly inputIds: number[][];
  /** Targets `[B, T']`: `inputIds` shifted left by one; {@link IGNORE_LABEL} where nothing is predicted. */
  readonly labels: number[][];
  /** `[B]`: target score (MOS or pseudo-MOS, 1–5) for the level and MSE parts, or null (masked). */
  readonly scoreTargets: readonly (number | null)[];
}

/** Result of {@link lmmVqaObjective}. */
export interface LmmVqaObjective {
  readonly total: tf.Scalar;
  readonly parts: Partial<Record<LmmVqaLossPart, number>>;
}

/**
 * LMM-VQA's training objective on one batch: `w_ce·L_ce + w_level·L_level + w_mse·L_mse`. The paper
 * (arXiv 2408.14008) trains on the answer text alone (L_ce); the level head that scores here (as
 * Q-Align's probability-weighted level) is trained on the target's level (L_level, 1–5 cut into
 * five equal bands as `levelFromScore`) and, so that videos within one level keep their order, on
 * the weighted score itself (L_mse). A part with weight 0, or without rows, is left out. Call it
 * inside `optimizer.minimize` (or `tf.tidy`).
 * @throws ModelError `E_MODEL_ARG` naming the batch field that does not fit.
 */
export function lmmVqaObjective(model: LmmVqa, batch: LmmVqaTrainBatch, options: { readonly weights?: Partial<Record<LmmVqaLossPart, number>> } = {}): LmmVqaObjective {
  const b = batch?.inputIds?.length ?? 0;
  if (b === 0) throw new ModelError('E_MODEL_ARG', 'batch.inputIds: expected at least one row');
  for (const name of ['labels', 'scoreTargets'] as const) checkRows(name, batch[name], b);
  checkLabels(batch);
  const weights = { ce: 1, level: 1, mse: 1, ...options.weights };
  checkWeights(weights);
  const output = model.forward({ frames: batch.frames, spatialFeatures: batch.spatialFeatures, clip: batch.clip, targetTokenIds: batch.inputIds, training: true });
  const parts: Record<string, tf.Tensor> = {};
  const used: Record<string, number> = {};
  const rows = batch.scoreTargets.flatMap((t, i) => (t === null ? [] : [i]));
  if (rows.length > 0 && (weights.level > 0 || weights.mse > 0)) {
    const index = tf.tensor1d(rows, 'int32');
    const targets = rows.map((i) => batch.scoreTargets[i] as number);
    if (weights.level > 0) {
      const levels = tf.tensor2d(targets.map((t) => [QUALITY_LEVELS.indexOf(levelFromScore(t))]), [rows.length, 1], 'int32');
      const logits = tf.expandDims(tf.gather(output.levelLogits, index), 1);
      parts.level = tokenCrossEntropy(logits, levels, { ignoreIndex: IGNORE_LABEL });
      used.level = weights.level;
    }
    if (weights.mse > 0) {
      parts.mse = maskedMse(tf.gather(output.levelScores, index), tf.tensor1d(targets, 'float32'), tf.ones([rows.length]));
      used.mse = weights.mse;
    }
  }
  if (weights.ce > 0) {
    parts.ce = tokenCrossEntropy(output.logits, tf.tensor2d(batch.labels, undefined, 'int32'), { ignoreIndex: IGNORE_LABEL });
    used.ce = weights.ce;
  }
  if (Object.keys(parts).length === 0) throw new ModelError('E_MODEL_ARG', 'batch: no loss part has rows (no score targets and ce weight 0)');
  const result = multiTask(parts, used);
  return { total: result.total, parts: result.parts };
}
