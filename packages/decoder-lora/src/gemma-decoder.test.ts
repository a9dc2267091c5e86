import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRng, expectNoTensorLeak, tf } from '@vqlm/runtime';
import { DecoderError } from './decoder-error.js';
import { GemmaDecoder } from './gemma-decoder.js';
import { maxAbsDiff, readWeight, readWeights, tinyConfig, tinyDecoder, tinyGemma2Config, useCpuBackend } from './__fixtures__/tiny.js';
import { referenceForward } from './__fixtures__/reference.js';

function randomPrefix(B: number, P: number, D: number, seed: number): tf.Tensor3D {
  const rng = createRng(seed);
  return tf.tensor3d(Float32Array.from({ length: B * P * D }, () => rng.normal()), [B, P, D]);
}

describe('GemmaDecoder', () => {
  let decoder: GemmaDecoder | null = null;
  beforeAll(useCpuBackend);
  afterEach(() => {
    decoder?.dispose();
    decoder = null;
  });

  it('returns logits [B, T, V] for the output positions only, leaking nothing', async () => {
    decoder = tinyDecoder();
    const d = decoder;
    const prefix = randomPrefix(2, 5, 32, 3);
    await expectNoTensorLeak(() => {
      const logits = d.forward({ prefixEmbeddings: prefix, tokenIds: [[2, 7, 9], [2, 8, 10]] });
      expect(logits.shape).toEqual([2, 3, 64]);
      expect(Array.from(logits.dataSync()).every(Number.isFinite)).toBe(true);
      logits.dispose();
    });
    prefix.dispose();
  });

  for (const [label, make] of [
    ['Gemma 1 (GQA)', () => tinyConfig()],
    ['Gemma 1 (MQA, exact-size heads)', () => tinyConfig({ numKeyValueHeads: 1, headDim: 16 })],
    ['Gemma 2 (soft-capping, sliding window)', () => tinyGemma2Config()],
  ] as const) {
    it(`matches a float64 reference of HF ${label} with a prefix and a hidden prefix position`, () => {
      decoder = tinyDecoder(make(), 5);
      const c = decoder.config;
      const P = 4;
      const prefix = randomPrefix(1, P, c.hiddenSize, 9);
      const tokens = [2, 11, 40, 3, 17, 60];
      const visible = [true, false, true, true];
      const logits = decoder.forward({ prefixEmbeddings: prefix, tokenIds: [tokens], prefixMask: [visible] });
      const weights = readWeights(decoder);
      const prefixRows = prefix.arraySync()[0];
      const expected = referenceForward(c, weights, prefixRows, tokens, visible).flat();
      expect(maxAbsDiff(logits.dataSync(), expected)).toBeLessThan(1e-4);
      logits.dispose();
      prefix.dispose();
    });
  }

  it('prefix-LM mask: a later output token never changes earlier logits', () => {
    decoder = tinyDecoder();
    const prefix = randomPrefix(1, 3, 32, 4);
    const a = decoder.forward({ prefixEmbeddings: prefix, tokenIds: [[2, 5, 6, 7, 8]] });
    const b = decoder.forward({ prefixEmbeddings: prefix, tokenIds: [[2, 5, 6, 50, 51]] });
    const av = a.arraySync()[0];
    const bv = b.arraySync()[0];
    for (let t = 0; t < 3; t += 1) expect(maxAbsDiff(av[t], bv[t])).toBe(0);
    expect(maxAbsDiff(av[3], bv[3])).toBeGreaterThan(1e-3);
    tf.dispose([a, b, prefix]);
  });

  it('prefix-LM mask: prefix positions see each other both ways and never see outputs', () => {
    decoder = tinyDecoder();
    const P = 4;
    const base = randomPrefix(1, P, 32, 6);
    const hidden = (prefix: tf.Tensor3D, ids: number[]) => {
      const h = decoder!.hiddenStates({ prefixEmbeddings: prefix, tokenIds: [ids] });
      const rows = h.arraySync()[0];
      h.dispose();
      return rows;
    };
    const perturbAt = (index: number) =>
      tf.tidy(() => {
        const bump = tf.mul(tf.mul(tf.reshape(tf.oneHot([index], P), [1, P, 1]), tf.ones([1, P, 32])), 0.5);
        return tf.add<tf.Tensor3D>(base, bump);
      });
    const h0 = hidden(base, [2, 9, 10]);
    expect(h0).toHaveLength(P + 3);
    const last = perturbAt(P - 1);
    const first = perturbAt(0);
    // Position 0 sees position P-1 (a causal mask would forbid this) and vice versa.
    expect(maxAbsDiff(hidden(last, [2, 9, 10])[0], h0[0])).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(hidden(first, [2, 9, 10])[P - 1], h0[P - 1])).toBeGreaterThan(1e-4);
    // No prefix position sees an output token.
    const changed = hidden(base, [2, 30, 31]);
    for (let i = 0; i < P; i += 1) expect(maxAbsDiff(changed[i], h0[i])).toBe(0);
    tf.dispose([base, last, first]);
  });

  it('a hidden prefix position (prefixMask false) acts as if it were absent', () => {
    decoder = tinyDecoder();
    const full = randomPrefix(1, 6, 32, 8);
    const kept = tf.concat([tf.slice(full, [0, 0, 0], [1, 2, 32]), tf.slice(full, [0, 4, 0], [1, 2, 32])], 1);
    const masked = decoder.forward({ prefixEmbeddings: full, tokenIds: [[2, 4, 5]], prefixMask: [[true, true, false, false, true, true]] });
    const shorter = decoder.forward({ prefixEmbeddings: kept, tokenIds: [[2, 4, 5]] });
    expect(maxAbsDiff(masked.dataSync(), shorter.dataSync())).toBeLessThan(1e-5);
    tf.dispose([full, kept, masked, shorter]);
  });

  it('accepts prefixMask and tokenIds as tensors (bool / int32) with the same result as arrays', () => {
    decoder = tinyDecoder();
    const prefix = randomPrefix(2, 3, 32, 10);
    const maskRows = [[true, false, true], [false, true, true]];
    const ids = [[2, 4], [2, 5]];
    const mask = tf.tensor2d(maskRows, [2, 3], 'bool');
    const idTensor = tf.tensor2d(ids, [2, 2], 'int32');
    const a = decoder.forward({ prefixEmbeddings: prefix, tokenIds: ids, prefixMask: maskRows });
    const b = decoder.forward({ prefixEmbeddings: prefix, tokenIds: idTensor, prefixMask: mask });
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
    const float = tf.tensor2d(ids, [2, 2], 'float32');
    expect(() => decoder!.forward({ tokenIds: float })).toThrow(/tokenIds must be int32, got float32/);
    tf.dispose([prefix, mask, idTensor, a, b, float]);
  });

  it('embedTokens scales the embedding rows by sqrt(D)', () => {
    decoder = tinyDecoder();
    const e = decoder.embedTokens([[3]]);
    const row = readWeight(decoder, 'model.embed_tokens.weight').data.slice(3 * 32, 4 * 32);
    expect(maxAbsDiff(e.dataSync(), Array.from(row, (v) => v * Math.sqrt(32)))).toBeLessThan(1e-5);
    e.dispose();
  });

  it('rejects prefixEmbeddings of the wrong shape, naming both shapes', () => {
    decoder = tinyDecoder();
    const bad = tf.zeros<tf.Rank.R3>([1, 3, 16]);
    expect(() => decoder!.forward({ prefixEmbeddings: bad, tokenIds: [[1, 2]] })).toThrow(DecoderError);
    expect(() => decoder!.forward({ prefixEmbeddings: bad, tokenIds: [[1, 2]] })).toThrow(/prefixEmbeddings must have shape \[B, P, D\] = \[1, P, 32\].*got \[1, 3, 16\]/);
    bad.dispose();
  });

  it('rejects a prefixMask of the wrong shape and out-of-vocabulary ids', () => {
    decoder = tinyDecoder();
    const prefix = tf.zeros<tf.Rank.R3>([1, 3, 32]);
    expect(() => decoder!.forward({ prefixEmbeddings: prefix, tokenIds: [[1]], prefixMask: [[true, false]] })).toThrow(/prefixMask must have shape \[B, P\] = \[1, 3\], got \[1, 2\]/);
    expect(() => decoder!.forward({ tokenIds: [[1, 64]] })).toThrow(/tokenIds holds 64, outside the vocabulary \[0, 64\)/);
    expect(() => decoder!.forward({ tokenIds: [[1, 2], [3]] })).toThrow(DecoderError);
    prefix.dispose();
  });
});

describe('GemmaDecoder gradients', () => {
  beforeAll(useCpuBackend);

  it('passes gradients back to the prefix embeddings (a trainable encoder upstream)', () => {
    const decoder = tinyDecoder();
    const prefix = randomPrefix(1, 3, 32, 12);
    const grad = tf.grad((p: tf.Tensor) => tf.sum(tf.square(decoder.forward({ prefixEmbeddings: p as tf.Tensor3D, tokenIds: [[2, 5]] }))))(prefix);
    expect(grad.shape).toEqual([1, 3, 32]);
    const values = grad.dataSync();
    expect(values.every(Number.isFinite)).toBe(true);
    expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(1e-4);
    tf.dispose([grad, prefix]);
    decoder.dispose();
  });

  it('with trainBase, the base weights are variables that an optimizer step changes', () => {
    const frozen = tinyDecoder();
    expect(frozen.trainableVariables()).toHaveLength(0);
    const weights = new Map(frozen.weightNames().map((n) => [n, frozen.weight(n)]));
    frozen.dispose();
    const decoder = new GemmaDecoder(tinyConfig(), weights, { trainBase: true });
    const vars = decoder.trainableVariables();
    expect(vars).toHaveLength(decoder.weightNames().length);
    const before = readWeight(decoder, 'model.embed_tokens.weight').data;
    const optimizer = tf.train.sgd(0.1);
    const loss = () => tf.tidy(() => tf.mean<tf.Scalar>(decoder.forward({ tokenIds: [[2, 5, 6]] })));
    optimizer.minimize(loss, false, vars);
    expect(maxAbsDiff(readWeight(decoder, 'model.embed_tokens.weight').data, before)).toBeGreaterThan(0);
    decoder.addLora();
    expect(() => decoder.mergeLora()).toThrow(/base weights are trainable/);
    optimizer.dispose();
    decoder.dispose();
  });
});
