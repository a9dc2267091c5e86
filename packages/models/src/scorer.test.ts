import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyCalibration } from '@vqlm/heads';
import { tf } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend, makeClip } from './__fixtures__/tiny.js';
import { cpLlmPreset, presetTokenizer } from './presets.js';
import { saveBundle } from './bundle.js';
import { createScorer, type CpLlmScorer } from './cp-llm-scorer.js';
import { CpLlm } from './cp-llm.js';
import { ModelError } from './errors.js';
import type { ScoreTiming } from './scorer.js';

let dir: string;
let sharp: string;
let blurred: string;
let model: CpLlm;
const calibration = { kind: 'linear', slope: 2, intercept: 3 } as const;


beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'vqlm-models-scorer-'));
  sharp = makeClip(join(dir, 'sharp.mp4'));
  blurred = makeClip(join(dir, 'blurred.mp4'), 'gblur=sigma=6');
  // pixelFit [32, 64]: the 128×64 frame becomes 64×32, two disjoint 32² patches.
  model = await CpLlm.create(cpLlmPreset('micro'), { tokenizer: presetTokenizer('micro') });
});
afterAll(async () => {
  await model?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('Scorer', () => {
  it('scores a clip: calibrated score, level, M per-frame scores; the same twice', async () => {
    const scorer = await createScorer(model, { calibration });
    const before = tf.memory().numTensors;
    const first = await scorer.score(sharp);
    const second = await scorer.score(sharp);
    expect(tf.memory().numTensors).toBe(before);
    expect(second).toEqual(first);
    expect(first.path).toBe(sharp);
    expect(first.perFrame).toHaveLength(2);
    expect(first.frames.map((f) => f.index)).toEqual([...first.frames.map((f) => f.index)].sort((a, b) => a - b));
    expect(first.score).toBeGreaterThanOrEqual(1);
    expect(first.score).toBeLessThanOrEqual(5);
    expect(first.score).toBeCloseTo(applyCalibration(calibration, first.rawScore), 10);
    expect(['bad', 'poor', 'fair', 'good', 'excellent']).toContain(first.level);
    expect(first.description).toBeUndefined();
    // The raw score is the mean of the frame scores (calibration is linear and unclamped here).
    const meanPerFrame = first.perFrame.reduce((a, b) => a + b, 0) / first.perFrame.length;
    expect(first.perFrame.every((s) => s > 1 && s < 5)).toBe(true);
    expect(first.score).toBeCloseTo(meanPerFrame, 6);
    await scorer.dispose();
  });

  it('reports the time of each stage with onTiming, giving the same result as without', async () => {
    const scorer = await createScorer(model, { calibration });
    const plain = await scorer.score(sharp, { describe: true });
    const timings: ScoreTiming[] = [];
    const before = tf.memory().numTensors;
    const timed = await scorer.score(sharp, { describe: true, onTiming: (t) => timings.push(t) });
    expect(tf.memory().numTensors).toBe(before);
    expect(timed).toEqual(plain);
    expect(timings).toHaveLength(1);
    const [t] = timings;
    expect(Object.keys(t ?? {}).sort()).toEqual(['contextMs', 'decodeMs', 'describeMs', 'headMs', 'pixelMs']);
    for (const ms of Object.values(t ?? {})) {
      expect(typeof ms).toBe('number');
      expect(ms).toBeGreaterThan(0);
    }
    // Decoding runs ffmpeg: it cannot be faster than the head on two frames.
    expect(t?.decodeMs).toBeGreaterThan(t?.headMs ?? Infinity);
    const without: ScoreTiming[] = [];
    await scorer.score(sharp, { onTiming: (x) => without.push(x) });
    expect(without[0]?.describeMs).toBeUndefined();
    await scorer.dispose();
  });

  it('compares two clips and describes one, deterministically', async () => {
    const scorer = await createScorer(model, { calibration });
    const result = await scorer.compare(sharp, blurred, { describe: true });
    expect(result.a.score).toBe((await scorer.score(sharp)).score);
    expect(result.b.score).toBe((await scorer.score(blurred)).score);
    expect(result.a.rawScore).not.toBe(result.b.rawScore);
    expect(result.difference).toBeCloseTo(result.a.score - result.b.score, 12);
    expect(result.better).toBe(result.difference > 0 ? 'a' : 'b');
    expect(typeof result.description).toBe('string');
    const described = await scorer.describe(sharp);
    expect(await scorer.describe(sharp)).toBe(described);
    expect((await scorer.score(sharp, { describe: true })).description).toBe(described);
    await scorer.dispose();
  });

  it('a model with a describe lead starts each description from the level of its score, through a bundle and ONNX Runtime', async () => {
    const led = await CpLlm.create({ ...cpLlmPreset('micro'), describeLead: 'the video is {level}.' }, { tokenizer: presetTokenizer('micro') });
    const bundle = join(dir, 'lead-bundle');
    await saveBundle(led, bundle, { calibration, onnx: true });
    await led.dispose();
    const leadOf = (level: string): string => `the video is ${level}. `;
    for (const engine of ['onnx', 'tfjs'] as const) {
      const scorer = (await createScorer(bundle, { engine })) as CpLlmScorer;
      expect(scorer.model.config.describeLead).toBe('the video is {level}.');
      for (const clip of [sharp, blurred]) {
        const result = await scorer.score(clip, { describe: true });
        expect(result.description?.startsWith(leadOf(result.level))).toBe(true);
        expect(await scorer.describe(clip)).toBe(result.description);
      }
      await scorer.dispose();
    }
  });

  it('from a bundle directory gives the same scores as from the model', async () => {
    const bundle = join(dir, 'bundle');
    await saveBundle(model, bundle, { calibration });
    const fromBundle = await createScorer(bundle);
    const fromModel = await createScorer(model, { calibration });
    expect(await fromBundle.score(sharp)).toEqual(await fromModel.score(sharp));
    await fromBundle.dispose();
    await fromModel.dispose();
    // The bundle scorer owned its model; the model scorer did not.
    expect(model.trainableVariables().length).toBeGreaterThan(0);
  });

  it('scores through ONNX Runtime when the bundle has the exports, equal to tfjs within 1e-4', async () => {
    const bundle = join(dir, 'onnx-bundle');
    await saveBundle(model, bundle, { calibration, onnx: true });
    const onnx = (await createScorer(bundle)) as CpLlmScorer;
    const reference = await createScorer(model, { calibration });
    expect(onnx.model.usesOnnxScoring).toBe(true);
    expect(onnx.model.contextEncoder.id).not.toBe(model.contextEncoder.id);
    for (const clip of [sharp, blurred]) {
      const a = await onnx.score(clip);
      const b = await reference.score(clip);
      expect(Math.abs(a.rawScore - b.rawScore)).toBeLessThan(1e-4);
      a.perFrame.forEach((s, i) => expect(Math.abs(s - b.perFrame[i])).toBeLessThan(1e-4));
      expect(a.level).toBe(b.level);
    }
    const before = tf.memory().numTensors;
    await onnx.score(sharp);
    expect(tf.memory().numTensors).toBe(before);
    await onnx.dispose();
    await reference.dispose();
    const tfjsOnly = (await createScorer(bundle, { engine: 'tfjs' })) as CpLlmScorer;
    expect(tfjsOnly.model.usesOnnxScoring).toBe(false);
    await tfjsOnly.dispose();
  });

  it('a highpass model keeps its pixel input through a bundle; its ONNX path equals tfjs within 1e-4', async () => {
    const highpass = await CpLlm.create({ ...cpLlmPreset('micro'), pixelInput: 'highpass' }, { tokenizer: presetTokenizer('micro') });
    expect(highpass.pixelEncoder.input).toBe('highpass');
    const bundle = join(dir, 'highpass-bundle');
    await saveBundle(highpass, bundle, { calibration, onnx: true });
    const reference = await createScorer(highpass, { calibration });
    const tfjs = (await createScorer(bundle, { engine: 'tfjs' })) as CpLlmScorer;
    const onnx = (await createScorer(bundle)) as CpLlmScorer;
    expect([tfjs.model.config.pixelInput, tfjs.model.pixelEncoder.input, onnx.model.pixelEncoder.input]).toEqual(['highpass', 'highpass', 'highpass']);
    expect(onnx.model.usesOnnxScoring).toBe(true);
    for (const clip of [sharp, blurred]) {
      const b = await reference.score(clip);
      expect(await tfjs.score(clip)).toEqual(b);
      const a = await onnx.score(clip);
      a.perFrame.forEach((v, i) => expect(Math.abs(v - b.perFrame[i])).toBeLessThan(1e-4));
    }
    // The rgb model of the same seed sees other inputs: its scores differ.
    const rgb = await createScorer(model, { calibration });
    expect((await rgb.score(sharp)).rawScore).not.toBeCloseTo((await reference.score(sharp)).rawScore, 6);
    for (const s of [reference, tfjs, onnx, rgb]) await s.dispose();
    await highpass.dispose();
  });

  it('rejects bad calls naming the argument', async () => {
    const scorer = await createScorer(model);
    await expect(scorer.score('')).rejects.toThrow(ModelError);
    await expect(scorer.score('')).rejects.toThrow(/video: expected a video path, got /);
    await expect(scorer.compare(sharp, 3 as unknown as string)).rejects.toThrow(/b: expected a video path, got 3/);
    await expect(scorer.score(join(dir, 'missing.mp4'))).rejects.toThrow(/missing\.mp4/);
    await expect(createScorer(42 as unknown as string)).rejects.toThrow(/source: expected a bundle directory, a CpLlm or an LmmVqa, got 42/);
    await scorer.dispose();
    await expect(scorer.score(sharp)).rejects.toThrow(/scorer used after dispose\(\)/);
  });
});
