import type { FeatureCache } from '@vqlm/encoders';
import { IDENTITY_CALIBRATION, applyCalibration, levelFromScore, parseCalibration, type Calibration } from '@vqlm/heads';
import { contextView, pixelView, sampleViews, type FrameTensor, type SamplingStrategy } from '@vqlm/video-io';
import { loadBundle } from './bundle.js';
import { readBundleArchitecture } from './bundle-io.js';
import { loadEnsembleBundle } from './ensemble-bundle.js';
import { LmmVqa } from './lmm-vqa.js';
import { loadLmmVqaBundle } from './lmm-vqa-bundle.js';
import { LmmVqaScorer } from './lmm-vqa-scorer.js';
import { viewKey, type CpLlmConfig } from './config.js';
import { CpLlm, type ScoreStage, type VideoViews } from './cp-llm.js';
import { ModelError } from './errors.js';
import { checkVideoArgument, type CompareResult, type ScoreOptions, type ScoreResult, type Scorer } from './scorer.js';

/** Options of {@link createScorer}. */
export interface CreateScorerOptions {
  /** Raw → MOS mapping; default the bundle's (identity for a bare model). */
  readonly calibration?: Calibration;
  /** Disk cache of the frozen context features (keyed by frame content). */
  readonly cache?: FeatureCache;
  /** For a bundle: `auto` (default) scores through ONNX Runtime when the bundle has the scoring path's ONNX exports, else tfjs. */
  readonly engine?: 'auto' | 'tfjs' | 'onnx';
  /** Key-frame sampling of `@vqlm/video-io` (default `select`). */
  readonly strategy?: SamplingStrategy;
}

interface Sampled {
  /** The first member's views (the one that describes). */
  readonly views: VideoViews;
  /** Each member's views (the same object for members with equal view settings). */
  readonly memberViews: readonly VideoViews[];
  readonly frames: { index: number; time: number }[];
}

/** A model's views of decoded key frames (what `sampleViews` makes while decoding). */
function viewsOfFrames(config: CpLlmConfig, frames: FrameTensor): VideoViews {
  const context = contextView(frames, { size: config.contextSize });
  const pixel = pixelView(frames, { fit: [config.pixelFit[0], config.pixelFit[1]], patch: config.patchSize, k: config.k, upscale: config.pixelUpscale });
  return { context: { data: context.frames, dims: context.shape }, pixel: { data: pixel.frames, dims: pixel.shape } };
}

/** One model of a {@link CpLlmScorer} with its raw → MOS mapping. */
export interface ScorerMember {
  readonly model: CpLlm;
  readonly calibration: Calibration;
}

/**
 * {@link Scorer} on one {@link CpLlm}, or on an ensemble of them (a `cp-llm-ensemble` bundle):
 * the video is decoded once, every member scores its views of the same M key frames (members may
 * differ in K, view sizes and branches), and the result is the mean of the members' calibrated
 * scores (per frame too). The first member writes the descriptions.
 */
export class CpLlmScorer implements Scorer {
  /** The (first) member's model: the one that describes. */
  readonly model: CpLlm;
  /** The (first) member's calibration. */
  readonly calibration: Calibration;
  /** Every member, in order (one for a plain bundle). */
  readonly members: readonly ScorerMember[];
  private readonly owned: boolean;
  private readonly options: CreateScorerOptions;
  private disposed = false;

  constructor(model: CpLlm | readonly ScorerMember[], calibration: Calibration, owned: boolean, options: CreateScorerOptions = {}) {
    const members = Array.isArray(model) ? (model as readonly ScorerMember[]) : [{ model: model as CpLlm, calibration }];
    if (members.length === 0) throw new ModelError('E_MODEL_ARG', 'members: expected at least one model');
    members.forEach((member, i) => {
      const { m } = member.model.config;
      if (m !== members[0].model.config.m) throw new ModelError('E_MODEL_ARG', `members[${i}]: config.m is ${m}, members[0]'s is ${members[0].model.config.m}; the members must see the same key frames`);
    });
    this.members = members.map((m) => ({ model: m.model, calibration: parseCalibration(m.calibration) }));
    this.model = this.members[0].model;
    this.calibration = this.members[0].calibration;
    this.owned = owned;
    this.options = options;
  }

  private check(name: string, video: unknown): string {
    return checkVideoArgument(this.disposed, name, video);
  }

  /**
   * Both CP-LLM views of M key frames for every member, from one decode: the first member's are
   * made while decoding; members with other view settings (K, sizes) cut theirs from the kept frames.
   */
  private async sample(video: string): Promise<Sampled> {
    const first = this.model.config;
    const { m, k, contextSize, patchSize, pixelFit, pixelUpscale } = first;
    const keys = this.members.map(({ model }) => viewKey(model.config));
    const mixed = keys.some((key) => key !== keys[0]);
    const sampled = await sampleViews(video, {
      m,
      strategy: this.options.strategy,
      context: { size: contextSize },
      pixel: { fit: [pixelFit[0], pixelFit[1]], patch: patchSize, k, upscale: pixelUpscale },
      keepFrames: mixed,
    });
    const { context, pixel } = sampled;
    if (!context || !pixel) throw new ModelError('E_MODEL_ARG', `${video}: video-io returned no views`);
    const views: VideoViews = { context: { data: context.frames, dims: context.shape }, pixel: { data: pixel.frames, dims: pixel.shape } };
    const byKey = new Map<string, VideoViews>([[keys[0], views]]);
    const memberViews = this.members.map(({ model }, i) => {
      let own = byKey.get(keys[i]);
      if (!own) {
        if (!sampled.frames) throw new ModelError('E_MODEL_ARG', `${video}: video-io kept no frames`);
        own = viewsOfFrames(model.config, sampled.frames);
        byKey.set(keys[i], own);
      }
      return own;
    });
    return { views, memberViews, frames: sampled.indices.map((index, i) => ({ index, time: sampled.timestamps[i] ?? 0 })) };
  }

  private async scoreSampled(video: string, sampled: Sampled, onStage?: (stage: ScoreStage, ms: number) => void): Promise<ScoreResult> {
    const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
    const scores: number[] = [];
    const raws: number[] = [];
    const perFrame: number[][] = [];
    const frameIndices = sampled.frames.map((f) => f.index);
    for (const [i, { model, calibration }] of this.members.entries()) {
      const raw = await model.scoreViews(sampled.memberViews[i], { cache: this.options.cache, frameIndices, onStage });
      raws.push(mean(raw));
      scores.push(applyCalibration(calibration, mean(raw)));
      perFrame.push(raw.map((r) => applyCalibration(calibration, r)));
    }
    const score = mean(scores);
    return {
      path: video,
      score,
      level: levelFromScore(score),
      perFrame: perFrame[0].map((_, f) => mean(perFrame.map((frames) => frames[f]))),
      rawScore: mean(raws),
      ...(this.members.length > 1 ? { members: scores } : {}),
      frames: sampled.frames,
    };
  }

  /** The describing model's description of a sampled video; its lead (if the model has one) gets the level of `score`, the scorer's score of that video. */
  private describeSampled(sampled: Sampled, score: ScoreResult): Promise<string> {
    return this.model.describeViews(sampled.views, null, { level: score.level });
  }

  async score(video: string, options: ScoreOptions = {}): Promise<ScoreResult> {
    const path = this.check('video', video);
    const { onTiming } = options;
    let start = performance.now();
    const sampled = await this.sample(path);
    const decodeMs = performance.now() - start;
    const stages: Record<ScoreStage, number> = { context: 0, pixel: 0, head: 0 };
    const result = await this.scoreSampled(path, sampled, onTiming ? (stage, ms) => (stages[stage] += ms) : undefined);
    let describeMs: number | undefined;
    let description: string | undefined;
    if (options.describe) {
      // After the score: a model with a describe lead starts its description from the score's level.
      start = performance.now();
      description = await this.describeSampled(sampled, result);
      describeMs = performance.now() - start;
    }
    onTiming?.({ decodeMs, contextMs: stages.context, pixelMs: stages.pixel, headMs: stages.head, ...(describeMs === undefined ? {} : { describeMs }) });
    return description === undefined ? result : { ...result, description };
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
    const sampled = await this.sample(path);
    // Only a lead with the level needs the score.
    if (!this.model.config.describeLead?.includes('{level}')) return this.model.describeViews(sampled.views);
    return this.describeSampled(sampled, await this.scoreSampled(path, sampled));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.owned) for (const member of this.members) await member.model.dispose();
  }
}

/**
 * A {@link Scorer} from a bundle directory (loaded, validated, owned by the scorer; a
 * `cp-llm-ensemble` bundle gives a scorer that averages its members, an `lmm-vqa` one an
 * {@link LmmVqaScorer}) or from a model in memory (not owned: dispose it yourself).
 * @throws ModelError from {@link loadBundle} / {@link loadEnsembleBundle}, `E_MODEL_ARG` for anything else.
 */
export async function createScorer(source: string | CpLlm | LmmVqa, options: CreateScorerOptions = {}): Promise<Scorer> {
  if (typeof source === 'string') {
    const architecture = await readBundleArchitecture(source);
    if (architecture === 'lmm-vqa') {
      checkLmmVqaOptions(options);
      return new LmmVqaScorer((await loadLmmVqaBundle(source, { engine: options.engine ?? 'auto' })).model, true, { strategy: options.strategy });
    }
    if (architecture === 'cp-llm-ensemble') {
      if (options.calibration) throw new ModelError('E_MODEL_ARG', 'calibration: an ensemble bundle keeps one calibration per member; it cannot be overridden');
      const ensemble = await loadEnsembleBundle(source, { engine: options.engine });
      return new CpLlmScorer(ensemble.members.map(({ model, calibration }) => ({ model, calibration })), ensemble.members[0].calibration, true, options);
    }
    const bundle = await loadBundle(source, { engine: options.engine ?? 'auto' });
    return new CpLlmScorer(bundle.model, options.calibration ?? bundle.calibration, true, options);
  }
  if (source instanceof CpLlm) return new CpLlmScorer(source, options.calibration ?? IDENTITY_CALIBRATION, false, options);
  if (source instanceof LmmVqa) {
    checkLmmVqaOptions(options);
    return new LmmVqaScorer(source, false, { strategy: options.strategy });
  }
  throw new ModelError('E_MODEL_ARG', `source: expected a bundle directory, a CpLlm or an LmmVqa, got ${String(source)}`);
}

/** LMM-VQA scores on 1–5 without calibration and has no frozen-feature cache. */
function checkLmmVqaOptions(options: CreateScorerOptions): void {
  if (options.calibration) throw new ModelError('E_MODEL_ARG', 'calibration: an LMM-VQA model has none (its level score is on 1–5 already)');
  if (options.cache) throw new ModelError('E_MODEL_ARG', 'cache: the frozen-feature cache is for CP-LLM context towers; LMM-VQA does not use it');
}
