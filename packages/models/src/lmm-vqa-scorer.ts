import { IDENTITY_CALIBRATION, type Calibration } from '@vqlm/heads';
import { sampleViews, type SamplingStrategy } from '@vqlm/video-io';
import { ModelError } from './errors.js';
import type { LmmVqa } from './lmm-vqa.js';
import { checkVideoArgument, type CompareResult, type ScoreOptions, type ScoreResult, type Scorer } from './scorer.js';

/** Options of an {@link LmmVqaScorer}. */
export interface LmmVqaScorerOptions {
  /** Key-frame decoding of `@vqlm/video-io` (default `select`). */
  readonly strategy?: SamplingStrategy;
}

interface Sampled {
  readonly frames: { data: Uint8Array; dims: number[] };
  readonly clip: { data: Uint8Array; dims: number[] };
  readonly keyFrames: { index: number; time: number }[];
}

/**
 * {@link Scorer} on an {@link LmmVqa}: M uniformly spaced key frames at the spatial tower's size
 * and T uniformly spaced frames at the temporal encoder's size (two decodes), then the level
 * head's probability-weighted score on 1–5 (LMM-VQA has no calibration) and, on request, the
 * decoder's answer as the description. LMM-VQA rates the whole video, so `perFrame` is empty.
 * `compare` has no description: LMM-VQA has no pair prompt.
 */
export class LmmVqaScorer implements Scorer {
  readonly model: LmmVqa;
  /** LMM-VQA's level score is already on 1–5: identity. */
  readonly calibration: Calibration = IDENTITY_CALIBRATION;
  private readonly owned: boolean;
  private readonly options: LmmVqaScorerOptions;
  private disposed = false;

  constructor(model: LmmVqa, owned: boolean, options: LmmVqaScorerOptions = {}) {
    this.model = model;
    this.owned = owned;
    this.options = options;
  }

  private check(name: string, video: unknown): string {
    return checkVideoArgument(this.disposed, name, video);
  }

  private async sample(video: string): Promise<Sampled> {
    const { m, spatialVit, temporal } = this.model.config;
    const key = await sampleViews(video, { m, strategy: this.options.strategy, context: { size: spatialVit.imageSize }, pixel: false });
    const dense = await sampleViews(video, { m: temporal.numFrames, strategy: this.options.strategy, context: { size: temporal.imageSize }, pixel: false });
    if (!key.context || !dense.context) throw new ModelError('E_MODEL_ARG', `${video}: video-io returned no views`);
    return {
      frames: { data: key.context.frames, dims: [1, ...key.context.shape] },
      clip: { data: dense.context.frames, dims: [1, ...dense.context.shape] },
      keyFrames: key.indices.map((index, i) => ({ index, time: key.timestamps[i] ?? 0 })),
    };
  }

  private async rate(video: string, sampled: Sampled): Promise<ScoreResult> {
    const { score, level } = await this.model.rate(sampled);
    return { path: video, score, level, perFrame: [], rawScore: score, frames: sampled.keyFrames };
  }

  async score(video: string, options: ScoreOptions = {}): Promise<ScoreResult> {
    const path = this.check('video', video);
    const start = performance.now();
    const sampled = await this.sample(path);
    const decodeMs = performance.now() - start;
    const rated = performance.now();
    const result = await this.rate(path, sampled);
    const rateMs = performance.now() - rated;
    let description: string | undefined;
    let describeMs: number | undefined;
    if (options.describe) {
      const t0 = performance.now();
      description = await this.model.answer(sampled);
      describeMs = performance.now() - t0;
    }
    // LMM-VQA's towers and head run in one pass: its time is reported as the head's.
    options.onTiming?.({ decodeMs, contextMs: 0, pixelMs: 0, headMs: rateMs, ...(describeMs === undefined ? {} : { describeMs }) });
    return description === undefined ? result : { ...result, description };
  }

  async compare(a: string, b: string): Promise<CompareResult> {
    const pathA = this.check('a', a);
    const pathB = this.check('b', b);
    const resultA = await this.rate(pathA, await this.sample(pathA));
    const resultB = await this.rate(pathB, await this.sample(pathB));
    const difference = resultA.score - resultB.score;
    return { a: resultA, b: resultB, difference, better: difference > 0 ? 'a' : difference < 0 ? 'b' : 'tie' };
  }

  async describe(video: string): Promise<string> {
    const path = this.check('video', video);
    return this.model.answer(await this.sample(path));
  }

  async dispose(): Promise<void> {
    if (!this.disposed) {
      this.disposed = true;
      if (this.owned) await this.model.dispose();
    }
  }
}
