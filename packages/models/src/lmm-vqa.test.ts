import { expectNoTensorLeak, tf } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes, useTestBackend, microLmmVqaConfig } from './__fixtures__/tiny.js';
import { cpLlmPreset, presetTokenizer } from './presets.js';
import { ModelError } from './errors.js';
import { LmmVqa, createLmmVqaConfig, lmmVqaAnswer, parseLmmVqaAnswer } from './lmm-vqa.js';

let model: LmmVqa;
const B = 2;

beforeAll(async () => {
  await useTestBackend();
  const config = microLmmVqaConfig({ prompt: 'describe the quality of this video.', seed: 1 });
  model = new LmmVqa(config, { tokenizer: presetTokenizer('micro') });
});

afterAll(() => model?.dispose());

const input = (seed: number) => ({
  frames: { data: bytes(B * 2 * 32 * 32 * 3, seed), dims: [B, 2, 32, 32, 3] },
  clip: { data: bytes(B * 4 * 16 * 16 * 3, seed + 1), dims: [B, 4, 16, 16, 3] },
  targetTokenIds: [
    [2, 10, 11],
    [2, 12, 13],
  ],
});

describe('LmmVqa', () => {
  it('gives level logits [B, 5], level scores [B] on 1–5 and answer logits [B, T, V], without leaking', async () => {
    await expectNoTensorLeak(async () => {
      const out = model.forward(input(1));
      expect(out.levelLogits.shape).toEqual([B, 5]);
      expect(out.levelScores.shape).toEqual([B]);
      expect(out.logits.shape).toEqual([B, 3, 96]);
      for (const s of await out.levelScores.data()) {
        expect(s).toBeGreaterThanOrEqual(1);
        expect(s).toBeLessThanOrEqual(5);
      }
      // Both branches reach the answer: changing the clip alone changes the logits.
      const other = model.forward({ ...input(1), clip: input(7).clip });
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(out.logits, other.logits))));
      expect((await diff.data())[0]).toBeGreaterThan(1e-5);
      tf.dispose([out.levelLogits, out.levelScores, out.logits, other.levelLogits, other.levelScores, other.logits, diff]);
    });
  });

  it('trains the projector, temporal encoder, level head and LoRA only', () => {
    const names = new Set(model.trainableVariables().map((v) => v.name));
    expect(names.size).toBe(model.trainableVariables().length);
    expect(model.spatialEncoder!.trainable).toBe(false);
    expect(model.decoder.trainableVariables().every((v) => names.has(v.name))).toBe(true);
  });

  it('formats and parses the Q&A answer', () => {
    expect(lmmVqaAnswer(3.456, 'good')).toBe('the quality score is 3.46. the quality level is good.');
    expect(parseLmmVqaAnswer('the quality score is 3 . 46. the quality level is good.')).toEqual({ score: 3.46, level: 'good' });
    expect(parseLmmVqaAnswer('no idea')).toEqual({ score: null, level: null });
    expect(() => lmmVqaAnswer(Number.NaN, 'good')).toThrow(/score: expected a finite number, got NaN/);
  });

  it('rejects bad shapes naming the argument and both shapes', () => {
    expect(() => model.forward({ ...input(1), frames: { data: new Uint8Array(0), dims: [B, 3, 32, 32, 3] } })).toThrow(ModelError);
    expect(() => model.forward({ ...input(1), frames: { data: new Uint8Array(0), dims: [B, 3, 32, 32, 3] } })).toThrow(/frames: expected shape \[2, 2, 32, 32, 3\], got \[2, 3, 32, 32, 3\]/);
    expect(() => model.forward({ ...input(1), clip: { data: new Uint8Array(0), dims: [B, 8, 16, 16, 3] } })).toThrow(/clip: expected shape \[2, 4, 16, 16, 3\], got \[2, 8, 16, 16, 3\]/);
    expect(() => createLmmVqaConfig({ decoder: cpLlmPreset('micro').decoder, m: 0 })).toThrow(/config\.m: expected an integer ≥ 1, got 0/);
  });
});
