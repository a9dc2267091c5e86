import type { Calibration, QualityLevel } from '@vqlm/heads';
import type { CpLlm } from './cp-llm.js';

/** Result of {@link Scorer.score} for one video. */
export interface ScoreResult {
  /** The video's path as given. */
  readonly path: string;
  /** Calibrated MOS on the 1–5 scale: the calibration applied to the mean raw frame score. */
  readonly score: number;
  /** The quality level word of `score` (bad / poor / fair / good / excellent). */
  readonly level: QualityLevel;
  /** Calibrated score of each of the M key frames, in time order. */
  readonly perFrame: number[];
  /** Mean raw frame score, before calibration. */
  readonly rawScore: number;
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

/** Per-call options of a {@link Scorer}. */
export interface ScoreOptions {
  /** Also generate a description (greedy; slower). Default false. */
  readonly describe?: boolean;
}

/**
 * Scores videos with a trained model: the API the CLI and the server use. Implementations:
 * {@link CpLlmScorer} (tfjs). The same input always gives the same result (uniform key frames,
 * no sampling, greedy decoding).
 */
export interface Scorer {
  readonly model: CpLlm;
  readonly calibration: Calibration;
  /** Scores one video file (any format ffmpeg decodes). */
  score(video: string, options?: ScoreOptions): Promise<ScoreResult>;
  /** Scores two videos and says which is better. */
  compare(a: string, b: string, options?: ScoreOptions): Promise<CompareResult>;
  /** The decoder's description of one video. */
  describe(video: string): Promise<string>;
  /** Frees the model when the scorer owns it (created from a bundle directory). */
  dispose(): Promise<void>;
}
