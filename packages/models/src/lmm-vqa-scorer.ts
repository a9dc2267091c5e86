import { IDENTITY_CALIBRATION, type Calibration } from '@vqlm/heads';
import { sampleViews, type SamplingStrategy } from '@vqlm/video-io';
import { ModelError } from './errors.js';
import type { LmmVqa, LmmVqaConfig } from './lmm-vqa.js';
import { checkVideoArgument, type CompareResult, type ScoreOptions, type ScoreResult, type Scorer } from './scorer.js';

/** Options of an {@link LmmVqaScorer}. */
export interface LmmVqaScorerOptions {
  /** Key-frame decoding of `@vqlm/video-io` (default `select`). */
  readonly strategy?: SamplingStrategy;
}

/** LMM-VQA's inputs for one video ({@link sampleLmmVqaViews}). */
export interface LmmVqaViewsSample {
  /** Key frames `[1, M, S, S, 3]`, 0..255. */
  readonly frames: { data: Uint8Array; dims: number[] };
  /** Clip frames `[1, T, s, s, 3]`, 0..255. */
  readonly clip: { data: Uint8Array; dims: number[] };
  /** The key frames' indices and times. */
  readonly keyFrames: { index: number; time: number }[];
}

/** Largest box `native` views keep at their resolution: 2160p (frames beyond are scaled into it). */
const NATIVE_BOX: [number, number] = [2160, 3840];

/**
 * Samples one video as LMM-VQA reads it: M uniformly spaced key frames at the spatial tower's
 * size and T uniformly spaced clip frames at the temporal encoder's size (two decodes), each
 * whole frame resized (`config.views` `resized`) or its central square at native resolution
 * (`native`). `LmmVqaScorer` and `vqlm-train` both sample through this function.
 * @throws ModelError `E_MODEL_ARG` when video-io returns no views; video-io's errors for a bad video.
 */
export async function sampleLmmVqaViews(video: string, config: Pick<LmmVqaConfig, 'm' | 'spatialVit' | 'temporal' | 'views'>, options: { strategy?: SamplingStrategy; signal?: AbortSignal } = {}): Promise<LmmVqaViewsSample> {
  const { m, spatialVit, temporal } = config;
  const views = async (count: number, size: number): Promise<{ data: Uint8Array; indices: number[]; timestamps: number[] }> => {
    const common = { m: count, strategy: options.strategy, signal: options.signal };
    if (config.views === 'native') {
      const sampled = await sampleViews(video, { ...common, context: false, pixel: { fit: NATIVE_BOX, patch: size, k: 1, upscale: false } });
      if (!sampled.pixel) throw new ModelError('E_MODEL_ARG', `${video}: video-io returned no views`);
      return { data: sampled.pixel.frames, indices: sampled.indices, timestamps: sampled.timestamps };
    }
    const sampled = await sampleViews(video, { ...common, context: { size }, pixel: false });
    if (!sampled.context) throw new ModelError('E_MODEL_ARG', `${video}: video-io returned no views`);
    return { data: sampled.context.frames, indices: sampled.indices, timestamps: sampled.timestamps };
  };
  const key = await views(m, spatialVit.imageSize);
  const dense = await views(temporal.numFrames, temporal.imageSize);
  const frames = key.indices.length;
  const clipFrames = dense.indices.length;
  if (frames !== m || clipFrames !== temporal.numFrames) throw new ModelError('E_MODEL_ARG', `${video}: expected ${m} key frames and ${temporal.numFrames} clip frames, got ${frames} and ${clipFrames}`);
  return {
    frames: { data: key.data, dims: [1, m, spatialVit.imageSize, spatialVit.imageSize, 3] },
    clip: { data: dense.data, dims: [1, temporal.numFrames, temporal.imageSize, temporal.imageSize, 3] },
    keyFrames: key.indices.map((index, i) => ({ index, time: key.timestamps[i] ?? 0 })),
  };
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

  private sample(video: string): Promise<LmmVqaViewsSample> {
    return sampleLmmVqaViews(video, this.model.config, { strategy: this.options.strategy });
  }

  private async rate(video: string, sampled: LmmVqaViewsSample): Promise<ScoreResult> {
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
