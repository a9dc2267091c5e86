import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { levelFromScore } from '@vqlm/heads';
import { tf } from '@vqlm/runtime';
import { sampleKeyFrames, sampleViews } from '@vqlm/video-io';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend, makeClip, microLmmVqaConfig } from './__fixtures__/tiny.js';
import { saveBundle } from './bundle.js';
import { createScorer } from './cp-llm-scorer.js';
import { LmmVqa, createLmmVqaConfig } from './lmm-vqa.js';
import { LmmVqaScorer, sampleLmmVqaViews } from './lmm-vqa-scorer.js';
import { presetTokenizer } from './presets.js';
import type { ScoreTiming } from './scorer.js';

let dir: string;
let bundle: string;
let sharp: string;
let blurred: string;
let model: LmmVqa;


beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'vqlm-models-lmm-scorer-'));
  sharp = makeClip(join(dir, 'sharp.mp4'));
  blurred = makeClip(join(dir, 'blurred.mp4'), 'gblur=sigma=6');
  const config = microLmmVqaConfig({ seed: 4 });
  model = new LmmVqa(config, { tokenizer: presetTokenizer('micro') });
  bundle = join(dir, 'lmm');
  await saveBundle(model, bundle);
});
afterAll(async () => {
  await model?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** The views the scorer samples: M key frames at S, T clip frames at s, uniformly spaced. */
async function views(video: string) {
  const { m, spatialVit, temporal } = model.config;
  const key = await sampleViews(video, { m, context: { size: spatialVit.imageSize }, pixel: false });
  const dense = await sampleViews(video, { m: temporal.numFrames, context: { size: temporal.imageSize }, pixel: false });
  return { frames: { data: key.context!.frames, dims: [1, ...key.context!.shape] }, clip: { data: dense.context!.frames, dims: [1, ...dense.context!.shape] } };
}

describe('LMM-VQA Scorer', () => {
  it('scores an LMM-VQA bundle: the level head’s score on 1–5 and its level, the same twice, no leak', async () => {
    const scorer = await createScorer(bundle);
    expect(scorer).toBeInstanceOf(LmmVqaScorer);
    const timings: ScoreTiming[] = [];
    const first = await scorer.score(sharp, { onTiming: (t) => timings.push(t) });
    const before = tf.memory().numTensors;
    const second = await scorer.score(sharp);
    await scorer.score(sharp, { describe: true });
    expect(second).toEqual(first);
    expect(tf.memory().numTensors).toBe(before);
    expect(first.score).toBeGreaterThanOrEqual(1);
    expect(first.score).toBeLessThanOrEqual(5);
    expect(first.level).toBe(levelFromScore(first.score));
    expect(first.rawScore).toBe(first.score);
    expect(first.perFrame).toEqual([]);
    expect(first.frames).toHaveLength(2);
    expect(timings).toHaveLength(1);
    expect(timings[0].decodeMs).toBeGreaterThan(0);
    // The same numbers as the model on the same views.
    const rated = await model.rate(await views(sharp));
    expect(first.score).toBeCloseTo(rated.score, 6);
    expect(rated.probabilities).toHaveLength(5);
    expect(rated.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    await scorer.dispose();
  });

  it('describes with the decoder’s answer, compares two videos, and refuses what LMM-VQA lacks', async () => {
    const scorer = await createScorer(bundle);
    const described = await scorer.score(blurred, { describe: true });
    expect(typeof described.description).toBe('string');
    expect(described.description).toBe(await scorer.describe(blurred));
    expect(described.description).toBe(await model.answer(await views(blurred)));
    const compared = await scorer.compare(sharp, blurred);
    expect(compared.difference).toBeCloseTo(compared.a.score - compared.b.score, 12);
    expect(compared.better).toBe(compared.difference > 0 ? 'a' : compared.difference < 0 ? 'b' : 'tie');
    expect(compared.a.score).toBeCloseTo((await scorer.score(sharp)).score, 12);
    await scorer.dispose();
    await expect(scorer.score(sharp)).rejects.toThrow(/scorer used after dispose/);
    await expect(createScorer(bundle, { engine: 'onnx' })).rejects.toThrow(/model.json has no files.onnx; save the bundle with \{ onnx: true \} or export it with exportBundleOnnx/);
    await expect(createScorer(bundle, { calibration: { kind: 'linear', slope: 1, intercept: 0 } })).rejects.toThrow(/has none/);
  });

  it('native views: the central square of every decoded frame at the video’s resolution, for key frames and clip', async () => {
    const native = { ...model.config, views: 'native' as const };
    const sampled = await sampleLmmVqaViews(sharp, native);
    expect(sampled.frames.dims).toEqual([1, 2, 32, 32, 3]);
    expect(sampled.clip.dims).toEqual([1, 4, 16, 16, 3]);
    // Independent reference: the frames decoded at full size (128×64), their middle cut by hand.
    const crop = async (count: number, side: number): Promise<Uint8Array> => {
      const decoded = await sampleKeyFrames(sharp, { m: count });
      const [, h, w] = decoded.shape;
      const [x0, y0] = [Math.round(w / 2 - side / 2), Math.round(h / 2 - side / 2)];
      const out = new Uint8Array(count * side * side * 3);
      for (let f = 0; f < count; f += 1) {
        for (let row = 0; row < side; row += 1) {
          const from = ((f * h + y0 + row) * w + x0) * 3;
          out.set(decoded.frames.subarray(from, from + side * 3), (f * side + row) * side * 3);
        }
      }
      return out;
    };
    expect(Buffer.from(sampled.frames.data).equals(Buffer.from(await crop(2, 32)))).toBe(true);
    expect(Buffer.from(sampled.clip.data).equals(Buffer.from(await crop(4, 16)))).toBe(true);
    // The paper's resized views are the whole frame scaled, so they differ.
    const resized = await sampleLmmVqaViews(sharp, model.config);
    expect(Buffer.from(resized.frames.data).equals(Buffer.from(sampled.frames.data))).toBe(false);
    expect(resized.keyFrames).toEqual(sampled.keyFrames);
    expect(() => createLmmVqaConfig({ ...model.config, views: 'crop' as 'native' })).toThrow(/config.views: expected one of resized, native, got crop/);
  });

  it('scores a model in memory without taking it over', async () => {
    const scorer = await createScorer(model);
    const a = await scorer.score(sharp);
    await scorer.dispose();
    // The model still works after the scorer is gone.
    expect((await model.rate(await views(sharp))).score).toBeCloseTo(a.score, 6);
    await expect(model.rate({ frames: { data: new Uint8Array(3), dims: [1, 1, 1, 1, 3] }, clip: (await views(sharp)).clip })).rejects.toThrow(/frames: expected shape \[1, 2, 32, 32, 3\], got \[1, 1, 1, 1, 3\]/);
  });
});
