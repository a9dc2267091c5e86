import { GemmaDecoder, createGemmaConfig, generate, initGemmaWeights, type GemmaConfig, type GemmaConfigInit } from '@vqlm/decoder-lora';
import { createRng, tf } from '@vqlm/runtime';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { useTestBackend } from './__fixtures__/tiny.js';
import { ModelError } from './errors.js';
import { OnnxDecoder, decoderToOnnx, onnxDecoderBytes } from './onnx-decoder.js';
import { qualityHeadToOnnx } from './onnx-scorer.js';
import { CpLlm } from './cp-llm.js';
import { cpLlmPreset, presetTokenizer } from './presets.js';

beforeAll(useTestBackend);

/** D = 32, 2 layers, GQA (4 query heads over 2 KV heads), V = 64; random norm weights and LoRA B, so every part shows in the logits. */
function decoderOf(init: Partial<GemmaConfigInit> = {}, seed = 1): GemmaDecoder {
  const config: GemmaConfig = createGemmaConfig({ vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 8, ...init });
  const rng = createRng(seed);
  const weights = initGemmaWeights(config, rng, 0.2);
  for (const [name, tensor] of weights) {
    if (tensor.rank !== 1) continue;
    weights.set(name, tf.tensor1d(new Float32Array(tensor.size).map(() => rng.normal() * 0.1)));
    tensor.dispose();
  }
  const decoder = new GemmaDecoder(config, weights);
  decoder.addLora({ r: 2, alpha: 4 }, seed);
  for (const adapter of decoder.loraAdapters().values()) adapter.b.assign(tf.randomNormal(adapter.b.shape, 0, 0.3, 'float32', seed));
  return decoder;
}

const GEMMA2 = { modelType: 'gemma2', attnLogitSoftcapping: 5, finalLogitSoftcapping: 3, queryPreAttnScalar: 16, slidingWindow: 6 } as const;

describe('decoderToOnnx / OnnxDecoder', () => {
  for (const [name, init] of [['Gemma', {}], ['Gemma 2 (soft-capping, sliding window, exact GELU)', { ...GEMMA2, activation: 'gelu_exact' }]] as const) {
    it(`${name}: ONNX Runtime logits equal GemmaDecoder.forward within 1e-4 (LoRA folded in, hidden prefix positions)`, async () => {
      const decoder = decoderOf(init);
      const onnx = await OnnxDecoder.create(await decoderToOnnx(decoder), decoder.config);
      const prefix = tf.randomNormal<tf.Rank.R3>([2, 5, 32], 0, 1, 'float32', 3);
      const prefixMask = [[true, true, true, true, true], [true, false, false, true, true]];
      const tokenIds = [[2, 9, 17, 40], [2, 33, 5, 63]];
      const reference = decoder.forward({ prefixEmbeddings: prefix, prefixMask, tokenIds });
      const expected = (await reference.data()) as Float32Array;
      const got = await onnx.logits({ prefixEmbeddings: { data: (await prefix.data()) as Float32Array, dims: [2, 5, 32] }, prefixMask, tokenIds });
      expect(got.dims).toEqual([2, 4, 64]);
      let worst = 0;
      expected.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got.data[i]))));
      expect(worst).toBeLessThan(1e-4);
      // The adapters matter: without them the logits move far more than the tolerance.
      const bare = decoderOf(init);
      bare.removeLora();
      const plain = (await bare.forward({ prefixEmbeddings: prefix, prefixMask, tokenIds }).data()) as Float32Array;
      expect(Math.max(...plain.map((v, i) => Math.abs(v - expected[i])))).toBeGreaterThan(1e-2);
      tf.dispose([prefix, reference]);
      bare.dispose();
      decoder.dispose();
      await onnx.dispose();
    });
  }

  it('with hiddenStates: the final-norm state of every position equals GemmaDecoder.hiddenStates within 1e-4; the logits are unchanged', async () => {
    const decoder = decoderOf(GEMMA2, 6);
    const plain = await OnnxDecoder.create(await decoderToOnnx(decoder), decoder.config);
    const onnx = await OnnxDecoder.create(await decoderToOnnx(decoder, { hiddenStates: true }), decoder.config);
    expect([plain.hasHiddenStates, onnx.hasHiddenStates]).toEqual([false, true]);
    const prefix = tf.randomNormal<tf.Rank.R3>([2, 4, 32], 0, 1, 'float32', 8);
    const prefixMask = [[true, true, true, true], [true, false, true, true]];
    const tokenIds = [[2, 7, 11], [2, 50, 3]];
    const reference = decoder.hiddenStates({ prefixEmbeddings: prefix, prefixMask, tokenIds });
    const expected = (await reference.data()) as Float32Array;
    const input = { prefixEmbeddings: { data: (await prefix.data()) as Float32Array, dims: [2, 4, 32] }, prefixMask, tokenIds };
    const got = await onnx.hiddenStates(input);
    expect(got.dims).toEqual([2, 7, 32]);
    // Rows of hidden prefix positions see nothing; compare the visible ones (all of row 0, and row 1 but position 1).
    let worst = 0;
    for (let row = 0; row < 2; row += 1) {
      for (let pos = 0; pos < 7; pos += 1) {
        if (row === 1 && pos === 1) continue;
        for (let k = 0; k < 32; k += 1) worst = Math.max(worst, Math.abs(expected[(row * 7 + pos) * 32 + k] - got.data[(row * 7 + pos) * 32 + k]));
      }
    }
    expect(worst).toBeLessThan(1e-4);
    const a = await plain.logits(input);
    const b = await onnx.logits(input);
    expect(Math.max(...a.data.map((v, i) => Math.abs(v - b.data[i])))).toBeLessThan(1e-5);
    await expect(plain.hiddenStates(input)).rejects.toThrow(/decoder: this export has no hidden_states output; export it with decoderToOnnx\(decoder, \{ hiddenStates: true \}\)/);
    tf.dispose([prefix, reference]);
    decoder.dispose();
    await Promise.all([plain.dispose(), onnx.dispose()]);
  });

  it('greedy generation in ONNX Runtime writes the tokens of generate (with n-gram blocking and a stop token)', async () => {
    const decoder = decoderOf(GEMMA2, 4);
    const onnx = await OnnxDecoder.create(await decoderToOnnx(decoder), decoder.config);
    const prefix = tf.randomNormal<tf.Rank.R3>([2, 3, 32], 0, 1, 'float32', 7);
    const prefixMask = [[true, true, true], [true, false, true]];
    const options = { startTokenIds: [[2], [2]], maxNewTokens: 14, noRepeatNgramSize: 2, repetitionPenalty: 1.2 };
    const expected = generate(decoder, { ...options, prefixEmbeddings: prefix, prefixMask });
    const run = vi.spyOn(onnx.session, 'run');
    const got = await onnx.generate({ prefixEmbeddings: { data: (await prefix.data()) as Float32Array, dims: [2, 3, 32] }, prefixMask }, options);
    expect(got).toEqual(expected);
    // KV cache: the first call runs the prefix and the start token, each later one only the new token.
    const shapes = run.mock.calls.map(([feeds]) => [feeds.prefix_embeds.dims[1], feeds.input_ids.dims[1], feeds.past_key_0.dims[2]]);
    expect(shapes[0]).toEqual([3, 1, 0]);
    expect(shapes.slice(1)).toEqual(shapes.slice(1).map((_, i) => [0, 1, 4 + i]));
    run.mockRestore();
    const stopAt = expected.tokens[0][4];
    const stopped = await onnx.generate({ prefixEmbeddings: { data: (await prefix.data()) as Float32Array, dims: [2, 3, 32] }, prefixMask }, { ...options, stopTokens: [stopAt] });
    expect(stopped.tokens[0]).toEqual(expected.tokens[0].slice(0, expected.tokens[0].indexOf(stopAt) + 1));
    expect(stopped.finishReasons[0]).toBe('stop');
    prefix.dispose();
    decoder.dispose();
    await onnx.dispose();
  });

  it('refuses inputs of the wrong shape and a file that is not a decoder export, naming them', async () => {
    const decoder = decoderOf();
    const onnx = await OnnxDecoder.create(await decoderToOnnx(decoder), decoder.config);
    const prefix = { data: new Float32Array(2 * 16), dims: [1, 2, 16] };
    await expect(onnx.logits({ prefixEmbeddings: prefix, tokenIds: [[1]] })).rejects.toThrow(/prefixEmbeddings: expected shape \[B, P, 32\].*\[1, 2, 16\]/);
    const ok = { data: new Float32Array(2 * 32), dims: [1, 2, 32] };
    await expect(onnx.logits({ prefixEmbeddings: ok, tokenIds: [[1, 64]] })).rejects.toThrow(/tokenIds: .*ids in \[0, 64\)/);
    await expect(onnx.logits({ prefixEmbeddings: ok, prefixMask: [[true]], tokenIds: [[1]] })).rejects.toThrow(/prefixMask: expected shape \[1, 2\]/);
    const model = await CpLlm.create(cpLlmPreset('micro'), { tokenizer: presetTokenizer('micro') });
    // An export of another decoder is refused by the model it is attached to.
    await expect(model.attachOnnxDecoder(onnx)).rejects.toThrow(/decoder: an export of a decoder with D = 32, V = 64, 2 layers; this model's has D = 16/);
    expect(model.usesOnnxDecoder).toBe(false);
    const head = await qualityHeadToOnnx(model);
    const wrong = OnnxDecoder.create(head, decoder.config);
    await expect(wrong).rejects.toBeInstanceOf(ModelError);
    await expect(OnnxDecoder.create(head, decoder.config)).rejects.toThrow(/decoder ONNX: expected a decoder export of 2 layers with inputs \[prefix_embeds/);
    await expect(OnnxDecoder.create(await decoderToOnnx(decoder), { ...decoder.config, vocabSize: 65 })).rejects.toThrow(/logits over 65 tokens/);
    // A decoder whose weights do not fit in one ONNX file is refused before anything is built.
    expect(onnxDecoderBytes(decoder)).toBe([...decoder.storedWeights().values()].reduce((n, t) => n + t.size, 0) * 4);
    await expect(decoderToOnnx(decoder, { maxBytes: onnxDecoderBytes(decoder) - 1 })).rejects.toThrow(/decoder: 0\.00 GiB of weights do not fit in one ONNX file \(2 GiB protobuf limit/);
    await model.dispose();
    decoder.dispose();
    await onnx.dispose();
  });
});
