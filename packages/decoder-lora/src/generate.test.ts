import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRng, expectNoTensorLeak, tf } from '@vqlm/runtime';
import { DecoderError } from './decoder-error.js';
import type { GemmaDecoder } from './gemma-decoder.js';
import { generate, generateAsync, penalizeRepeats, sampleToken, type LogitsRequest } from './generate.js';
import { extendPrefixLmLayout, MASKED_BIAS, prefixLmBias } from './layout.js';
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

  it('generateAsync over a logits callback writes the tokens of generate (greedy, sampled, penalised) and reports its requests', async () => {
    decoder = tinyDecoder(tinyGemma2Config({ slidingWindow: 5 }), 2);
    const d = decoder;
    const prefix = tf.randomNormal<tf.Rank.R3>([2, 3, 32], 0, 1, 'float32', 4);
    const prefixMask = [[true, false, true], [true, true, true]];
    for (const extra of [{}, { temperature: 0.8, topK: 10, seed: 3 }, { repetitionPenalty: 1.3, noRepeatNgramSize: 2, stopTokens: [5] }]) {
      const options = { startTokenIds: [[2], [7]], maxNewTokens: 10, ...extra };
      const expected = generate(d, { ...options, prefixEmbeddings: prefix, prefixMask });
      const requests: LogitsRequest[] = [];
      const got = await generateAsync(
        async (request) => {
          requests.push(request);
          const logits = d.forward({ prefixEmbeddings: prefix, prefixMask, tokenIds: request.sequences.map((r) => [...r]) });
          const [b, t, v] = logits.shape;
          const data = (await logits.data()) as Float32Array;
          logits.dispose();
          return Array.from({ length: b }, (_, row) => data.slice((row * t + t - 1) * v, (row * t + t) * v));
        },
        64,
        options,
      );
      expect(got).toEqual(expected);
      expect(requests[0]).toEqual({ next: null, sequences: [[2], [7]] });
      // Each later request carries the tokens just chosen, and every row grows by one.
      requests.slice(1).forEach((r, i) => {
        expect(r.sequences.map((row) => row.length)).toEqual([i + 2, i + 2]);
        expect(r.next).toEqual(r.sequences.map((row) => row[row.length - 1]));
      });
    }
    await expect(generateAsync(() => Promise.resolve([new Float32Array(3)]), 64, { startTokenIds: [[1]], maxNewTokens: 2 })).rejects.toThrow(/generateAsync: expected logits \[1\]\[64\], got \[1\]\[3\]/);
    prefix.dispose();
  });

  it('prefix-LM layout: hidden prefix tokens keep the text positions; the bias opens the prefix both ways and the text causally', () => {
    const positions: number[] = [];
    const visible: boolean[] = [];
    extendPrefixLmLayout(positions, visible, [true, false, false, true], 6);
    expect(positions).toEqual([0, 1, 1, 1, 2, 3]);
    expect(visible).toEqual([true, false, false, true, true, true]);
    const bias = prefixLmBias(visible, 4, 0, 6, null);
    const open = (i: number) => Array.from(bias.subarray(i * 6, (i + 1) * 6), (x) => (x === 0 ? 1 : x === MASKED_BIAS ? 0 : NaN));
    expect(open(0)).toEqual([1, 0, 0, 1, 0, 0]); // a prefix token sees the whole visible prefix
    expect(open(4)).toEqual([1, 0, 0, 1, 1, 0]); // the first text token sees the prefix and itself
    expect(open(5)).toEqual([1, 0, 0, 1, 1, 1]);
    const window = prefixLmBias(visible, 4, 5, 1, 2);
    expect(Array.from(window, (x) => (x === 0 ? 1 : 0))).toEqual([0, 0, 0, 0, 1, 1]);
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

  it('penalizeRepeats: CTRL penalty on seen tokens, n-gram blocking of the continuation', () => {
    const logits = new Float32Array([2, -2, 4, 1, 3]);
    penalizeRepeats(logits, [0, 1, 1], { repetitionPenalty: 2 });
    expect(Array.from(logits)).toEqual([1, -4, 4, 1, 3]);
    // Sequence … 3 4 | 2 3 4 ends in 3 4, which was followed by 2 before: 2 is banned for n = 3.
    const row = new Float32Array([0, 0, 9, 0, 0]);
    penalizeRepeats(row, [3, 4, 2, 3, 4], { noRepeatNgramSize: 3 });
    expect(row[2]).toBe(-Infinity);
    expect(Array.from(row).filter((v) => v === -Infinity)).toHaveLength(1);
    const unigram = new Float32Array(5);
    penalizeRepeats(unigram, [1, 4], { noRepeatNgramSize: 1 });
    expect(Array.from(unigram)).toEqual([0, -Infinity, 0, 0, -Infinity]);
    const off = new Float32Array([1, 2, 3]);
    penalizeRepeats(off, [0, 1, 2, 0, 1], {});
    expect(Array.from(off)).toEqual([1, 2, 3]);
  });

  it('greedy generation with noRepeatNgramSize repeats no n-gram, and equals the cache-free path', async () => {
    decoder = tinyDecoder();
    const d = decoder;
    const plain = generate(d, { startTokenIds: [[2]], maxNewTokens: 40 }).tokens[0];
    const grams = (ids: number[], n: number): string[] => ids.slice(0, ids.length - n + 1).map((_, i) => ids.slice(i, i + n).join(','));
    const repeats = (ids: number[], n: number): number => grams(ids, n).length - new Set(grams(ids, n)).size;
    expect(repeats([2, ...plain], 2)).toBeGreaterThan(0); // the random tiny decoder loops without the option
    const options = { startTokenIds: [[2]], maxNewTokens: 40, noRepeatNgramSize: 2, repetitionPenalty: 1.3 };
    const blocked = await expectNoTensorLeak(() => generate(d, options));
    expect(repeats([2, ...blocked.tokens[0]], 2)).toBe(0);
    expect(generate(d, { ...options, useCache: false }).tokens).toEqual(blocked.tokens);
  });

  it('rejects bad arguments by name', () => {
    decoder = tinyDecoder();
    expect(() => generate(decoder!, { startTokenIds: [[2]], maxNewTokens: 3, repetitionPenalty: 0 })).toThrow(/repetitionPenalty must be a finite number > 0, got 0/);
    expect(() => generate(decoder!, { startTokenIds: [], maxNewTokens: 3 })).toThrow(DecoderError);
    expect(() => generate(decoder!, { startTokenIds: [[2]], maxNewTokens: -1 })).toThrow(/maxNewTokens must be a non-negative integer, got -1/);
    expect(() => generate(decoder!, { startTokenIds: [[2]], maxNewTokens: 3, topP: 0 })).toThrow(/topP must be in \(0, 1\], got 0/);
    expect(() => generate(decoder!, { startTokenIds: [[2]], maxNewTokens: 3, noRepeatNgramSize: 1.5 })).toThrow(/noRepeatNgramSize must be a non-negative integer, got 1.5/);
    expect(() => generate(decoder!, { startTokenIds: [[2]], maxNewTokens: 3, stopTokens: [99] })).toThrow(/stop token 99 is outside the vocabulary \[0, 64\)/);
  });
});
