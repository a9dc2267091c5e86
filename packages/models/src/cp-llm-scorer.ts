import type { FeatureCache } from '@vqlm/encoders';
import { IDENTITY_CALIBRATION, applyCalibration, levelFromScore, parseCalibration, type Calibration } from '@vqlm/heads';
import { sampleViews, type SamplingStrategy } from '@vqlm/video-io';
import { loadBundle, readBundleManifest } from './bundle.js';
import { CpLlm, type ScoreStage, type VideoViews } from './cp-llm.js';
import { ModelError } from './errors.js';
import type { CompareResult, ScoreOptions, ScoreResult, Scorer } from './scorer.js';

/** Options of {@link createScorer}. */
export interface CreateScorerOptions {
  /** Raw → MOS mapping; default the bundle's (identity for a bare model). */
  readonly calibration?: Calibration;
  /** Disk cache of the frozen context features (keyed by frame content). */
  readonly cache?: FeatureCache;
  /** For a bundle: `auto` (default) scores through ONNX Runtime when the bundle has ONNX exports, else tfjs. */
  readonly engine?: 'auto' | 'tfjs' | 'onnx';
  /** Key-frame sampling of `@vqlm/video-io` (default `select`). */
  readonly strategy?: SamplingStrategy;
}

interface Sampled {
  readonly views: VideoViews;
  readonly frames: { index: number; time: number }[];
}

/** {@link Scorer} on a tfjs {@link CpLlm}. */
export class CpLlmScorer implements Scorer {
  readonly model: CpLlm;
  readonly calibration: Calibration;
  private readonly owned: boolean;
  private readonly options: CreateScorerOptions;
  private disposed = false;

  constructor(model: CpLlm, calibration: Calibration, owned: boolean, options: CreateScorerOptions = {}) {
    this.model = model;
    this.calibration = parseCalibration(calibration);
    this.owned = owned;
    this.options = options;
  }

  private check(name: string, video: unknown): string {
    if (this.disposed) throw new ModelError('E_DISPOSED', 'scorer used after dispose()');
    if (typeof video !== 'string' || video.length === 0) throw new ModelError('E_MODEL_ARG', `${name}: expected a video path, got ${String(video)}`);
    return video;
  }

  /** Both CP-LLM views of M uniformly spaced key frames, from one decode. */
  private async sample(video: string): Promise<Sampled> {
    const { m, k, contextSize, patchSize, pixelFit, pixelUpscale } = this.model.config;
    const sampled = await sampleViews(video, {
      m,
      strategy: this.options.strategy,
      context: { size: contextSize },
      pixel: { fit: [pixelFit[0], pixelFit[1]], patch: patchSize, k, upscale: pixelUpscale },
    });
    const { context, pixel } = sampled;
    if (!context || !pixel) throw new ModelError('E_MODEL_ARG', `${video}: video-io returned no views`);
    return {
      views: { context: { data: context.frames, dims: context.shape }, pixel: { data: pixel.frames, dims: pixel.shape } },
      frames: sampled.indices.map((index, i) => ({ index, time: sampled.timestamps[i] ?? 0 })),
    };
  }

  private async scoreSampled(video: string, sampled: Sampled, description?: string, onStage?: (stage: ScoreStage, ms: number) => void): Promise<ScoreResult> {
    const raw = await this.model.scoreViews(sampled.views, { cache: this.options.cache, frameIndices: sampled.frames.map((f) => f.index), onStage });
    const rawScore = raw.reduce((a, b) => a + b, 0) / raw.length;
    const score = applyCalibration(this.calibration, rawScore);
    return {
      path: video,
      score,
      level: levelFromScore(score),
      perFrame: raw.map((r) => applyCalibration(this.calibration, r)),
      rawScore,
      frames: sampled.frames,
      ...(description === undefined ? {} : { description }),
    };
  }

  async score(video: string, options: ScoreOptions = {}): Promise<ScoreResult> {
    const path = this.check('video', video);
    const { onTiming } = options;
    let start = performance.now();
    const sampled = await this.sample(path);
    const decodeMs = performance.now() - start;
    let describeMs: number | undefined;
    let description: string | undefined;
    if (options.describe) {
      start = performance.now();
      description = await this.model.describeViews(sampled.views);
      describeMs = performance.now() - start;
    }
    const stages: Record<ScoreStage, number> = { context: 0, pixel: 0, head: 0 };
    const result = await this.scoreSampled(path, sampled, description, onTiming ? (stage, ms) => (stages[stage] += ms) : undefined);
    onTiming?.({ decodeMs, contextMs: stages.context, pixelMs: stages.pixel, headMs: stages.head, ...(describeMs === undefined ? {} : { describeMs }) });
    return result;
  }

  async compare(a: string, b: string, options: ScoreOptions = {}): Promise<CompareResult> {
    const pathA = this.check('a', a);
    const pathB = this.check('b', b);
    const [sampledA, sampledB] = [await this.sample(pathA), await this.sample(pathB)];
    const resultA = await this.scoreSampled(pathA, sampledA);
    const resultB = await this.scoreSampled(pathB, sampledB);
    const difference = resultA.score - resultB.score;
    const description = options.describe ? await this.model.describeViews(sampledA.views, sampledB.views) : undefined;
    return {
      a: resultA,
      b: resultB,
      difference,
      better: difference > 0 ? 'a' : difference < 0 ? 'b' : 'tie',
      ...(description === undefined ? {} : { description }),
    };
  }

  async describe(video: string): Promise<string> {
    const path = this.check('video', video);
    return this.model.describeViews((await this.sample(path)).views);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.owned) await this.model.dispose();
  }
}

/**
 * A {@link Scorer} from a bundle directory (loaded, validated, owned by the scorer) or from a
 * model in memory (not owned: dispose it yourself).
 * @throws ModelError from {@link loadBundle}, `E_MODEL_ARG` for anything else.
 */
export async function createScorer(source: string | CpLlm, options: CreateScorerOptions = {}): Promise<Scorer> {
  if (typeof source === 'string') {
    const wanted = options.engine ?? 'auto';
    const engine = wanted === 'auto' ? ((await readBundleManifest(source)).files.onnx ? 'onnx' : 'tfjs') : wanted;
    const bundle = await loadBundle(source, { engine });
    return new CpLlmScorer(bundle.model, options.calibration ?? bundle.calibration, true, options);
  }
  if (source instanceof CpLlm) return new CpLlmScorer(source, options.calibration ?? IDENTITY_CALIBRATION, false, options);
  throw new ModelError('E_MODEL_ARG', `source: expected a bundle directory or a CpLlm, got ${String(source)}`);
}
