import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRng, expectNoTensorLeak, tf } from '@vqlm/runtime';
import { DecoderError } from './decoder-error.js';
import type { GemmaDecoder } from './gemma-decoder.js';
import { generate, sampleToken } from './generate.js';
import { tinyDecoder, tinyGemma2Config, useCpuBackend } from './__fixtures__/tiny.js';

describe('generate', () => {
  let decoder: GemmaDecoder | null = null;
  beforeAll(useCpuBackend);
  afterEach(() => {
    decoder?.dispose();
    decoder = null;
  });

  it('KV-cache generation gives the same tokens as full recomputation (greedy and sampled), with no leaks', async () => {
    decoder = tinyDecoder(tinyGemma2Config({ slidingWindow: 5 }), 3);
    const d = decoder;
    const prefix = tf.randomNormal<tf.Rank.R3>([2, 4, 32], 0, 1, 'float32', 2);
    const prefixMask = [[true, true, true, true], [true, false, true, true]];
    for (const sampling of [{}, { temperature: 0.9, topK: 20, topP: 0.95, seed: 5 }]) {
      const options = { prefixEmbeddings: prefix, prefixMask, startTokenIds: [[2], [2]], maxNewTokens: 12, ...sampling };
      const cached = await expectNoTensorLeak(() => generate(d, options));
      const full = await expectNoTensorLeak(() => generate(d, { ...options, useCache: false }));
      expect(cached.tokens[0]).toHaveLength(12);
      expect(cached.tokens).toEqual(full.tokens);
      expect(cached.finishReasons).toEqual(['length', 'length']);
    }
    prefix.dispose();
  });

  it('stops at a stop token, respects maxNewTokens and streams every token', () => {
    decoder = tinyDecoder();
    const free = generate(decoder, { startTokenIds: [[2, 7]], maxNewTokens: 10 });
    const stopAt = free.tokens[0][3];
    const firstIndex = free.tokens[0].indexOf(stopAt);
    const streamed: number[] = [];
    const stopped = generate(decoder, { startTokenIds: [[2, 7]], maxNewTokens: 10, stopTokens: [stopAt], onToken: (t) => void streamed.push(t.tokenId) });
    expect(stopped.tokens[0]).toEqual(free.tokens[0].slice(0, firstIndex + 1));
    expect(stopped.finishReasons).toEqual(['stop']);
    expect(streamed).toEqual(stopped.tokens[0]);
    const cut = generate(decoder, { startTokenIds: [[2, 7]], maxNewTokens: 2, onToken: (t) => (t.step === 0 ? false : undefined) });
    expect(cut.tokens[0]).toHaveLength(1);
    expect(cut.finishReasons).toEqual(['callback']);
  });

  it('sampling is reproducible from the seed and differs across seeds; topK 1 is greedy', () => {
    decoder = tinyDecoder();
    const run = (seed: number, extra = {}) => generate(decoder!, { startTokenIds: [[2]], maxNewTokens: 16, temperature: 1.5, seed, ...extra }).tokens[0];
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
    const greedy = generate(decoder, { startTokenIds: [[2]], maxNewTokens: 16 }).tokens[0];
    expect(run(3, { topK: 1 })).toEqual(greedy);
  });

  it('sampleToken applies top-k and top-p', () => {
    const logits = new Float32Array([0, 5, 4.9, -1, 1]);
    const rng = createRng(0);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i += 1) seen.add(sampleToken(logits, { temperature: 1, topK: 2 }, rng));
    expect([...seen].sort()).toEqual([1, 2]);
    seen.clear();
    for (let i = 0; i < 200; i += 1) seen.add(sampleToken(logits, { temperature: 1, topP: 0.4 }, rng));
    expect([...seen]).toEqual([1]);
    expect(sampleToken(logits, {}, rng)).toBe(1);
  });

  it('rejects bad arguments by name', () => {
    decoder = tinyDecoder();
    expect(() => generate(decoder!, { startTokenIds: [], maxNewTokens: 3 })).toThrow(DecoderError);
    expect(() => generate(decoder!, { startTokenIds: [[2]], maxNewTokens: -1 })).toThrow(/maxNewTokens must be a non-negative integer, got -1/);
    expect(() => generate(decoder!, { startTokenIds: [[2]], maxNewTokens: 3, topP: 0 })).toThrow(/topP must be in \(0, 1\], got 0/);
    expect(() => generate(decoder!, { startTokenIds: [[2]], maxNewTokens: 3, stopTokens: [99] })).toThrow(/stop token 99 is outside the vocabulary \[0, 64\)/);
  });
});
