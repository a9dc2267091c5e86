import type { Calibration, QualityLevel } from '@vqlm/heads';
import type { CpLlm } from './cp-llm.js';
import type { LmmVqa } from './lmm-vqa.js';
import { ModelError } from './errors.js';

/** Result of {@link Scorer.score} for one video. */
export interface ScoreResult {
  /** The video's path as given. */
  readonly path: string;
  /** Calibrated MOS on the 1–5 scale: the calibration applied to the mean raw frame score (an ensemble: the mean of its members' calibrated scores). */
  readonly score: number;
  /** The quality level word of `score` (bad / poor / fair / good / excellent). */
  readonly level: QualityLevel;
  /** Calibrated score of each of the M key frames, in time order (empty for LMM-VQA, which rates the whole video). */
  readonly perFrame: number[];
  /** Mean raw frame score, before calibration (an ensemble: the mean over its members). */
  readonly rawScore: number;
  /** An ensemble's members' calibrated scores, in member order (`score` is their mean); absent for one model. */
  readonly members?: number[];
  /** Frame index and timestamp (s) of each key frame. */
  readonly frames: { readonly index: number; readonly time: number }[];
  /** The decoder's description, when asked for. */
  readonly description?: string;
}

/** Result of {@link Scorer.compare}. */
export interface CompareResult {
  readonly a: ScoreResult;
  readonly b: ScoreResult;
  /** `a.score − b.score`. */
  readonly difference: number;
  /** Which video scores higher (`tie` when the scores are equal). */
  readonly better: 'a' | 'b' | 'tie';
  /** The decoder's comparison of the pair, when asked for. */
  readonly description?: string;
}

/** Wall time (ms) of each stage of one {@link Scorer.score} call. */
export interface ScoreTiming {
  /** Decoding the key frames and making both views (`@vqlm/video-io` `sampleViews`). */
  readonly decodeMs: number;
  /** Context encoder: frozen tower (tfjs or ONNX Runtime) and projector. */
  readonly contextMs: number;
  /** Pixel encoder: ViT (tfjs or ONNX Runtime), projector, mean over K. */
  readonly pixelMs: number;
  /** Quality head on the visual tokens. */
  readonly headMs: number;
  /** Description generation (with `describe`: the visual tokens of the decoder prefix again, then the decoder; both in ONNX Runtime when the bundle has the exports), else absent. */
  readonly describeMs?: number;
}

/** Per-call options of a {@link Scorer}. */
export interface ScoreOptions {
  /**
   * Also generate a description (greedy; slower). Default false. A model with a describe lead
   * (`config.describeLead`) starts it from the level of the returned score.
   */
  readonly describe?: boolean;
  /**
   * Called once per scored video with the time of each stage (`score` only). Timing waits for
   * each stage's result before the next starts, so leave it unset when you do not need it.
   */
  readonly onTiming?: (timing: ScoreTiming) => void;
}

/**
 * Scores videos with a trained model: the API the CLI and the server use. Implementations:
 * {@link CpLlmScorer} (one CP-LLM, or an ensemble of them) and {@link LmmVqaScorer}. The same input always gives the same result (uniform key frames,
 * no sampling, greedy decoding).
 */
export interface Scorer {
  /** The model (an ensemble's first member, the one that describes). */
  readonly model: CpLlm | LmmVqa;
  /** Its calibration (an ensemble's first member's). */
  readonly calibration: Calibration;
  /** Scores one video file (any format ffmpeg decodes). */
  score(video: string, options?: ScoreOptions): Promise<ScoreResult>;
  /** Scores two videos and says which is better. */
  compare(a: string, b: string, options?: ScoreOptions): Promise<CompareResult>;
  /** The decoder's description of one video (a model with a describe lead scores the video first, for its level). */
  describe(video: string): Promise<string>;
  /** Frees the model when the scorer owns it (created from a bundle directory). */
  dispose(): Promise<void>;
}

/**
 * The video path argument of a {@link Scorer} call, checked for every implementation.
 * @throws ModelError `E_DISPOSED` after dispose, `E_MODEL_ARG` naming the argument.
 */
export function checkVideoArgument(disposed: boolean, name: string, video: unknown): string {
  if (disposed) throw new ModelError('E_DISPOSED', 'scorer used after dispose()');
  if (typeof video !== 'string' || video.length === 0) throw new ModelError('E_MODEL_ARG', `${name}: expected a video path, got ${String(video)}`);
  return video;
}
